"""DynamoDB writer: runs in the executors, one boto3 client per task, metered, retried, never silent.

Every task writes its rows and yields one summary row plus one row per item it could not write; the
driver saves those outcome rows (one action), sums them and moves the failures to ``failed_writes/``.
"""

from __future__ import annotations

import base64
import json
import math
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import partial
from typing import Any

import pyarrow as pa
from pyspark.sql import DataFrame

from loaders.chunks import CHUNK, Markers
from loaders.outcomes import OUTCOME_SCHEMA, WriteStats, check_batch, outcome_batch, save_and_summarize
from loaders.progress import ProgressFile, task_part
from loaders.retry import AimdRate, TokenBucket, backoff_delay

GSI_NAMES: tuple[str, ...] = ("gsi1", "gsi2")
BATCH_SIZE = 25
BURST_SECONDS = 0.5  # a task's bucket holds at most half a second of its share
THROTTLE_CODES = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"})
RETRYABLE_CODES = THROTTLE_CODES | {
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionConflictException",
    "ChecksumError",
}


def is_retryable(code: str) -> bool:
    return code in RETRYABLE_CODES or code.startswith("Connection")


@dataclass(frozen=True)
class DynamoSettings:
    table: str
    region: str
    endpoint_url: str | None
    mode: str  # auto | batch | conditional
    units_per_task: float
    max_attempts: int
    retry_deadline_s: float
    run_id: str
    conditional_threads: int = 8
    progress_uri: str | None = None  # folder of the tasks' counter files (loaders.progress)
    progress_interval_s: float = 30.0
    markers_uri: str | None = None  # folder of the chunks' completion markers (loaders.chunks)
    done: Mapping[int, Mapping[str, Any]] | None = None  # chunks a resumed run skips, with their counters


def table_definition(table: str) -> dict[str, Any]:
    """CreateTable arguments: pk/sk, guest GSI (gsi1) and property-month GSI (gsi2), on demand."""
    attrs = ["pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk"]
    return {
        "TableName": table,
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"} for a in attrs],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": name,
                "KeySchema": [
                    {"AttributeName": f"{name}pk", "KeyType": "HASH"},
                    {"AttributeName": f"{name}sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for name in GSI_NAMES
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }


def create_table_if_missing(client: Any, table: str) -> bool:
    """Create the table with both GSIs unless it exists; True when created."""
    try:
        client.describe_table(TableName=table)
        return False
    except client.exceptions.ResourceNotFoundException:
        client.create_table(**table_definition(table))
        client.get_waiter("table_exists").wait(TableName=table)
        return True


def make_client(settings: DynamoSettings) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "dynamodb",
        region_name=settings.region,
        endpoint_url=settings.endpoint_url,
        # We retry ourselves so that every retry and throttle is counted and metered.
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=30, tcp_keepalive=True),
    )


# --------------------------------------------------------------------------------------------- items


def build_item(row: Mapping[str, Any], run_id: str) -> dict[str, Any]:
    """The DynamoDB item (plain Python values) of one protected canonical reservation."""
    pc, cn = row["property_code"], row["confirmation_no"]
    arrival = row["arrival_date"].isoformat()
    item: dict[str, Any] = {
        "pk": f"RES#{pc}#{cn}",
        "sk": "ITINERARY",
        "gsi2pk": f"PROP#{pc}#{arrival[:7]}",
        "gsi2sk": f"{arrival}#{cn}",
        "property_code": pc,
        "confirmation_no": cn,
        "status": row["status"],
        "arrival_date": arrival,
        "departure_date": _iso_date(row["departure_date"]),
        "nights": row["nights"],
        "adults": row["adults"],
        "children": row["children"],
        "total_amount": row["total_amount"],
        "currency": row["currency"],
        "channel": row["channel"],
        "room_stays": [
            {**rs, "start_date": _iso_date(rs["start_date"]), "end_date": _iso_date(rs["end_date"])}
            for rs in (row["room_stays"] or [])
        ],
        "guest": row["guest"],
        "card_type": row["card_type"],
        "card_last4": row["card_last4"],
        "created_at": iso_utc(row["created_at"]),
        "last_modified": iso_utc(row["last_modified"]),
        "source": row["source"],
        "source_seq": row["source_seq"],
        "run_id": run_id,
        # The guest fields' data key: the reference of its PIIKEY#<ref> item (what jobs.pii decrypt needs).
        "pii_key": row.get("pii_key"),
    }
    if row.get("email_hash"):
        item["gsi1pk"] = f"GUEST#{row['email_hash']}"
        item["gsi1sk"] = f"{arrival}#{pc}#{cn}"
    return _without_nulls(item)


def key_registry_key(ref: str) -> dict[str, Any]:
    return {"pk": {"S": f"PIIKEY#{ref}"}, "sk": {"S": "PIIKEY"}}


def register_data_key(client: Any, table: str, key: Mapping[str, Any], run_id: str) -> None:
    """The run's data key as an item of the table (before any item that uses it is written): the key as KMS
    encrypted it and the KMS key's ARN under ``PIIKEY#<ref>``; no GSI attribute, so in no index."""
    client.put_item(
        TableName=table,
        Item={
            **key_registry_key(key["key_ref"]),
            "kms_key_id": {"S": key["kms_key_id"]},
            "encrypted_data_key": {"B": base64.b64decode(key["encrypted_data_key"])},
            "run_id": {"S": run_id},
            "registered_at": {"S": datetime.now(UTC).isoformat()},
        },
    )


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeSerializer

    ser = TypeSerializer()
    return {k: ser.serialize(v) for k, v in item.items()}


def item_size(attrs: Mapping[str, Any]) -> int:
    """DynamoDB's item size (bytes) of a serialized item: names plus values, as the service counts them."""
    return sum(len(name.encode("utf-8")) + _value_size(value) for name, value in attrs.items())


def table_units(attrs: Mapping[str, Any]) -> float:
    """Write units of a put on the table alone: 1 per started KB."""
    return float(math.ceil(item_size(attrs) / 1024) or 1)


def write_units(attrs: Mapping[str, Any]) -> float:
    """Write units of a put: 1 per started KB, once for the table and once per GSI the item lands in
    (both GSIs project every attribute, so a GSI copy is as large as the item)."""
    copies = 1 + sum(1 for g in GSI_NAMES if f"{g}pk" in attrs)
    return table_units(attrs) * copies


def _value_size(value: Mapping[str, Any]) -> int:
    ((kind, v),) = value.items()
    if kind == "S":
        return len(v.encode("utf-8"))
    if kind == "N":  # leading and trailing zeros are trimmed: 1 byte per 2 significant digits, plus 1
        digits = len(v.lstrip("-").replace(".", "").strip("0")) or 1
        return math.ceil(digits / 2) + 1
    if kind == "B":
        return len(v)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode("utf-8")) + _value_size(x) + 1 for k, x in v.items())
    if kind == "L":
        return 3 + sum(_value_size(x) + 1 for x in v)
    return len(json.dumps(v, default=str))


def iso_utc(ts: datetime | None) -> str | None:
    if ts is None:
        return None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso_date(d: date | None) -> str | None:
    return None if d is None else d.isoformat()


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def to_json(attrs: Mapping[str, Any]) -> str:
    """DynamoDB JSON text, binary values base64 (as the service's own JSON does)."""

    def enc(o: Any) -> Any:
        if isinstance(o, (bytes, bytearray)):
            return base64.b64encode(bytes(o)).decode("ascii")
        if isinstance(o, Decimal):
            return str(o)
        if hasattr(o, "value"):  # boto3 Binary
            return base64.b64encode(bytes(o.value)).decode("ascii")
        raise TypeError(type(o).__name__)

    return json.dumps(attrs, default=enc, sort_keys=True)


# --------------------------------------------------------------------------------------------- writing


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
        """BatchWriteItem (25 at most, distinct keys) until every item is in or the deadline has passed."""
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
            progress.update(done=writer.written + writer.kept_newer + len(writer.failures))
            if chunk is None and batch.num_rows and CHUNK in batch.schema.names:
                chunk = _one_chunk(batch, part)
            conditionals: list[tuple[dict[str, Any], float]] = []
            for row in batch.to_pylist():
                attrs = serialize(build_item(row, settings.run_id))
                units = write_units(attrs)
                if settings.mode == "conditional" or (settings.mode == "auto" and bool(row.get("is_live"))):
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
                    progress.update(done=writer.written + writer.kept_newer + len(writer.failures))
            writer.put_conditionals(conditionals)
        if group:
            writer.put_batch(group)
    finally:
        writer.close()
    progress.update(force=True, done=writer.written + writer.kept_newer + len(writer.failures))
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


def measure_batches(batches: Iterator[pa.RecordBatch], *, run_id: str) -> Iterator[pa.RecordBatch]:
    """mapInArrow body for a dry run: the write units each item would cost, nothing written."""
    units = 0.0
    items = 0
    for batch in batches:
        for row in batch.to_pylist():
            units += write_units(serialize(build_item(row, run_id)))
            items += 1
    yield pa.RecordBatch.from_pylist(
        [{"items": items, "units": units}], schema=pa.schema([("items", pa.int64()), ("units", pa.float64())])
    )


def measure_write_units(df: DataFrame, run_id: str) -> float:
    """Total write units (table + GSIs) of writing ``df``; sums one row per task on the driver."""
    from pyspark.sql import functions as F

    # the items as the run would write them, run id included: its length can tip an item over a KB
    measured = df.mapInArrow(partial(measure_batches, run_id=run_id), "items long, units double")
    row = measured.agg(F.coalesce(F.sum("units"), F.lit(0.0)).alias("units")).first()
    return float(row["units"]) if row is not None else 0.0


# --------------------------------------------------------------------------------------------- budget


def resolve_budget(client: Any, table: str, *, fraction: float) -> tuple[float, str]:
    """The write budget (units/s, table + GSIs as metered) the table allows, times ``fraction``, and why.

    Provisioned: the smallest write capacity among the table and its GSIs (each index is throttled on its
    own) times the number of copies an item makes. On demand: the table's maximum write request units if
    one is set, else the account's per-table limit (DescribeLimits), times the copies.
    """
    desc = client.describe_table(TableName=table)["Table"]
    gsis = desc.get("GlobalSecondaryIndexes", [])
    copies = 1 + len(gsis)
    mode = desc.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
    if mode == "PROVISIONED":
        per_index = min(
            [int(desc["ProvisionedThroughput"]["WriteCapacityUnits"])]
            + [int(g["ProvisionedThroughput"]["WriteCapacityUnits"]) for g in gsis]
        )
        why = f"provisioned {per_index} WCU (smallest of the table and its {len(gsis)} GSIs)"
    else:
        limit = int(desc.get("OnDemandThroughput", {}).get("MaxWriteRequestUnits", -1) or -1)
        if limit > 0:
            per_index, why = limit, f"on-demand table maximum {limit} WRU/s"
        else:
            per_index = int(client.describe_limits()["TableMaxWriteCapacityUnits"])
            why = f"on-demand account limit {per_index} WRU/s per table"
    units = per_index * copies * fraction
    return units, f"{why} x {copies} copies (table + GSIs) x dynamodb.budget_fraction {fraction:g}"


# --------------------------------------------------------------------------------------------- import


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> (bucket, "some/prefix/"); ValueError for anything else."""
    if not uri.startswith("s3://") or not uri[5:].split("/", 1)[0]:
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, prefix = uri[5:].partition("/")
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/" if prefix else ""


def _s3_client(region: str) -> Any:
    import boto3

    return boto3.client("s3", region_name=region)  # AWS_ENDPOINT_URL_S3 points it elsewhere (moto locally)


def clear_prefix(region: str, bucket: str, prefix: str) -> int:
    """Delete what an earlier attempt of this run staged under ``prefix``; returns how many objects."""
    s3 = _s3_client(region)
    deleted = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
            deleted += len(keys)
    return deleted


def stage_batches(
    batches: Iterator[pa.RecordBatch], *, settings: DynamoSettings, bucket: str, prefix: str
) -> Iterator[pa.RecordBatch]:
    """mapInArrow body of ``import`` mode: this task's items as one gzip DynamoDB-JSON file on S3.

    The object name is the partition number, so a retried task replaces its file instead of adding one.
    ``written`` counts items staged; the import decides what lands.
    """
    import gzip
    import tempfile

    started = time.monotonic()
    part = task_part()
    staged = 0
    failures: list[tuple[str, str, str]] = []
    with tempfile.NamedTemporaryFile(suffix=".json.gz") as tmp:
        with gzip.open(tmp.name, "wt", encoding="utf-8", compresslevel=6) as out:
            for batch in batches:
                for row in batch.to_pylist():
                    out.write('{"Item": ' + to_json(serialize(build_item(row, settings.run_id))) + "}\n")
                    staged += 1
        if staged:
            try:
                _s3_client(settings.region).upload_file(tmp.name, bucket, f"{prefix}part-{part:05d}.json.gz")
            except Exception as exc:  # every item of the file is then unwritten, and says why
                error = f"S3Upload{type(exc).__name__}"
                with gzip.open(tmp.name, "rt", encoding="utf-8") as back:
                    for line in back:
                        item = json.loads(line)["Item"]
                        failures.append((item["pk"]["S"], json.dumps(item, sort_keys=True), error))
                staged = 0
    summary = {
        "written": staged,
        "kept_newer": 0,
        "failed": len(failures),
        "write_units": 0.0,
        "retries": 0,
        "throttles": 0,
        "seconds": time.monotonic() - started,
    }
    yield outcome_batch(summary, failures)


def stage_for_import(
    df: DataFrame, *, settings: DynamoSettings, bucket: str, prefix: str, results_path: str, failed_path: str
) -> WriteStats:
    """Write every item of ``df`` to ``s3://bucket/prefix`` (gzip DynamoDB JSON); returns what was staged."""
    body = partial(stage_batches, settings=settings, bucket=bucket, prefix=prefix)
    return save_and_summarize(df.mapInArrow(body, OUTCOME_SCHEMA), results_path=results_path, failed_path=failed_path)


def import_table(
    settings: DynamoSettings, *, bucket: str, prefix: str, poll_seconds: float, timeout_s: float
) -> dict[str, Any]:
    """ImportTable from the staged files into a new table (keys and both GSIs), waited for; the final
    ImportTableDescription's counts and status."""
    import boto3

    client = boto3.client("dynamodb", region_name=settings.region, endpoint_url=settings.endpoint_url)
    creation = {k: v for k, v in table_definition(settings.table).items()}
    started = time.monotonic()
    desc = client.import_table(
        S3BucketSource={"S3Bucket": bucket, "S3KeyPrefix": prefix},
        InputFormat="DYNAMODB_JSON",
        InputCompressionType="GZIP",
        TableCreationParameters=creation,
    )["ImportTableDescription"]
    while desc.get("ImportStatus") in ("IN_PROGRESS", "CANCELLING"):
        if time.monotonic() - started > timeout_s:
            break
        time.sleep(poll_seconds)
        desc = client.describe_import(ImportArn=desc["ImportArn"])["ImportTableDescription"]
    return {
        "import_arn": desc.get("ImportArn"),
        "status": desc.get("ImportStatus"),
        "processed": int(desc.get("ProcessedItemCount", 0) or 0),
        "imported": int(desc.get("ImportedItemCount", 0) or 0),
        "errors": int(desc.get("ErrorCount", 0) or 0),
        "failure": desc.get("FailureCode"),
        "seconds": round(time.monotonic() - started, 1),
    }


# --------------------------------------------------------------------------------------------- reconcile


def check_batches(batches: Iterator[pa.RecordBatch], *, settings: DynamoSettings) -> Iterator[pa.RecordBatch]:
    """mapInArrow body of reconcile: which of these loaded keys the table holds, per hotel and arrival month
    (BatchGetItem of 100 keys, only ``last_modified`` read; unprocessed keys and throttles retried)."""
    counts: dict[tuple[str, str], list[int]] = {}  # loaded, present, newer, stale, missing
    client = make_client(settings)
    for batch in batches:
        rows = batch.to_pylist()
        for start in range(0, len(rows), 100):
            chunk = {f"RES#{r['property_code']}#{r['confirmation_no']}": r for r in rows[start : start + 100]}
            stored = _get_last_modified(client, settings, list(chunk))
            for pk, row in chunk.items():
                c = counts.setdefault((row["property_code"], row["arrival_month"]), [0, 0, 0, 0, 0])
                c[0] += 1
                loaded, found = iso_utc(row["last_modified"]), stored.get(pk)
                if found is None:
                    c[4] += 1
                elif loaded is not None and found < loaded:
                    c[3] += 1
                else:
                    c[1] += 1
                    c[2] += loaded is not None and found > loaded
    yield check_batch((*key, *c) for key, c in counts.items())


def _get_last_modified(client: Any, settings: DynamoSettings, pks: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    request = {
        settings.table: {
            "Keys": [{"pk": {"S": pk}, "sk": {"S": "ITINERARY"}} for pk in pks],
            "ProjectionExpression": "pk, last_modified",
        }
    }
    attempt = 0
    while request:
        try:
            answer = client.batch_get_item(RequestItems=request)
        except Exception as exc:
            attempt += 1
            if attempt >= settings.max_attempts:
                raise RuntimeError(f"reconcile: DynamoDB BatchGetItem kept failing ({type(exc).__name__})") from None
            time.sleep(backoff_delay(attempt))
            continue
        for item in answer.get("Responses", {}).get(settings.table, []):
            found[item["pk"]["S"]] = item.get("last_modified", {}).get("S", "")
        request = answer.get("UnprocessedKeys") or {}
        if request:
            attempt += 1
            time.sleep(backoff_delay(attempt))
    return found
