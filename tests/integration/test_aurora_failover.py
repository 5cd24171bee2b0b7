"""An Aurora failover, as the job sees one: the database goes away in the middle of the load and comes back
later. PostgreSQL itself is stopped and started (a server of this test's own: the session's serves the
other tests meanwhile)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg
import pytest

from bootstrap.local.services import Postgres, free_port
from loaders.aurora import ensure_schema
from tests.integration.conftest import LOOSE_GATE
from tests.integration.harness import Result, fresh_targets, run_migrate

pytestmark = pytest.mark.integration
OUTAGE_S = 20


def test_the_database_stopped_for_20_s_mid_load_is_ridden_out(small_sample, moto, services_dir: Path, tmp_path):
    data_dir, truth = small_sample
    loaded = truth["counts"]["reservations_loaded"]
    server = Postgres(services_dir / "pg_failover", free_port())
    server.start()
    try:
        targets = fresh_targets(moto, server, "failover")
        ensure_schema(targets.conninfo)
        result: list[Result] = []
        args = ("--targets", "aurora", *LOOSE_GATE, "--set", "aurora.rows_per_transaction=100")
        job = threading.Thread(
            target=lambda: result.append(run_migrate(data_dir, tmp_path, targets, *args, run_id="failover"))
        )
        # GIVEN a load whose chunks are held just before they commit (a lock on their markers' table) ...
        blocker = psycopg.connect(targets.conninfo)
        blocker.execute("LOCK TABLE migration_load_parts IN EXCLUSIVE MODE")
        job.start()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and job.is_alive() and not _waiting_chunks(targets.conninfo):
            time.sleep(0.1)
        assert job.is_alive(), result[0].stderr[-3000:] if result else "the job ended"
        # WHEN the server stops (every connection ends, the held transactions with them) for 20 s, then starts
        server.stop()
        blocker.close()
        time.sleep(OUTAGE_S)
        server.start()
        job.join(timeout=600)

        # THEN the run succeeded without a failed row: the chunks that were cut off were tried again after
        (run,) = result
        assert run.code == 0, run.stderr[-3000:]
        assert run.manifest is not None
        stats = run.manifest["write_stats"]["aurora"]
        assert stats["path"] == "initial" and stats["retries"] >= 1, stats
        assert run.manifest["counts"]["targets"]["aurora"] == {"written": loaded, "kept_newer": 0, "failed": 0}
        assert targets.sql("SELECT count(*), count(DISTINCT (property_code, confirmation_no)) FROM reservations") == [
            (loaded, loaded)
        ]
        # AND no room stay twice (a chunk that committed just before the outage is not loaded again), and at
        # least those of the chunks committed (live hotels' reservations are upserted after them, unmarked)
        (marked,) = targets.sql("SELECT sum(reservations), sum(room_stays) FROM migration_load_parts")
        ((stays, distinct),) = targets.sql(
            "SELECT count(*), count(DISTINCT (property_code, confirmation_no, line_no)) FROM room_stays"
        )
        assert stays == distinct >= marked[1] > 0 and 0 < marked[0] <= loaded
    finally:
        server.stop()


def _waiting_chunks(conninfo: str) -> int:
    with psycopg.connect(conninfo, autocommit=True) as watcher:
        row = watcher.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'edw-migration'"
            " AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO migration_load_parts%%'"
        ).fetchone()
    return int(row[0]) if row else 0
