"""EDW room stay lines -> ``room_stays`` array of each reservation version."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from transforms.functions import blank_as_null, code, parsed_amount, parsed_date, parsed_int, parsed_long

VERSION_KEY: tuple[str, ...] = ("group_property", "confirmation_no", "source_seq")


def group_property(property_code: Column, legacy_property_code: Column) -> Column:
    """The property part of the grouping key: the new code, or the legacy one marked '?' when unknown."""
    return F.coalesce(property_code, F.concat(F.lit("?"), legacy_property_code))


def with_room_stays_normalized(room_stays_df: DataFrame, properties_df: DataFrame) -> DataFrame:
    """One row per room-stay row as read, keyed like the versions, with its parsed ``line`` and flags."""
    props = F.broadcast(properties_df.select("legacy_property_code", "property_code"))
    lines = room_stays_df.withColumn("_legacy", code(F.col("PROP_CD")))
    joined = lines.join(props, lines["_legacy"] == props["legacy_property_code"], "left")
    start = parsed_date(F.col("STAY_START_DT"))
    end = parsed_date(F.col("STAY_END_DT"))
    rate = parsed_amount(F.col("NIGHTLY_RATE"))
    has_rate = blank_as_null(F.col("NIGHTLY_RATE")).isNotNull()
    return joined.select(
        group_property(F.col("property_code"), F.col("_legacy")).alias("group_property"),
        code(F.col("CONF_NO")).alias("confirmation_no"),
        parsed_long(F.col("EDW_SEQ")).alias("source_seq"),
        F.struct(
            parsed_int(F.col("LINE_NO")).alias("line_no"),
            code(F.col("ROOM_TYPE_CD")).alias("room_type"),
            code(F.col("RATE_PLAN_CD")).alias("rate_plan"),
            start.alias("start_date"),
            end.alias("end_date"),
            rate.alias("nightly_rate"),
            code(F.col("CURRENCY_CD")).alias("currency"),
        ).alias("line"),
        (start.isNull() | end.isNull() | (end < start)).alias("is_bad_date"),
        ((has_rate & rate.isNull()) | (rate < 0)).alias("is_bad_amount"),
        code(F.col("CURRENCY_CD")).alias("_currency"),
    )


def with_room_stays_grouped(lines_df: DataFrame, *, currencies: frozenset[str]) -> DataFrame:
    """One row per version key: the ``room_stays`` array (identical rows once, in line order) and flags.

    ``room_stay_rows`` counts rows as read, ``room_stay_lines`` the distinct lines kept; a line
    without a number, or two different lines with one number, set ``has_bad_room_key``.
    """
    iso = F.array(*[F.lit(c) for c in sorted(currencies)])
    bad_currency = F.col("_currency").isNotNull() & ~F.array_contains(iso, F.col("_currency"))
    grouped = lines_df.groupBy(*VERSION_KEY).agg(
        F.array_sort(F.array_distinct(F.collect_list("line"))).alias("room_stays"),
        F.max(F.col("is_bad_date").cast("int")).cast("boolean").alias("has_bad_room_date"),
        F.max(F.col("is_bad_amount").cast("int")).cast("boolean").alias("has_bad_room_amount"),
        F.max(bad_currency.cast("int")).cast("boolean").alias("has_bad_room_currency"),
        F.count(F.lit(1)).alias("room_stay_rows"),
    )
    numbers = F.transform(F.col("room_stays"), lambda x: x["line_no"])
    return grouped.withColumn("room_stay_lines", F.size("room_stays")).withColumn(
        "has_bad_room_key",
        F.exists(numbers, lambda n: n.isNull()) | (F.size(F.array_distinct(numbers)) < F.size(numbers)),
    )


def with_room_stays_attached(versions_df: DataFrame, grouped_df: DataFrame) -> DataFrame:
    """Left-join each version to its room stays (a version without lines keeps an empty array)."""
    joined = versions_df.join(grouped_df, list(VERSION_KEY), "left")
    return joined.withColumn(
        "room_stays", F.coalesce(F.col("room_stays"), F.array().cast(grouped_df.schema["room_stays"].dataType))
    )


def filter_orphan_room_stays(grouped_df: DataFrame, versions_df: DataFrame) -> DataFrame:
    """Room-stay groups whose version does not exist in the extract (ORPHAN_ROOM_STAY)."""
    keys = versions_df.select(*VERSION_KEY).dropDuplicates()
    return grouped_df.join(keys, list(VERSION_KEY), "left_anti")
