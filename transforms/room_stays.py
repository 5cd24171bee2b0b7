"""EDW room stay lines -> ``room_stays`` array of each reservation version; the line rules for both sources."""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from transforms.functions import blank_as_null, code, parsed_amount, parsed_date, parsed_int, parsed_long

VERSION_KEY: tuple[str, ...] = ("group_property", "confirmation_no", "source_seq")
# The reservation's key (transforms.dedupe's KEY): both sides of the attach are hash-partitioned on it, once, so
# that the grouping of the lines, the attach and the latest-wins window that follows need no other exchange.
RESERVATION_KEY: tuple[str, ...] = VERSION_KEY[:2]


def key_hash() -> Column:
    """A 64-bit hash of the reservation key (:data:`RESERVATION_KEY`), put first in the sorts of the attach and
    the latest-wins window: Spark compares rows by an 8-byte prefix of the first sort key, and the property
    code, shared by thousands of reservations, decided nothing there; the hash decides nearly every
    comparison. The groups are the same: the hash is a function of the key."""
    return F.xxhash64(*RESERVATION_KEY)


KEY_HASH = "_key_hash"


def group_property(property_code: Column, legacy_property_code: Column) -> Column:
    """The property part of the grouping key: the new code, or the legacy one marked '?' when unknown."""
    return F.coalesce(property_code, F.concat(F.lit("?"), legacy_property_code))


def room_line(field: Callable[[str], Column]) -> Column:
    """A room-stay line from its text fields (EDW row columns, or an HTNG message's room-stay struct)."""
    return F.struct(
        parsed_int(field("LINE_NO")).alias("line_no"),
        code(field("ROOM_TYPE_CD")).alias("room_type"),
        code(field("RATE_PLAN_CD")).alias("rate_plan"),
        parsed_date(field("STAY_START_DT")).alias("start_date"),
        parsed_date(field("STAY_END_DT")).alias("end_date"),
        parsed_amount(field("NIGHTLY_RATE")).alias("nightly_rate"),
        code(field("CURRENCY_CD")).alias("currency"),
    )


def line_has_bad_date(field: Callable[[str], Column]) -> Column:
    start, end = parsed_date(field("STAY_START_DT")), parsed_date(field("STAY_END_DT"))
    return start.isNull() | end.isNull() | (end < start)


def line_has_bad_amount(field: Callable[[str], Column]) -> Column:
    """A rate that is present but not a number, or negative (an absent rate is fine)."""
    rate = parsed_amount(field("NIGHTLY_RATE"))
    return (blank_as_null(field("NIGHTLY_RATE")).isNotNull() & rate.isNull()) | (rate < 0)


def unknown_currency(currency: Column, currencies: frozenset[str]) -> Column:
    # isin: a hash-set look-up (InSet); array_contains would scan every accepted code for every value
    return currency.isNotNull() & ~currency.isin(*sorted(currencies))


def bad_line_numbers(numbers: Column) -> Column:
    """A line without a number, or two different lines with one number: the version has no usable key.

    ``numbers`` (array<int>) less a null and every repeat (``array_except``: distinct elements, none of the
    second array) is shorter exactly then; null when ``numbers`` is. Spark generates code for it, where a
    lambda (``exists``) is interpreted value by value."""
    usable = F.array_except(numbers, F.array(F.lit(None).cast("int")))
    return F.when(numbers.isNotNull(), F.size(usable) < F.size(numbers))


def to_room_stay_lines(room_stays_df: DataFrame, properties_df: DataFrame) -> DataFrame:
    """One row per room-stay row as read, keyed like the versions, with its parsed ``line`` and flags."""
    props = F.broadcast(properties_df.select("legacy_property_code", "property_code"))
    lines = room_stays_df.withColumn("_legacy", code(F.col("PROP_CD")))
    joined = lines.join(props, lines["_legacy"] == props["legacy_property_code"], "left")
    return joined.select(
        group_property(F.col("property_code"), F.col("_legacy")).alias("group_property"),
        code(F.col("CONF_NO")).alias("confirmation_no"),
        parsed_long(F.col("EDW_SEQ")).alias("source_seq"),
        room_line(F.col).alias("line"),
        line_has_bad_date(F.col).alias("is_bad_date"),
        line_has_bad_amount(F.col).alias("is_bad_amount"),
        code(F.col("CURRENCY_CD")).alias("_currency"),
    )


def group_room_stays(lines_df: DataFrame, *, currencies: frozenset[str]) -> DataFrame:
    """One row per version key: the ``room_stays`` array (identical rows once, in line order) and flags.

    ``room_stay_rows`` counts rows as read, ``room_stay_lines`` the distinct lines kept; a line
    without a number, or two different lines with one number, set ``has_bad_room_key``.
    """
    bad_currency = unknown_currency(F.col("_currency"), currencies)
    # (the key's hash first: the aggregation sorts its input by the grouping keys once it holds more than a
    # few keys, and the hash decides those comparisons, see key_hash)
    grouped = (
        lines_df.repartition(*RESERVATION_KEY)
        .groupBy(key_hash().alias(KEY_HASH), *VERSION_KEY)
        .agg(
            # (sort_array, not array_sort: the same ascending order for arrays without null elements, which
            # collect_list's are, and Spark generates code for it, where array_sort's comparator is a lambda)
            F.sort_array(F.array_distinct(F.collect_list("line"))).alias("room_stays"),
            F.max(F.col("is_bad_date").cast("int")).cast("boolean").alias("has_bad_room_date"),
            F.max(F.col("is_bad_amount").cast("int")).cast("boolean").alias("has_bad_room_amount"),
            F.max(bad_currency.cast("int")).cast("boolean").alias("has_bad_room_currency"),
            F.count(F.lit(1)).alias("room_stay_rows"),
        )
    )
    numbers = F.col("room_stays")["line_no"]  # the field of every element
    return grouped.select(
        *VERSION_KEY,
        "room_stays",
        "has_bad_room_date",
        "has_bad_room_amount",
        "has_bad_room_currency",
        "room_stay_rows",
        F.size("room_stays").alias("room_stay_lines"),
        bad_line_numbers(numbers).alias("has_bad_room_key"),
    )


def with_room_stays_attached(versions_df: DataFrame, grouped_df: DataFrame) -> DataFrame:
    """Left-join each version to its room stays (a version without lines keeps an empty array).

    Output: the version key (:data:`VERSION_KEY`), the other columns of ``versions_df``, then those of
    ``grouped_df``. It takes whatever versions it is given, so it ends with ``withColumn`` (``room_stays``
    replaced in place) rather than a select of a fixed list. The attach on its own, for versions not ranked;
    :func:`transforms.classify.classify_versions` attaches to ranked versions (:func:`with_room_stays_of_ranked`).
    """
    versions = versions_df.repartition(*RESERVATION_KEY).withColumn(KEY_HASH, key_hash())
    # A hash join on the grouped side (one version's lines, a few hundred bytes, per key): the versions, the
    # wide side, are not sorted for it.
    grouped = grouped_df.withColumn(KEY_HASH, key_hash()).hint("shuffle_hash")
    joined = versions.join(grouped, [KEY_HASH, *VERSION_KEY], "left")
    return joined.drop(KEY_HASH).withColumn(
        "room_stays", F.coalesce(F.col("room_stays"), F.array().cast(grouped_df.schema["room_stays"].dataType))
    )


def with_room_stays_of_ranked(ranked_df: DataFrame, grouped_df: DataFrame) -> DataFrame:
    """The room stays of :func:`group_room_stays` put in the EDW versions ranked by
    :func:`transforms.dedupe.with_rank`, whose columns already include the room-stay summary's (null for an
    EDW version; an HTNG version's own, kept whatever it meets). An EDW version without lines gets an empty
    ``room_stays``.

    A merge join on the reservation key, the version's sequence a condition: the ranked versions are already
    sorted by (key hash, key) for the latest-wins window, so only the grouped lines, a few hundred bytes per
    version, are sorted, and the output keeps that order for :func:`transforms.dedupe.with_ranked_outcome`.
    (The sequence as an equality would be a fourth join key, which the versions are not sorted by; as a
    condition it is checked among the groups of one reservation, a handful.)"""
    summary = [c for c in grouped_df.columns if c not in VERSION_KEY]
    grouped = grouped_df.select(
        key_hash().alias("_rs" + KEY_HASH), *[F.col(c).alias(f"_rs_{c}") for c in (*VERSION_KEY, *summary)]
    ).hint("merge")
    same_sequence = F.col("source_seq").between(F.col("_rs_source_seq"), F.col("_rs_source_seq"))
    on = (
        (F.col(KEY_HASH) == F.col("_rs" + KEY_HASH))
        & (F.col("group_property") == F.col("_rs_group_property"))
        & (F.col("confirmation_no") == F.col("_rs_confirmation_no"))
        & same_sequence
    )
    empty = F.array().cast(grouped_df.schema["room_stays"].dataType)
    is_edw = F.col("source") == "EDW"
    replaced = {
        c: F.when(is_edw, F.coalesce(F.col(f"_rs_{c}"), empty) if c == "room_stays" else F.col(f"_rs_{c}"))
        .otherwise(F.col(c))
        .alias(c)
        for c in summary
    }
    return ranked_df.join(grouped, on, "left").select(*[replaced.get(c, F.col(c)) for c in ranked_df.columns])


def filter_orphan_room_stays(grouped_df: DataFrame, versions_df: DataFrame) -> DataFrame:
    """Room-stay groups whose version does not exist in the extract (ORPHAN_ROOM_STAY); the columns of
    ``grouped_df``, rows dropped only."""
    keys = versions_df.select(*VERSION_KEY).dropDuplicates()
    return grouped_df.join(keys, list(VERSION_KEY), "left_anti")
