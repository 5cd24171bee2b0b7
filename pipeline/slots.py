"""How many tasks the cluster runs at once: what the load chunks and the writer tasks are sized by.

Resolved once per run from, in this order: an explicit ``load.task_slots``; ``local[N]``; static executors
(``spark.executor.instances`` x cores, or a standalone master's ``spark.cores.max``); dynamic allocation's
``maxExecutors`` x cores; dynamic allocation
without a maximum on EMR: the core fleet the config describes (``emr.core_capacity`` instances of
``emr.core_instance_types[0]``, its vCPUs from ``plan.instances``); else the cores registered right now
(``defaultParallelism``), with a warning: on YARN that is often 2 at the start of a step, and it would size
every writer of the run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from pyspark.sql import SparkSession

from pipeline.config import Config


@dataclass(frozen=True)
class Slots:
    count: int
    source: str  # where the figure comes from, for the log and the manifest
    reliable: bool = True  # False: the cores registered when asked (dynamic allocation, no maximum)


def task_slots(spark: SparkSession, cfg: Config) -> Slots:
    conf = dict(spark.sparkContext.getConf().getAll())
    return resolve_slots(
        conf,
        explicit=cfg.load.task_slots,
        fleet=_fleet_vcpus(cfg),
        default_parallelism=spark.sparkContext.defaultParallelism,
        cpu_count=os.cpu_count() or 1,
    )


def resolve_slots(
    conf: Mapping[str, str],
    *,
    explicit: int | None,
    fleet: tuple[int, str] | None,
    default_parallelism: int,
    cpu_count: int,
) -> Slots:
    """``fleet``: (vCPUs of the configured EMR core fleet, what it is), None when unknown."""
    if explicit:
        return Slots(explicit, "load.task_slots")
    master = conf.get("spark.master", "")
    if master.startswith("local"):
        inner = master[master.find("[") + 1 : master.find("]")] if "[" in master else "1"
        threads = inner.split(",")[0]
        return Slots(cpu_count if threads == "*" else int(threads), f"{master} threads")
    cores = int(conf.get("spark.executor.cores", "1"))
    per_task = int(conf.get("spark.task.cpus", "1"))
    if conf.get("spark.dynamicAllocation.enabled", "false") == "true":
        # (EMR Serverless's default is "infinity": no maximum)
        raw = str(conf.get("spark.dynamicAllocation.maxExecutors", "0") or "0")
        maximum = int(raw) if raw.isdigit() else 0
        if maximum > 0:
            return Slots(max(1, maximum * cores // per_task),
                         f"spark.dynamicAllocation.maxExecutors {maximum} x {cores} cores")  # fmt: skip
        if fleet is not None:
            return Slots(max(1, fleet[0] // per_task), f"EMR core fleet {fleet[1]}")
        return Slots(max(1, default_parallelism), "cores registered now (dynamic allocation, no maximum)", False)
    if master.startswith("spark://") and conf.get("spark.cores.max"):  # a standalone cluster's cap
        return Slots(max(1, int(conf["spark.cores.max"]) // per_task), f"spark.cores.max {conf['spark.cores.max']}")
    executors = int(conf.get("spark.executor.instances", "0") or 0)
    if executors > 0:
        return Slots(max(1, executors * cores // per_task), f"spark.executor.instances {executors} x {cores} cores")
    return Slots(max(1, default_parallelism), "spark.default.parallelism", False)


def _fleet_vcpus(cfg: Config) -> tuple[int, str] | None:
    """The configured EMR core fleet's vCPUs (its first instance type's, from plan.instances)."""
    if not cfg.emr.core_instance_types:
        return None
    kind = cfg.emr.core_instance_types[0]
    if kind not in cfg.plan.instances:
        return None
    vcpus = cfg.plan.instances[kind][0]
    return cfg.emr.core_capacity * vcpus, f"{cfg.emr.core_capacity} x {kind} ({vcpus} vCPUs)"
