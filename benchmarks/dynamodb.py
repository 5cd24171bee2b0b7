"""Sustained DynamoDB write utilization under a throttling endpoint, against boto3's batch_writer.

    python benchmarks/dynamodb.py [--items 15000] [--budget 900]

A moto server with the tests' ThrottlingProxy in front of it: a table of ``--budget`` write units per
second (token bucket, one second of burst) that answers with UnprocessedItems and throttling errors beyond
that. Both writers get the same items (about 1 KB, both GSIs: 3 units each) through their own fresh table
and endpoint, in this process:

- the job's loader (``loaders.dynamodb``: Spark local[2], two tasks, each metered at half the budget);
- boto3's ``Table.batch_writer()`` in two threads (the same concurrency), with boto3's own retries.

Utilization = accepted write units per second over the writing interval / budget, by the endpoint's own
accounting. Prints ``BENCH dynamodb_utilization <fraction> ratio`` (goal >= 0.95) and, for the guarded path
(conditional PutItem, same budget, same two tasks), ``BENCH dynamodb_guarded_utilization`` (goal >= 0.95);
the largest 10-second window of units offered and accepted as a share of the budget (goal <= 1.05), items
lost, and ``BENCH dynamodb_vs_batch_writer <ratio> x`` (accepted units per second, ours over batch_writer's).
Both of the job's paths run again with ``benchmarks/fake_dynamodb.py`` behind the same throttling endpoint
instead of moto (``..._fast_endpoint``): on two cores moto, answering one PutItem per item in Python, caps the
guarded path below the budget before the writer does.

    python benchmarks/dynamodb.py --ceiling [--items 20000]

What one writer task can push when the table never pushes back: the job's executor body
(``loaders.dynamodb.writer.write_batches``: rows to items, metering, requests) in this process against
``benchmarks/fake_dynamodb.py`` (its own process), for the batch path and the guarded (conditional PutItem)
path, items per second and client CPU per item, beside boto3's ``batch_writer`` on the same endpoint. Prints
``BENCH dynamodb_task_ceiling_batch <items/s>`` and ``BENCH dynamodb_task_ceiling_guarded <items/s>`` (one
task, one core; the figure ``dynamodb.task_ceiling_items_per_s`` in conf/base.yaml comes from here).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TZ", "UTC")
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

import boto3
from pyspark.sql import SparkSession

from benchmarks._common import local_spark, protected_frame
from bootstrap.local.services import Moto, free_port
from loaders.dynamodb import DynamoSettings, build_item, create_table_if_missing, load_dynamodb, spread
from tests.faults import ThrottlingProxy


def measure(proxy: ThrottlingProxy, budget: float, expected_items: int, stored: int) -> dict[str, float]:
    accepted = proxy.accepted_log
    seconds = accepted[-1][0] - accepted[0][0] if len(accepted) > 1 else float("nan")
    units = sum(u for _, u in accepted[1:])  # units accepted after the first instant, over the interval
    return {
        "seconds": seconds,
        "units_per_s": units / seconds,
        "utilization": units / seconds / budget,
        "peak_offered_10s": ThrottlingProxy.max_window(proxy.offered, 10) / (10 * budget),
        "peak_accepted_10s": ThrottlingProxy.max_window(proxy.accepted, 10) / (10 * budget),
        "lost": expected_items - stored,
        "throttled": proxy.throttled,
        "unprocessed": proxy.unprocessed,
    }


def count_items(client: object, table: str) -> int:
    pages = client.get_paginator("scan").paginate(TableName=table, Select="COUNT")  # type: ignore[attr-defined]
    return sum(p["Count"] for p in pages)


def ours(
    spark: SparkSession, moto: Moto, n: int, budget: float, out: str, mode: str = "batch", fast: str | None = None
) -> dict[str, float]:
    """The job's loader, two tasks; ``mode``: batch (BatchWriteItem) or conditional (the guarded path:
    PutItem with the version condition, as every write that can meet stored data is). ``fast``: the URL of
    ``benchmarks/fake_dynamodb.py`` to put behind the throttling endpoint instead of moto (it stores nothing:
    items lost are then what the writer did not report written)."""
    client = boto3.client("dynamodb", endpoint_url=moto.url)
    table = f"bench_ours_{mode}" + ("_fast" if fast else "")
    create_table_if_missing(client, table)
    proxy = ThrottlingProxy(fast or moto.url, capacity=budget)
    df = protected_frame(spark, n).persist()
    df.count()
    with proxy.serve() as url:
        settings = DynamoSettings(
            table=table, region="us-east-1", endpoint_url=url, mode=mode, units_per_task=budget / 2,
            max_attempts=10, retry_deadline_s=300, run_id="bench",
        )  # fmt: skip
        stats = load_dynamodb(
            spread(df, tasks=2), settings=settings, results_path=f"{out}/{table}/results",
            failed_path=f"{out}/{table}/failed",
        )  # fmt: skip
    result = measure(proxy, budget, n, stats.written if fast else count_items(client, table))
    result.update(written=stats.written, failed=stats.failed, retries=stats.retries, job_throttles=stats.throttles)
    return result


def batch_writer(spark: SparkSession, moto: Moto, n: int, budget: float) -> dict[str, float]:
    client = boto3.client("dynamodb", endpoint_url=moto.url)
    create_table_if_missing(client, "bench_batch_writer")
    rows = [r.asDict(recursive=True) for r in protected_frame(spark, n).toLocalIterator()]  # benchmark data only
    items = [build_item(r, "bench") for r in rows]
    proxy = ThrottlingProxy(moto.url, capacity=budget)
    errors: list[str] = []

    def write(part: list[dict]) -> None:
        table = boto3.resource("dynamodb", endpoint_url=url).Table("bench_batch_writer")
        try:
            with table.batch_writer() as writer:
                for item in part:
                    writer.put_item(Item=item)
        except Exception as exc:  # retries exhausted: what is left is lost
            errors.append(type(exc).__name__)

    with proxy.serve() as url:
        threads = [threading.Thread(target=write, args=(items[k::2],)) for k in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    result = measure(proxy, budget, n, count_items(client, "bench_batch_writer"))
    result["errors"] = len(errors)
    return result


def ceiling_rows(n: int) -> list[dict[str, Any]]:
    """Rows shaped like :func:`benchmarks._common.protected_frame`'s (about 1 KB items), without Spark."""
    blob = bytes(range(64))
    stays = [{"line_no": line, "room_type": "KNG", "rate_plan": "BAR", "start_date": dt.date(2026, 3, 1),
              "end_date": dt.date(2026, 3, 4), "nightly_rate": Decimal("189.50"), "currency": "EUR"}
             for line in (1, 2, 3)]  # fmt: skip
    return [
        {"property_code": f"H{i % 500:05d}", "confirmation_no": str(5_000_000_000 + i), "status": "CONFIRMED",
         "created_at": dt.datetime(2025, 6, 1, 10), "last_modified": dt.datetime(2025, 7, 1, 10), "source": "EDW",
         "source_seq": i, "arrival_date": dt.date(2026, 3, 1), "departure_date": dt.date(2026, 3, 4), "nights": 3,
         "adults": 2, "children": 0,
         "guest": {"first_name": blob, "last_name": blob, "email": blob + blob, "phone": blob, "country": "PRT"},
         "card_type": "VI", "card_last4": "1111", "total_amount": Decimal("568.50"), "currency": "EUR",
         "channel": "OTA", "room_stays": stays, "email_hash": f"{i:064x}", "pii_key": "0123abcd4567ef89",
         "is_live": False}
        for i in range(n)
    ]  # fmt: skip


def task_ceiling(url: str, rows: list[dict[str, Any]], mode: str, threads: int) -> tuple[float, float]:
    """(items/s, client CPU µs per item) of one writer task on the batch or the guarded path."""
    import pyarrow as pa

    from loaders.dynamodb.writer import write_batches

    settings = DynamoSettings(
        table="bench", region="us-east-1", endpoint_url=url, mode=mode, units_per_task=1e9, max_attempts=3,
        retry_deadline_s=60, run_id="bench", conditional_threads=threads,
    )  # fmt: skip
    batches = [pa.RecordBatch.from_pylist(rows[k : k + 10_000]) for k in range(0, len(rows), 10_000)]
    wall, cpu = time.perf_counter(), time.process_time()
    (outcome,) = list(write_batches(iter(batches), settings=settings))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    summary = next(r for r in outcome.to_pylist() if r["kind"] == "summary")
    assert summary["written"] == len(rows), summary
    return len(rows) / wall, cpu / len(rows) * 1e6


def batch_writer_ceiling(url: str, rows: list[dict[str, Any]]) -> float:
    """Items/s of boto3's ``Table.batch_writer`` (one thread) on the same endpoint and items."""
    items = [build_item(r, "bench") for r in rows]
    table = boto3.resource("dynamodb", endpoint_url=url, region_name="us-east-1").Table("bench")
    wall = time.perf_counter()
    with table.batch_writer() as writer:
        for item in items:
            writer.put_item(Item=item)
    return len(items) / (time.perf_counter() - wall)


def ceiling(n: int, repeat: int) -> None:
    from benchmarks.fake_dynamodb import fake_dynamodb

    rows = ceiling_rows(n)
    best: dict[str, tuple[float, float]] = {}
    with fake_dynamodb() as url:
        task_ceiling(url, rows[:2000], "batch", 1)  # warm: imports, connections
        for _ in range(repeat):
            for name, mode, threads in (("batch", "batch", 1), ("guarded", "conditional", 8),
                                        ("guarded_1_thread", "conditional", 1)):  # fmt: skip
                rate, cpu = task_ceiling(url, rows, mode, threads)
                if rate > best.get(name, (0.0, 0.0))[0]:
                    best[name] = (rate, cpu)
            rate = batch_writer_ceiling(url, rows)
            if rate > best.get("batch_writer", (0.0, 0.0))[0]:
                best["batch_writer"] = (rate, 0.0)
    for name, (rate, cpu) in best.items():
        print(f"{name:<18} {rate:10,.0f} items/s" + (f", {cpu:6.0f} µs client CPU per item" if cpu else ""))
    print(f"BENCH dynamodb_task_ceiling_batch {best['batch'][0]:.0f} items/s")
    print(f"BENCH dynamodb_task_ceiling_guarded {best['guarded'][0]:.0f} items/s")
    print(f"BENCH dynamodb_task_batch_vs_batch_writer {best['batch'][0] / best['batch_writer'][0]:.2f} x")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=15_000)
    parser.add_argument("--budget", type=float, default=900.0, help="write units per second")
    parser.add_argument("--ceiling", action="store_true", help="one task against an endpoint that never throttles")
    parser.add_argument("--repeat", type=int, default=3, help="--ceiling: best of this many")
    args = parser.parse_args()
    if args.ceiling:
        ceiling(args.items, args.repeat)
        return
    from benchmarks.fake_dynamodb import fake_dynamodb

    with tempfile.TemporaryDirectory() as tmp, fake_dynamodb() as fast:
        moto = Moto(Path(tmp) / "moto", free_port())
        moto.start()
        spark = local_spark(shuffle_partitions=2, driver_memory="2g")
        try:
            mine = ours(spark, moto, args.items, args.budget, tmp)
            guarded = ours(spark, moto, args.items, args.budget, tmp, mode="conditional")
            theirs = batch_writer(spark, moto, args.items, args.budget)
            mine_fast = ours(spark, moto, args.items, args.budget, tmp, fast=fast)
            guarded_fast = ours(spark, moto, args.items, args.budget, tmp, mode="conditional", fast=fast)
        finally:
            spark.stop()
            moto.stop()
    runs = (("loaders.dynamodb", mine), ("  guarded PutItem", guarded), ("boto3 batch_writer", theirs),
            ("fast: loaders", mine_fast), ("fast: guarded", guarded_fast))  # fmt: skip
    for name, r in runs:
        print(
            f"{name:<20} {r['units_per_s']:8.1f} units/s over {r['seconds']:.1f} s, "
            f"utilization {r['utilization']:.3f}, "
            f"peak 10 s offered {r['peak_offered_10s']:.3f} / accepted {r['peak_accepted_10s']:.3f} of the budget, "
            f"lost {r['lost']}, throttled {r['throttled']}, unprocessed {r['unprocessed']}"
        )
    for name, r in runs[:2] + runs[3:]:
        print(f"{name}: written {r['written']}, failed {r['failed']}, retries {r['retries']}")
    print(f"BENCH dynamodb_utilization {mine['utilization']:.3f} ratio")
    print(f"BENCH dynamodb_guarded_utilization {guarded['utilization']:.3f} ratio")
    # the same two writers where the endpoint behind the throttling proxy is not the limit (moto answers a
    # PutItem per item in Python, on the cores the writers and the proxy share)
    print(f"BENCH dynamodb_utilization_fast_endpoint {mine_fast['utilization']:.3f} ratio")
    print(f"BENCH dynamodb_guarded_utilization_fast_endpoint {guarded_fast['utilization']:.3f} ratio")
    print(f"BENCH dynamodb_vs_batch_writer {mine['units_per_s'] / theirs['units_per_s']:.2f} x")


if __name__ == "__main__":
    main()
