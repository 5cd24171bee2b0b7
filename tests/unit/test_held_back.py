"""An earlier run's held-back registry keeps older versions out; implausible version times are OUT_OF_RANGE."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from chispa import assert_df_equality
from pyspark.sql import types as T

from tests.unit.edw_rows import RULES, properties_df, reservations_df, room_stays_df
from tests.unit.schemas import BOOLEAN, LONG, STRING, TIMESTAMP, struct
from tests.unit.test_rules_and_dedupe import _by_seq
from transforms import classify_versions, group_room_stays, to_canonical_properties, to_edw_versions, to_room_stay_lines
from transforms.held_back import filter_held_back_latest, with_held_back
from transforms.rules import out_of_range_columns

VERSIONS = struct(
    property_code=STRING, confirmation_no=STRING, last_modified=TIMESTAMP, source_seq=LONG, is_latest=BOOLEAN,
    outcome=STRING, reasons=T.ArrayType(STRING),
)  # fmt: skip
HELD = struct(property_code=STRING, confirmation_no=STRING, last_modified=TIMESTAMP, source_seq=LONG)
FEB, JUN = dt.datetime(2025, 2, 1, 10, 0), dt.datetime(2025, 6, 1, 10, 0)


def test_a_loaded_version_older_than_the_held_one_is_held_back_too(spark) -> None:
    rows = [
        ("H1", "OLDER", FEB, 1, True, "loaded", []),  # registry holds June: February must not be loaded
        ("H1", "SAME", JUN, 5, True, "loaded", []),  # as new as the held version: loaded (and clears it)
        ("H1", "SEQ", JUN, 4, True, "loaded", []),  # same time, lower sequence: older
        ("H1", "UNDATED", JUN, 9, True, "loaded", []),  # the held version had no time: holds back everything
        ("H1", "FREE", FEB, 1, True, "loaded", []),  # not in the registry
        ("H1", "OLDER", dt.datetime(2025, 1, 1), 0, False, "superseded", []),  # not loaded: left alone
        (None, None, None, None, None, "quarantined", ["MISSING_KEY"]),
    ]
    held = [("H1", "OLDER", JUN, 5), ("H1", "SAME", JUN, 5), ("H1", "SEQ", JUN, 5), ("H1", "UNDATED", None, None)]
    actual = with_held_back(spark.createDataFrame(rows, VERSIONS), spark.createDataFrame(held, HELD))
    lvi = ["LATEST_VERSION_INVALID"]
    expected = spark.createDataFrame(
        [
            ("H1", "OLDER", FEB, 1, True, "quarantined", lvi),
            ("H1", "SAME", JUN, 5, True, "loaded", []),
            ("H1", "SEQ", JUN, 4, True, "quarantined", lvi),
            ("H1", "UNDATED", JUN, 9, True, "quarantined", lvi),
            ("H1", "FREE", FEB, 1, True, "loaded", []),
            ("H1", "OLDER", dt.datetime(2025, 1, 1), 0, False, "superseded", []),
            (None, None, None, None, None, "quarantined", ["MISSING_KEY"]),
        ],
        VERSIONS,
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_the_registry_keeps_the_newest_version_of_each_reservation_this_run_held_back(spark) -> None:
    rows = [
        ("H1", "HELD", JUN, 7, True, "quarantined", ["BAD_AMOUNT"]),  # its newest version is invalid
        ("H1", "HELD", FEB, 3, False, "quarantined", ["LATEST_VERSION_INVALID"]),
        ("H1", "BLOCKED", FEB, 1, True, "quarantined", ["LATEST_VERSION_INVALID"]),  # by the registry already
        ("H1", "OK", FEB, 1, True, "loaded", []),
        (None, "NOKEY", FEB, 1, True, "quarantined", ["MISSING_KEY"]),
    ]
    actual = filter_held_back_latest(spark.createDataFrame(rows, VERSIONS))
    assert_df_equality(actual, spark.createDataFrame([("H1", "HELD", JUN, 7)], HELD), ignore_nullable=True)


def test_a_version_time_outside_the_plausible_window_is_out_of_range(spark) -> None:
    # GIVEN a run that started on 2025-06-01 (plus a day of skew) and the floor of 2000
    rules = replace(RULES, timestamp_window=(dt.datetime(2000, 1, 1), dt.datetime(2025, 6, 2)))
    rows = [
        {"EDW_SEQ": "1", "CONF_NO": "A", "LAST_MOD_TS": "2025-06-01 10:00:00"},  # plausible
        {"EDW_SEQ": "2", "CONF_NO": "B", "LAST_MOD_TS": "9999-12-31 23:59:59"},  # New York: year 10000 in UTC
        {"EDW_SEQ": "3", "CONF_NO": "C", "LAST_MOD_TS": "1970-01-01 00:00:00"},  # before the floor
        {"EDW_SEQ": "4", "CONF_NO": "D", "CREATE_TS": "2031-01-01 00:00:00"},  # a created_at in the future
        {"EDW_SEQ": "5", "CONF_NO": "B", "LAST_MOD_TS": "2025-05-01 10:00:00"},  # B's plausible version
    ]
    props = to_canonical_properties(properties_df(spark))
    versions = to_edw_versions(reservations_df(spark, *rows), props, rules=rules)
    grouped = group_room_stays(
        to_room_stay_lines(room_stays_df(spark, {}).limit(0), props), currencies=rules.currencies
    )
    # THEN the implausible ones (parseable: SPEC's OUT_OF_RANGE, not BAD_TIMESTAMP) are quarantined, the
    # columns named, and cannot win the window
    classified = classify_versions(versions, grouped, rules=rules).select(
        "source_seq", "outcome", "reasons", out_of_range_columns(rules.ranges, rules.timestamp_window).alias("cols")
    )
    assert _by_seq(classified) == {  # (year 10000 has no Python datetime: only these columns are collected)
        1: ("loaded", []),
        2: ("quarantined", ["OUT_OF_RANGE"]),
        3: ("quarantined", ["OUT_OF_RANGE"]),
        4: ("quarantined", ["OUT_OF_RANGE"]),
        5: ("loaded", []),  # the year-9999 version neither wins nor holds the reservation back
    }
    named = {r["source_seq"]: list(r["cols"]) for r in classified.collect() if r["cols"]}
    assert named == {2: ["last_modified"], 3: ["last_modified"], 4: ["created_at"]}
