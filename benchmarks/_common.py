"""What the benchmarks share: a local Spark session shaped like the job's, and best-of-N timing."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def local_spark(*, shuffle_partitions: int, driver_memory: str, conf: dict[str, str] | None = None) -> Any:
    from pyspark.sql import SparkSession

    from jobs.jars import udf_jar
    from pipeline.functions import register_functions

    conf = {**shipped_conf(), **(conf or {})}
    conf["spark.jars"] = ",".join(j for j in (conf.get("spark.jars"), str(udf_jar())) if j)  # the job's functions
    builder = SparkSession.builder
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = (
        builder.master("local[2]")
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", driver_memory)
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    register_functions(spark)
    return spark


def shipped_conf() -> dict[str, str]:
    """The Spark settings conf/base.yaml ships (JIT options, partitioning rules, time zone, parser policy)."""
    from pathlib import Path

    import yaml

    base = yaml.safe_load((Path(__file__).resolve().parent.parent / "conf" / "base.yaml").read_text())
    return {k: str(v) for k, v in base["spark"]["conf"].items()}


def best_seconds(fn: Callable[[], object], repeat: int) -> float:
    """The fastest of ``repeat`` runs (the others carry noise: GC, page cache, a neighbour on the VM)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def protected_frame(spark: Any, n: int) -> Any:
    """Protected canonical reservations of about 1 KB (three room stays, encrypted-size guest fields)."""
    from pyspark.sql import functions as F

    i = F.col("id")
    stays = [F.struct(
        F.lit(line).alias("line_no"), F.lit("KNG").alias("room_type"), F.lit("BAR").alias("rate_plan"),
        F.date_add(F.lit("2026-03-01").cast("date"), (i % 300).cast("int")).alias("start_date"),
        F.date_add(F.lit("2026-03-04").cast("date"), (i % 300).cast("int")).alias("end_date"),
        F.lit(189.5).cast("decimal(12,2)").alias("nightly_rate"), F.lit("EUR").alias("currency"),
    ) for line in (1, 2, 3)]  # fmt: skip
    blob = F.unhex(F.sha2(i.cast("string"), 512))  # 64 bytes, like a GCM ciphertext of a short name
    return spark.range(n).select(
        F.concat(F.lit("H"), F.lpad((i % 500).cast("string"), 5, "0")).alias("property_code"),
        (F.lit(5_000_000_000) + i).cast("string").alias("confirmation_no"),
        F.lit("CONFIRMED").alias("status"),
        F.lit("2025-06-01 10:00:00").cast("timestamp").alias("created_at"),
        F.lit("2025-07-01 10:00:00").cast("timestamp").alias("last_modified"),
        F.lit("EDW").alias("source"),
        i.alias("source_seq"),
        F.date_add(F.lit("2026-03-01").cast("date"), (i % 300).cast("int")).alias("arrival_date"),
        F.date_add(F.lit("2026-03-04").cast("date"), (i % 300).cast("int")).alias("departure_date"),
        F.lit(3).alias("nights"),
        F.lit(2).alias("adults"),
        F.lit(0).alias("children"),
        F.struct(
            blob.alias("first_name"),
            blob.alias("last_name"),
            F.concat(blob, blob).alias("email"),
            blob.alias("phone"),
            F.lit("PRT").alias("country"),
        ).alias("guest"),
        F.lit("VI").alias("card_type"),
        F.lit("1111").alias("card_last4"),
        F.lit(568.5).cast("decimal(12,2)").alias("total_amount"),
        F.lit("EUR").alias("currency"),
        F.lit("OTA").alias("channel"),
        F.array(*stays).alias("room_stays"),
        F.sha2(i.cast("string"), 256).alias("email_hash"),
        F.lit("0123abcd4567ef89").alias("pii_key"),  # the run's data key reference (pipeline.pii_keys)
        F.lit(False).alias("is_live"),
    )


def rule_parameters() -> Any:
    """The quality rules of conf/ (the dev env's, with placeholder environment and secrets)."""
    import base64

    from pipeline.config import load_config

    environ = {"MIGRATION_BUCKET": "unused", "AURORA_HOST": "unused"}
    cfg, _ = load_config("dev", environ=environ, resolve_secret=lambda ref: base64.b64encode(b"0" * 32).decode())
    return cfg.quality.rules.parameters()


def edw_extract(work: str, reservations: int) -> Any:
    """A generated EDW extract (Parquet, no archive) under ``work/data-N``, reused while it exists."""
    from pathlib import Path

    data = Path(work) / f"data-{reservations}"
    if not (data / "ground_truth.json").is_file():
        from sample.generator import generate
        from sample.options import Options

        started = time.monotonic()
        generate(Options(data, reservations, 5, "parquet", 0.001, 0.03, 8, htng_fraction=0.0))
        print(f"# generated {reservations:,} reservations in {time.monotonic() - started:.0f} s")
    return data


def classified_frame(spark: Any, data: Any) -> Any:
    """The job's transform of a generated extract: extract -> normalize -> room stays -> rules -> dedupe."""
    return transform_steps(spark, data)[-1][1]()[0]


def transform_steps(spark: Any, data: Any) -> list[tuple[str, Callable[[], list[Any]]]]:
    """The transform of :func:`classified_frame` cut after each step, cumulatively, in the order
    :func:`transforms.classify_versions` runs them: (step, builder of the frames that step evaluates); the last
    two are the whole transform (the last one's cost is writing it)."""
    from readers.edw import read_properties, read_reservations, read_room_stays
    from transforms import (
        classify_versions,
        group_room_stays,
        to_canonical_properties,
        to_edw_versions,
        to_room_stay_lines,
    )
    from transforms.classify import rank_versions
    from transforms.room_stays import with_room_stays_of_ranked

    rules = rule_parameters()

    def props() -> Any:
        return to_canonical_properties(read_properties(spark, str(data / "reference/properties"), fmt="parquet"))

    def versions() -> Any:
        raw = read_reservations(spark, str(data / "edw/reservations"), fmt="parquet")
        return to_edw_versions(raw, props(), rules=rules)

    def grouped() -> Any:
        lines = to_room_stay_lines(read_room_stays(spark, str(data / "edw/room_stays"), fmt="parquet"), props())
        return group_room_stays(lines, currencies=rules.currencies)

    def ranked() -> Any:
        return rank_versions(versions(), grouped(), rules=rules)

    def classified() -> Any:
        return classify_versions(versions(), grouped(), rules=rules)

    return [
        ("read + normalize", lambda: [versions()]),
        ("+ room-stay lines grouped", lambda: [versions(), grouped()]),
        ("+ latest-wins window", lambda: [ranked(), grouped()]),
        ("+ room stays attached", lambda: [with_room_stays_of_ranked(ranked(), grouped())]),
        ("+ rules and outcome", lambda: [classified()]),
        ("+ Parquet write", lambda: [classified()]),
    ]
