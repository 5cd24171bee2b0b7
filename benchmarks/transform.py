"""Transform throughput: the whole transform on ~2 M generated versions (Parquet) vs a plain Parquet copy.

    python benchmarks/transform.py [--reservations 1100000] [--work DIR]

Prints `BENCH transform_vs_parquet_copy <ratio> x` (goal <= 2.0) and rows/s of both, measured in one
process on the same input: extract -> normalize -> room stays -> rules -> dedupe -> classified Parquet
(the stage the loaders and the quarantine read from), against read -> write of the same reservations.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TZ", "UTC")
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reservations", type=int, default=1_100_000)
    parser.add_argument("--work", default="/tmp/migration-bench-transform")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    work = Path(args.work)

    from benchmarks._common import best_seconds, classified_frame, edw_extract, local_spark

    data = edw_extract(args.work, args.reservations)
    spark = local_spark(shuffle_partitions=8, driver_memory="6g")
    res_path = str(data / "edw/reservations")
    versions = spark.read.parquet(res_path).count()

    def copy() -> None:
        spark.read.parquet(res_path).write.mode("overwrite").parquet(str(work / "out-copy"))

    def transform() -> None:
        classified_frame(spark, data).write.mode("overwrite").parquet(str(work / "out-transform"))

    copy()  # warm-up: JVM, file listing, page cache
    t_copy = best_seconds(copy, args.repeat)
    t_transform = best_seconds(transform, args.repeat)
    print(f"# {versions:,} versions; best of {args.repeat}: copy {t_copy:.1f} s, transform {t_transform:.1f} s")
    print(f"BENCH parquet_copy_rows_per_s {versions / t_copy:.0f} rows/s")
    print(f"BENCH transform_rows_per_s {versions / t_transform:.0f} rows/s")
    print(f"BENCH transform_vs_parquet_copy {t_transform / t_copy:.2f} x")
    spark.stop()
    shutil.rmtree(work / "out-copy", ignore_errors=True)
    shutil.rmtree(work / "out-transform", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
