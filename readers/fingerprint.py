"""What an input is, cheaply: enough to tell that a resumed run would read other data than its first attempt.

Listed in the driver through Hadoop's FileSystem (local paths and ``s3://`` alike, no data read). An extract
(hundreds of files) is fingerprinted file by file: relative name, size and modification time, hashed. An
archive (millions of small files) by its content summary: file count and total bytes, one call.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pyspark.sql import SparkSession


def files_fingerprint(spark: SparkSession, root: str) -> dict[str, Any]:
    """Every file under ``root``: count, bytes and a digest of (relative path, size, mtime); empty when absent."""
    fs, path = _fs(spark, root)
    if not fs.exists(path):
        return {"files": 0, "bytes": 0, "digest": None}
    base = str(path.toString()).rstrip("/") + "/"
    entries = []
    listing = fs.listFiles(path, True)
    while listing.hasNext():
        status = listing.next()
        name = str(status.getPath().toString()).removeprefix(base)
        entries.append(f"{name}|{status.getLen()}|{status.getModificationTime()}")
    entries.sort()
    return {
        "files": len(entries),
        "bytes": sum(int(e.split("|")[-2]) for e in entries),
        "digest": hashlib.sha256("\n".join(entries).encode()).hexdigest()[:16],
    }


def archive_fingerprint(spark: SparkSession, root: str) -> dict[str, Any]:
    """File count and total bytes under ``root`` (Hadoop's content summary: one call, however many files)."""
    fs, path = _fs(spark, root)
    if not fs.exists(path):
        return {"files": 0, "bytes": 0}
    summary = fs.getContentSummary(path)
    return {"files": int(summary.getFileCount()), "bytes": int(summary.getLength())}


def _fs(spark: SparkSession, root: str) -> tuple[Any, Any]:
    jvm: Any = spark._jvm
    path = jvm.org.apache.hadoop.fs.Path(root)
    return path.getFileSystem(spark._jsc.hadoopConfiguration()), path
