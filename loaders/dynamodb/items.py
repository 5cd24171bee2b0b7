"""Items: a protected canonical reservation as a DynamoDB item, its size and write units, the key registry item."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from loaders.dynamodb.settings import GSI_NAMES, GSI_PROJECTIONS, DynamoSettings, control_client


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
    """Write units of a put: 1 per started KB of the item on the table, plus, for each GSI the item lands in,
    1 per started KB of its index entry (the table's and the index's keys and the projected attributes)."""
    return sum(units_by_index(attrs).values())


def units_by_index(attrs: Mapping[str, Any]) -> dict[str, float]:
    """:func:`write_units` by where they are spent: ``table`` and each GSI (0 for one the item is not in)."""
    return {"table": table_units(attrs)} | {g: index_units(attrs, g) if f"{g}pk" in attrs else 0.0 for g in GSI_NAMES}


def index_units(attrs: Mapping[str, Any], index: str) -> float:
    """Write units of one GSI entry of a put."""
    kept = ("pk", "sk", f"{index}pk", f"{index}sk", *GSI_PROJECTIONS[index])
    return float(math.ceil(item_size({k: attrs[k] for k in kept if k in attrs}) / 1024) or 1)


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
    """Fixed-width UTC with microseconds (``2025-03-01T10:00:00.300000Z``): text order is time order, so the
    conditional put's string comparison compares instants at full precision. Live writers use this form."""
    if ts is None:
        return None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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


def register_data_key(settings: DynamoSettings, key: Mapping[str, Any]) -> None:
    """The run's data key as an item of the table (before any item that uses it is written): the key as KMS
    encrypted it and the KMS key's ARN under ``PIIKEY#<ref>``; no GSI attribute, so in no index."""
    control_client(settings).put_item(
        TableName=settings.table,
        Item={
            **key_registry_key(key["key_ref"]),
            "kms_key_id": {"S": key["kms_key_id"]},
            "encrypted_data_key": {"B": base64.b64decode(key["encrypted_data_key"])},
            "run_id": {"S": settings.run_id},
            "registered_at": {"S": datetime.now(UTC).isoformat()},
        },
    )
