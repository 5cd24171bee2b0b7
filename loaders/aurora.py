"""Aurora PostgreSQL writer: COPY into per-connection staging tables, then a version-guarded upsert.

Runs in the executors (``mapInArrow``); each Arrow batch is one transaction, so a retried batch is
safe. Room stays of every reservation the upsert wrote are replaced in the same transaction.
"""

from __future__ import annotations

import json
import time
from base64 import b64encode
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from importlib import resources
from typing import Any

import pyarrow as pa
from pyspark.sql import DataFrame

from loaders.outcomes import OUTCOME_SCHEMA, WriteStats, outcome_batch, save_and_summarize
from loaders.retry import backoff_delay

RESERVATION_COLUMNS: tuple[str, ...] = (
    "property_code", "confirmation_no", "status", "created_at", "last_modified", "source", "source_seq",
    "arrival_date", "departure_date", "nights", "adults", "children", "guest_first_name",
    "guest_last_name", "guest_email", "guest_phone", "guest_country", "email_hash", "card_type",
    "card_last4", "total_amount", "currency", "channel", "run_id",
)  # fmt: skip
ROOM_STAY_COLUMNS: tuple[str, ...] = (
    "property_code", "confirmation_no", "line_no", "room_type", "rate_plan", "start_date", "end_date",
    "nightly_rate", "currency",
)  # fmt: skip
_KEY = ("property_code", "confirmation_no")
_UPDATABLE = [c for c in RESERVATION_COLUMNS if c not in _KEY]

SETUP_SQL = """
CREATE TEMP TABLE IF NOT EXISTS stage_reservations
    (LIKE reservations INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_room_stays (LIKE room_stays) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_written
    (property_code text, confirmation_no text) ON COMMIT DELETE ROWS;
"""
UPSERT_SQL = f"""
WITH up AS (
    INSERT INTO reservations AS r ({", ".join(RESERVATION_COLUMNS)})
    SELECT {", ".join(RESERVATION_COLUMNS)} FROM stage_reservations
    ON CONFLICT (property_code, confirmation_no) DO UPDATE
       SET {", ".join(f"{c} = EXCLUDED.{c}" for c in _UPDATABLE)}, loaded_at = now()
     WHERE (r.last_modified, coalesce(r.source_seq, -1))
        <= (EXCLUDED.last_modified, coalesce(EXCLUDED.source_seq, -1))
    RETURNING r.property_code, r.confirmation_no
)
INSERT INTO stage_written SELECT property_code, confirmation_no FROM up
"""
REPLACE_ROOM_STAYS_SQL = """
DELETE FROM room_stays rs USING stage_written w
 WHERE rs.property_code = w.property_code AND rs.confirmation_no = w.confirmation_no;
INSERT INTO room_stays
SELECT s.* FROM stage_room_stays s JOIN stage_written w USING (property_code, confirmation_no);
"""
# SQLSTATE classes/codes worth another try: connection failures, admin/crash shutdown, failover,
# serialization failure, deadlock, too many connections, cannot connect now.
TRANSIENT_SQLSTATES = ("08", "57P01", "57P02", "57P03", "40001", "40P01", "53300")


@dataclass(frozen=True)
class AuroraSettings:
    conninfo: str
    run_id: str
    max_attempts: int


def schema_sql() -> list[str]:
    """The versioned schema files, in order."""
    folder = resources.files("loaders") / "sql"
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".sql"))
    return [(folder / n).read_text(encoding="utf-8") for n in names]


def ensure_schema(conninfo: str) -> None:
    """Apply the schema idempotently (advisory lock: concurrent runs do not race)."""
    import psycopg

    with psycopg.connect(conninfo, autocommit=False) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(727274)")
        for sql in schema_sql():
            conn.execute(sql)  # type: ignore[arg-type]
        conn.commit()


def record_run(conninfo: str, row: Mapping[str, Any]) -> None:
    """Insert or update this run's ``migration_runs`` row."""
    import psycopg
    from psycopg.types.json import Jsonb

    cols = ("run_id", "env", "status", "code_version", "started_at", "finished_at", "selection", "counts", "timings")
    values = [Jsonb(row[c]) if c in ("selection", "counts", "timings") else row.get(c) for c in cols]
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols[1:])
    with psycopg.connect(conninfo) as conn:
        conn.execute(
            f"INSERT INTO migration_runs ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))}) "  # type: ignore[arg-type]
            f"ON CONFLICT (run_id) DO UPDATE SET {updates}",
            values,
        )


def reservation_row(row: Mapping[str, Any], run_id: str) -> tuple[Any, ...]:
    guest = row["guest"] or {}
    flat = {
        **row,
        "guest_first_name": guest.get("first_name"),
        "guest_last_name": guest.get("last_name"),
        "guest_email": guest.get("email"),
        "guest_phone": guest.get("phone"),
        "guest_country": guest.get("country"),
        "run_id": run_id,
    }
    return tuple(flat.get(c) for c in RESERVATION_COLUMNS)


def room_stay_rows(row: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    key = {"property_code": row["property_code"], "confirmation_no": row["confirmation_no"]}
    return [tuple({**key, **rs}.get(c) for c in ROOM_STAY_COLUMNS) for rs in (row["room_stays"] or [])]


class _Loader:
    def __init__(self, settings: AuroraSettings) -> None:
        self.s = settings
        self.conn: Any = None
        self.written = self.kept_newer = self.retries = 0
        self.failures: list[tuple[str, str, str]] = []

    def _connect(self) -> Any:
        import psycopg

        if self.conn is None or self.conn.closed:
            self.conn = psycopg.connect(self.s.conninfo, autocommit=False)
            with self.conn.transaction():
                self.conn.execute(SETUP_SQL)
        return self.conn

    def load(self, rows: list[dict[str, Any]]) -> None:
        import psycopg

        attempt = 0
        while True:
            try:
                conn = self._connect()
                with conn.transaction(), conn.cursor() as cur:
                    with cur.copy(f"COPY stage_reservations ({', '.join(RESERVATION_COLUMNS)}) FROM STDIN") as cp:
                        for r in rows:
                            cp.write_row(reservation_row(r, self.s.run_id))
                    with cur.copy(f"COPY stage_room_stays ({', '.join(ROOM_STAY_COLUMNS)}) FROM STDIN") as cp:
                        for r in rows:
                            for line in room_stay_rows(r):
                                cp.write_row(line)
                    cur.execute(UPSERT_SQL)  # type: ignore[arg-type]
                    written = cur.rowcount
                    cur.execute(REPLACE_ROOM_STAYS_SQL)  # type: ignore[arg-type]
                self.written += written
                self.kept_newer += len(rows) - written
                return
            except psycopg.Error as exc:
                sqlstate = getattr(exc, "sqlstate", None) or ""
                transient = isinstance(exc, psycopg.OperationalError) or sqlstate.startswith(TRANSIENT_SQLSTATES)
                self._close()
                attempt += 1
                if not transient or attempt >= self.s.max_attempts:
                    error = f"{type(exc).__name__}:{sqlstate}"
                    self.failures += [(_row_key(r), _row_json(r), error) for r in rows]
                    return
                self.retries += 1
                time.sleep(backoff_delay(attempt, base=0.2, cap=10.0))

    def _close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
            self.conn = None


def _row_key(row: Mapping[str, Any]) -> str:
    return f"{row['property_code']}#{row['confirmation_no']}"


def _row_json(row: Mapping[str, Any]) -> str:
    def enc(o: Any) -> Any:
        if isinstance(o, (bytes, bytearray)):
            return b64encode(bytes(o)).decode("ascii")
        return str(o)

    return json.dumps(row, default=enc, sort_keys=True)


def load_batches(batches: Iterator[pa.RecordBatch], *, settings: AuroraSettings) -> Iterator[pa.RecordBatch]:
    started = time.monotonic()
    loader = _Loader(settings)
    try:
        for batch in batches:
            rows = batch.to_pylist()
            if rows:
                loader.load(rows)
    finally:
        loader._close()
    summary = {
        "written": loader.written,
        "kept_newer": loader.kept_newer,
        "failed": len(loader.failures),
        "write_units": 0.0,
        "retries": loader.retries,
        "throttles": 0,
        "seconds": time.monotonic() - started,
    }
    yield outcome_batch(summary, loader.failures)


def load_aurora(
    df: DataFrame, *, settings: AuroraSettings, max_connections: int, results_path: str, failed_path: str
) -> WriteStats:
    """Load ``df`` with at most ``max_connections`` concurrent connections; return the summed outcome."""
    parts = df.rdd.getNumPartitions()
    limited = df.coalesce(max_connections) if parts > max_connections else df
    outcomes = limited.mapInArrow(partial(load_batches, settings=settings), OUTCOME_SCHEMA)
    return save_and_summarize(outcomes, results_path=results_path, failed_path=failed_path)
