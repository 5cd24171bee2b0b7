"""jobs.submit's exit code once the steps have ended: the run's own, from its manifest and reconcile verdict."""

from __future__ import annotations

import pytest

from jobs.submit import run_exit_code

DONE = {"status": "succeeded", "exit_code": 0}


@pytest.mark.parametrize(
    ("states", "manifest", "reconciled", "code"),
    [
        ({"migrate": "COMPLETED", "reconcile": "COMPLETED"}, DONE, {"passed": True}, 0),
        ({"migrate": "COMPLETED", "reconcile": "FAILED"}, DONE, {"passed": False}, 5),  # reconcile mismatch
        ({"migrate": "COMPLETED", "reconcile": "FAILED"}, DONE, None, 1),  # reconcile died before its verdict
        ({"migrate": "FAILED", "reconcile": "CANCELLED"}, {"status": "gate_failed", "exit_code": 3}, None, 3),
        ({"migrate": "FAILED", "reconcile": "CANCELLED"}, {"status": "load_incomplete", "exit_code": 4}, None, 4),
        ({"migrate": "FAILED"}, {"status": "failed", "exit_code": 2}, None, 2),  # bad config found by the run
        ({"migrate": "FAILED", "reconcile": "CANCELLED"}, None, None, 1),  # died without a manifest
        ({"migrate": "FAILED"}, {"status": "running"}, None, 1),  # a manifest the run never finished
        ({"migrate": "COMPLETED"}, DONE, None, 0),  # --steps migrate
        ({"reconcile": "COMPLETED"}, None, {"passed": True}, 0),  # --steps reconcile of an earlier run
    ],
)
def test_the_run_decides_the_exit_code(states, manifest, reconciled, code) -> None:
    assert run_exit_code(states, manifest, reconciled) == code
