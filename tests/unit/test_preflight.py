"""The targets' checks the job asks before its Spark session: a refusal is raised there (exit 2, no JVM); any
other error is kept for the run's preflight stage to raise, not asked of the target a second time."""

from __future__ import annotations

import socket

import psycopg
import pytest

from pipeline.config import ConfigError
from pipeline.options import RunOptions
from pipeline.preflight import TargetCheck, check_targets, preflight
from tests.unit.test_config import _load


def _closed_port() -> int:
    with socket.socket() as s:  # bound, never listening: a connection is refused at once
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_refusal_is_raised_before_the_session() -> None:
    cfg, _ = _load("aurora.host=null")
    with pytest.raises(ConfigError, match=r"^aurora\.host: required"):
        check_targets(cfg, RunOptions(run_id="r1", targets=("aurora",)))


def test_an_unreachable_target_is_kept_and_raised_by_the_preflight_stage(spark) -> None:
    cfg, _ = _load(f"aurora.port={_closed_port()}")
    checked = check_targets(cfg, RunOptions(run_id="r1", targets=("aurora",)))
    assert checked.dynamodb_empty is None
    assert isinstance(checked.error, psycopg.OperationalError)
    with pytest.raises(psycopg.OperationalError) as raised:
        preflight(spark, cfg, checked)
    assert raised.value is checked.error


def test_a_dry_run_asks_no_target() -> None:
    cfg, _ = _load("aurora.host=null")  # it would be refused, were the targets asked
    assert check_targets(cfg, RunOptions(run_id="r1", dry_run=True)) == TargetCheck(dynamodb_empty=None)
