"""Spark types of the transforms' outputs, written out by hand for the chispa tests (never imported from
``transforms``: a test states what the output must be), and a helper that lays out a row by column name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyspark.sql import types as T


def struct(**fields: T.DataType) -> T.StructType:
    """``struct(a=T.StringType())``: nullable fields, in the order written."""
    return T.StructType([T.StructField(name, data_type) for name, data_type in fields.items()])


def row(schema: T.StructType, values: Mapping[str, Any]) -> tuple[Any, ...]:
    """The values in the schema's column order; every column named exactly once (no silent None)."""
    names = [f.name for f in schema.fields]
    missing, extra = set(names) - set(values), set(values) - set(names)
    assert not missing and not extra, f"missing {sorted(missing)}, unexpected {sorted(extra)}"
    return tuple(values[name] for name in names)


STRING, BOOLEAN, INT, LONG = T.StringType(), T.BooleanType(), T.IntegerType(), T.LongType()
DATE, TIMESTAMP, AMOUNT = T.DateType(), T.TimestampType(), T.DecimalType(12, 2)

PROPERTIES = struct(
    legacy_property_code=STRING, property_code=STRING, property_name=STRING, property_country=STRING,
    property_tz=STRING, cutover_ts=TIMESTAMP,
)  # fmt: skip
ROOM_LINE = struct(
    line_no=INT, room_type=STRING, rate_plan=STRING, start_date=DATE, end_date=DATE, nightly_rate=AMOUNT,
    currency=STRING,
)  # fmt: skip
ROOM_STAYS = T.ArrayType(ROOM_LINE)
GUEST = struct(first_name=STRING, last_name=STRING, email=STRING, phone=STRING, country=STRING)
CHECKS = struct(last_modified_ok=BOOLEAN, created_ok=BOOLEAN, has_created=BOOLEAN, has_amount=BOOLEAN, has_tz=BOOLEAN)
# the source record as read (EDW names, whichever the source), guest PII masked
RAW = struct(
    CONF_NO=STRING, PROP_CD=STRING, RES_STATUS=STRING, CREATE_TS=STRING, LAST_MOD_TS=STRING, EDW_SEQ=STRING,
    ARR_DT=STRING, DEP_DT=STRING, ADULTS=STRING, CHILDREN=STRING, GUEST_FIRST_NM=STRING, GUEST_LAST_NM=STRING,
    GUEST_EMAIL=STRING, GUEST_PHONE=STRING, GUEST_COUNTRY=STRING, CARD_TYPE=STRING, CARD_LAST4=STRING,
    TOTAL_AMT=STRING, CURRENCY_CD=STRING, CHANNEL_CD=STRING,
)  # fmt: skip
# a canonical version, alike for both sources
CANONICAL_VERSION = struct(
    source=STRING, input_file=STRING, legacy_property_code=STRING, property_code=STRING, confirmation_no=STRING,
    status=STRING, created_at=TIMESTAMP, last_modified=TIMESTAMP, source_seq=LONG, arrival_date=DATE,
    departure_date=DATE, nights=INT, adults=INT, children=INT, guest=GUEST, card_type=STRING, card_last4=STRING,
    total_amount=AMOUNT, currency=STRING, channel=STRING, cutover_ts=TIMESTAMP, checks=CHECKS, raw=RAW,
    content_hash=STRING, malformed=STRING, message_id=STRING, confirmation_source=STRING,
)  # fmt: skip
