"""The migration, stage by stage: preflight -> extract -> classify -> quarantine -> protect -> gate -> (plan |
load) -> manifest. Each stage is a module of its own and returns a frozen value; the manifest is assembled
from those values at the end."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from pyspark.sql import SparkSession

from pipeline import held_back, log_context
from pipeline.classify import classify
from pipeline.config import Config, ConfigError
from pipeline.extract import extract
from pipeline.gate import gate
from pipeline.load import load_targets, record_loaded_keys, write_stats
from pipeline.manifest import RunResult, fail, finish, version_counts
from pipeline.metrics import Metrics
from pipeline.options import TARGETS, RunOptions
from pipeline.plan import plan
from pipeline.preflight import TargetCheck, data_key, preflight
from pipeline.progress import StageTimer
from pipeline.protect import protect
from pipeline.quarantine import write_quarantine
from pipeline.resume import open_record, with_dynamodb_start, with_inputs
from pipeline.slots import task_slots
from pipeline.targets import target_settings
from readers.edw import InputError
from storage.runfolder import RunFolder

log = logging.getLogger("migration")


def run(spark: SparkSession, cfg: Config, opts: RunOptions, *, redacted_config: dict[str, Any],
        targets_checked: TargetCheck) -> RunResult:  # fmt: skip
    """The run; one that an exception ends still writes its manifest (status ``failed``, the stage, the
    exception, the counts so far) and its report before the exception goes on to the job's exit (a config or
    input error, exit 2, writes none). ``targets_checked``: :func:`pipeline.preflight.check_targets`' answer,
    from before the session."""
    now = datetime.now(UTC)
    log_context.set_run(opts.run_id)
    folder = RunFolder(cfg.output.root, opts.run_id)
    metrics = Metrics.from_config(cfg, opts.run_id)
    timer = StageTimer(spark, cfg.progress.interval_s, folder=folder, metrics=metrics)
    manifest: dict[str, Any] = {
        "run_id": opts.run_id, "status": "running", "env": cfg.env, "code_version": opts.code_version,
        "started_at": now.isoformat(), "selection": opts.selection(), "dry_run": opts.dry_run,
        "resumed": opts.resume, "config": redacted_config, "timings_s": timer.timings,
    }  # fmt: skip
    try:
        result = _stages(spark, cfg, opts, manifest, folder=folder, timer=timer, now=now, checked=targets_checked)
    except (ConfigError, InputError):  # one line on stderr, exit 2, no stack trace, and no manifest: a refused
        timer.close()  # --resume must not overwrite the manifest of the attempt it refuses to go on with
        raise
    except BaseException as exc:
        stage = log_context.stage_of(exc) or "run"
        log.error("run %s failed in stage %s: %s", opts.run_id, stage, type(exc).__name__, exc_info=True,
                  extra={"stage": stage})  # fmt: skip
        timer.close(gate_passed=(manifest.get("quality") or {}).get("passed"))
        counts = manifest.get("counts")
        if counts is not None and counts.get("targets") is not None:  # what the writers had reported
            latest = timer.latest()
            for target, t in counts["targets"].items():
                t.update({k: int(latest.get(target, {}).get(k, 0)) for k in ("written", "kept_newer", "failed")})
        try:
            conninfo = cfg.aurora.conninfo_if_set()
        except Exception:  # (a malformed DSN may be what failed the run: the manifest is still written)
            conninfo = None
        fail(manifest, exc, stage=stage, folder=folder, opts=opts, conninfo=conninfo, env=cfg.env)
        raise
    timer.close(gate_passed=(manifest.get("quality") or {}).get("passed"))
    return result


def _stages(spark: SparkSession, cfg: Config, opts: RunOptions, manifest: dict[str, Any], *, folder: RunFolder,
            timer: StageTimer, now: datetime, checked: TargetCheck) -> RunResult:  # fmt: skip
    targets = target_settings(cfg, opts.run_id, folder)
    writes_aurora = "aurora" in opts.targets and not opts.dry_run

    with timer.stage("preflight"):
        resolved = task_slots(spark, cfg)
        slots = resolved.count
        (log.info if resolved.reliable else log.warning)("task slots: %d (%s)", slots, resolved.source)
        manifest["task_slots"] = {"count": slots, "source": resolved.source}
        record = open_record(cfg, opts, folder, manifest["config"], slots=slots, started_at=now)
        started_at = record.started_at or now  # a resumed attempt decides as its first attempt did
        planned_end = started_at + timedelta(seconds=cfg.load.planned_duration_s)
        ready = preflight(spark, cfg, checked)
        record = with_dynamodb_start(folder, record, checked.dynamodb_empty, resume=opts.resume)
        key = data_key(cfg)
        pii = key.manifest_entry()
    with timer.stage("extract"):
        extracted = extract(spark, cfg, opts)
        record = with_inputs(folder, record, extracted.fingerprints, resume=opts.resume)
    with timer.stage("transform"):
        registry = held_back.registry(spark, targets.aurora.conninfo, folder, required=writes_aurora,
                                      resume=opts.resume)  # fmt: skip
        classified = classify(extracted, cfg, opts, started_at=started_at, held_df=registry)
    # the counts so far, which a failed run's manifest shows; the run's end replaces them
    manifest["counts"] = version_counts(classified.counts, targets=opts.targets, reservations_loaded=0,
                                        target_counts={})  # fmt: skip
    with timer.stage("quarantine"):
        write_quarantine(classified.versions_df, classified.orphans_df, folder,
                         rules=cfg.quality.rules.parameters(started_at))  # fmt: skip
    with timer.stage("protect"):
        protected = protect(classified.versions_df, data_key=key, hmac_key=cfg.pii.hmac_key_bytes(),
                            chunks=record.chunks, live_from=planned_end)  # fmt: skip
        del key  # the driver keeps no reference to the plaintext key beyond this stage
    manifest["counts"]["reservations_loaded"] = protected.count
    with timer.stage("gate"):
        verdict = gate(classified.counts, protected.reservations_df, protected.count,
                       suite_definition=ready.suite_definition, max_fraction=cfg.quality.max_quarantine_fraction,
                       folder=folder, run_id=opts.run_id)  # fmt: skip

    input_files = dict(extracted.input_files)
    if classified.htng_files_read is not None:
        files = input_files["htng"]["files"]
        input_files["htng"] = {**input_files["htng"], "read": classified.htng_files_read,
                               "empty": files - classified.htng_files_read}  # fmt: skip
    manifest.update(chunks=record.chunks, pii=pii, input_files=input_files,
                    input_partitions=extracted.input_partitions, quality=verdict.as_dict())  # fmt: skip

    def done(status: str, exit_code: int, *, loaded: int = 0, outcomes: dict[str, Any] | None = None) -> RunResult:
        counts = version_counts(classified.counts, targets=opts.targets, reservations_loaded=loaded,
                                target_counts=outcomes or {})  # fmt: skip
        manifest["counts"] = counts
        return finish(manifest, folder=folder, opts=opts, conninfo=targets.aurora.conninfo or None, env=cfg.env,
                      status=status, exit_code=exit_code)  # fmt: skip

    if not verdict.passed:
        log.error("quality gate failed: %s", verdict.reason)
        return done("gate_failed", 3)
    if opts.dry_run:
        with timer.stage("plan"):
            versions = sum(classified.counts.by_bucket["input"].values())
            manifest["plan"] = plan(protected.reservations_df, protected.count, versions, cfg=cfg, opts=opts,
                                    targets=targets, timings=timer.timings, slots=slots)  # fmt: skip
        return done("succeeded", 0, loaded=protected.count)

    with timer.stage("record_keys"):  # what jobs.reconcile checks the targets against; the held-back registry
        manifest["loaded_keys"] = record_loaded_keys(protected.reservations_df, folder)
        if registry is not None:
            recorded = held_back.record(classified.versions_df, targets.aurora.conninfo, opts.run_id,
                                        connections=cfg.aurora.max_connections)  # fmt: skip
            manifest["held_back"] = {"registry": registry.count(), "recorded": recorded}
    with log_context.in_stage("load"):  # the two loads' own stages run on threads of their own
        loads = load_targets(protected.reservations_df, protected.count, record=record, key=pii, cfg=cfg, opts=opts,
                             targets=targets, folder=folder, slots=slots, timer=timer)  # fmt: skip
    manifest["write_stats"] = {
        name: {**write_stats(t.stats, timer.timings[f"load_{name}"]), **t.details, **t.window}
        for name, t in loads.items()
    }
    outcomes = {name: {"written": t.stats.written, "kept_newer": t.stats.kept_newer, "failed": t.stats.failed}
                for name, t in loads.items()}  # fmt: skip
    failed = any(t.stats.failed for t in loads.values())
    # cleared only when both targets now hold the newer version (a one-target run leaves the other exposed)
    both = set(opts.targets) == set(TARGETS)
    if registry is not None and both and not failed and manifest["held_back"]["registry"]:
        cleared = held_back.clear(protected.reservations_df, registry, targets.aurora.conninfo, opts.run_id,
                                  connections=cfg.aurora.max_connections)  # fmt: skip
        manifest["held_back"]["cleared"] = cleared
    return done("load_incomplete" if failed else "succeeded", 4 if failed else 0, loaded=protected.count,
                outcomes=outcomes)  # fmt: skip
