"""How many tasks the cluster runs at once: what the load chunks and the writer tasks are sized by."""

from __future__ import annotations

import os

from pyspark.sql import SparkSession


def task_slots(spark: SparkSession) -> int:
    """How many tasks can run at once: local[N] threads, else executors x cores (dynamic allocation's max)."""
    conf = spark.sparkContext.getConf()
    master = conf.get("spark.master", "")
    if master.startswith("local"):
        inner = master[master.find("[") + 1 : master.find("]")] if "[" in master else "1"
        threads = inner.split(",")[0]
        return (os.cpu_count() or 1) if threads == "*" else int(threads)
    cores = int(conf.get("spark.executor.cores", "1"))
    if conf.get("spark.dynamicAllocation.enabled", "false") == "true":
        executors = int(conf.get("spark.dynamicAllocation.maxExecutors", "0") or 0)
    else:
        executors = int(conf.get("spark.executor.instances", "0") or 0)
    if executors <= 0:
        return max(1, spark.sparkContext.defaultParallelism)
    return max(1, executors * cores // int(conf.get("spark.task.cpus", "1")))
