"""Aurora PostgreSQL writer, in the executors (``mapInArrow``): Arrow batches -> binary COPY, in C.

The load connections are ADBC's (``adbc_driver_postgresql``, Apache Arrow's libpq driver): it encodes an
Arrow batch straight into PostgreSQL's binary COPY format, so neither the executor formats text nor the
server parses it (measured against pyarrow CSV + psycopg COPY on the same batches: 2.6 x the rows per
second, and less than half the server CPU). Reconcile sends its keys the same way; the schema, the run records
and the key registry go through psycopg.

Two paths, chosen per run (``aurora.load_path``; ``auto`` = initial when both tables are empty):

- **initial**: keys and indexes dropped while the tables are empty, every task COPYs its rows straight into
  the tables in chunks of ``aurora.rows_per_transaction``, each chunk one transaction that also records a
  marker row (``migration_load_parts``): a retried task or attempt skips what is committed. Keys and
  indexes are built once the data is in (``002_keys.sql``), then ``ANALYZE``.
- **backfill**: per transaction (``aurora.rows_per_transaction`` rows): COPY into temp staging tables, one
  ``INSERT … ON CONFLICT … DO UPDATE … WHERE (stored last_modified, source_seq) <= (incoming)``, and the room
  stays of every reservation it wrote replaced by the incoming ones (those unchanged stay as they are); rows
  kept because the stored version is newer are counted.

Transient errors (connection lost, admin shutdown, failover, serialization failure, too many connections)
are retried with backoff from the same data; what still fails goes to ``failed_writes/``.
"""

from __future__ import annotations

import json
import re
import time
from base64 import b64decode, b64encode
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from importlib import resources
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from loaders.chunks import CHUNK, Markers, add_counters, pieces
from loaders.outcomes import OUTCOME_SCHEMA, WriteStats, check_batch, outcome_batch, save_and_summarize
from loaders.progress import ProgressFile, task_part
from loaders.retry import backoff_delay

RESERVATION_COLUMNS: tuple[str, ...] = (
    "property_code", "confirmation_no", "status", "created_at", "last_modified", "source", "source_seq",
    "arrival_date", "departure_date", "nights", "adults", "children", "guest_first_name",
    "guest_last_name", "guest_email", "guest_phone", "guest_country", "email_hash", "card_type",
    "card_last4", "total_amount", "currency", "channel", "run_id", "pii_key",
)  # fmt: skip
ROOM_STAY_COLUMNS: tuple[str, ...] = (
    "property_code", "confirmation_no", "line_no", "room_type", "rate_plan", "start_date", "end_date",
    "nightly_rate", "currency",
)  # fmt: skip
_KEY = ("property_code", "confirmation_no")
_UPDATABLE = [c for c in RESERVATION_COLUMNS if c not in _KEY]

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
       SET {", ".join(f"{c} = EXCLUDED.{c}" for c in _UPDATABLE)}, loaded_at = now()
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
_VERSIONED = re.compile(r"^\d{3}_[a-z0-9_]+\.sql$")
_BYTEA = ("guest_first_name", "guest_last_name", "guest_email", "guest_phone")


@dataclass(frozen=True)
class AuroraSettings:
    conninfo: str
    run_id: str
    max_attempts: int
    path: str = "backfill"  # initial | backfill
    rows_per_transaction: int = 50_000
    progress_uri: str | None = None  # folder of the tasks' counter files (loaders.progress)
    progress_interval_s: float = 30.0
    markers_uri: str | None = None  # folder of the chunks' completion markers (loaders.chunks)
    done: Mapping[int, Mapping[str, Any]] | None = None  # chunks a resumed run skips, with their counters


def _sql_file(name: str) -> str:
    return (resources.files("loaders") / "sql" / name).read_text(encoding="utf-8")


def schema_sql() -> list[str]:
    """The versioned schema files (NNN_name.sql), in order."""
    folder = resources.files("loaders") / "sql"
    return [_sql_file(n) for n in sorted(p.name for p in folder.iterdir() if _VERSIONED.match(p.name))]


def ensure_schema(conninfo: str) -> None:
    """Apply the schema idempotently (advisory lock: concurrent runs do not race)."""
    import psycopg

    with psycopg.connect(conninfo, autocommit=False) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(727274)")
        for sql in schema_sql():
            conn.execute(sql)  # type: ignore[arg-type]
        conn.commit()


def choose_path(conninfo: str, requested: str) -> str:
    """``initial`` when asked for (the tables must be empty) or, for ``auto``, when both tables are empty."""
    import psycopg

    with psycopg.connect(conninfo) as conn:
        row = conn.execute(
            "SELECT NOT EXISTS (SELECT 1 FROM reservations) AND NOT EXISTS (SELECT 1 FROM room_stays)"
        ).fetchone()
    empty = bool(row and row[0])
    if requested == "initial" and not empty:
        raise ValueError("aurora.load_path: initial needs empty reservations and room_stays tables")
    return "initial" if requested == "initial" or (requested == "auto" and empty) else "backfill"


def prepare_initial(conninfo: str) -> None:
    """Drop keys and indexes, under an exclusive lock and only while both tables are still empty."""
    import psycopg

    with psycopg.connect(conninfo, autocommit=False) as conn:
        conn.execute("LOCK TABLE reservations, room_stays IN ACCESS EXCLUSIVE MODE")
        row = conn.execute("SELECT EXISTS (SELECT 1 FROM reservations) OR EXISTS (SELECT 1 FROM room_stays)").fetchone()
        if row and row[0]:
            raise RuntimeError("initial load: the tables are no longer empty")
        conn.execute(_sql_file("drop_keys.sql"))  # type: ignore[arg-type]
        conn.commit()


def key_sections() -> dict[str, str]:
    """``002_keys.sql`` cut at its ``-- table: NAME`` lines: each table's keys and indexes."""
    parts = re.split(r"^-- table: (\w+)\n", _sql_file("002_keys.sql"), flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def finish_initial(conninfo: str) -> dict[str, float]:
    """Build the keys and indexes on the loaded data, then ANALYZE: each table on a connection of its own,
    both at the same time. Returns the seconds until every index was built, and those of the rest."""
    from concurrent.futures import ThreadPoolExecutor

    import psycopg

    started = time.monotonic()

    def build(table: str, sql: str) -> float:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("SET maintenance_work_mem = '1GB'")
            conn.execute(sql)  # type: ignore[arg-type]
            indexed = time.monotonic()
            conn.execute(f"ANALYZE {table}")  # type: ignore[arg-type]
        return indexed

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(build, table, sql) for table, sql in key_sections().items()]
        indexed = max(f.result() for f in futures)  # the first failure is raised, once both have ended
    return {"index_seconds": round(indexed - started, 3), "analyze_seconds": round(time.monotonic() - indexed, 3)}


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


def register_data_key(conninfo: str, key: Mapping[str, Any], run_id: str) -> None:
    """The run's data key in the key registry (before any row that uses it is written)."""
    import psycopg

    with psycopg.connect(conninfo, application_name="edw-migration") as conn:
        conn.execute(
            "INSERT INTO pii_data_keys (key_ref, kms_key_id, encrypted_data_key, run_id) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (key_ref) DO NOTHING",
            (key["key_ref"], key["kms_key_id"], b64decode(key["encrypted_data_key"]), run_id),
        )


def copy_frame(df: DataFrame, run_id: str) -> DataFrame:
    """The columns the load takes, built by Spark: guest fields flattened (ciphertexts stay binary: bytea)."""
    columns = []
    for name in RESERVATION_COLUMNS:
        if name in _BYTEA:
            columns.append(F.col("guest")[name.removeprefix("guest_")].alias(name))
        elif name == "guest_country":
            columns.append(F.col("guest.country").alias(name))
        elif name == "run_id":
            columns.append(F.lit(run_id).alias(name))
        else:
            columns.append(F.col(name))
    return df.select(*columns, "room_stays", *([CHUNK] if CHUNK in df.columns else []))


# What binary COPY sends must be exactly the column's type (there is no cast on the way in): the batches are
# cast to these first (a no-op when Spark's types already are these).
_DECIMAL = pa.decimal128(12, 2)
_UTC = pa.timestamp("us", tz="UTC")
RESERVATION_ARROW = pa.schema([
    ("property_code", pa.string()), ("confirmation_no", pa.string()), ("status", pa.string()),
    ("created_at", _UTC), ("last_modified", _UTC), ("source", pa.string()), ("source_seq", pa.int64()),
    ("arrival_date", pa.date32()), ("departure_date", pa.date32()), ("nights", pa.int32()),
    ("adults", pa.int32()), ("children", pa.int32()), ("guest_first_name", pa.binary()),
    ("guest_last_name", pa.binary()), ("guest_email", pa.binary()), ("guest_phone", pa.binary()),
    ("guest_country", pa.string()), ("email_hash", pa.string()), ("card_type", pa.string()),
    ("card_last4", pa.string()), ("total_amount", _DECIMAL), ("currency", pa.string()),
    ("channel", pa.string()), ("run_id", pa.string()), ("pii_key", pa.string()),
])  # fmt: skip
ROOM_STAY_ARROW = pa.schema([
    ("property_code", pa.string()), ("confirmation_no", pa.string()), ("line_no", pa.int32()),
    ("room_type", pa.string()), ("rate_plan", pa.string()), ("start_date", pa.date32()),
    ("end_date", pa.date32()), ("nightly_rate", _DECIMAL), ("currency", pa.string()),
])  # fmt: skip
assert tuple(RESERVATION_ARROW.names) == RESERVATION_COLUMNS and tuple(ROOM_STAY_ARROW.names) == ROOM_STAY_COLUMNS


def reservations_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """The ``reservations`` rows of a batch, typed as the table's columns."""
    return pa.RecordBatch.from_arrays(
        [batch.column(n).cast(f.type) for n, f in zip(RESERVATION_COLUMNS, RESERVATION_ARROW, strict=True)],
        schema=RESERVATION_ARROW,
    )


def room_stays_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    """The room stays of a batch, one row each, keyed by their reservation (Arrow's list kernels: no Python
    per row), typed as the ``room_stays`` columns."""
    stays = batch.column(batch.schema.get_field_index("room_stays"))
    parents = pc.list_parent_indices(stays)  # type: ignore[attr-defined]
    flat = pc.list_flatten(stays)  # type: ignore[attr-defined]
    keys = batch.select(["property_code", "confirmation_no"]).take(parents)
    columns = [keys.column(0), keys.column(1), *[flat.field(n) for n in ROOM_STAY_COLUMNS[2:]]]
    return pa.RecordBatch.from_arrays(
        [c.cast(f.type) for c, f in zip(columns, ROOM_STAY_ARROW, strict=True)], schema=ROOM_STAY_ARROW
    )


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


class _Loader:
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
        and a round trip, about a third of the time with 10,000-row batches)."""
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
                lock = (f"{self.s.run_id}#{part}", chunk)
                cur.execute("SELECT pg_advisory_xact_lock(hashtext($1), $2::integer)", lock)
                cur.fetchall()
                cur.execute(
                    "SELECT reservations FROM migration_load_parts WHERE run_id = $1 AND part = $2 AND chunk = $3",
                    (self.s.run_id, part, chunk),
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
                    (self.s.run_id, part, chunk, rows, rooms.num_rows),
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


class _ChunkLoad:
    """One task's rows, chunk after chunk: skips, transactions, completion markers."""

    def __init__(self, settings: AuroraSettings) -> None:
        self.s = settings
        self.loader = _Loader(settings)
        self.markers, self.done = Markers(settings.markers_uri), settings.done or {}
        self.recorded: dict[str, Any] = {}  # counters of the chunks an earlier attempt finished
        self.chunk: int | None = None
        self.marked = False  # whether this chunk gets a completion marker (chunked input)
        self.before: dict[str, int] = {}
        self.held: list[pa.RecordBatch] = []
        self.held_rows = self.sub = 0

    def counters(self) -> dict[str, int]:
        loader = self.loader
        return {"written": loader.written, "kept_newer": loader.kept_newer, "failed": len(loader.failures),
                "retries": loader.retries}  # fmt: skip

    def feed(self, chunk: int, marked: bool, piece: pa.RecordBatch) -> None:
        if chunk != self.chunk:
            self.end()
            self.chunk, self.marked, self.before, self.sub = chunk, marked, self.counters(), 0
        if marked and chunk in self.done:
            return
        size = self.s.rows_per_transaction
        while piece.num_rows:  # transactions of exactly `size` rows from the chunk's first row
            take = min(piece.num_rows, size - self.held_rows)
            self.held.append(piece.slice(0, take))
            self.held_rows, piece = self.held_rows + take, piece.slice(take)
            if self.held_rows == size:
                self._commit()

    def end(self) -> None:
        if self.chunk is None:
            return
        if self.marked and self.chunk in self.done:
            add_counters(self.recorded, self.done[self.chunk])
        else:
            if self.held:
                self._commit()
            delta = {k: v - self.before[k] for k, v in self.counters().items()}
            if self.marked and not delta["failed"]:
                self.markers.mark(self.chunk, delta)
        self.chunk = None

    def _commit(self) -> None:
        assert self.chunk is not None
        if self.s.path == "initial":
            self.loader.insert_chunk(self.chunk, self.sub, self.held)
        else:
            self.loader.upsert(self.held)
        self.held, self.held_rows, self.sub = [], 0, self.sub + 1


def load_batches(batches: Iterator[pa.RecordBatch], *, settings: AuroraSettings) -> Iterator[pa.RecordBatch]:
    """mapInArrow body: load this task's rows, then yield its outcome rows.

    Rows arrive sorted by load chunk (``loaders.chunks``), then key. A chunk done by an earlier attempt of
    the run is skipped (its recorded counters count instead); a chunk loaded with nothing failed gets its
    completion marker. The initial path commits a chunk in transactions of exactly ``rows_per_transaction``
    rows counted from the chunk's first row, each with its marker row in ``migration_load_parts``: whatever
    batches the rows come in, a retried or resumed chunk finds the same transactions and skips those that
    committed. (Unchunked input: the task's rows are one chunk, numbered by the task's partition.)"""
    started = time.monotonic()
    part = task_part()
    progress = ProgressFile(settings.progress_uri, part, settings.progress_interval_s)
    load = _ChunkLoad(settings)
    loader = load.loader
    try:
        for batch in batches:
            if CHUNK in batch.schema.names:
                for chunk, piece in pieces(iter([batch])):
                    load.feed(chunk, True, piece)
            elif batch.num_rows:
                load.feed(part, False, batch)
            progress.update(done=loader.written + loader.kept_newer + len(loader.failures))
        load.end()
    finally:
        loader._close()
    progress.update(force=True, done=loader.written + loader.kept_newer + len(loader.failures))
    summary: dict[str, Any] = {**load.counters(), "write_units": 0.0, "throttles": 0}
    add_counters(summary, load.recorded)
    summary["seconds"] = time.monotonic() - started
    yield outcome_batch(summary, loader.failures)


def load_aurora(
    df: DataFrame, *, settings: AuroraSettings, max_connections: int, results_path: str, failed_path: str
) -> WriteStats:
    """Load ``df`` with at most ``max_connections`` concurrent connections; return the summed outcome.

    At most ``max_connections`` partitions (coalesced: no shuffle), each sorted by load chunk and key: a
    retried or resumed chunk sees the same rows in the same order whatever order its input blocks arrive
    in (the initial load's transaction markers rely on it), and the tables and their indexes are written
    in key order.
    """
    flat = copy_frame(df, settings.run_id).coalesce(max_connections)  # no-op when there are fewer partitions
    order = [CHUNK] if CHUNK in flat.columns else []
    parts = flat.sortWithinPartitions(*order, "property_code", "confirmation_no")
    outcomes = parts.mapInArrow(partial(load_batches, settings=settings), OUTCOME_SCHEMA)
    return save_and_summarize(outcomes, results_path=results_path, failed_path=failed_path)


# --------------------------------------------------------------------------------------------- reconcile

CHECK_SCHEMA = (
    "property_code string, arrival_month string, loaded long, present long, newer long, stale long, missing long"
)
_CHECK_SQL = """
SELECT k.property_code, k.arrival_month, count(*),
       count(r.property_code), count(*) FILTER (WHERE r.last_modified > k.last_modified),
       count(*) FILTER (WHERE r.last_modified < k.last_modified), count(*) FILTER (WHERE r.property_code IS NULL)
  FROM check_keys k
  LEFT JOIN reservations r USING (property_code, confirmation_no)
 GROUP BY 1, 2
"""


_CHECK_ARROW = pa.schema(
    [("property_code", pa.string()), ("confirmation_no", pa.string()), ("arrival_month", pa.string()),
     ("last_modified", _UTC)]
)  # fmt: skip


def check_batches(batches: Iterator[pa.RecordBatch], *, conninfo: str) -> Iterator[pa.RecordBatch]:
    """mapInArrow body of reconcile: which of these loaded keys Aurora holds, per hotel and arrival month.

    ``present`` = stored with the loaded ``last_modified`` or a newer one (``newer``: live data kept);
    ``stale`` = stored older than what the run loaded; ``missing`` = not stored. The keys go in by the
    load's binary COPY (ADBC) into a temp table that the rollback drops.
    """
    import adbc_driver_postgresql.dbapi as adbc

    with adbc.connect(conninfo) as conn, conn.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE check_keys (property_code text, confirmation_no text, arrival_month text,"
            " last_modified timestamptz) ON COMMIT DROP"
        )
        for batch in batches:
            if batch.num_rows:
                keys = [batch.column(f.name).cast(f.type) for f in _CHECK_ARROW]
                cur.adbc_ingest("check_keys", pa.RecordBatch.from_arrays(keys, schema=_CHECK_ARROW),
                                mode="append", temporary=True)  # fmt: skip
        cur.execute(_CHECK_SQL)
        rows = cur.fetchall()
        conn.rollback()
    yield check_batch(rows)


def record_reconcile(conninfo: str, run_id: str, verdict: Mapping[str, Any]) -> None:
    import psycopg
    from psycopg.types.json import Jsonb

    with psycopg.connect(conninfo) as conn:
        conn.execute("UPDATE migration_runs SET reconcile = %s WHERE run_id = %s", (Jsonb(verdict), run_id))
