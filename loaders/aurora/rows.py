"""The rows COPY sends: the table columns, built by Spark, typed as Arrow exactly as the tables' columns."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from loaders.chunks import CHUNK

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
UPDATABLE_COLUMNS = [c for c in RESERVATION_COLUMNS if c not in _KEY]

_BYTEA = ("guest_first_name", "guest_last_name", "guest_email", "guest_phone")


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
UTC_MICROS = pa.timestamp("us", tz="UTC")
RESERVATION_ARROW = pa.schema([
    ("property_code", pa.string()), ("confirmation_no", pa.string()), ("status", pa.string()),
    ("created_at", UTC_MICROS), ("last_modified", UTC_MICROS), ("source", pa.string()), ("source_seq", pa.int64()),
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
