"""Reconcile a run: does each target hold what the run's manifest says was loaded, hotel by arrival month?

The run left the keys it sent to the targets (``runs/<id>/loaded/``: key, arrival month, last_modified). The
executors look every one of them up, in batches: Aurora by COPYing them into a temp table joined to
``reservations``, DynamoDB by BatchGetItem (only ``last_modified`` read). Per hotel and arrival month and
target: ``present`` (stored with that last_modified or a newer one, the live system's), ``stale`` (stored
older than loaded), ``missing``, and ``regressed``: stored older than a version that an *earlier* run of the
same output root loaded and wrote in full (status ``succeeded``, the target among its targets). That is how a
window backfill that went back in time shows, even though its own keys match. Any stale, missing or regressed
reservation, or a key file that does not add up to the manifest's ``reservations_loaded``, is a mismatch.
Only aggregates reach the driver. (Reconcile does not read the extract again: a version that no run has
loaded is not compared.)
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from loaders import aurora as aurora_loader
from loaders import dynamodb as dynamodb_loader
from loaders.outcomes import CHECK_COLUMNS, CHECK_SCHEMA
from pipeline import log_context, progress
from pipeline.config import Config, ConfigError
from pipeline.report import write_report
from pipeline.targets import target_settings
from storage.runfolder import RunFolder, join, list_folders, list_names, read_text

log = logging.getLogger("migration")
COUNTS = CHECK_COLUMNS[2:]
SHOWN = 50  # mismatching hotel-months printed and written per target (all are counted)


@dataclass
class Verdict:
    run_id: str
    passed: bool
    reservations_loaded: int
    keys: int
    totals: dict[str, dict[str, int]] = field(default_factory=dict)
    mismatches: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    mismatching_hotel_months: dict[str, int] = field(default_factory=dict)
    earlier_runs: dict[str, list[str]] = field(default_factory=dict)  # target -> runs compared for regressions
    checked_at: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def run_manifest(cfg: Config, run_id: str) -> dict[str, Any]:
    """The manifest of the run to reconcile; a ConfigError when there is none, or the run sent nothing to the
    targets. No Spark: the job asks before it starts a session."""
    text = read_text(RunFolder(cfg.output.root, run_id).sub("manifest.json"))
    if text is None:
        raise ConfigError(f"--run-id: no manifest for run {run_id!r} under {cfg.output.root}")
    manifest: dict[str, Any] = json.loads(text)
    if not manifest.get("loaded_keys"):
        raise ConfigError(f"--run-id: run {run_id!r} sent nothing to the targets (status {manifest.get('status')})")
    return manifest


def reconcile(spark: SparkSession, cfg: Config, run_id: str, manifest: dict[str, Any]) -> Verdict:
    """``manifest``: the run's, as :func:`run_manifest` read it."""
    log_context.set_run(run_id)
    folder = RunFolder(cfg.output.root, run_id)
    keys = spark.read.parquet(manifest["loaded_keys"])
    verdict = Verdict(
        run_id=run_id,
        passed=True,
        reservations_loaded=int(manifest["counts"]["reservations_loaded"]),
        keys=keys.count(),
        checked_at=datetime.now(UTC).isoformat(),
    )
    if verdict.keys != verdict.reservations_loaded:
        verdict.passed = False
    earlier = _earlier_runs(cfg, run_id, manifest)
    timer = progress.StageTimer(spark, cfg.progress.interval_s)
    for target in manifest["selection"]["targets"]:
        runs = sorted(r for r, m in earlier.items() if _same_target(m, manifest, target))
        verdict.earlier_runs[target] = runs
        checked = _check(_with_earlier_versions(keys, [earlier[r]["loaded_keys"] for r in runs]), cfg, target)
        checked = checked.persist()
        with timer.stage(f"reconcile_{target}"):
            sums = checked.agg(*[F.coalesce(F.sum(c), F.lit(0)).alias(c) for c in COUNTS]).first()
        assert sums is not None
        verdict.totals[target] = {c: int(sums[c]) for c in COUNTS}
        bad = checked.filter((F.col("stale") > 0) | (F.col("missing") > 0) | (F.col("regressed") > 0))
        verdict.mismatching_hotel_months[target] = bad.count()
        verdict.mismatches[target] = [
            r.asDict() for r in bad.orderBy("property_code", "arrival_month").limit(SHOWN).collect()
        ]
        checked.unpersist()
        if verdict.mismatching_hotel_months[target]:
            verdict.passed = False
    timer.close()
    folder.write_json("reconcile.json", verdict.as_dict())
    write_report(folder, manifest)  # the report shows the verdict from now on
    if "aurora" in manifest["selection"]["targets"]:
        aurora_loader.record_reconcile(cfg.aurora.conninfo(), run_id, verdict.as_dict())
    return verdict


def _earlier_runs(cfg: Config, run_id: str, manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The manifests of the runs (of this output root) that started before this one and wrote every key they
    loaded: what this run's keys may not have gone back behind."""
    runs = {}
    for other in list_folders(join(cfg.output.root, "runs")):
        text = read_text(RunFolder(cfg.output.root, other).sub("manifest.json")) if other != run_id else None
        earlier = json.loads(text) if text else None
        if (
            earlier is not None
            and earlier.get("status") == "succeeded"
            and earlier.get("loaded_keys")
            and not earlier.get("dry_run")
            and earlier.get("started_at", "") < manifest["started_at"]
            and list_names(earlier["loaded_keys"])  # a run folder pruned since is passed over, not a crash
        ):
            runs[other] = earlier
    return runs


_TARGET_IDENTITY = {"dynamodb": ("table", "region"), "aurora": ("dsn", "host", "port", "database")}


def _same_target(earlier: dict[str, Any], manifest: dict[str, Any], target: str) -> bool:
    """Did the earlier run write to this run's table or database?"""
    if target not in earlier["selection"]["targets"]:
        return False
    mine, theirs = manifest["config"].get(target, {}), earlier.get("config", {}).get(target, {})
    return all(mine.get(k) == theirs.get(k) for k in _TARGET_IDENTITY[target])


def _with_earlier_versions(keys: DataFrame, earlier_keys: list[str]) -> DataFrame:
    """``keys`` with ``earlier_last_modified``: the newest version of the key that those runs loaded (null:
    none did)."""
    if not earlier_keys:
        return keys.withColumn("earlier_last_modified", F.lit(None).cast("timestamp"))
    earlier = (
        keys.sparkSession.read.parquet(*earlier_keys)
        .groupBy("property_code", "confirmation_no")
        .agg(F.max("last_modified").alias("earlier_last_modified"))
    )
    return keys.join(earlier, ["property_code", "confirmation_no"], "left")


def _check(keys: DataFrame, cfg: Config, target: str) -> DataFrame:
    """Per (hotel, arrival month): the counts of COUNTS for one target."""
    settings = target_settings(cfg, "reconcile")
    if target == "aurora":
        parts = keys.repartition(cfg.aurora.max_connections, F.xxhash64("property_code", "confirmation_no"))
        body: Any = partial(aurora_loader.check_batches, conninfo=settings.aurora.conninfo)
    else:
        parts = keys
        body = partial(dynamodb_loader.check_batches, settings=settings.dynamodb)
    per_task = parts.mapInArrow(body, CHECK_SCHEMA)
    return per_task.groupBy("property_code", "arrival_month").agg(*[F.sum(c).alias(c) for c in COUNTS])


def render(verdict: Verdict) -> str:
    lines = [
        f"reconcile {verdict.run_id}: {'PASSED' if verdict.passed else 'MISMATCH'}",
        f"keys recorded {verdict.keys:,}; manifest reservations_loaded {verdict.reservations_loaded:,}",
        "",
        f"{'target':<10}{'loaded':>12}{'present':>12}{'newer':>10}{'stale':>10}{'missing':>10}{'regressed':>11}",
    ]
    for target, t in verdict.totals.items():
        widths = (12, 12, 10, 10, 10, 11)
        lines.append(f"{target:<10}" + "".join(f"{t[c]:>{w},}" for c, w in zip(COUNTS, widths, strict=True)))
    for target, rows in verdict.mismatches.items():
        if not rows:
            continue
        lines += ["", f"{target}: {verdict.mismatching_hotel_months[target]:,} hotel-month(s) do not match"]
        lines.append(
            f"  {'hotel':<12}{'month':<9}{'loaded':>8}{'present':>9}{'stale':>7}{'missing':>9}{'regressed':>11}"
        )
        for r in rows:
            lines.append(
                f"  {r['property_code']:<12}{r['arrival_month']:<9}{r['loaded']:>8}{r['present']:>9}"
                f"{r['stale']:>7}{r['missing']:>9}{r['regressed']:>11}"
            )
    for target, runs in verdict.earlier_runs.items():
        if runs:
            lines.append(f"{target}: regressions checked against {len(runs)} earlier run(s): {', '.join(runs[-5:])}")
    return "\n".join(lines)
