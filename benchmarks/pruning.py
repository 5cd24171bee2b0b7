"""A backfill window on a date-partitioned extract: the window's folders only vs the whole extract filtered.

    python benchmarks/pruning.py [--reservations 200000] [--from 2025-03-01 --to 2025-03-31]

Generates (once, under --work) an EDW extract in daily ``LAST_MOD_DT=<date>`` folders, then, in one process,
times the versions of the window normalized and counted: (a) pruned: ``readers.partitions`` lists the folders
and Spark reads only those within the window (one day of slack each side); (b) scanned: Spark reads every
folder and the window filters after normalization (what a layout without ``date_partition`` costs). Both
must find the same versions. Prints ``BENCH window_pruned_vs_scan <ratio> x`` and the folders read.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TZ", "UTC")
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reservations", type=int, default=200_000)
    parser.add_argument("--from", dest="date_from", default="2025-03-01")
    parser.add_argument("--to", dest="date_to", default="2025-03-31")
    parser.add_argument("--work", default="/tmp/migration-bench-pruning")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    lo, hi = date.fromisoformat(args.date_from), date.fromisoformat(args.date_to)

    from pyspark.sql import functions as F

    from benchmarks._common import best_seconds, local_spark, rule_parameters
    from readers.edw import read_properties, read_reservations
    from readers.partitions import select_partitions
    from sample.generator import generate
    from sample.options import Options
    from transforms import to_canonical_properties, to_edw_versions

    data = Path(args.work) / f"data-{args.reservations}"
    if not (data / "ground_truth.json").is_file():
        generate(Options(data, args.reservations, 7, "csv", 0.001, 0.03, 0, htng_fraction=0.0, partition_by="day"))
    spark = local_spark(shuffle_partitions=4, driver_memory="4g")
    rules = rule_parameters()
    props = to_canonical_properties(read_properties(spark, str(data / "reference/properties"), fmt="csv"))
    root = str(data / "edw/reservations")

    def window_count(paths: tuple[str, ...], base_path: str | None) -> int:
        raw = read_reservations(spark, paths, fmt="csv", base_path=base_path)
        versions = to_edw_versions(raw, props, rules=rules)
        return versions.filter(F.to_date("last_modified").between(F.lit(lo), F.lit(hi))).count()

    chosen = select_partitions(
        spark, root, column="LAST_MOD_DT", slack_days=1, date_from=lo, date_to=hi, what="input.reservations"
    )
    found: dict[str, int] = {}

    def pruned() -> None:
        found["pruned"] = window_count(chosen.paths, chosen.base_path)

    def scanned() -> None:
        found["scanned"] = window_count((root,), None)

    scanned()  # warm-up: JVM, page cache
    t_scan = best_seconds(scanned, args.repeat)
    t_pruned = best_seconds(pruned, args.repeat)
    spark.stop()
    assert found["pruned"] == found["scanned"] > 0, found
    s = chosen.summary or {}
    print(f"# {found['pruned']:,} versions in {lo}..{hi}; {s.get('folders_read')} folders read, "
          f"{s.get('folders_skipped')} skipped; best of {args.repeat}: pruned {t_pruned:.1f} s, "
          f"scanned {t_scan:.1f} s")  # fmt: skip
    print(f"BENCH window_pruned_vs_scan {t_scan / t_pruned:.1f} x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
