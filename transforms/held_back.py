"""Held back by an earlier run: a version older than a reservation's newest invalid version, which this run
may not see (a window that prunes it), is not loaded."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

HELD_BACK_REASON = "LATEST_VERSION_INVALID"


def with_held_back(versions_df: DataFrame, held_df: DataFrame) -> DataFrame:
    """A ``loaded`` version of a key in ``held_df`` (``property_code, confirmation_no, last_modified,
    source_seq``: the newest invalid version an earlier run saw) that is older than the held version becomes
    ``quarantined`` with LATEST_VERSION_INVALID; a held version without a time holds back every version.
    Columns and rows are those of ``versions_df``."""
    held = held_df.select(
        F.col("property_code").alias("_held_property"),
        F.col("confirmation_no").alias("_held_confirmation"),
        F.col("last_modified").alias("_held_last_modified"),
        F.col("source_seq").alias("_held_source_seq"),
    )
    on = (F.col("property_code") == F.col("_held_property")) & (F.col("confirmation_no") == F.col("_held_confirmation"))
    version = F.struct(F.col("last_modified").alias("t"), F.coalesce(F.col("source_seq"), F.lit(-1)).alias("s"))
    held_version = F.struct(
        F.col("_held_last_modified").alias("t"), F.coalesce(F.col("_held_source_seq"), F.lit(-1)).alias("s")
    )
    is_older = (
        (F.col("outcome") == "loaded")
        & F.col("_held_property").isNotNull()
        & (F.col("_held_last_modified").isNull() | (version < held_version))
    )
    outcome = F.when(is_older, F.lit("quarantined")).otherwise(F.col("outcome"))
    reasons = F.when(is_older, F.concat(F.col("reasons"), F.array(F.lit(HELD_BACK_REASON)))).otherwise(F.col("reasons"))
    columns = [
        outcome.alias(c) if c == "outcome" else reasons.alias(c) if c == "reasons" else F.col(c)
        for c in versions_df.columns
    ]
    return versions_df.join(F.broadcast(held), on, "left").select(*columns)


def filter_held_back_latest(versions_df: DataFrame) -> DataFrame:
    """The keys this run holds back, with the time of their newest (invalid) version: what the registry keeps."""
    return versions_df.filter(
        F.col("is_latest")
        & (F.col("outcome") == "quarantined")
        & F.col("property_code").isNotNull()
        & F.col("confirmation_no").isNotNull()
        & ~F.array_contains(F.col("reasons"), HELD_BACK_REASON)
    ).select("property_code", "confirmation_no", "last_modified", "source_seq")
