"""One task's connection: binary COPY (ADBC) per transaction on the initial or the upsert path; transient
errors retried from the same data (for at least ``retry_deadline_s``: a failover), and a transaction that a
row of it makes fail is bisected in savepoints so that only that row fails."""

from __future__ import annotations

import json
import re
import time
from base64 import b64encode
from collections.abc import Callable, Mapping
from typing import Any

import pyarrow as pa

from loaders.aurora.connection import adbc_connect, psycopg_connect
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
# SQLSTATE classes/codes worth another try: connection failures, admin/crash shutdown, failover (the old
# writer, now a reader, refuses writes: 25006), serialization failure, deadlock, too many connections,
# cannot connect now.
TRANSIENT_SQLSTATES = ("08", "57P01", "57P02", "57P03", "25006", "40001", "40P01", "53300")
CLEAR_STAGING_SQL = "TRUNCATE stage_reservations, stage_room_stays, stage_written, stage_changed"


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
    """Worth another try: a transient SQLSTATE, or, without one, a connection that failed or was lost
    (ADBC's or psycopg's OperationalError: libpq I/O, cancel, timeout). The SQLSTATE decides first: psycopg
    files program limits (54000, an index row too large) and timeouts under OperationalError too."""
    import psycopg
    from adbc_driver_manager import OperationalError

    sqlstate = _sqlstate(exc)
    if sqlstate:
        return sqlstate.startswith(TRANSIENT_SQLSTATES)
    return isinstance(exc, (OperationalError, psycopg.OperationalError))


def _is_row_error(exc: Exception) -> bool:
    """An error one row's values can cause (a data exception, a constraint, a program limit such as an index
    row too large; psycopg's refusal of a value it cannot send): worth bisecting the transaction for. Others
    (a permission, a missing table) would fail every part alike."""
    import adbc_driver_manager as adbc
    import psycopg

    sqlstate = _sqlstate(exc)
    if sqlstate:
        return sqlstate[:2] in ("22", "23", "54")
    return isinstance(exc, (psycopg.DataError, psycopg.IntegrityError, adbc.DataError, adbc.IntegrityError))


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

        if self.conn is None:
            conn = adbc_connect(self.s.conninfo)  # libpq takes the key=value string (or a URI) as it is
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
        if not hasattr(cur, "adbc_ingest"):  # psycopg's (a transaction being bisected): text COPY, row by row
            with cur.copy(f"COPY {table} ({', '.join(rows.column_names)}) FROM STDIN") as copy:
                for row in rows.to_pylist():
                    copy.write_row([row[c] for c in rows.column_names])
            return
        if temporary:
            cur.adbc_ingest(table, rows, mode="append", temporary=True)
        else:
            cur.adbc_ingest(table, rows, mode="append", db_schema_name=self.schema)

    def _retrying(self, work: Callable[[bool], None], rows: Callable[[], list[dict[str, Any]]]) -> None:
        """Run ``work(bisect)`` (one transaction) until it commits. Transient errors are retried with backoff,
        ``max_attempts`` times at least and for ``retry_deadline_s`` after the first failure (a failover); any
        other error rolls the transaction back and runs it once more with ``bisect`` set, which keeps the
        rows that fail out of it; what still fails is recorded with its condition."""
        import psycopg
        from adbc_driver_manager import Error

        attempt, first_failure, bisect = 0, None, False
        while True:
            recorded = len(self.failures)
            try:
                work(bisect)
                return
            except (Error, psycopg.Error) as exc:
                self._close()  # the transaction goes with the connection
                del self.failures[recorded:]  # rows it kept out of a transaction that did not commit
                transient = _is_transient(exc)
                if not transient and not bisect and _is_row_error(exc):
                    bisect = True  # a row of it: once more, row errors kept to their rows
                    continue
                if transient:  # the clock and the count are the transient failures' (a bisection takes time)
                    attempt += 1
                    first_failure = first_failure if first_failure is not None else time.monotonic()
                within = first_failure is not None and time.monotonic() - first_failure < self.s.retry_deadline_s
                if not transient or (attempt >= self.s.max_attempts and not within):
                    error = _error_name(exc)
                    self.failures += [(_row_key(r), _row_json(r), error) for r in rows()]
                    return
                self.retries += 1
                time.sleep(backoff_delay(attempt, base=0.2, cap=10.0))

    def _bisect_connection(self, *, staging: bool) -> Any:
        """A psycopg connection for a transaction being bisected: ADBC's refuses every statement after an
        error until the whole transaction is rolled back, psycopg's rolls back to a savepoint."""
        conn = psycopg_connect(self.s.conninfo, autocommit=False)
        try:
            if staging:
                for statement in SETUP_SQL:
                    conn.execute(statement)  # type: ignore[arg-type]
                conn.commit()
        except Exception:
            _quiet_close(conn)
            raise
        return conn

    def _bisected(self, conn: Any, rows: pa.Table, apply: Callable[[Any, pa.Table], int]) -> int:
        """``apply(cursor, rows)`` in a savepoint of ``conn``'s transaction; when it fails on something other
        than the connection, the savepoint is rolled back and each half is applied the same way, down to
        single rows, which fail alone (recorded with their condition). Returns what the applications that
        held report."""
        import psycopg

        try:
            with conn.transaction(), conn.cursor() as cur:
                return int(apply(cur, rows))
        except psycopg.Error as exc:
            if not _is_row_error(exc):
                raise
            if rows.num_rows == 1:
                error = _error_name(exc)
                self.failures += [(_row_key(r), _row_json(r), error) for r in rows.to_pylist()]
                return 0
        half = rows.num_rows // 2
        return self._bisected(conn, rows.slice(0, half), apply) + self._bisected(conn, rows.slice(half), apply)

    # ------------------------------------------------------------------ backfill: staged, version-guarded

    def upsert(self, batches: list[pa.RecordBatch]) -> None:
        """Stage the batches, upsert them version-guarded and replace their room stays: one transaction."""
        incoming = pa.Table.from_batches(batches)

        def apply(cur: Any, rows: pa.Table) -> int:
            reservations, rooms = _tables(rows.to_batches())
            self._ingest(cur, "stage_reservations", reservations, temporary=True)
            self._ingest(cur, "stage_room_stays", rooms, temporary=True)
            cur.execute(UPSERT_SQL)
            written = int(cur.rowcount)
            for statement in REPLACE_ROOM_STAYS_SQL:
                cur.execute(statement)
            return written

        def bisected(cur: Any, rows: pa.Table) -> int:
            written = apply(cur, rows)
            cur.execute(CLEAR_STAGING_SQL)  # the next part stages its own rows (commit would clear them)
            return written

        def work(bisect: bool) -> None:
            failed = len(self.failures)
            if bisect:
                with self._bisect_connection(staging=True) as conn:
                    with conn.transaction():  # one transaction: each part is a savepoint of it
                        written = self._bisected(conn, incoming, bisected)
            else:
                conn = self._connect(staging=True)
                with conn.cursor() as cur:
                    written = apply(cur, incoming)
                conn.commit()
            self.written += written
            self.kept_newer += incoming.num_rows - written - (len(self.failures) - failed)

        self._retrying(work, incoming.to_pylist)

    # ------------------------------------------------------------------ initial: straight in, chunk markers

    def insert_chunk(self, part: int, chunk: int, batches: list[pa.RecordBatch]) -> None:
        """COPY one chunk of batches straight into the tables, with its marker, in one transaction."""
        incoming = pa.Table.from_batches(batches)
        rooms_in = [0]

        def apply(cur: Any, rows: pa.Table) -> int:
            reservations, rooms = _tables(rows.to_batches())
            self._ingest(cur, "reservations", reservations)
            self._ingest(cur, "room_stays", rooms)
            rooms_in[0] += rooms.num_rows
            return reservations.num_rows

        def work(bisect: bool) -> None:
            failed = len(self.failures)
            rooms_in[0] = 0
            conn = self._bisect_connection(staging=False) if bisect else self._connect(staging=False)
            try:
                with conn.cursor() as cur:
                    # one attempt per chunk at a time (speculative tasks too); a committed chunk is skipped
                    lock = (f"{self.s.parts_key}#{part}", chunk)
                    cur.execute(_params("SELECT pg_advisory_xact_lock(hashtext($1), $2::integer)", cur), lock)
                    cur.fetchall()
                    cur.execute(
                        _params("SELECT reservations, failed::text FROM migration_load_parts"
                                " WHERE run_id = $1 AND part = $2 AND chunk = $3", cur),
                        (self.s.parts_key, part, chunk),
                    )  # fmt: skip
                    marked = cur.fetchone()
                if marked is not None:  # committed by an earlier attempt: what it wrote, and what failed alone
                    conn.commit()
                    self.written += int(marked[0])
                    errors = json.loads(marked[1]) if marked[1] else {}
                    self.failures += [
                        (_row_key(r), _row_json(r), errors[_row_key(r)])
                        for r in incoming.to_pylist()
                        if _row_key(r) in errors
                    ]
                    return
                if bisect:
                    written = self._bisected(conn, incoming, apply)
                else:
                    with conn.cursor() as cur:
                        written = apply(cur, incoming)
                errors = {key: error for key, _, error in self.failures[failed:]}
                with conn.cursor() as cur:
                    cur.execute(
                        _params("INSERT INTO migration_load_parts (run_id, part, chunk, reservations, room_stays,"
                                " failed) VALUES ($1, $2, $3, $4, $5, $6::jsonb)", cur),
                        (self.s.parts_key, part, chunk, written, rooms_in[0], json.dumps(errors) if errors else None),
                    )  # fmt: skip
                conn.commit()
            finally:
                if bisect:
                    _quiet_close(conn)
            self.written += written

        self._retrying(work, incoming.to_pylist)

    def _close(self) -> None:
        if self.conn is not None:
            _quiet_close(self.conn)
            self.conn = None


def _params(sql: str, cur: Any) -> str:
    """``sql`` with its ``$n`` placeholders (ADBC's) as psycopg's ``%s`` on a psycopg cursor (in order)."""
    return sql if hasattr(cur, "adbc_ingest") else re.sub(r"\$\d+", "%s", sql)


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
