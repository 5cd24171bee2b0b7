"""Cost of the great-expectations gate against one hand-written aggregation pass computing the same checks.

    python benchmarks/quality.py [--rows 2000000] [--repeat 3]

Both run in this process on the same persisted clean-shaped DataFrame (the gate runs on the persisted clean
set in the job too): the job's suite (conf/quality/reservations_suite.yaml with conf/base.yaml's rules)
through ``pipeline.quality.run_suite`` (results JSON and Data Docs included), and one ``agg`` counting the
violations of every expectation plus the duplicate keys. Prints
``BENCH quality_gate_vs_one_pass <ratio> x`` (goal <= 1.2) for a passing suite, and, for information, the
cost of a failing one (which adds the detail pass for the failed expectations).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TZ", "UTC")
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

import yaml
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from benchmarks._common import best_seconds, local_spark
from pipeline.config import CONF_DIR, RulesConfig
from pipeline.quality import load_suite, run_suite

STATUSES = ["CONFIRMED", "CANCELLED", "NO_SHOW", "IN_HOUSE", "CHECKED_OUT", "WAITLISTED"]


def clean_set(spark: SparkSession, rows: int) -> DataFrame:
    """The clean set's shape: one row per reservation, keys unique, values valid."""
    i = F.col("id")
    return spark.range(rows).select(
        F.concat(F.lit("H"), F.lpad((i % 7500).cast("string"), 5, "0")).alias("property_code"),
        (F.lit(1_000_000_000) + i).cast("string").alias("confirmation_no"),
        F.element_at(F.array(*[F.lit(s) for s in STATUSES]), (i % 6 + 1).cast("int")).alias("status"),
        (F.lit("2025-01-01").cast("timestamp") + F.make_interval(secs=(i % 10_000_000).cast("int"))).alias(
            "last_modified"
        ),
        F.when(i % 50 == 0, "HTNG").otherwise("EDW").alias("source"),
        F.date_add(F.lit("2025-01-01").cast("date"), (i % 700).cast("int")).alias("arrival_date"),
        (i % 14 + 1).cast("int").alias("nights"),
        (i % 4 + 1).cast("int").alias("adults"),
        (i % 3).cast("int").alias("children"),
        ((i % 100_000) / 100).cast("decimal(12,2)").alias("total_amount"),
        F.element_at(F.array(F.lit("EUR"), F.lit("USD"), F.lit("GBP")), (i % 3 + 1).cast("int")).alias("currency"),
        F.when(i % 5 == 0, None).otherwise(F.lpad((i % 10_000).cast("string"), 4, "0")).alias("card_last4"),
        F.sha2(i.cast("string"), 256).alias("email_hash"),
    )


def one_pass(df: DataFrame, suite: dict) -> dict[str, int]:
    """Every expectation of the suite as one violation count, in a single aggregation (keys: distinct count)."""
    checks: list[Column] = []
    for n, exp in enumerate(suite["expectations"]):
        kw = exp["kwargs"]
        kind = exp["type"]
        if kind == "expect_compound_columns_to_be_unique":
            cols = kw["column_list"]
            checks.append((F.count(F.lit(1)) - F.countDistinct(*cols)).alias(f"c{n}"))
            continue
        col = F.col(kw["column"])
        if kind == "expect_column_values_to_not_be_null":
            bad = col.isNull()
        elif kind == "expect_column_values_to_match_regex":
            bad = col.isNotNull() & ~col.rlike(kw["regex"])
        elif kind == "expect_column_values_to_be_in_set":
            bad = col.isNotNull() & ~col.isin(kw["value_set"])
        elif kind == "expect_column_values_to_be_between":
            lo, hi = kw.get("min_value"), kw.get("max_value")
            bad = F.lit(False)
            if lo is not None:
                bad = bad | (col < F.lit(lo).cast(df.schema[kw["column"]].dataType))
            if hi is not None:
                bad = bad | (col > F.lit(hi).cast(df.schema[kw["column"]].dataType))
            bad = col.isNotNull() & bad
        else:
            raise ValueError(kind)
        checks.append(F.sum(bad.cast("int")).alias(f"c{n}"))
    row = df.agg(*checks).first()
    assert row is not None
    return row.asDict()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    spark = local_spark(shuffle_partitions=4, driver_memory="4g")
    raw = yaml.safe_load((CONF_DIR / "base.yaml").read_text(encoding="utf-8"))
    rules = RulesConfig.model_validate(raw["quality"]["rules"]).model_dump()
    suite = load_suite(CONF_DIR / raw["quality"]["suite"], rules)
    df = clean_set(spark, args.rows).persist()
    print(f"# {df.count():,} clean rows persisted; {len(suite['expectations'])} expectations")
    violations = one_pass(df, suite)
    assert not any(violations.values()), violations
    out = Path(tempfile.mkdtemp(prefix="bench-quality-"))

    t_pass = best_seconds(lambda: one_pass(df, suite), args.repeat)

    def gate(name: str, definition: dict) -> None:
        outcome = run_suite(df, definition, out_dir=str(out / name), run_id=name)
        assert outcome.success is (name == "passing"), outcome.as_dict()

    t_gate = best_seconds(lambda: gate("passing", suite), args.repeat)
    failing = {**suite, "expectations": [*suite["expectations"], {"type": "expect_column_values_to_be_between",
               "kwargs": {"column": "nights", "min_value": 1, "max_value": 7}}]}  # fmt: skip
    t_failing = best_seconds(lambda: gate("failing", failing), args.repeat)
    print(f"# best of {args.repeat}: one aggregation pass {t_pass:.2f} s, GX gate {t_gate:.2f} s,"
          f" GX gate with one failure (details pass) {t_failing:.2f} s")  # fmt: skip
    print(f"BENCH quality_one_pass_rows_per_s {args.rows / t_pass:.0f} rows/s")
    print(f"BENCH quality_gate_rows_per_s {args.rows / t_gate:.0f} rows/s")
    print(f"BENCH quality_gate_vs_one_pass {t_gate / t_pass:.2f} x")
    print(f"BENCH quality_gate_failing_vs_one_pass {t_failing / t_pass:.2f} x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
