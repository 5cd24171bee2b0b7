"""Task slots: every branch of the resolution, and the EMR cluster config that makes the dynamic one exact."""

from __future__ import annotations

import json

import pytest

from jobs.submit import CLUSTER_FILE, render
from pipeline.config import EmrConfig, load_raw
from pipeline.slots import Slots, resolve_slots

FLEET = (160, "10 x m5.4xlarge (16 vCPUs)")


def _slots(conf: dict[str, str], *, explicit: int | None = None, fleet=FLEET, registered: int = 2) -> Slots:
    return resolve_slots(conf, explicit=explicit, fleet=fleet, default_parallelism=registered, cpu_count=8)


def test_explicit_slots_win_over_everything() -> None:
    conf = {"spark.master": "yarn", "spark.dynamicAllocation.enabled": "true"}
    assert _slots(conf, explicit=48) == Slots(48, "load.task_slots")


@pytest.mark.parametrize(("master", "count"), [("local[2]", 2), ("local[*]", 8), ("local[4,3]", 4), ("local", 1)])
def test_local_threads(master: str, count: int) -> None:
    assert _slots({"spark.master": master}) == Slots(count, f"{master} threads")


def test_static_executors_times_cores_over_cpus_per_task() -> None:
    conf = {"spark.master": "yarn", "spark.executor.instances": "10", "spark.executor.cores": "4",
            "spark.task.cpus": "2"}  # fmt: skip
    assert _slots(conf) == Slots(20, "spark.executor.instances 10 x 4 cores")


def test_a_standalone_master_with_a_core_cap() -> None:
    conf = {"spark.master": "spark://127.0.0.1:7077", "spark.cores.max": "2", "spark.executor.cores": "1"}
    assert _slots(conf, registered=0) == Slots(2, "spark.cores.max 2")


def test_dynamic_allocation_with_a_maximum() -> None:
    conf = {"spark.master": "yarn", "spark.dynamicAllocation.enabled": "true",
            "spark.dynamicAllocation.maxExecutors": "40", "spark.executor.cores": "4"}  # fmt: skip
    assert _slots(conf) == Slots(160, "spark.dynamicAllocation.maxExecutors 40 x 4 cores")


def test_dynamic_allocation_without_a_maximum_takes_the_configured_fleet_not_the_cores_registered_now() -> None:
    conf = {"spark.master": "yarn", "spark.dynamicAllocation.enabled": "true", "spark.executor.cores": "4"}
    assert _slots(conf, registered=2) == Slots(160, "EMR core fleet 10 x m5.4xlarge (16 vCPUs)")
    # without a known fleet: the cores registered now, flagged as unreliable (the run logs a warning)
    assert _slots(conf, fleet=None, registered=2) == Slots(
        2, "cores registered now (dynamic allocation, no maximum)", False
    )


def test_emr_serverless_default_infinity_is_no_maximum() -> None:
    conf = {"spark.master": "yarn", "spark.dynamicAllocation.enabled": "true", "spark.executor.cores": "4",
            "spark.dynamicAllocation.maxExecutors": "infinity"}  # fmt: skip
    assert _slots(conf, fleet=None, registered=8) == Slots(
        8, "cores registered now (dynamic allocation, no maximum)", False
    )


def test_nothing_said_falls_back_to_default_parallelism_flagged() -> None:
    assert _slots({"spark.master": "spark://127.0.0.1:7077"}, registered=6) == Slots(
        6, "spark.default.parallelism", False
    )


def test_the_transient_cluster_sets_max_executors_from_its_fleet() -> None:
    raw = load_raw("prod")
    emr = EmrConfig.model_validate({**raw["emr"], "artifact_bucket": "b", "log_uri": "s3://b/l/"})
    instances = {k: (int(v[0]), float(v[1])) for k, v in raw["plan"]["instances"].items()}
    # 10 x m5.4xlarge = 160 vCPUs, 4 cores per executor
    assert emr.max_executors(instances) == 40
    template = next(c for c in json.loads(CLUSTER_FILE.read_text())["Configurations"]
                    if c["Classification"] == "spark-defaults")  # fmt: skip
    defaults = render(template, {"MAX_EXECUTORS": "40", "EXECUTOR_CORES": "4"})["Properties"]
    conf = {"spark.master": "yarn", **defaults}
    assert _slots(conf, fleet=None) == Slots(160, "spark.dynamicAllocation.maxExecutors 40 x 4 cores")
