"""DynamoDB writer: runs in the executors, one boto3 client per task, metered, retried, never silent.

Every task writes its rows and yields one summary row plus one row per item it could not write; the
driver saves those outcome rows (one action), sums them and moves the failures to ``failed_writes/``.
"""

from __future__ import annotations

import base64
import json
import math
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import partial
from typing import Any

import pyarrow as pa
from pyspark.sql import DataFrame

from loaders.outcomes import OUTCOME_SCHEMA, WriteStats, outcome_batch, save_and_summarize
from loaders.retry import TokenBucket, backoff_delay

GSI_NAMES: tuple[str, ...] = ("gsi1", "gsi2")
BATCH_SIZE = 25
THROTTLE_CODES = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"})
RETRYABLE_CODES = THROTTLE_CODES | {"InternalServerError", "ServiceUnavailable", "TransactionConflictException"}


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
    run_id: str


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
    }
    if row.get("email_hash"):
        item["gsi1pk"] = f"GUEST#{row['email_hash']}"
        item["gsi1sk"] = f"{arrival}#{pc}#{cn}"
    return _without_nulls(item)


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeSerializer

    ser = TypeSerializer()
    return {k: ser.serialize(v) for k, v in item.items()}


def item_size(attrs: Mapping[str, Any]) -> int:
    """DynamoDB's item size (bytes) of a serialized item: names plus values, as the service counts them."""
    return sum(len(name.encode("utf-8")) + _value_size(value) for name, value in attrs.items())


def write_units(attrs: Mapping[str, Any]) -> float:
    """Write units of a put: 1 per started KB, once for the table and once per GSI the item lands in."""
    per_copy = math.ceil(item_size(attrs) / 1024) or 1
    copies = 1 + sum(1 for g in GSI_NAMES if f"{g}pk" in attrs)
    return float(per_copy * copies)


def _value_size(value: Mapping[str, Any]) -> int:
    ((kind, v),) = value.items()
    if kind == "S":
        return len(v.encode("utf-8"))
    if kind == "N":
        digits = len(v.lstrip("-").replace(".", "").lstrip("0")) or 1
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
    def __init__(self, settings: DynamoSettings, client: Any | None = None) -> None:
        self.s = settings
        self.client = client or make_client(settings)
        self.bucket = TokenBucket(settings.units_per_task)
        self.written = self.kept_newer = self.retries = self.throttles = 0
        self.units = 0.0
        self.failures: list[tuple[str, dict[str, Any], str]] = []

    def put_batch(self, items: list[tuple[dict[str, Any], float]]) -> None:
        """BatchWriteItem (25 at most, distinct keys), UnprocessedItems and throttles retried with backoff."""
        pending = items
        attempt = 0
        while pending:
            self.bucket.acquire(sum(u for _, u in pending))
            request = {self.s.table: [{"PutRequest": {"Item": it}} for it, _ in pending]}
            error = self._call(partial(self.client.batch_write_item, RequestItems=request))
            if isinstance(error, str):
                attempt += 1
                if not is_retryable(error) or attempt >= self.s.max_attempts:
                    self._fail(pending, error)
                    return
                self.retries += 1
                time.sleep(backoff_delay(attempt))
                continue
            unprocessed = {
                _pk(r["PutRequest"]["Item"]) for r in error.get("UnprocessedItems", {}).get(self.s.table, [])
            }
            done = [(it, u) for it, u in pending if _pk(it) not in unprocessed]
            self.written += len(done)
            self.units += sum(u for _, u in done)
            pending = [(it, u) for it, u in pending if _pk(it) in unprocessed]
            if pending:
                attempt += 1
                self.retries += 1
                if attempt >= self.s.max_attempts:
                    self._fail(pending, "UnprocessedItems")
                    return
                time.sleep(backoff_delay(attempt))

    def put_conditional(self, item: dict[str, Any], units: float) -> None:
        """PutItem unless the stored version is newer ((last_modified, source_seq) greater): then kept."""
        attempt = 0
        while True:
            self.bucket.acquire(units)
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
                self.written += 1
                self.units += units
                return
            if result == "ConditionalCheckFailedException":
                self.kept_newer += 1
                self.units += 1.0  # a failed condition still consumes a write unit
                return
            attempt += 1
            if not is_retryable(result) or attempt >= self.s.max_attempts:
                self._fail([(item, units)], result)
                return
            self.retries += 1
            time.sleep(backoff_delay(attempt))

    def _call(self, fn: Any) -> Any:
        from botocore.exceptions import ClientError, HTTPClientError
        from botocore.exceptions import ConnectionError as BotoConnectionError

        try:
            return fn()
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", "ClientError"))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
            if code in THROTTLE_CODES:
                self.throttles += 1
            return "InternalServerError" if status >= 500 and code not in RETRYABLE_CODES else code
        except (BotoConnectionError, HTTPClientError) as exc:
            return f"Connection{type(exc).__name__}"

    def _fail(self, items: Iterable[tuple[dict[str, Any], float]], error: str) -> None:
        for it, _ in items:
            self.failures.append((_pk(it), it, error))


def _pk(item: Mapping[str, Any]) -> str:
    return str(item["pk"]["S"])


def write_batches(batches: Iterator[pa.RecordBatch], *, settings: DynamoSettings) -> Iterator[pa.RecordBatch]:
    """mapInArrow body: write every row of this task's batches, then yield its outcome rows."""
    started = time.monotonic()
    writer = _Writer(settings)
    group: list[tuple[dict[str, Any], float]] = []
    for batch in batches:
        for row in batch.to_pylist():
            attrs = serialize(build_item(row, settings.run_id))
            units = write_units(attrs)
            conditional = settings.mode == "conditional" or (settings.mode == "auto" and bool(row.get("is_live")))
            if conditional:
                writer.put_conditional(attrs, units)
                continue
            group.append((attrs, units))
            if len(group) == BATCH_SIZE:
                writer.put_batch(group)
                group = []
    if group:
        writer.put_batch(group)
    summary = {
        "written": writer.written,
        "kept_newer": writer.kept_newer,
        "failed": len(writer.failures),
        "write_units": writer.units,
        "retries": writer.retries,
        "throttles": writer.throttles,
        "seconds": time.monotonic() - started,
    }
    yield outcome_batch(summary, [(pk, to_json(it), err) for pk, it, err in writer.failures])


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


def measure_write_units(df: DataFrame) -> float:
    """Total write units (table + GSIs) of writing ``df``; sums one row per task on the driver."""
    from pyspark.sql import functions as F

    measured = df.mapInArrow(partial(measure_batches, run_id="plan"), "items long, units double")
    row = measured.agg(F.coalesce(F.sum("units"), F.lit(0.0)).alias("units")).first()
    return float(row["units"]) if row is not None else 0.0
