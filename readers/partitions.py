"""Partition pruning for inputs laid out in date folders (``<column>=<date>/`` right under the source path).

A backfill of one month must not list and read two years of extract. The folders are listed once in the
driver through Hadoop's FileSystem (local paths, ``s3://`` on EMR alike: names only, no data), each folder's
date (a day, or a whole month) is compared with the window widened by ``slack_days``, and only the folders
that can hold a selected row are handed to Spark (with ``basePath``, so the layout reads as it would
whole). The exact window is still applied to ``last_modified`` after normalization; pruning only decides
what is read. A folder whose value is not a date (``__HIVE_DEFAULT_PARTITION__``) is always read.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from pyspark.sql import SparkSession

from readers.edw import InputError

_DAY = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-?(\d{2})$")


@dataclass(frozen=True)
class Selection:
    """What to read: ``paths`` under ``base_path`` (the source path itself when nothing is pruned).
    ``empty``: no folder can hold a selected row (read nothing; ``paths`` still names one for the header)."""

    paths: tuple[str, ...]
    base_path: str | None = None
    empty: bool = False
    summary: dict[str, Any] | None = None  # for the manifest: column, dates read, folders read/skipped


def folder_dates(value: str) -> tuple[date, date] | None:
    """The first and last day a partition value covers, or None when it is not a date."""
    try:
        if m := _DAY.match(value):
            day = date(int(m[1]), int(m[2]), int(m[3]))
            return day, day
        if m := _MONTH.match(value):
            year, month = int(m[1]), int(m[2])
            return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
    except ValueError:  # 2025-02-30, month 13
        return None
    return None


def select_partitions(
    spark: SparkSession,
    root: str,
    *,
    column: str | None,
    slack_days: int,
    date_from: date | None,
    date_to: date | None,
    what: str,
) -> Selection:
    if column is None or (date_from is None and date_to is None):
        return Selection((root,))
    lo = date_from - timedelta(days=slack_days) if date_from else date.min
    hi = date_to + timedelta(days=slack_days) if date_to else date.max
    prefix = f"{column}="
    kept: list[str] = []
    skipped = 0
    undated = 0
    for name, is_dir, path in _list(spark, root, what=what):
        if name.startswith(("_", ".")):  # _SUCCESS, .crc and the like
            continue
        if not is_dir or not name.startswith(prefix):
            raise InputError(f"{what}.date_partition: {name!r} under {root} is not a {prefix}<date> folder")
        span = folder_dates(name[len(prefix) :])
        if span is None:
            undated += 1
            kept.append(path)
        elif span[1] < lo or span[0] > hi:
            skipped += 1
        else:
            kept.append(path)
    if not kept and not skipped:
        raise InputError(f"{what}.date_partition: no {prefix}<date> folders under {root}")
    summary = {
        "column": column,
        "dates": [None if lo == date.min else lo.isoformat(), None if hi == date.max else hi.isoformat()],
        "folders_read": len(kept),
        "folders_skipped": skipped,
        "folders_undated": undated,
    }
    if not kept:
        return Selection((root,), empty=True, summary=summary)
    return Selection(tuple(kept), base_path=root, summary=summary)


def _list(spark: SparkSession, root: str, *, what: str) -> list[tuple[str, bool, str]]:
    """(name, is a folder, full path) of the entries right under ``root``, through Hadoop's FileSystem."""
    jvm: Any = spark._jvm  # the driver JVM: the FileSystem the readers use
    path = jvm.org.apache.hadoop.fs.Path(root)
    fs = path.getFileSystem(spark._jsc.hadoopConfiguration())
    if not fs.exists(path):
        raise InputError(f"{what}.path: {root} does not exist")
    out = []
    for status in fs.listStatus(path):
        entry = status.getPath()
        out.append((str(entry.getName()), bool(status.isDirectory()), str(entry.toString())))
    return sorted(out)
