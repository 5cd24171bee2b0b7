"""One task's connection: binary COPY (ADBC) per transaction on the initial or the upsert path; transient
errors retried from the same data."""

from __future__ import annotations

import json
import time
from base64 import b64encode
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from loaders.aurora.rows import (
    RESERVATION_ARROW,
    RESERVATION_COLUMNS,
    ROOM_STAY_ARROW,
    UPDATABLE_COLUMNS,
    reservations_batch,
    room_stays_batch,
)
from loaders.aurora.settings import AuroraSettings
from loaders.retry import backoff_delay

SETUP_SQL = (  # one statement each (ADBC prepares what it runs)
    "CREATE TEMP TABLE IF NOT EXISTS stage_reservations (LIKE reservations INCLUDING DEFAULTS) ON COMMIT DELETE ROWS",
    "CREATE TEMP TABLE IF NOT EXISTS stage_room_stays (LIKE room_stays) ON COMMIT DELETE ROWS",
    "CREATE TEMP TABLE IF NOT EXISTS stage_written (property_code text, confirmation_no text) ON COMMIT DELETE ROWS",
    "CREATE TEMP TABLE IF NOT EXISTS stage_changed (property_code text, confirmation_no text) ON COMMIT DELETE ROWS",
)
UPSERT_SQL = f"""
WITH up AS (
    INSERT INTO reservations AS r ({", ".join(RESERVATION_COLUMNS)})
    SELECT {", ".join(RESERVATION_COLUMNS)} FROM stage_reservations
    ON CONFLICT (property_code, confirmation_no) DO UPDATE
       SET {", ".join(f"{c} = EXCLUDED.{c}" for c in UPDATABLE_COLUMNS)}, loaded_at = now()
     WHERE (r.last_modified, coalesce(r.source_seq, -1))
        <= (EXCLUDED.last_modified, coalesce(EXCLUDED.source_seq, -1))
    RETURNING r.property_code, r.confirmation_no
)
INSERT INTO stage_written SELECT property_code, confirmation_no FROM up
"""
_STAY_VALUES = ("room_type", "rate_plan", "start_date", "end_date", "nightly_rate", "currency")


def _stored_stays_of(keys: str) -> str:
    """The stored room stays of the reservations in ``keys``, read by key: a LATERAL subquery that OFFSET 0
    keeps from being flattened into a join, which the planner may run as a scan of the whole of room_stays
    for every transaction (it did at 3 M room stays)."""
    return f"""SELECT r.* FROM {keys} k CROSS JOIN LATERAL (
        SELECT * FROM room_stays stored
         WHERE stored.property_code = k.property_code AND stored.confirmation_no = k.confirmation_no OFFSET 0
    ) r"""


# The room stays of every reservation the upsert wrote become exactly the incoming ones. One pass finds
# the reservations whose stored stays differ from the incoming ones in any way (a line changed, gone or
# new); only theirs are deleted and inserted. Stays that did not change are left where they are:
# re-running a backfill rewrites no room stay (no dead rows, no index churn, no WAL for them).
REPLACE_ROOM_STAYS_SQL = (
    "ANALYZE stage_written",
    f"""INSERT INTO stage_changed
SELECT DISTINCT coalesce(r.property_code, s.property_code), coalesce(r.confirmation_no, s.confirmation_no)
  FROM ({_stored_stays_of("stage_written")}) r
  FULL JOIN (SELECT s.* FROM stage_room_stays s JOIN stage_written USING (property_code, confirmation_no)) s
    ON s.property_code = r.property_code AND s.confirmation_no = r.confirmation_no AND s.line_no = r.line_no
 WHERE r.property_code IS NULL OR s.property_code IS NULL
    OR ({", ".join(f"s.{c}" for c in _STAY_VALUES)}) IS DISTINCT FROM ({", ".join(f"r.{c}" for c in _STAY_VALUES)})""",
    f"""DELETE FROM room_stays rs USING ({_stored_stays_of("stage_changed")}) gone
 WHERE rs.property_code = gone.property_code AND rs.confirmation_no = gone.confirmation_no
   AND rs.line_no = gone.line_no""",
    """INSERT INTO room_stays
SELECT s.* FROM stage_room_stays s JOIN stage_changed USING (property_code, confirmation_no)""",
)
# SQLSTATE classes/codes worth another try: connection failures, admin/crash shutdown, failover,
# serialization failure, deadlock, too many connections, cannot connect now.
TRANSIENT_SQLSTATES = ("08", "57P01", "57P02", "57P03", "40001", "40P01", "53300")


# The server's last word when it ends a connection, which ADBC reports without its SQLSTATE (libpq's
# connection error replaces the result that carried it): PostgreSQL's own messages for these conditions.
_CONNECTION_ENDED = (
    ("terminating connection due to administrator command", "57P01"),
    ("terminating connection because of crash of another server process", "57P02"),
    ("the database system is", "57P03"),  # starting up / shutting down / in recovery mode / not accepting ...
    ("terminating connection due to conflict with recovery", "40001"),
    ("terminating connection due to idle-in-transaction timeout", "25P03"),
    ("sorry, too many clients already", "53300"),
    ("remaining connection slots are reserved", "53300"),
)


def _sqlstate(exc: Exception) -> str:
    """The error's SQLSTATE: ADBC's, else read off the server's FATAL message of a connection it ended
    (empty when neither says: a connection that just dropped has none)."""
    sqlstate = getattr(exc, "sqlstate", None)
    if sqlstate:
        return str(sqlstate)
    message = str(exc)
    fatal = message.find("FATAL:")
    if fatal >= 0:
        for text, code in _CONNECTION_ENDED:
            if text in message[fatal:]:
                return code
    return ""


def _is_transient(exc: Exception) -> bool:
    """Worth another try: the connection failed or was lost (ADBC's OperationalError: libpq I/O, cancel,
    timeout), or a transient SQLSTATE."""
    from adbc_driver_manager import OperationalError

    return isinstance(exc, OperationalError) or _sqlstate(exc).startswith(TRANSIENT_SQLSTATES)


def _error_name(exc: Exception) -> str:
    """``Name:SQLSTATE`` for failed_writes/: the condition's name (psycopg's, as elsewhere in the job), else
    the exception's class; never the message (it may quote a value)."""
    from psycopg import errors

    sqlstate = _sqlstate(exc)
    try:
        name = errors.lookup(sqlstate).__name__ if sqlstate else type(exc).__name__
    except KeyError:
        name = type(exc).__name__
    return f"{name}:{sqlstate}"


class Loader:
    """One task's connection (ADBC) and counters; each unit of work is one transaction, retried whole."""

    def __init__(self, settings: AuroraSettings) -> None:
        self.s = settings
        self.conn: Any = None
        self.schema = "public"
        self.written = self.kept_newer = self.retries = 0
        self.failures: list[tuple[str, str, str]] = []

    def _connect(self, *, staging: bool) -> Any:
        import adbc_driver_postgresql.dbapi as adbc

        if self.conn is None:
            conn = adbc.connect(self.s.conninfo)  # libpq takes the key=value string (or a URI) as it is
            try:
                with conn.cursor() as cur:
                    cur.execute("SELECT current_schema()")  # where the tables are (ADBC would assume public)
                    row = cur.fetchone()
                    self.schema = row[0] if row and row[0] else "public"
                    if staging:
                        for statement in SETUP_SQL:
                            cur.execute(statement)
                conn.commit()
            except Exception:
                _quiet_close(conn)
                raise
            self.conn = conn
        return self.conn

    def _ingest(self, cur: Any, table: str, rows: pa.Table, *, temporary: bool = False) -> None:
        """One binary COPY of ``rows`` (one call per transaction and table: each call costs a catalog query
        and a round trip)."""
        if not rows.num_rows:
            return
        if temporary:
            cur.adbc_ingest(table, rows, mode="append", temporary=True)
        else:
            cur.adbc_ingest(table, rows, mode="append", db_schema_name=self.schema)

    def _retrying(self, work: Any, rows: Any) -> None:
        """Run ``work()`` (one transaction) until it commits; transient errors retried, then failures."""
        from adbc_driver_manager import Error

        attempt = 0
        while True:
            try:
                work()
                return
            except Error as exc:
                self._close()  # the transaction goes with the connection
                attempt += 1
                if not _is_transient(exc) or attempt >= self.s.max_attempts:
                    error = _error_name(exc)
                    self.failures += [(_row_key(r), _row_json(r), error) for r in rows()]
                    return
                self.retries += 1
                time.sleep(backoff_delay(attempt, base=0.2, cap=10.0))

    # ------------------------------------------------------------------ backfill: staged, version-guarded

    def upsert(self, batches: list[pa.RecordBatch]) -> None:
        """Stage the batches, upsert them version-guarded and replace their room stays: one transaction."""
        reservations, rooms = _tables(batches)
        rows = reservations.num_rows

        def work() -> None:
            conn = self._connect(staging=True)
            with conn.cursor() as cur:
                self._ingest(cur, "stage_reservations", reservations, temporary=True)
                self._ingest(cur, "stage_room_stays", rooms, temporary=True)
                cur.execute(UPSERT_SQL)
                written = cur.rowcount
                for statement in REPLACE_ROOM_STAYS_SQL:
                    cur.execute(statement)
            conn.commit()
            self.written += written
            self.kept_newer += rows - written

        self._retrying(work, lambda: [r for b in batches for r in b.to_pylist()])

    # ------------------------------------------------------------------ initial: straight in, chunk markers

    def insert_chunk(self, part: int, chunk: int, batches: list[pa.RecordBatch]) -> None:
        """COPY one chunk of batches straight into the tables, with its marker, in one transaction."""
        reservations, rooms = _tables(batches)
        rows = reservations.num_rows

        def work() -> None:
            conn = self._connect(staging=False)
            with conn.cursor() as cur:
                # one attempt per chunk at a time (speculative tasks too); a committed chunk is skipped
                lock = (f"{self.s.parts_key}#{part}", chunk)
                cur.execute("SELECT pg_advisory_xact_lock(hashtext($1), $2::integer)", lock)
                cur.fetchall()
                cur.execute(
                    "SELECT reservations FROM migration_load_parts WHERE run_id = $1 AND part = $2 AND chunk = $3",
                    (self.s.parts_key, part, chunk),
                )
                if cur.fetchone() is not None:
                    conn.commit()
                    self.written += rows
                    return
                self._ingest(cur, "reservations", reservations)
                self._ingest(cur, "room_stays", rooms)
                cur.execute(
                    "INSERT INTO migration_load_parts (run_id, part, chunk, reservations, room_stays)"
                    " VALUES ($1, $2, $3, $4, $5)",
                    (self.s.parts_key, part, chunk, rows, rooms.num_rows),
                )
            conn.commit()
            self.written += rows

        self._retrying(work, lambda: [r for b in batches for r in b.to_pylist()])

    def _close(self) -> None:
        if self.conn is not None:
            _quiet_close(self.conn)
            self.conn = None


def _tables(batches: list[pa.RecordBatch]) -> tuple[pa.Table, pa.Table]:
    """The reservations and the room stays of a transaction's batches, as two tables."""
    reservations = pa.Table.from_batches([reservations_batch(b) for b in batches], schema=RESERVATION_ARROW)
    rooms = pa.Table.from_batches([room_stays_batch(b) for b in batches], schema=ROOM_STAY_ARROW)
    return reservations, rooms


def _quiet_close(conn: Any) -> None:
    try:
        conn.close()  # a lost connection may fail to close: nothing is left to clean up then
    except Exception:
        pass


def _row_key(row: Mapping[str, Any]) -> str:
    return f"{row['property_code']}#{row['confirmation_no']}"


def _row_json(row: Mapping[str, Any]) -> str:
    def enc(value: Any) -> Any:  # ciphertexts as base64, like the DynamoDB failures; dates and amounts as text
        return b64encode(bytes(value)).decode("ascii") if isinstance(value, (bytes, bytearray)) else str(value)

    return json.dumps(row, default=enc, sort_keys=True)
