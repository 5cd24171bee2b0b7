"""Latest wins: classify every version as duplicate, superseded, quarantined or loaded."""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from transforms.room_stays import KEY_HASH, RESERVATION_KEY, key_hash

KEY: tuple[str, ...] = RESERVATION_KEY  # (group_property, confirmation_no)

OUTCOMES: tuple[str, ...] = ("loaded", "superseded", "duplicate", "quarantined")


def source_rank(source: Column) -> Column:
    """Tie-break rank of a source when (last_modified, source_seq) are equal: HTNG over EDW."""
    return F.when(source == "HTNG", F.lit(0)).otherwise(F.lit(1))


def with_outcome(versions_df: DataFrame, *, not_after: datetime | None = None) -> DataFrame:
    """Add ``is_duplicate``, ``is_latest`` and ``outcome`` (in that order, after the input's columns; ``reasons``
    replaced in place); older versions of a held-back reservation get LATEST_VERSION_INVALID.

    Expects ``group_property, confirmation_no, property_code, last_modified, source_seq, source,
    content_hash, input_file, reasons``. A version's extra identical copies are ``duplicate``
    whatever happens to the version; among distinct versions of a key, the greatest
    ``(last_modified, source_seq)`` wins (an unknown ``last_modified`` counts as newest, so a
    reservation whose newest version cannot be dated is held back), then HTNG over EDW, then the
    content hash. Versions without a usable key are quarantined on their own. It adds columns to whichever
    versions it is given (EDW, or EDW and HTNG), so it ends with ``withColumn`` rather than a fixed select.

    The same two steps as :func:`transforms.classify.classify_versions`, which puts the room stays and the
    rules between them: :func:`with_rank`, then :func:`with_ranked_outcome`.
    """
    return with_ranked_outcome(with_rank(versions_df, not_after=not_after))


def with_rank(versions_df: DataFrame, *, not_after: datetime | None = None) -> DataFrame:
    """Add :data:`transforms.room_stays.KEY_HASH`, ``is_duplicate`` and ``is_latest``: the latest-wins window,
    which needs no rule's verdict (see :func:`with_outcome` for the order). Its output is sorted by the key's
    hash and the key, then newest first, within the partitions of the reservation key
    (``repartition(*RESERVATION_KEY)`` before it, or Spark shuffles here)."""
    # One window: identical copies sort next to each other (the content hash is part of the order),
    # so a copy is a row whose predecessor has the same hash; the first row is the latest version.
    # A time after ``not_after`` is implausible (BAD_TIMESTAMP): such a version ranks below every plausible
    # one, so it neither wins nor holds back the reservation (a year-9999 time would block it for good).
    is_future = F.coalesce(F.col("last_modified") > F.lit(not_after), F.lit(False)) if not_after else F.lit(False)
    versions = Window.partitionBy(KEY_HASH, *KEY).orderBy(
        is_future.asc(),
        F.col("last_modified").desc_nulls_first(),
        F.col("source_seq").desc_nulls_last(),
        source_rank(F.col("source")).asc(),
        F.col("content_hash").desc(),
        F.col("input_file").asc(),
    )
    return (
        versions_df.withColumn(KEY_HASH, key_hash())
        .withColumn(
            "is_duplicate", F.coalesce(F.lag("content_hash").over(versions) == F.col("content_hash"), F.lit(False))
        )
        .withColumn("is_latest", F.row_number().over(versions) == 1)
    )


def with_ranked_outcome(ranked_df: DataFrame) -> DataFrame:
    """``outcome`` (and LATEST_VERSION_INVALID) of versions ranked by :func:`with_rank`, with ``reasons``;
    drops :data:`transforms.room_stays.KEY_HASH`. Its window is the key alone, no order: the rows of a key are
    still together and in key order from :func:`with_rank` (a join that keeps the order may come between),
    so Spark sorts nothing again."""
    is_invalid = F.size("reasons") > 0
    is_keyed = F.col("property_code").isNotNull() & F.col("confirmation_no").isNotNull()
    latest_is_invalid = F.max(F.when(F.col("is_latest"), is_invalid)).over(Window.partitionBy(KEY_HASH, *KEY))
    held_back = is_keyed & ~F.col("is_latest") & F.col("is_latest_invalid")
    outcome = (
        F.when(F.col("is_duplicate"), F.lit("duplicate"))
        .when(is_invalid | ~is_keyed, F.lit("quarantined"))
        .when(F.col("is_latest"), F.lit("loaded"))
        .when(held_back, F.lit("quarantined"))
        .otherwise(F.lit("superseded"))
    )
    reasons = F.when(
        ~F.col("is_duplicate") & held_back, F.concat(F.col("reasons"), F.array(F.lit("LATEST_VERSION_INVALID")))
    ).otherwise(F.col("reasons"))
    return (
        ranked_df.withColumn("is_latest_invalid", latest_is_invalid)
        .withColumn("outcome", outcome)
        .withColumn("reasons", reasons)
        .drop("is_latest_invalid", KEY_HASH)
    )
