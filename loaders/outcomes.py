"""Per-task write outcomes shared by the writers: one summary row per task plus one row per failed record.

Tasks yield these rows; the driver saves them in one action, sums the summaries (a handful of rows) and
moves the failed rows to the run's ``failed_writes/``. Saving first means the writes run exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

OUTCOME_SCHEMA = T.StructType(
    [
        T.StructField("kind", T.StringType()),  # summary | failed
        T.StructField("written", T.LongType()),
        T.StructField("kept_newer", T.LongType()),
        T.StructField("failed", T.LongType()),
        T.StructField("write_units", T.DoubleType()),
        T.StructField("retries", T.LongType()),
        T.StructField("throttles", T.LongType()),
        T.StructField("seconds", T.DoubleType()),
        T.StructField("pk", T.StringType()),
        T.StructField("item", T.StringType()),  # the protected record as JSON (failed rows only)
        T.StructField("error", T.StringType()),
    ]
)
_ARROW_SCHEMA = pa.schema(
    [
        pa.field(
            f.name,
            {"string": pa.string(), "long": pa.int64(), "double": pa.float64()}[f.dataType.typeName()],
        )
        for f in OUTCOME_SCHEMA.fields
    ]
)


COUNTERS: tuple[str, ...] = ("written", "kept_newer", "failed", "write_units", "retries", "throttles")


@dataclass(frozen=True)
class WriteStats:
    written: int
    kept_newer: int
    failed: int
    write_units: float
    retries: int
    throttles: int
    task_seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    def __add__(self, other: WriteStats) -> WriteStats:
        return WriteStats(*(getattr(self, k) + getattr(other, k) for k in self.__dataclass_fields__))


def outcome_batch(summary: Mapping[str, Any], failures: Iterable[tuple[str, str, str]]) -> pa.RecordBatch:
    """Arrow batch of one task's outcome: ``summary`` counters and ``(key, record_json, error)`` failures."""
    rows = [{"kind": "summary", **summary}]
    rows += [{"kind": "failed", "failed": 1, "pk": k, "item": j, "error": e} for k, j, e in failures]
    return pa.RecordBatch.from_pylist(rows, schema=_ARROW_SCHEMA)


def save_and_summarize(outcomes: DataFrame, *, results_path: str, failed_path: str) -> WriteStats:
    """Run the writes (one action) by saving their outcome rows, then sum them."""
    outcomes.write.mode("overwrite").parquet(results_path)
    saved = outcomes.sparkSession.read.parquet(results_path)
    sums = (
        saved.filter(F.col("kind") == "summary")
        .agg(
            *[F.coalesce(F.sum(c), F.lit(0)).alias(c) for c in COUNTERS],
            F.coalesce(F.max("seconds"), F.lit(0.0)).alias("task_seconds"),
        )
        .first()
    )
    assert sums is not None
    if sums["failed"]:
        saved.filter(F.col("kind") == "failed").select("pk", "error", "item").write.mode("overwrite").json(failed_path)
    return WriteStats(
        written=int(sums["written"]),
        kept_newer=int(sums["kept_newer"]),
        failed=int(sums["failed"]),
        write_units=float(sums["write_units"]),
        retries=int(sums["retries"]),
        throttles=int(sums["throttles"]),
        task_seconds=float(sums["task_seconds"]),
    )


# Reconcile: per task, per (hotel, arrival month), how the loaded keys stand in one target. ``regressed``:
# stored older than a version an earlier run loaded (the key's ``earlier_last_modified``).
CHECK_COLUMNS: tuple[str, ...] = (
    "property_code", "arrival_month", "loaded", "present", "newer", "stale", "missing", "regressed",
)  # fmt: skip
CHECK_SCHEMA = ", ".join(f"{c} {'string' if i < 2 else 'long'}" for i, c in enumerate(CHECK_COLUMNS))
_CHECK_ARROW = pa.schema([(c, pa.string() if i < 2 else pa.int64()) for i, c in enumerate(CHECK_COLUMNS)])


def check_batch(rows: Iterable[tuple[Any, ...]]) -> pa.RecordBatch:
    """Arrow batch of reconcile rows, each in CHECK_COLUMNS order."""
    return pa.RecordBatch.from_pylist([dict(zip(CHECK_COLUMNS, r, strict=True)) for r in rows], schema=_CHECK_ARROW)
