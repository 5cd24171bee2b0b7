"""Driver side of progress: while a long stage runs, one log line every ``progress.interval_s`` seconds.

For the loads, the executors' counter files (``loaders.progress``) give items done out of the total, a rate
and an ETA; for other stages, Spark's status tracker gives the active stages' tasks done out of their total.
The lines go through the job's logger: readable on a terminal, one JSON object per line on EMR.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from storage.runfolder import local_path, s3_client

log = logging.getLogger("migration")


def eta_text(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    hours, rest = divmod(round(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else (f"{minutes}m{secs:02d}s" if minutes else f"{secs}s")


def progress_line(stage: str, done: int, total: int, elapsed: float, unit: str = "items") -> dict[str, Any]:
    rate = done / elapsed if elapsed > 0 else 0.0
    eta = (total - done) / rate if rate > 0 and total >= done else None
    return {
        "stage": stage,
        "done": done,
        "total": total,
        "percent": round(100.0 * done / total, 1) if total else 100.0,
        "per_second": round(rate, 1),
        "eta_s": None if eta is None else round(eta),
        "unit": unit,
    }


def read_counters(folder: str) -> int:
    """Sum of ``done`` over the counter files under ``folder`` (local path or s3:// URI)."""
    total = 0
    path = local_path(folder)
    if path is None:
        bucket, _, prefix = folder[5:].partition("/")
        s3 = s3_client()
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix.rstrip("/") + "/"):
            for obj in page.get("Contents", []):
                total += int(json.loads(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()).get("done", 0))
        return total
    import glob

    for name in glob.glob(f"{path}/part-*.json"):
        try:
            with open(name, encoding="utf-8") as fh:
                total += int(json.load(fh).get("done", 0))
        except (OSError, ValueError):
            continue
    return total


@contextmanager
def watch(spark: Any, stage: str, *, interval_s: float, counters: str | None = None, total: int = 0) -> Iterator[None]:
    """Log progress every ``interval_s`` while the block runs (nothing for blocks shorter than that)."""
    stop = threading.Event()
    started = time.monotonic()

    def report() -> None:
        while not stop.wait(interval_s):
            elapsed = time.monotonic() - started
            try:
                if counters is not None:
                    line = progress_line(stage, read_counters(counters), total, elapsed)
                    log.info(
                        "progress %s: %s/%s %s (%.1f %%), %s/s, ETA %s",
                        stage, f"{line['done']:,}", f"{line['total']:,}", line["unit"], line["percent"],
                        f"{line['per_second']:,.0f}", eta_text(line["eta_s"]),
                    )  # fmt: skip
                else:
                    tasks = _spark_tasks(spark)
                    log.info("progress %s: %.0f s, Spark tasks %d/%d", stage, elapsed, tasks[0], tasks[1])
            except Exception as exc:  # advisory only
                log.debug("progress %s: %s", stage, type(exc).__name__)

    thread = threading.Thread(target=report, name=f"progress-{stage}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def _spark_tasks(spark: Any) -> tuple[int, int]:
    tracker = spark.sparkContext.statusTracker()
    done = total = 0
    for stage_id in tracker.getActiveStageIds():
        info = tracker.getStageInfo(stage_id)
        if info is not None:
            done += info.numCompletedTasks
            total += info.numTasks
    return done, total


class StageTimer:
    """Times each stage of a run (``timings``, seconds) and logs its progress while it runs."""

    def __init__(self, spark: Any, interval_s: float) -> None:
        self.spark = spark
        self.interval_s = interval_s
        self.timings: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str, *, counters: str | None = None, total: int = 0) -> Iterator[None]:
        """While the block runs, a progress line every ``interval_s`` (``counters``: the executors' counter
        files of a load, ``total`` items to go)."""
        started = time.monotonic()
        log.info("stage %s: started", name)
        try:
            with watch(self.spark, name, interval_s=self.interval_s, counters=counters, total=total):
                yield
        finally:
            self.timings[name] = round(time.monotonic() - started, 3)
            log.info("stage %s: %.1f s", name, self.timings[name])
