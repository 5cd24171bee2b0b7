"""Executor side of progress: each writing task overwrites one small JSON file with its counters now and then.

The driver's progress stage sums the files of a target while the load runs. A local path or s3:// URI;
at most one write per ``interval_s`` per task, so 160 tasks at 30 s are about five small PUTs a second.
"""

from __future__ import annotations

import json
import time
from typing import Any

from storage.runfolder import write_text


class ProgressFile:
    def __init__(self, folder: str | None, part: int, interval_s: float, *, prefix: str = "part") -> None:
        """``prefix``: of the file name; a load's second pass over the same partitions takes another."""
        self.path = f"{folder.rstrip('/')}/{prefix}-{part:05d}.json" if folder else None
        self.interval_s = interval_s
        self._last = time.monotonic()

    def update(self, *, force: bool = False, **counters: Any) -> None:
        if self.path is None or (not force and time.monotonic() - self._last < self.interval_s):
            return
        self._last = time.monotonic()
        try:
            write_text(self.path, json.dumps(counters))
        except Exception:  # progress is advisory: it never fails a load
            pass


def task_part() -> int:
    from pyspark import TaskContext

    context = TaskContext.get()
    return context.partitionId() if context is not None else 0
