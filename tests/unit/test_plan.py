from __future__ import annotations

import pytest

from pipeline.plan import Cluster, extrapolate, parse_cluster

CATALOG = {"m5.4xlarge": (16, 0.96), "r5.4xlarge": (16, 1.26)}
PRICES = {"dynamodb_on_demand_per_million_writes": 0.625, "dynamodb_provisioned_wcu_hour": 0.00065}


def test_a_cluster_is_count_times_a_known_instance_type() -> None:
    assert parse_cluster("10 x m5.4xlarge", CATALOG) == Cluster(10, "m5.4xlarge", 16, 0.96)
    assert parse_cluster(" 3×r5.4xlarge ", CATALOG) == Cluster(3, "r5.4xlarge", 16, 1.26)
    with pytest.raises(ValueError, match="expected 'COUNT x INSTANCE_TYPE'"):
        parse_cluster("ten m5.4xlarge", CATALOG)
    with pytest.raises(ValueError, match=r"unknown instance type 't2.nano' \(plan.instances knows: m5.4xlarge"):
        parse_cluster("2 x t2.nano", CATALOG)


def test_the_plan_scales_the_measured_rates_to_the_stated_size_and_cluster() -> None:
    measured = {"reservations": 1000, "versions": 1800, "room_stays": 2200, "write_units": 3000.0,
                "spark_core_seconds": 36.0}  # fmt: skip
    plan = extrapolate(
        measured,
        scale=90_000_000,
        cluster=Cluster(10, "m5.4xlarge", 16, 0.96),
        budget=120_000.0,
        efficiency=0.6,
        aurora_rows_per_second=150_000.0,
        prices=PRICES,
    )
    # by hand: x90,000; 0.02 core-s per version over 160 vCPUs at 60 %; 270 M units at 120,000/s
    assert plan == {
        "reservations": 90_000_000,
        "versions": 162_000_000,
        "room_stays": 198_000_000,
        "dynamodb_write_units": 270_000_000,
        "spark_core_seconds_per_million_versions": 20_000.0,
        "dynamodb_seconds_at_budget": 2250.0,
        "aurora_seconds": 1920.0,  # (90 M + 198 M rows) / 150,000
        "dynamodb_on_demand_usd": 168.75,
        "dynamodb_provisioned_usd": 78.0,  # 120,000 WCU for one started hour
        "cluster": "10 x m5.4xlarge (160 vCPUs)",
        "spark_seconds": 33_750.0,
        "total_seconds": 36_000.0,  # the transform, then both loads at once: the longer, DynamoDB's
        "emr_usd": 96.0,  # 10 h x 10 x 0.96
    }
    without = extrapolate(measured, scale=1000, cluster=None, budget=None, efficiency=0.6,
                          aurora_rows_per_second=150_000.0, prices=PRICES)  # fmt: skip
    assert without["dynamodb_seconds_at_budget"] is None and "spark_seconds" not in without
