"""Protect: the clean set (one reservation per key, with ``is_live``), guest PII encrypted and hashed in the
JVM, split into the load chunks and persisted once for the gate and the loads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from loaders.chunks import chunked
from pipeline.pii_keys import DataKey
from pipeline.seal import key_relation
from transforms import with_guest_protected

CANONICAL_COLUMNS: tuple[str, ...] = (
    "property_code", "confirmation_no", "status", "created_at", "last_modified", "source", "source_seq",
    "arrival_date", "departure_date", "nights", "adults", "children", "guest", "card_type", "card_last4",
    "total_amount", "currency", "channel", "room_stays",
)  # fmt: skip


@dataclass(frozen=True)
class Protected:
    reservations_df: DataFrame  # protected canonical reservations + is_live + _chunk, persisted
    count: int


def protect(
    versions_df: DataFrame, *, data_key: DataKey, hmac_key: bytes, chunks: int, live_from: datetime
) -> Protected:
    """``live_from``: a hotel whose cutover is at or before it is live (its writes always guarded): the run's
    planned end, so that a hotel cutting over while the run goes on is guarded from the start."""
    clean = versions_df.filter(F.col("outcome") == "loaded").select(
        *CANONICAL_COLUMNS,
        F.coalesce(F.col("cutover_ts") <= F.lit(live_from.replace(tzinfo=None)), F.lit(False)).alias("is_live"),
    )
    spark = versions_df.sparkSession
    protected = with_guest_protected(
        clean, keys_df=key_relation(spark, data_key.plaintext, hmac_key), key_ref=data_key.ref
    )
    # one partition per load chunk (what --resume counts in), persisted once for the gate and the loads
    protected = chunked(protected, chunks).persist(StorageLevel.MEMORY_AND_DISK)
    return Protected(reservations_df=protected, count=protected.count())
