"""The HTNG archive as the job reads it: many small files, parsed in Spark's Python workers.

    python benchmarks/archive.py [--messages 30000] [--repeat 3]

Writes ``--messages`` one-reservation OTA messages (``benchmarks/xml_parse.messages``, ~2 KB each), one file
each, then reads and parses them with ``readers.htng.read_htng`` into Spark's ``noop`` sink (local[2], the
job's Spark settings from conf/base.yaml), three ways, in interleaved rounds, best of ``--repeat``:

* shipped: files packed into tasks at conf/base.yaml's ``spark.sql.files.openCostInBytes`` (64 KB);
* Spark's packing: the same at Spark's default open cost (4 MB a file, 32 files a task);
* Spark's packing, and every zip on the workers' ``sys.path`` re-read at every task as Python 3.11 does
  (``storage.zip_imports`` off: a second session whose workers run with ``MIGRATION_ZIP_REREAD=1``).

Prints ``BENCH archive_msgs_per_s <n> msg/s`` (shipped) and ``BENCH archive_vs_spark_defaults <ratio> x`` (the
third way's time over the first's), with the tasks each way ran.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import local_spark, shipped_conf
from xml_parse import messages

from readers.htng import read_htng
from storage.zip_imports import REREAD_ENV

SPARK_DEFAULT_OPEN_COST = str(4 * 1024 * 1024)


def write_archive(folder: Path, n: int) -> None:
    for i, doc in enumerate(messages(n)):
        sub = folder / f"{i % 100:02d}"  # an archive's folders (by day, say) of files
        sub.mkdir(exist_ok=True)
        (sub / f"msg-{i:07d}.xml").write_bytes(doc)


def timed_read(spark: Any, folder: Path, open_cost: str) -> tuple[float, int]:
    spark.conf.set("spark.sql.files.openCostInBytes", open_cost)
    started = time.perf_counter()
    df = read_htng(spark, str(folder), max_document_bytes=4 * 1024 * 1024, confirmation_types=["10", "14"])
    df.write.format("noop").mode("overwrite").save()
    return time.perf_counter() - started, df.rdd.getNumPartitions()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=30_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    shipped = shipped_conf()["spark.sql.files.openCostInBytes"]
    work = Path(tempfile.mkdtemp(prefix="migration-bench-archive-"))
    try:
        write_archive(work, args.messages)
        ways = {"shipped": (False, shipped), "spark_packing": (False, SPARK_DEFAULT_OPEN_COST),
                "spark_packing_zip_reread": (True, SPARK_DEFAULT_OPEN_COST)}  # fmt: skip
        best = dict.fromkeys(ways, float("inf"))
        tasks: dict[str, int] = {}
        for _ in range(args.repeat):  # a session per zip setting (the workers' environment is fixed at start)
            for reread in (False, True):
                conf = {f"spark.executorEnv.{REREAD_ENV}": "1"} if reread else {}
                spark = local_spark(shuffle_partitions=4, driver_memory="2g", conf=conf)
                timed_read(spark, work, shipped)  # warm-up: the workers, the JIT, the page cache
                for name, (way_reread, open_cost) in ways.items():
                    if way_reread == reread:
                        seconds, tasks[name] = timed_read(spark, work, open_cost)
                        best[name] = min(best[name], seconds)
                spark.stop()
        n = args.messages
        for name in ways:
            print(f"# {name}: {tasks[name]} tasks, best {best[name]:.2f} s, {n / best[name]:,.0f} msg/s")
        print(f"BENCH archive_msgs_per_s {n / best['shipped']:.0f} msg/s")
        print(f"BENCH archive_spark_packing_msgs_per_s {n / best['spark_packing']:.0f} msg/s")
        print(f"BENCH archive_vs_spark_defaults {best['spark_packing_zip_reread'] / best['shipped']:.1f} x")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
