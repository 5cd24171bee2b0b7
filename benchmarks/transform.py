"""Transform throughput: the whole transform on ~2 M generated versions (Parquet) vs copying its inputs.

    python benchmarks/transform.py [--reservations 1100000] [--work DIR] [--repeat 3] [--profile]

Measured in one process on the same input: extract -> normalize -> room stays -> rules -> dedupe ->
classified Parquet (the stage the loaders and the quarantine read from), against two floors: a plain
Parquet copy of the reservations (``BENCH transform_vs_parquet_copy``, kept for continuity) and a copy of
every input the transform reads, reservations, room-stay lines and the property reference
(``BENCH transform_vs_full_copy``, goal <= 3.0). For scale, the same floor for the output: a copy of the
classified Parquet the transform wrote (``BENCH output_copy_vs_full_copy``): writing that output is part of
every transform's time, whatever the transform does. And what the job itself does with the classified set
instead of writing it: persist it (``MEMORY_AND_DISK``, pipeline/classify.py) and count it
(``BENCH transform_persisted_vs_full_copy``); and the transform evaluated without materializing anything,
through Spark's ``noop`` sink (``BENCH transform_noop_vs_full_copy``).

``--profile`` also times the transform cumulatively, step by step, on the same data (each step's output
evaluated in full through Spark's ``noop`` sink, the last one written as Parquet); a step's cost is the
difference from the row above it:

    read + normalize; + room-stay lines grouped; + latest-wins window; + room stays attached;
    + rules and outcome; + Parquet write
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

INPUTS = ("edw/reservations", "edw/room_stays", "reference/properties")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reservations", type=int, default=1_100_000)
    parser.add_argument("--work", default="/tmp/migration-bench-transform")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="time each step of the transform cumulatively")
    args = parser.parse_args()
    work = Path(args.work)

    from benchmarks._common import best_seconds, classified_frame, edw_extract, local_spark, transform_steps

    data = edw_extract(args.work, args.reservations)
    spark = local_spark(shuffle_partitions=8, driver_memory="6g")
    versions = spark.read.parquet(str(data / "edw/reservations")).count()
    lines = spark.read.parquet(str(data / "edw/room_stays")).count()

    def copy(*inputs: str) -> None:
        for name in inputs:
            spark.read.parquet(str(data / name)).write.mode("overwrite").parquet(str(work / "out-copy" / name))

    def transform() -> None:
        classified_frame(spark, data).write.mode("overwrite").parquet(str(work / "out-transform"))

    def noop(frame: object) -> None:
        frame.write.format("noop").mode("overwrite").save()  # type: ignore[attr-defined]

    def persisted() -> None:  # as pipeline/classify.py: persist, then the first action builds the cache
        from pyspark import StorageLevel

        frame = classified_frame(spark, data).persist(StorageLevel.MEMORY_AND_DISK)
        frame.count()
        frame.unpersist(blocking=True)

    copy(*INPUTS)  # warm-up: JVM, file listing, page cache
    t_copy = best_seconds(lambda: copy(INPUTS[0]), args.repeat)
    t_full = best_seconds(lambda: copy(*INPUTS), args.repeat)
    t_transform = best_seconds(transform, args.repeat)
    # The output's own floor: the classified Parquet the transform just wrote, copied (read and written again).
    out_copy = work / "out-copy" / "classified"
    t_output = best_seconds(
        lambda: spark.read.parquet(str(work / "out-transform")).write.mode("overwrite").parquet(str(out_copy)),
        args.repeat,
    )
    t_persisted = best_seconds(persisted, args.repeat)
    t_noop = best_seconds(lambda: noop(classified_frame(spark, data)), args.repeat)
    print(f"# {versions:,} versions, {lines:,} room-stay lines; best of {args.repeat}: copy of the reservations "
          f"{t_copy:.1f} s, of every input {t_full:.1f} s, of the classified output {t_output:.1f} s, "
          f"transform {t_transform:.1f} s (persisted and counted {t_persisted:.1f} s, to the noop sink "
          f"{t_noop:.1f} s)")  # fmt: skip
    if args.profile:
        print("| step (cumulative) | seconds | step's cost |\n|---|---|---|")
        previous = 0.0
        for name, frames in transform_steps(spark, data):
            if name == "+ Parquet write":
                seconds = t_transform
            elif name == "+ rules and outcome":
                seconds = t_noop  # the same frame to the same sink
            else:
                seconds = best_seconds(lambda fs=frames: [noop(f) for f in fs()], args.repeat)
            print(f"| {name} | {seconds:.1f} | {seconds - previous:+.1f} |")
            previous = seconds
    print(f"BENCH parquet_copy_rows_per_s {versions / t_copy:.0f} rows/s")
    print(f"BENCH transform_rows_per_s {versions / t_transform:.0f} rows/s")
    print(f"BENCH transform_vs_parquet_copy {t_transform / t_copy:.2f} x")
    print(f"BENCH transform_vs_full_copy {t_transform / t_full:.2f} x")
    print(f"BENCH output_copy_vs_full_copy {t_output / t_full:.2f} x")
    print(f"BENCH transform_persisted_vs_full_copy {t_persisted / t_full:.2f} x")
    print(f"BENCH transform_noop_vs_full_copy {t_noop / t_full:.2f} x")
    spark.stop()
    shutil.rmtree(work / "out-copy", ignore_errors=True)
    shutil.rmtree(work / "out-transform", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
