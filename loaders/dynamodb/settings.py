"""DynamoDB settings handed to the executors, the client, the table's definition and error classes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

GSI_NAMES: tuple[str, ...] = ("gsi1", "gsi2")
# What each index copies besides the keys: what the itinerary API's list views read from the index alone
# (the full itinerary is one GetItem on the table). A narrow projection keeps an index entry under 1 KB, one
# write unit, where projecting everything made each index copy as large, and as costly, as the item.
#   gsi1 (GUEST#<email_hash>, by arrival): a guest's reservations: hotel, confirmation, status, dates
#   gsi2 (PROP#<hotel>#<month>, by arrival): a hotel's arrivals: confirmation, status, dates, nights, party
GSI_PROJECTIONS: dict[str, tuple[str, ...]] = {
    "gsi1": ("property_code", "confirmation_no", "status", "arrival_date", "departure_date"),
    "gsi2": ("confirmation_no", "status", "arrival_date", "departure_date", "nights", "adults", "children"),
}
BATCH_SIZE = 25
MAX_ITEM_BYTES = 400 * 1024  # DynamoDB's item size limit (names and values, as item_size counts them)
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
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(GSI_PROJECTIONS[name])},
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
    """The data path's client: botocore retries off, because the writer retries, meters and counts itself."""
    import boto3
    from botocore.config import Config

    # a session per client: creating clients on boto3's default session is not thread-safe, and the two
    # loads (and the progress watchers) run in threads of their own
    return boto3.session.Session().client(
        "dynamodb",
        region_name=settings.region,
        endpoint_url=settings.endpoint_url,
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=30, tcp_keepalive=True,
                      parameter_validation=False),  # the writer builds every request itself
    )


def control_client(settings: DynamoSettings) -> Any:
    """The client of control calls (DescribeTable, DescribeLimits, the key registry, ImportTable): botocore's
    standard retry mode, so that one HTTP 500 or dropped connection does not end a run."""
    import boto3
    from botocore.config import Config

    # a session per client: creating clients on boto3's default session is not thread-safe, and the two
    # loads (and the progress watchers) run in threads of their own
    return boto3.session.Session().client(
        "dynamodb",
        region_name=settings.region,
        endpoint_url=settings.endpoint_url,
        config=Config(retries={"mode": "standard", "max_attempts": 10}, connect_timeout=5, read_timeout=30),
    )


def table_exists(settings: DynamoSettings) -> bool:
    client = control_client(settings)
    try:
        client.describe_table(TableName=settings.table)
        return True
    except client.exceptions.ResourceNotFoundException:
        return False


def holds_reservations(settings: DynamoSettings) -> bool:
    """Whether the table holds any reservation item (its key-registry items do not count): a paged scan
    that stops at the first one, so it costs a page on a loaded table and a few on a new one."""
    client = control_client(settings)
    request: dict[str, Any] = {
        "TableName": settings.table,
        "ProjectionExpression": "pk",
        "FilterExpression": "begins_with(pk, :res)",
        "ExpressionAttributeValues": {":res": {"S": "RES#"}},
        "Limit": 1000,
    }
    while True:
        page = client.scan(**request)
        if page.get("Items"):
            return True
        if "LastEvaluatedKey" not in page:
            return False
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
