"""transforms.functions.utc_from_local: the job's JVM conversion (migration.time.ToUtc) against hand-worked
instants and against Spark's own to_utc_timestamp, DST gaps and overlaps included."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from pyspark.sql import functions as F
from pyspark.sql import types as T

from transforms.functions import utc_from_local

SCHEMA = T.StructType([T.StructField("local", T.TimestampType()), T.StructField("tz", T.StringType())])


def test_wall_times_become_the_instants_worked_out_by_hand(spark) -> None:
    rows = [
        (datetime(2025, 7, 1, 12, 0), "America/New_York"),  # EDT, UTC-4
        (datetime(2025, 1, 15, 12, 0), "America/New_York"),  # EST, UTC-5
        (datetime(2025, 3, 30, 1, 30), "Europe/Lisbon"),  # in the spring gap (01:00 -> 02:00): moved to 02:30 WEST
        (datetime(2025, 10, 26, 1, 30), "Europe/Lisbon"),  # twice that night: the earlier offset, WEST (+01:00)
        (datetime(2025, 6, 1, 8, 0), "Asia/Kolkata"),  # +05:30
        (datetime(2025, 6, 1, 8, 0), None),
        (None, "Europe/Lisbon"),
    ]
    out = spark.createDataFrame(rows, SCHEMA).select(utc_from_local(F.col("local"), F.col("tz")).alias("utc"))
    assert [r["utc"] for r in out.collect()] == [
        datetime(2025, 7, 1, 16, 0),
        datetime(2025, 1, 15, 17, 0),
        datetime(2025, 3, 30, 1, 30),
        datetime(2025, 10, 26, 0, 30),
        datetime(2025, 6, 1, 2, 30),
        None,
        None,
    ]


def test_it_agrees_with_sparks_to_utc_timestamp_every_half_hour_across_both_2025_dst_changes(spark) -> None:
    zones = ["Europe/Lisbon", "Europe/Berlin", "America/New_York", "America/Los_Angeles", "Australia/Sydney", "UTC"]
    starts = [datetime(2025, 3, 8), datetime(2025, 3, 29), datetime(2025, 4, 5), datetime(2025, 10, 25),
              datetime(2025, 11, 1)]  # fmt: skip
    rows = [(s + timedelta(minutes=30 * i), z) for z in zones for s in starts for i in range(4 * 48)]
    df = spark.createDataFrame(rows, SCHEMA)
    differ = df.filter(
        ~utc_from_local(F.col("local"), F.col("tz")).eqNullSafe(F.to_utc_timestamp(F.col("local"), F.col("tz")))
    )
    assert df.count() == len(rows) == 5760
    assert differ.count() == 0


def test_an_unknown_zone_fails_as_sparks_own_conversion_does(spark) -> None:
    df = spark.createDataFrame([(datetime(2025, 6, 1, 8, 0), "Mars/Olympus_Mons")], SCHEMA)
    with pytest.raises(Exception, match="Mars/Olympus_Mons"):
        df.select(F.to_utc_timestamp(F.col("local"), F.col("tz"))).collect()
    with pytest.raises(Exception, match="Mars/Olympus_Mons"):
        df.select(utc_from_local(F.col("local"), F.col("tz"))).collect()
