"""What an input is, cheaply: enough to tell that a resumed run would read other data than its first attempt.

Listed in the driver through Hadoop's FileSystem (local paths and ``s3://`` alike, no data read). An extract
(hundreds of files) is fingerprinted file by file: relative name, size and modification time, hashed. An
archive (millions of small files) by its content summary: file count and total bytes, one call.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from pyspark.sql import SparkSession


def files_fingerprint(spark: SparkSession, roots: Sequence[str]) -> dict[str, Any]:
    """Every file under ``roots`` (the folders a run reads): count, bytes and a digest of (path, size, mtime)."""
    entries = []
    for root in roots:
        fs, path = _fs(spark, root)
        if not fs.exists(path):
            continue
        listing = fs.listFiles(path, True)
        while listing.hasNext():
            status = listing.next()
            entries.append(f"{status.getPath().toString()}|{status.getLen()}|{status.getModificationTime()}")
    entries.sort()
    return {
        "files": len(entries),
        "bytes": sum(int(e.split("|")[-2]) for e in entries),
        "digest": hashlib.sha256("\n".join(entries).encode()).hexdigest()[:16],
    }


def archive_fingerprint(spark: SparkSession, roots: Sequence[str]) -> dict[str, Any]:
    """File count and total bytes under ``roots`` (Hadoop's content summary: one call per folder read)."""
    files = size = 0
    for root in roots:
        fs, path = _fs(spark, root)
        if fs.exists(path):
            summary = fs.getContentSummary(path)
            files, size = files + int(summary.getFileCount()), size + int(summary.getLength())
    return {"files": files, "bytes": size}


def _fs(spark: SparkSession, root: str) -> tuple[Any, Any]:
    jvm: Any = spark._jvm
    path = jvm.org.apache.hadoop.fs.Path(root)
    return path.getFileSystem(spark._jsc.hadoopConfiguration()), path
