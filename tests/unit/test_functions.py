from __future__ import annotations

import datetime as dt
from decimal import Decimal

from chispa import assert_column_equality
from pyspark.sql import functions as F

from transforms.functions import (
    blank_as_null,
    card_last4,
    card_type,
    code,
    literal_strings,
    local_timestamp,
    parsed_amount,
    parsed_date,
    utc_from_local,
)


def test_code_trims_uppercases_and_nulls_blanks(spark) -> None:
    df = spark.createDataFrame(
        [(" abc1 ", "ABC1"), ("cnf", "CNF"), ("   ", None), ("NULL", None), (None, None)], "raw string, expected string"
    ).withColumn("actual", code(F.col("raw")))
    assert_column_equality(df, "actual", "expected")


def test_blank_as_null_nulls_every_null_spelling_after_trimming_and_nothing_else(spark) -> None:
    # (Spark's trim removes spaces only: a tab stays, and "\\N" with a tab after it is a value)
    df = spark.createDataFrame(
        [("", None), ("  ", None), ("NULL", None), (" null ", None), ("NA", None), ("N/A", None), ("\\N", None),
         (" \\N ", None), (" \\N\t", "\\N\t"), (None, None), ("Null", "Null"), ("na", "na"), ("\\n", "\\n"), ("N", "N"),
         ("NULLS", "NULLS"), ("'NA'", "'NA'"), (" Ana ", "Ana")],
        "raw string, expected string",
    ).withColumn("actual", blank_as_null(F.col("raw")))  # fmt: skip
    assert_column_equality(df, "actual", "expected")


def test_a_literal_array_holds_quotes_backslashes_and_escape_lookalikes_as_written(spark) -> None:
    values = ["it's", "back\\slash", "\\N", "\\u0041", "\\'", "tab\there", "", "é"]
    (row,) = spark.range(1).select(literal_strings(values).alias("a")).collect()
    assert row["a"] == values


def test_local_timestamp_accepts_both_edw_formats(spark) -> None:
    df = spark.createDataFrame(
        [
            ("2025-03-09 01:30:00", dt.datetime(2025, 3, 9, 1, 30)),
            ("03/09/2025 01:30:00", dt.datetime(2025, 3, 9, 1, 30)),
            ("2025-13-45 25:61:00", None),
            ("yesterday", None),
            (None, None),
        ],
        "raw string, expected timestamp",
    ).withColumn("actual", local_timestamp(F.col("raw")))
    assert_column_equality(df, "actual", "expected")


def test_utc_from_local_follows_each_zone_and_dst(spark) -> None:
    df = spark.createDataFrame(
        [
            # New York is UTC-5 in winter, UTC-4 after 2025-03-09 02:00 local.
            (dt.datetime(2025, 1, 15, 10, 0), "America/New_York", dt.datetime(2025, 1, 15, 15, 0)),
            (dt.datetime(2025, 7, 15, 10, 0), "America/New_York", dt.datetime(2025, 7, 15, 14, 0)),
            # Sydney is UTC+11 in January (DST), UTC+10 in July.
            (dt.datetime(2025, 1, 15, 10, 0), "Australia/Sydney", dt.datetime(2025, 1, 14, 23, 0)),
            (dt.datetime(2025, 7, 15, 10, 0), "Australia/Sydney", dt.datetime(2025, 7, 15, 0, 0)),
            (dt.datetime(2025, 7, 15, 10, 0), None, None),
            (None, "Europe/Lisbon", None),
        ],
        "local timestamp, tz string, expected timestamp",
    ).withColumn("actual", utc_from_local(F.col("local"), F.col("tz")))
    assert_column_equality(df, "actual", "expected")


def test_parsed_date_accepts_compact_and_iso_and_rejects_impossible_dates(spark) -> None:
    df = spark.createDataFrame(
        [
            ("20250301", dt.date(2025, 3, 1)),
            ("2025-03-01", dt.date(2025, 3, 1)),
            ("2025-02-30", None),
            ("01.03.2025", None),
            ("", None),
            (None, None),
        ],
        "raw string, expected date",
    ).withColumn("actual", parsed_date(F.col("raw")))
    assert_column_equality(df, "actual", "expected")


def test_dates_and_times_parse_as_the_formatter_parses_them_edge_values_included(spark) -> None:
    """The functions cast text rearranged to ISO order; Spark's java.time formatter, with the same patterns, is
    the oracle: impossible months, days, hours, minutes and seconds, leap days, years 0000 and 9999."""
    years, months = ("0000", "0001", "1582", "2024", "2025", "9999"), ("00", "01", "02", "12", "13")
    days = ("00", "01", "28", "29", "30", "31", "32")
    times = ("00:00:00", "23:59:59", "24:00:00", "12:60:00", "12:00:60")
    dates = [(y, m, d) for y in years for m in months for d in days]
    values = [
        *[(f"{y}-{m}-{d} {t}", "yyyy-MM-dd HH:mm:ss") for y, m, d in dates for t in times],
        *[(f"{m}/{d}/{y} {t}", "MM/dd/yyyy HH:mm:ss") for y, m, d in dates for t in times],
        *[(f"{y}{m}{d}", "yyyyMMdd") for y, m, d in dates],
        *[(f"{y}-{m}-{d}", "yyyy-MM-dd") for y, m, d in dates],
    ]
    df = spark.createDataFrame(values, "raw string, pattern string")
    is_time = F.col("pattern").endswith("ss")
    actual = F.when(is_time, local_timestamp(F.col("raw")).cast("string")).otherwise(
        parsed_date(F.col("raw")).cast("string")
    )
    oracle = F.when(is_time, F.to_timestamp("raw", "yyyy-MM-dd HH:mm:ss").cast("string"))
    for pattern in ("MM/dd/yyyy HH:mm:ss", "yyyyMMdd", "yyyy-MM-dd"):
        parse = F.to_timestamp if pattern.endswith("ss") else F.to_date
        oracle = F.when(F.col("pattern") == pattern, parse("raw", pattern).cast("string")).otherwise(oracle)
    rows = df.select("raw", actual.alias("actual"), oracle.alias("oracle"))
    assert rows.filter(F.col("oracle").isNotNull()).count() > len(dates)  # the grid holds real dates and times
    assert rows.filter(~F.col("actual").eqNullSafe(F.col("oracle"))).limit(5).collect() == []


def test_parsed_amount_strips_thousands_separators(spark) -> None:
    df = spark.createDataFrame(
        [
            ("1,234.50", Decimal("1234.50")),
            (" 99 ", Decimal("99.00")),
            ("-12.5", Decimal("-12.50")),
            ("12,3x.00", None),
            ("1e5", None),
            ("", None),
            (None, None),
        ],
        "raw string, expected decimal(12,2)",
    ).withColumn("actual", parsed_amount(F.col("raw")))
    assert_column_equality(df, "actual", "expected")


def test_card_reduction_keeps_only_type_and_last_four(spark) -> None:
    df = spark.createDataFrame(
        [
            ("VI", "4111111111111111", "VI", "1111"),
            ("", "5500 0000 0000 0004", "MC", "0004"),
            (None, "378282246310005", "AX", "0005"),
            ("visa", "XXXXXXXXXXXX4242", "VI", "4242"),
            ("mc", "123", "MC", None),
            (None, None, None, None),
        ],
        "type string, pan string, expected_type string, expected_last4 string",
    ).select(
        "expected_type",
        "expected_last4",
        card_type(F.col("type"), F.col("pan")).alias("actual_type"),
        card_last4(F.col("pan")).alias("actual_last4"),
    )
    assert_column_equality(df, "actual_type", "expected_type")
    assert_column_equality(df, "actual_last4", "expected_last4")
