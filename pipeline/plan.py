"""The dry run's plan, and its extrapolation to a stated input size and cluster from rates measured in the run.

What a dry run measures (on whatever machine it ran): versions read, reservations and room stays to load, the
write units they cost (GSIs included), and the core-seconds the Spark stages took. Scaled linearly to
``--plan-scale`` reservations and spread over ``--plan-cluster`` vCPUs at ``plan.parallel_efficiency``; the
DynamoDB load takes its write units at the budget; the Aurora load takes its rows at
``plan.aurora_rows_per_second`` (an assumption: a dry run writes nothing). Prices come from ``plan.*``.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from loaders import dynamodb as dynamodb_loader
from pipeline.config import Config
from pipeline.load import dynamodb_budget, writer_tasks_needed
from pipeline.options import RunOptions
from pipeline.targets import TargetSettings

log = logging.getLogger("migration")

SPARK_STAGES = ("extract", "transform", "quarantine", "protect", "gate")


@dataclass(frozen=True)
class Cluster:
    instances: int
    instance_type: str
    vcpus: int  # per instance
    hourly_usd: float  # per instance, EC2 + EMR


def parse_cluster(text: str, catalog: dict[str, tuple[int, float]]) -> Cluster:
    """``"10 x m5.4xlarge"`` -> Cluster; ValueError naming what is wrong."""
    match = re.fullmatch(r"\s*(\d+)\s*[x×*]\s*([a-z0-9]+\.[a-z0-9]+)\s*", text or "")
    if not match:
        raise ValueError(f"expected 'COUNT x INSTANCE_TYPE' (e.g. '10 x m5.4xlarge'), got {text!r}")
    count, kind = int(match.group(1)), match.group(2)
    if kind not in catalog:
        raise ValueError(f"unknown instance type {kind!r} (plan.instances knows: {', '.join(sorted(catalog))})")
    if count < 1:
        raise ValueError("the cluster needs at least one instance")
    vcpus, hourly = catalog[kind]
    return Cluster(count, kind, vcpus, hourly)


def extrapolate(
    measured: dict[str, Any],
    *,
    scale: int,
    cluster: Cluster | None,
    budget: float | None,
    efficiency: float,
    aurora_rows_per_second: float,
    prices: dict[str, float],
) -> dict[str, Any]:
    """The plan for ``scale`` reservations from ``measured`` (see the module doc); durations in seconds."""
    factor = scale / measured["reservations"] if measured["reservations"] else 0.0
    versions = measured["versions"] * factor
    units = measured["write_units"] * factor
    room_stays = measured["room_stays"] * factor
    per_version = measured["spark_core_seconds"] / measured["versions"] if measured["versions"] else 0.0
    out: dict[str, Any] = {
        "reservations": scale,
        "versions": round(versions),
        "room_stays": round(room_stays),
        "dynamodb_write_units": round(units),
        "spark_core_seconds_per_million_versions": round(per_version * 1e6, 1),
        "dynamodb_seconds_at_budget": round(units / budget, 1) if budget else None,
        "aurora_seconds": round((scale + room_stays) / aurora_rows_per_second, 1),
        "dynamodb_on_demand_usd": round(units / 1e6 * prices["dynamodb_on_demand_per_million_writes"], 2),
    }
    if budget:
        hours = units / budget / 3600
        out["dynamodb_provisioned_usd"] = round(budget * math.ceil(hours) * prices["dynamodb_provisioned_wcu_hour"], 2)
    if cluster is not None:
        cores = cluster.instances * cluster.vcpus
        spark = per_version * versions / (cores * efficiency)
        # the two loads run at once (pipeline/load.py load_targets): the longer one counts
        total = spark + max(out["dynamodb_seconds_at_budget"] or 0.0, out["aurora_seconds"])
        out.update(
            cluster=f"{cluster.instances} x {cluster.instance_type} ({cores} vCPUs)",
            spark_seconds=round(spark, 1),
            total_seconds=round(total, 1),
            emr_usd=round(total / 3600 * cluster.instances * cluster.hourly_usd, 2),
        )
    return out


def plan(
    protected_df: DataFrame,
    reservations: int,
    versions: int,
    *,
    cfg: Config,
    opts: RunOptions,
    targets: TargetSettings,
    timings: dict[str, float],
    slots: int,
) -> dict[str, Any]:
    """What a real run would write, measured on this run's clean set; extrapolated when asked."""
    by_index = dynamodb_loader.measure_write_units(protected_df, opts.run_id)
    units = sum(by_index.values())
    room_stays = int(protected_df.agg(F.coalesce(F.sum(F.size("room_stays")), F.lit(0))).first()[0])  # type: ignore[index]
    budget: float | None
    try:
        budget, _ = dynamodb_budget(cfg, targets)
    except Exception as exc:  # a dry run may plan for a table that does not exist yet
        log.warning("dynamodb budget: not set and not resolvable from the table (%s)", type(exc).__name__)
        budget = None
    out: dict[str, Any] = {
        "reservations": reservations,
        "dynamodb_items": reservations,
        "dynamodb_write_units": units,
        # per item on the table and on each GSI (DynamoDB's size rules; 0 where the item is not in the index)
        "dynamodb_write_units_per_item": {
            where: round(spent / reservations, 3) if reservations else 0.0 for where, spent in by_index.items()
        },
        "dynamodb_budget": budget,
        "dynamodb_seconds_at_budget": round(units / budget, 1) if budget else None,
        "dynamodb_writer_tasks": slots,
        "dynamodb_writer_tasks_needed": writer_tasks_needed(budget, cfg) if budget else None,
        "aurora_reservation_rows": reservations,
        "aurora_room_stay_rows": room_stays,
    }
    if opts.plan_scale:
        measured = {
            "reservations": reservations,
            "versions": versions,
            "room_stays": room_stays,
            "write_units": units,
            "spark_seconds": round(sum(timings.get(s, 0.0) for s in SPARK_STAGES), 3),
            "cores": slots,
        }
        measured["spark_core_seconds"] = measured["spark_seconds"] * slots
        cluster = parse_cluster(opts.plan_cluster, cfg.plan.instances) if opts.plan_cluster else None
        out["measured"] = measured
        out["extrapolated"] = extrapolated = extrapolate(
            measured,
            scale=opts.plan_scale,
            cluster=cluster,
            budget=budget,
            efficiency=cfg.plan.parallel_efficiency,
            aurora_rows_per_second=cfg.plan.aurora_rows_per_second,
            prices=cfg.plan.prices,
        )
        if cluster is not None:  # one writer task per vCPU of the planned cluster, as the shipped EMR config runs
            extrapolated["dynamodb_writer_tasks"] = cluster.instances * cluster.vcpus
            extrapolated["dynamodb_writer_tasks_needed"] = writer_tasks_needed(budget, cfg) if budget else None
    return out
