"""Python workers: an unchanged zip on ``sys.path`` is not read again at every task.

PySpark's worker calls ``importlib.invalidate_caches()`` at the start of every task (pyspark/worker.py, for
files added with ``addPyFile``). On Python 3.10 and 3.11 that makes every ``zipimporter`` re-read its
archive's whole central directory at once (CPython gh-103200; fixed in 3.12 by reading it lazily): pyspark.zip,
py4j's zip, the Spark jar Spark puts on the workers' ``PYTHONPATH``, and ``migration.zip`` on a cluster. That
is tens of milliseconds of every Python task, however small; a stage of many small tasks (an archive of small
XML files) spends most of its time there. Spark itself stops calling it needlessly in a later release
(SPARK-54744). Until then, this keeps the semantics (a zip whose size or modification time changed is re-read)
and skips the re-read of one that did not change.

Installed on import of the packages whose functions run in the Python workers (readers, loaders, pipeline):
unpickling a task's function imports them, so a reused worker pays once.
"""

from __future__ import annotations

import os
import zipimport
from collections.abc import Callable
from typing import Any

_ORIGINAL: Callable[[Any], None] = zipimport.zipimporter.invalidate_caches
_READ_AT = "_migration_read_at"  # on each importer: (mtime_ns, size) of its archive when it last read the directory


def _invalidate_if_changed(self: Any) -> None:
    try:
        stat = os.stat(self.archive)
        stamp: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
    except OSError:
        stamp = None
    if stamp is not None and getattr(self, _READ_AT, None) == stamp:
        return
    _ORIGINAL(self)
    setattr(self, _READ_AT, stamp)


# Set (to anything but empty) in a worker's environment, e.g. ``spark.executorEnv.MIGRATION_ZIP_REREAD=1``, to
# keep Python's own behaviour: the escape hatch, and the baseline of ``benchmarks/archive.py``.
REREAD_ENV = "MIGRATION_ZIP_REREAD"


def install() -> None:
    """Idempotent; a no-op where the interpreter already invalidates lazily (3.12+) or ``REREAD_ENV`` is set."""
    import sys

    if sys.version_info < (3, 12) and not os.environ.get(REREAD_ENV):
        zipimport.zipimporter.invalidate_caches = _invalidate_if_changed  # type: ignore[method-assign]
