"""Driver side of progress: while stages run, one line per running stage every ``progress.interval_s``.

One monitor thread serves the whole run. For a load, the executors' counter files (``loaders.progress``)
give items done out of the total, a rate and an ETA; for other stages, Spark's status tracker gives the
active stages' tasks done out of their total. Each tick:

- logs each running stage's line (readable on a terminal, one JSON object per line on EMR, with the figures
  as fields);
- writes it to ``_progress/stage-<name>.json`` in the run folder, where ``jobs.submit`` reads it while the
  step runs;
- adds each load's counters to the run's time series (``_progress/series.json``, what the report draws);
- publishes the loads' counters as CloudWatch metrics, in one call (``pipeline.metrics``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from loaders.outcomes import COUNTERS as OUTCOME_COUNTERS
from pipeline.log_context import in_stage
from storage.runfolder import RunFolder, join, list_names, read_text

if TYPE_CHECKING:
    from pipeline.metrics import Metrics

log = logging.getLogger("migration")

# what a writer's counter file may hold (loaders.progress); ``done`` = written + kept_newer + failed
COUNTERS: tuple[str, ...] = ("done", *OUTCOME_COUNTERS)
SERIES = "_progress/series.json"


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


def line_text(line: dict[str, Any]) -> str:
    """A progress line as the driver logs it (and ``jobs.submit`` prints it)."""
    if "tasks_total" in line:
        tasks = f"{line['tasks_done']}/{line['tasks_total']}"
        return f"progress {line['stage']}: {line['elapsed_s']:.0f} s, Spark tasks {tasks}"
    return (
        f"progress {line['stage']}: {line['done']:,}/{line['total']:,} {line['unit']} ({line['percent']:.1f} %), "
        f"{line['per_second']:,.0f}/s, ETA {eta_text(line['eta_s'])}"
    )


def read_counters(folder: str) -> dict[str, float]:
    """Each counter summed over the counter files under ``folder`` (local path or s3:// URI); a file torn by
    a write in progress is skipped."""
    total = dict.fromkeys(COUNTERS, 0.0)

    def add(text: str | bytes) -> None:
        try:
            counters = json.loads(text)
        except ValueError:
            return
        for name in COUNTERS:
            total[name] += float(counters.get(name, 0) or 0)

    for name in list_names(folder):
        if name.endswith(".json"):
            try:
                add(read_text(join(folder, name)) or "")
            except Exception:  # overwritten, gone or throttled meanwhile: counted at the next read
                continue
    return total


@dataclass
class _Stage:
    name: str
    started: float
    counters: str | None  # a load's counter files
    total: int
    target: str | None


class StageTimer:
    """Times each stage of a run (``timings``, seconds) and, while stages run, reports their progress.

    ``folder``: the run's (the stage files and the series go there; none: log only). ``metrics``: where the
    loads' counters are published each tick and at the end."""

    def __init__(self, spark: Any, interval_s: float, *, folder: RunFolder | None = None,
                 metrics: Metrics | None = None) -> None:  # fmt: skip
        self.spark = spark
        self.interval_s = interval_s
        self.folder = folder
        self.metrics = metrics
        self.timings: dict[str, float] = {}
        self.series: list[dict[str, Any]] = []  # one sample per load per tick, and one at each load's end
        self._origin = time.monotonic()
        self._active: dict[str, _Stage] = {}
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @contextmanager
    def stage(self, name: str, *, counters: str | None = None, total: int = 0) -> Iterator[None]:
        """``counters``: the executors' counter files of a load (``load_<target>``), ``total`` items to go."""
        target = name.removeprefix("load_") if counters is not None else None
        current = _Stage(name, time.monotonic(), counters, total, target)
        with in_stage(name):
            log.info("stage %s: started", name)
            if counters is not None:  # where the load starts from (a resumed run's tasks may have counted)
                start = self._advisory(self._sample, current, active=False)
                if start is not None and self.metrics is not None and current.target is not None:
                    self.metrics.starting_from(current.target, start)
            with self._lock:
                self._active[name] = current
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="progress", daemon=True)
                    self._thread.start()
            try:
                yield
            finally:
                with self._lock:
                    self._active.pop(name, None)
                self.timings[name] = round(time.monotonic() - current.started, 3)
                if counters is not None:  # the load's last figures, for the series and the final metrics
                    self._advisory(self._sample, current, active=False)
                    self._write_series()
                log.info("stage %s: %.1f s", name, self.timings[name])

    def close(self, *, gate_passed: bool | None = None) -> None:
        """Stop reporting; publish what the loads did since the last tick (and the gate's result)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._write_series()
        if self.metrics is not None:
            self.metrics.publish(self.latest(), gate_passed=gate_passed)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.tick()

    def tick(self) -> None:
        """One round of progress: a line per running stage, the loads' samples, one metrics call."""
        with self._lock:
            running = list(self._active.values())
        sampled = False
        for current in running:
            try:
                self._report(current)
                sampled = sampled or current.counters is not None
            except Exception as exc:  # progress is advisory: it never fails a run
                log.debug("progress %s: %s", current.name, type(exc).__name__)
        if sampled:
            self._write_series()
            if self.metrics is not None:
                self.metrics.publish(self.latest())

    def _report(self, current: _Stage) -> None:
        elapsed = time.monotonic() - current.started
        if current.counters is not None:
            counters = self._sample(current)
            line = progress_line(current.name, int(counters["done"]), current.total, elapsed)
            fields = {"stage": current.name, "target": current.target, "done": line["done"], "total": line["total"],
                      "percent": line["percent"], "rate": line["per_second"], "eta_s": line["eta_s"],
                      "unit": line["unit"]}  # fmt: skip
        else:
            done, total = _spark_tasks(self.spark)
            line = {"stage": current.name, "elapsed_s": round(elapsed, 1), "tasks_done": done, "tasks_total": total}
            fields = {"stage": current.name, "tasks_done": done, "tasks_total": total}
        text = line_text(line)
        log.info("%s", text, extra=fields)
        if self.folder is not None:
            stamp = datetime.now(UTC).isoformat()
            self.folder.write_json(f"_progress/stage-{current.name}.json", {**line, "ts": stamp, "message": text})

    def _sample(self, current: _Stage, *, active: bool = True) -> dict[str, float]:
        """Read a load's counters and add them to the series. ``active``: a tick's sample, dropped when the
        stage ended while its files were read (the stage's own last sample is then the newer one)."""
        assert current.counters is not None
        counters = read_counters(current.counters)
        sample = {"t": round(time.monotonic() - self._origin, 1), "target": current.target, **counters}
        with self._lock:
            if not active or current.name in self._active:
                self.series.append(sample)
        return counters

    @staticmethod
    def _advisory(call: Any, *args: Any, **kwargs: Any) -> Any:
        """Progress never fails a stage: an error reading or writing its files is logged, and None returned."""
        try:
            return call(*args, **kwargs)
        except Exception as exc:
            log.debug("progress: %s", type(exc).__name__)
            return None

    def latest(self) -> dict[str, dict[str, float]]:
        """Each target's last sampled counters."""
        with self._lock:
            return {s["target"]: {k: s[k] for k in COUNTERS} for s in self.series}

    def _write_series(self) -> None:
        """The series so far; one writer at a time (a load's end and a tick may both write it)."""
        if self.folder is None:
            return
        with self._write_lock:
            with self._lock:
                series = list(self.series)
            try:
                self.folder.write_json(SERIES, {"interval_s": self.interval_s, "samples": series})
            except Exception as exc:
                log.debug("progress series: %s", type(exc).__name__)


def _spark_tasks(spark: Any) -> tuple[int, int]:
    tracker = spark.sparkContext.statusTracker()
    done = total = 0
    for stage_id in tracker.getActiveStageIds():
        info = tracker.getStageInfo(stage_id)
        if info is not None:
            done += info.numCompletedTasks
            total += info.numTasks
    return done, total
