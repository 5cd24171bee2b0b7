"""What the benchmarks share: a local Spark session shaped like the job's, and best-of-N timing."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def local_spark(*, shuffle_partitions: int, driver_memory: str) -> Any:
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.legacy.timeParserPolicy", "CORRECTED")
        .config("spark.driver.memory", driver_memory)
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def best_seconds(fn: Callable[[], object], repeat: int) -> float:
    """The fastest of ``repeat`` runs (the others carry noise: GC, page cache, a neighbour on the VM)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best
