"""DynamoDB writer: runs in the executors, one boto3 client per task, metered, retried, never silent.

Every task writes its rows and yields one summary row plus one row per item it could not write; the
driver saves those outcome rows (one action), sums them and moves the failures to ``failed_writes/``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import pyarrow as pa
from pyspark.sql import DataFrame

from loaders.chunks import CHUNK, Markers
from loaders.dynamodb.items import (
    build_item,
    item_size,
    serialize,
    table_units,
    to_json,
    units_by_index,
    write_units,
)
from loaders.dynamodb.settings import (
    BATCH_SIZE,
    BURST_SECONDS,
    GSI_NAMES,
    MAX_ITEM_BYTES,
    RETRYABLE_CODES,
    THROTTLE_CODES,
    DynamoSettings,
    is_retryable,
    make_client,
)
from loaders.outcomes import OUTCOME_SCHEMA, WriteStats, outcome_batch, save_and_summarize
from loaders.progress import ProgressFile, task_part
from loaders.retry import AimdRate, TokenBucket, backoff_delay


class _Writer:
    """One task's writer: a token bucket at the task's share of the budget, adapted (AIMD) to throttling.

    Throttles (error codes and ``UnprocessedItems``) are expected under load: they are retried until the
    batch's deadline. Other retryable errors (5xx, dropped connections) also count against ``max_attempts``.
    Every call, retried or not, first takes its write units from the bucket, so what the job offers the
    table never exceeds the budget, whatever the table answers.
    """

    def __init__(self, settings: DynamoSettings, client: Any | None = None) -> None:
        self.s = settings
        self.client = client or make_client(settings)
        self.rate = AimdRate(settings.units_per_task)
        self.bucket = TokenBucket(settings.units_per_task, burst_seconds=BURST_SECONDS)
        self.written = self.kept_newer = self.retries = self.throttles = 0
        self.units = 0.0
        self.failures: list[tuple[str, dict[str, Any], str]] = []
        # Conditional puts are single-item calls: a few run at once (threads) to keep up with the budget.
        self.lock = threading.Lock()
        self.pool = ThreadPoolExecutor(settings.conditional_threads) if settings.conditional_threads > 1 else None

    def put_conditionals(self, items: list[tuple[dict[str, Any], float]]) -> None:
        if self.pool is None:
            for item, units in items:
                self.put_conditional(item, units)
        else:
            list(self.pool.map(lambda pair: self.put_conditional(*pair), items))

    def counters(self) -> dict[str, Any]:
        """What a progress file carries: items done (written, kept or failed), each of them, units, retries."""
        with self.lock:
            failed = len(self.failures)
            return {"done": self.written + self.kept_newer + failed, "written": self.written,
                    "kept_newer": self.kept_newer, "failed": failed, "write_units": round(self.units, 1),
                    "retries": self.retries, "throttles": self.throttles}  # fmt: skip

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()

    def _acquire(self, units: float) -> None:
        with self.lock:  # one waiter at a time: the others queue behind it, in order
            self.bucket.acquire(units)

    def _count(self, *, written: int = 0, kept: int = 0, units: float = 0.0, retry: bool = False) -> None:
        with self.lock:
            self.written += written
            self.kept_newer += kept
            self.units += units
            self.retries += retry
            if written or kept:
                self.bucket.set_rate(self.rate.succeeded())

    def put_batch(self, items: list[tuple[dict[str, Any], float]]) -> None:
        """BatchWriteItem (25 at most, distinct keys) until every item is in or the deadline has passed.

        A request refused whole for one item (a validation error: an attribute over its limit) is halved until
        the item that causes it stands alone: the others are written, only it fails."""
        pending = items
        attempt = errors = 0
        deadline = time.monotonic() + self.s.retry_deadline_s
        while pending:
            self._acquire(sum(u for _, u in pending))
            request = {self.s.table: [{"PutRequest": {"Item": it}} for it, _ in pending]}
            result = self._call(partial(self.client.batch_write_item, RequestItems=request))
            if isinstance(result, str):
                error = result
                if result not in THROTTLE_CODES:
                    errors += 1
                    if result == "ValidationException" and len(pending) > 1:
                        half = len(pending) // 2
                        self.put_batch(pending[:half])
                        self.put_batch(pending[half:])
                        return
                    if not is_retryable(result) or errors >= self.s.max_attempts:
                        self._fail(pending, result)
                        return
            else:
                unprocessed = {
                    _pk(r["PutRequest"]["Item"]) for r in result.get("UnprocessedItems", {}).get(self.s.table, [])
                }
                done = [(it, u) for it, u in pending if _pk(it) not in unprocessed]
                self._count(written=len(done), units=sum(u for _, u in done))
                pending = [(it, u) for it, u in pending if _pk(it) in unprocessed]
                if not pending:
                    return
                error = "UnprocessedItems"
                self._throttled()
                if done:
                    attempt = 0  # progress: the next wait starts short again
            attempt += 1
            if time.monotonic() >= deadline:
                self._fail(pending, error)
                return
            self._count(retry=True)
            time.sleep(backoff_delay(attempt))

    def put_conditional(self, item: dict[str, Any], units: float) -> None:
        """PutItem unless the stored version is newer ((last_modified, source_seq) greater): then kept."""
        attempt = errors = 0
        deadline = time.monotonic() + self.s.retry_deadline_s
        while True:
            self._acquire(units)
            result = self._call(
                lambda: self.client.put_item(
                    TableName=self.s.table,
                    Item=item,
                    ConditionExpression=(
                        "attribute_not_exists(pk) OR #lm < :lm OR (#lm = :lm AND "
                        "(attribute_not_exists(#seq) OR #seq <= :seq))"
                    ),
                    ExpressionAttributeNames={"#lm": "last_modified", "#seq": "source_seq"},
                    ExpressionAttributeValues={
                        ":lm": item["last_modified"],
                        ":seq": item.get("source_seq", {"N": "0"}),
                    },
                )
            )
            if not isinstance(result, str):
                self._count(written=1, units=units)
                return
            if result == "ConditionalCheckFailedException":
                # a failed condition is charged for the item on the table; no GSI is written
                self._count(kept=1, units=table_units(item))
                return
            if result not in THROTTLE_CODES:
                errors += 1
                if not is_retryable(result) or errors >= self.s.max_attempts:
                    self._fail([(item, units)], result)
                    return
            attempt += 1
            if time.monotonic() >= deadline:
                self._fail([(item, units)], result)
                return
            self._count(retry=True)
            time.sleep(backoff_delay(attempt))

    def _throttled(self) -> None:
        with self.lock:
            self.throttles += 1
            self.bucket.set_rate(self.rate.throttled())

    def _call(self, fn: Any) -> Any:
        from botocore.exceptions import ChecksumError, ClientError, HTTPClientError
        from botocore.exceptions import ConnectionError as BotoConnectionError

        try:
            return fn()
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", "ClientError"))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
            if code in THROTTLE_CODES:
                self._throttled()
            return "InternalServerError" if status >= 500 and code not in RETRYABLE_CODES else code
        except (BotoConnectionError, HTTPClientError) as exc:
            return f"Connection{type(exc).__name__}"
        except ChecksumError:  # a damaged answer: which puts landed is unknown, and putting again is harmless
            return "ChecksumError"

    def fail_one(self, item: dict[str, Any], error: str) -> None:
        self._fail([(item, 0.0)], error)

    def _fail(self, items: Iterable[tuple[dict[str, Any], float]], error: str) -> None:
        with self.lock:
            self.failures += [(_pk(it), it, error) for it, _ in items]


def _pk(item: Mapping[str, Any]) -> str:
    return str(item["pk"]["S"])


def write_batches(batches: Iterator[pa.RecordBatch], *, settings: DynamoSettings) -> Iterator[pa.RecordBatch]:
    """mapInArrow body: write every row of this task's batches, then yield its outcome rows.

    On chunked input (``loaders.chunks``) the task's partition is one chunk: a chunk done by an earlier
    attempt of the run is not written again (its recorded counters are the outcome), and a chunk written
    with nothing failed gets its completion marker."""
    started = time.monotonic()
    part = task_part()
    if settings.done and part in settings.done:
        yield outcome_batch({**settings.done[part], "seconds": 0.0}, [])
        return
    writer = _Writer(settings)
    progress = ProgressFile(settings.progress_uri, part, settings.progress_interval_s)
    group: list[tuple[dict[str, Any], float]] = []
    keys: set[str] = set()
    chunk: int | None = None
    try:
        for batch in batches:
            progress.update(**writer.counters())
            if chunk is None and batch.num_rows and CHUNK in batch.schema.names:
                chunk = _one_chunk(batch, part)
            conditionals: list[tuple[dict[str, Any], float]] = []
            for row in batch.to_pylist():
                attrs = serialize(build_item(row, settings.run_id))
                if item_size(attrs) > MAX_ITEM_BYTES:  # refused by the service anyway: never sent
                    writer.fail_one(attrs, "ITEM_TOO_LARGE")
                    continue
                units = write_units(attrs)
                # a live hotel's item may meet the live system's: always guarded (auto and batch alike)
                if settings.mode == "conditional" or bool(row.get("is_live")):
                    conditionals.append((attrs, units))
                    continue
                if _pk(attrs) in keys:  # one key twice in a request is rejected whole: send what we have first
                    writer.put_batch(group)
                    group, keys = [], set()
                group.append((attrs, units))
                keys.add(_pk(attrs))
                if len(group) == BATCH_SIZE:
                    writer.put_batch(group)
                    group, keys = [], set()
                    progress.update(**writer.counters())
            writer.put_conditionals(conditionals)
        if group:
            writer.put_batch(group)
    finally:
        writer.close()
    progress.update(force=True, **writer.counters())
    summary = {
        "written": writer.written,
        "kept_newer": writer.kept_newer,
        "failed": len(writer.failures),
        "write_units": writer.units,
        "retries": writer.retries,
        "throttles": writer.throttles,
        "seconds": time.monotonic() - started,
    }
    if chunk is not None and not writer.failures:
        Markers(settings.markers_uri).mark(chunk, summary)
    yield outcome_batch(summary, [(pk, to_json(it), err) for pk, it, err in writer.failures])


def _one_chunk(batch: pa.RecordBatch, part: int) -> int:
    """The chunk of a partition of chunked input, which must be the partition itself (else no marker is
    worth anything: fail loudly)."""
    chunks = batch.column(batch.schema.get_field_index(CHUNK)).to_numpy(zero_copy_only=False)
    low, high = int(chunks.min()), int(chunks.max())
    if low != high or low != part:
        raise RuntimeError(f"partition {part} holds chunks {low}..{high}: the input is not chunked as expected")
    return int(low)


def spread(df: DataFrame, *, tasks: int) -> DataFrame:
    """``tasks`` partitions of about equal size, each in a hashed key order.

    Equal partitions that all run at once keep the whole budget busy until the end (no straggler wave
    running at a fraction of it); the hashed order spreads consecutive writes over the table's partitions.
    """
    from pyspark.sql import functions as F

    key = (F.col("property_code"), F.col("confirmation_no"))
    order = F.xxhash64(*key, F.lit("order"))
    if CHUNK in df.columns:  # already one chunk per partition (loaders.chunks): keep that, order inside
        return df.sortWithinPartitions(order)
    return df.repartition(tasks, F.xxhash64(*key)).sortWithinPartitions(order)


def load_dynamodb(df: DataFrame, *, settings: DynamoSettings, results_path: str, failed_path: str) -> WriteStats:
    """Write ``df`` (protected canonical reservations with ``is_live``) and return the summed outcome."""
    outcomes = df.mapInArrow(partial(write_batches, settings=settings), OUTCOME_SCHEMA)
    return save_and_summarize(outcomes, results_path=results_path, failed_path=failed_path)


MEASURED_UNITS = ("table", *GSI_NAMES)
MEASURED_SCHEMA = pa.schema([(name, pa.float64()) for name in MEASURED_UNITS])


def measure_batches(batches: Iterator[pa.RecordBatch], *, run_id: str) -> Iterator[pa.RecordBatch]:
    """mapInArrow body for a dry run: the write units each item would cost on the table and on each GSI;
    nothing written."""
    units = dict.fromkeys(MEASURED_UNITS, 0.0)
    for batch in batches:
        for row in batch.to_pylist():
            for where, spent in units_by_index(serialize(build_item(row, run_id))).items():
                units[where] += spent
    yield pa.RecordBatch.from_pylist([units], schema=MEASURED_SCHEMA)


def measure_write_units(df: DataFrame, run_id: str) -> dict[str, float]:
    """Write units of writing ``df``, by ``table`` and GSI; sums one row per task on the driver."""
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import from_arrow_schema

    # the items as the run would write them, run id included: its length can tip an item over a KB
    measured = df.mapInArrow(partial(measure_batches, run_id=run_id), from_arrow_schema(MEASURED_SCHEMA))
    row = measured.agg(*[F.coalesce(F.sum(name), F.lit(0.0)).alias(name) for name in MEASURED_UNITS]).first()
    return {name: float(row[name]) if row is not None else 0.0 for name in MEASURED_UNITS}
