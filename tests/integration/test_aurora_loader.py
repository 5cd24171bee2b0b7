"""The Aurora loader's two paths against a real PostgreSQL, with a backend killed in the middle of a load."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg
import pytest

from loaders.aurora import ensure_schema
from tests.integration.conftest import LOOSE_GATE, ReferenceRun
from tests.integration.harness import Result, Targets, comparable_rows, fresh_targets, run_migrate
from tests.integration.leaks import folder_text, generated_secrets, leaks

# One xdist worker runs every test of the shared reference run (it is computed once per worker).
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("reference_run")]
AURORA_ONLY = ("--targets", "aurora", *LOOSE_GATE)


def _killed_mid_load(data_dir: Path, out: Path, targets: Targets, run_id: str, *extra: str) -> tuple[Result, int]:
    """Run the job while a lock holds every loading transaction just before it commits; terminate one of
    the waiting backends, then let the others go. Returns the run's result and the killed pid."""
    ensure_schema(targets.conninfo)
    result: list[Result] = []
    with psycopg.connect(targets.conninfo) as blocker:
        # every chunk's transaction ends by inserting its marker: this lock holds it there
        blocker.execute("LOCK TABLE migration_load_parts IN EXCLUSIVE MODE")
        job = threading.Thread(
            target=lambda: result.append(run_migrate(data_dir, out, targets, *AURORA_ONLY, *extra, run_id=run_id))
        )
        job.start()
        pid = None
        deadline = time.monotonic() + 300
        while pid is None and time.monotonic() < deadline and job.is_alive():
            with psycopg.connect(targets.conninfo, autocommit=True) as watcher:
                row = watcher.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = 'edw-migration'"
                    " AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO migration_load_parts%%' LIMIT 1",
                    (targets.database,),
                ).fetchone()
                if row is not None:
                    pid = row[0]
                    assert watcher.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
            time.sleep(0.05)
        blocker.rollback()
    job.join(timeout=600)
    assert pid is not None, result[0].stderr[-3000:] if result else "the load never reached its commit"
    return result[0], pid


def test_a_backend_killed_mid_load_is_retried_or_reported_and_a_rerun_converges(
    small_sample, reference_run: ReferenceRun, moto, postgres, tmp_path
):
    data_dir, truth = small_sample
    loaded = truth["counts"]["reservations_loaded"]
    # the reference: an initial load of the same sample that nothing interrupted
    assert reference_run.result.manifest is not None
    assert reference_run.result.manifest["write_stats"]["aurora"]["path"] == "initial"
    expected = reference_run.rows
    assert len(expected[0]) == loaded and expected[1]
    assert {r[:2] for r in expected[1]} <= {r[:2] for r in expected[0]}  # every room stay has its reservation

    # WHEN a backend dies in the middle of an initial load THEN its chunk is retried: the same rows, keys back
    retried = fresh_targets(moto, postgres, "pg_retried")
    result, _ = _killed_mid_load(data_dir, tmp_path, retried, "pg_retried")
    assert result.code == 0, result.stderr[-3000:]
    assert result.manifest is not None
    stats = result.manifest["write_stats"]["aurora"]
    assert stats["path"] == "initial" and stats["retries"] >= 1
    assert result.manifest["counts"]["targets"]["aurora"] == {"written": loaded, "kept_newer": 0, "failed": 0}
    assert comparable_rows(retried) == expected
    constraints = retried.sql("SELECT conname FROM pg_constraint WHERE contype = 'p' ORDER BY 1")
    assert ("reservations_pkey",) in constraints and ("room_stays_pkey",) in constraints
    assert retried.sql("SELECT count(*) FROM pg_indexes WHERE indexname LIKE 'reservations_%%_idx'") == [(2,)]

    # WHEN no retry is allowed THEN exit 4, the killed chunk's rows are in failed_writes/, the rest is in
    failing = fresh_targets(moto, postgres, "pg_failing")
    result, _ = _killed_mid_load(data_dir, tmp_path, failing, "pg_failing", "--set", "aurora.max_attempts=1",
                                "--set", "aurora.retry_deadline_s=0")
    assert result.code == 4, result.stderr[-3000:]
    assert result.manifest is not None and result.run_dir is not None
    outcome = result.manifest["counts"]["targets"]["aurora"]
    assert outcome["failed"] > 0 and outcome["written"] + outcome["failed"] == loaded
    failed_lines = [
        line
        for p in (result.run_dir / "failed_writes" / "aurora").glob("*.json")
        for line in p.read_text().splitlines()
    ]
    assert len(failed_lines) == outcome["failed"] and all('"error":"AdminShutdown:57P01"' in x for x in failed_lines)
    assert not leaks(folder_text(result.run_dir), generated_secrets(data_dir))  # failed writes stay encrypted
    assert failing.sql("SELECT count(*) FROM reservations") == [(outcome["written"],)]
    # AND a re-run (a backfill now: the tables are not empty) converges to the clean run's state
    rerun = run_migrate(data_dir, tmp_path, failing, *AURORA_ONLY, run_id="pg_rerun")
    assert rerun.code == 0, rerun.stderr[-3000:]
    assert rerun.manifest is not None and rerun.manifest["write_stats"]["aurora"]["path"] == "backfill"
    assert comparable_rows(failing) == expected
