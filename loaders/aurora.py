"""Aurora PostgreSQL writer, in the executors (``mapInArrow``), Arrow batches -> CSV (pyarrow, C++) -> COPY.

Two paths, chosen per run (``aurora.load_path``; ``auto`` = initial when both tables are empty):

- **initial**: keys and indexes dropped while the tables are empty, every task COPYs its rows straight into
  the tables in chunks of ``aurora.rows_per_transaction``, each chunk one transaction that also records a
  marker row (``migration_load_parts``): a retried task or attempt skips what is committed. Keys and
  indexes are built once the data is in (``002_keys.sql``), then ``ANALYZE``.
- **backfill**: per Arrow batch one transaction: COPY into temp staging tables, one
  ``INSERT … ON CONFLICT … DO UPDATE … WHERE (stored last_modified, source_seq) <= (incoming)``, and the room
  stays of every reservation it wrote replaced; rows kept because the stored version is newer are counted.

Transient errors (connection lost, admin shutdown, failover, serialization failure, too many connections)
are retried with backoff from the same data; what still fails goes to ``failed_writes/``.
"""

from __future__ import annotations

import io
import json
import re
import time
from base64 import b64decode, b64encode
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from importlib import resources
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
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


def finish_initial(conninfo: str) -> dict[str, float]:
    """Build the keys and indexes on the loaded data, then ANALYZE; returns the seconds of each."""
    import psycopg

    with psycopg.connect(conninfo, autocommit=True) as conn:
        started = time.monotonic()
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute(_sql_file("002_keys.sql"))  # type: ignore[arg-type]
        indexed = time.monotonic()
        conn.execute("ANALYZE reservations")
        conn.execute("ANALYZE room_stays")
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
    """The columns COPY takes, built by Spark: guest fields flattened (ciphertexts stay binary: half the bytes
    to move to Python; ``reservations_csv`` writes them as bytea hex)."""
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


def reservations_csv(batch: pa.RecordBatch) -> bytes:
    columns = [bytea_text(batch.column(n)) if n in _BYTEA else batch.column(n) for n in RESERVATION_COLUMNS]
    return _csv(pa.RecordBatch.from_arrays(columns, names=list(RESERVATION_COLUMNS)))


_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def bytea_text(values: pa.Array) -> pa.Array:
    """Binary values as PostgreSQL's bytea hex input (``\\x`` + lower-case hex), nulls kept; numpy, no loop."""
    if not pa.types.is_binary(values.type):
        return values
    n = len(values)
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32)[values.offset : values.offset + n + 1]
    data = values.buffers()[2]
    raw = np.frombuffer(data, dtype=np.uint8)[offsets[0] : offsets[-1]] if data is not None else np.empty(0, np.uint8)
    lengths = np.diff(offsets)
    out_offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(2 + 2 * lengths, out=out_offsets[1:])
    out = np.empty(int(out_offsets[-1]), dtype=np.uint8)
    starts = out_offsets[:-1]
    out[starts] = ord("\\")
    out[starts + 1] = ord("x")
    owner = np.repeat(np.arange(n), lengths)
    pos = starts[owner] + 2 + 2 * (np.arange(len(raw)) - (offsets[owner] - offsets[0]))
    out[pos] = _HEX_DIGITS[raw >> 4]
    out[pos + 1] = _HEX_DIGITS[raw & 15]
    text = pa.StringArray.from_buffers(n, pa.py_buffer(out_offsets), pa.py_buffer(out))
    return pc.if_else(values.is_null(), pa.scalar(None, pa.string()), text)  # type: ignore[attr-defined]


def room_stays_csv(batch: pa.RecordBatch) -> tuple[bytes, int]:
    """The room stays of a batch as CSV rows keyed by their reservation (vectorized: no Python per row)."""
    stays = batch.column(batch.schema.get_field_index("room_stays"))
    parents = pc.list_parent_indices(stays)  # type: ignore[attr-defined]
    flat = pc.list_flatten(stays)  # type: ignore[attr-defined]
    keys = batch.select(["property_code", "confirmation_no"]).take(parents)
    columns = [keys.column(0), keys.column(1), *[flat.field(n) for n in ROOM_STAY_COLUMNS[2:]]]
    table = pa.RecordBatch.from_arrays(columns, names=list(ROOM_STAY_COLUMNS))
    return _csv(table), table.num_rows


def _csv(batch: pa.RecordBatch) -> bytes:
    out = io.BytesIO()  # nulls unquoted and empty (NULL to COPY), empty strings quoted
    pacsv.write_csv(batch, out, write_options=pacsv.WriteOptions(include_header=False, quoting_style="needed"))
    return out.getvalue()


def _copy(cur: Any, table: str, columns: tuple[str, ...], data: bytes) -> None:
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT csv)") as cp:
        cp.write(data)


def _is_transient(exc: Exception) -> bool:
    import psycopg

    sqlstate = getattr(exc, "sqlstate", None) or ""
    return isinstance(exc, psycopg.OperationalError) or sqlstate.startswith(TRANSIENT_SQLSTATES)


class _Loader:
    def __init__(self, settings: AuroraSettings) -> None:
        self.s = settings
        self.conn: Any = None
        self.written = self.kept_newer = self.retries = 0
        self.failures: list[tuple[str, str, str]] = []

    def _connect(self, *, staging: bool) -> Any:
        import psycopg

        if self.conn is None or self.conn.closed:
            self.conn = psycopg.connect(self.s.conninfo, autocommit=False)
            self.conn.execute("SET TIME ZONE 'UTC'")
            self.conn.commit()
            if staging:
                with self.conn.transaction():
                    self.conn.execute(SETUP_SQL)
        return self.conn

    def _retrying(self, work: Any, rows: Any) -> None:
        """Run ``work()`` (one transaction) until it commits; transient errors retried, then failures."""
        import psycopg

        attempt = 0
        while True:
            try:
                work()
                return
            except psycopg.Error as exc:
                self._close()
                attempt += 1
                if not _is_transient(exc) or attempt >= self.s.max_attempts:
                    error = f"{type(exc).__name__}:{getattr(exc, 'sqlstate', None) or ''}"
                    self.failures += [(_row_key(r), _row_json(r), error) for r in rows()]
                    return
                self.retries += 1
                time.sleep(backoff_delay(attempt, base=0.2, cap=10.0))

    # ------------------------------------------------------------------ backfill: staged, version-guarded

    def upsert(self, batch: pa.RecordBatch) -> None:
        rooms, _ = room_stays_csv(batch)
        reservations = reservations_csv(batch)

        def work() -> None:
            conn = self._connect(staging=True)
            with conn.transaction(), conn.cursor() as cur:
                _copy(cur, "stage_reservations", RESERVATION_COLUMNS, reservations)
                _copy(cur, "stage_room_stays", ROOM_STAY_COLUMNS, rooms)
                cur.execute(UPSERT_SQL)  # type: ignore[arg-type]
                written = cur.rowcount
                cur.execute(REPLACE_ROOM_STAYS_SQL)  # type: ignore[arg-type]
            self.written += written
            self.kept_newer += batch.num_rows - written

        self._retrying(work, batch.to_pylist)

    # ------------------------------------------------------------------ initial: straight in, chunk markers

    def insert_chunk(self, part: int, chunk: int, batches: list[pa.RecordBatch]) -> None:
        """COPY one chunk of batches straight into the tables, with its marker, in one transaction."""
        rows = sum(b.num_rows for b in batches)

        def work() -> None:
            conn = self._connect(staging=False)
            with conn.transaction(), conn.cursor() as cur:
                # one attempt per chunk at a time (speculative tasks too); a committed chunk is skipped
                cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s), %s)", (f"{self.s.run_id}#{part}", chunk))
                cur.execute(
                    "SELECT reservations FROM migration_load_parts WHERE run_id = %s AND part = %s AND chunk = %s",
                    (self.s.run_id, part, chunk),
                )
                if cur.fetchone() is not None:
                    self.written += rows
                    return
                stays = 0
                for batch in batches:
                    rooms, n = room_stays_csv(batch)
                    _copy(cur, "reservations", RESERVATION_COLUMNS, reservations_csv(batch))
                    _copy(cur, "room_stays", ROOM_STAY_COLUMNS, rooms)
                    stays += n
                cur.execute(
                    "INSERT INTO migration_load_parts (run_id, part, chunk, reservations, room_stays)"
                    " VALUES (%s, %s, %s, %s, %s)",
                    (self.s.run_id, part, chunk, rows, stays),
                )
            self.written += rows

        self._retrying(work, lambda: [r for b in batches for r in b.to_pylist()])

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
        if self.s.path != "initial":
            self.loader.upsert(piece)
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
        self.loader.insert_chunk(self.chunk, self.sub, self.held)
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
    flat = copy_frame(df, settings.run_id)
    if flat.rdd.getNumPartitions() > max_connections:
        flat = flat.coalesce(max_connections)
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


def check_batches(batches: Iterator[pa.RecordBatch], *, conninfo: str) -> Iterator[pa.RecordBatch]:
    """mapInArrow body of reconcile: which of these loaded keys Aurora holds, per hotel and arrival month.

    ``present`` = stored with the loaded ``last_modified`` or a newer one (``newer``: live data kept);
    ``stale`` = stored older than what the run loaded; ``missing`` = not stored.
    """
    import psycopg

    columns = ("property_code", "confirmation_no", "arrival_month", "last_modified")
    with psycopg.connect(conninfo, autocommit=False) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        conn.execute(
            "CREATE TEMP TABLE check_keys (property_code text, confirmation_no text, arrival_month text,"
            " last_modified timestamptz) ON COMMIT DROP"
        )
        with conn.cursor() as cur:
            for batch in batches:
                _copy(cur, "check_keys", columns, _csv(batch.select(list(columns))))
            rows = cur.execute(_CHECK_SQL).fetchall()  # type: ignore[arg-type]
        conn.rollback()
    yield check_batch(rows)


def record_reconcile(conninfo: str, run_id: str, verdict: Mapping[str, Any]) -> None:
    import psycopg
    from psycopg.types.json import Jsonb

    with psycopg.connect(conninfo) as conn:
        conn.execute("UPDATE migration_runs SET reconcile = %s WHERE run_id = %s", (Jsonb(verdict), run_id))
