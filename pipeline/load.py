"""Load: the keys the run sends (what reconcile checks), then each target through its loader's entry points.

Each call returns a :class:`TargetLoad` (the summed task outcome and the target's details for the manifest).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from loaders import aurora as aurora_loader
from loaders import dynamodb as dynamodb_loader
from loaders.aurora import AuroraSettings
from loaders.chunks import Markers
from loaders.outcomes import WriteStats
from pipeline.config import Config, ConfigError
from pipeline.options import RunOptions
from pipeline.progress import StageTimer
from pipeline.resume import RunRecord, with_aurora_path
from pipeline.targets import TargetSettings
from storage.runfolder import RunFolder

log = logging.getLogger("migration")


@dataclass(frozen=True)
class TargetLoad:
    stats: WriteStats
    details: dict[str, Any]
    window: dict[str, str] = field(default_factory=dict)  # started_at, finished_at (UTC ISO): when it ran


def load_targets(
    protected_df: DataFrame,
    total: int,
    *,
    record: RunRecord,
    key: dict[str, Any],
    cfg: Config,
    opts: RunOptions,
    targets: TargetSettings,
    folder: RunFolder,
    slots: int,
    timer: StageTimer,
) -> dict[str, TargetLoad]:
    """Both targets at once: each load is its own Spark job from its own driver thread, in its own FAIR
    scheduler pool, over the same persisted clean set. One failing (an exception) does not stop the other;
    the first exception is raised once both have ended."""
    budget = None
    if "dynamodb" in opts.targets and cfg.dynamodb.mode != "import":  # refused before either load starts
        budget = dynamodb_budget(cfg, targets)
        check_reachable(*budget, cfg, slots=slots, chunks=record.chunks)
    loads: dict[str, Callable[[], TargetLoad]] = {}
    if "dynamodb" in opts.targets:
        loads["dynamodb"] = partial(load_dynamodb, protected_df, record=record, key=key, cfg=cfg, opts=opts,
                                    targets=targets, folder=folder, slots=slots, resolved=budget)  # fmt: skip
    if "aurora" in opts.targets:
        loads["aurora"] = partial(load_aurora, protected_df, record=record, key=key, cfg=cfg, opts=opts,
                                  targets=targets, folder=folder)  # fmt: skip
    spark = protected_df.sparkSession

    def one(name: str) -> TargetLoad:
        spark.sparkContext.setLocalProperty("spark.scheduler.pool", name)
        started = datetime.now(UTC).isoformat()
        with timer.stage(f"load_{name}", counters=folder.sub("_progress", name), total=total):
            result = loads[name]()
        return replace(result, window={"started_at": started, "finished_at": datetime.now(UTC).isoformat()})

    with ThreadPoolExecutor(max_workers=max(1, len(loads)), thread_name_prefix="load") as pool:
        futures = {name: pool.submit(one, name) for name in loads}
        wait(list(futures.values()))
    failures = {name: f.exception() for name, f in futures.items() if f.exception() is not None}
    for name, exc in failures.items():
        log.error("load_%s failed: %s", name, type(exc).__name__)
    if failures:
        raise next(iter(failures.values()))  # type: ignore[misc]
    return {name: f.result() for name, f in futures.items()}


def record_loaded_keys(protected_df: DataFrame, folder: RunFolder) -> str:
    """``runs/<id>/loaded/``: key, arrival month and version of every reservation sent (for jobs.reconcile)."""
    path = folder.sub("loaded")
    protected_df.select(
        "property_code",
        "confirmation_no",
        F.date_format("arrival_date", "yyyy-MM").alias("arrival_month"),
        "last_modified",
        "source_seq",
    ).write.mode("overwrite").parquet(path)
    return path


def dynamodb_budget(cfg: Config, targets: TargetSettings) -> tuple[float, str]:
    """The job's write budget (units/s) and where it comes from: the config, else the table."""
    if cfg.dynamodb.max_write_units is not None:
        return float(cfg.dynamodb.max_write_units), "dynamodb.max_write_units"
    client = dynamodb_loader.control_client(targets.dynamodb)
    return dynamodb_loader.resolve_budget(client, cfg.dynamodb.table, fraction=cfg.dynamodb.budget_fraction)


def writer_tasks_needed(budget: float, cfg: Config) -> int:
    """Writer tasks a budget needs at the measured per-task ceiling (``dynamodb.task_ceiling_units_per_s``)."""
    return max(1, math.ceil(budget / cfg.dynamodb.task_ceiling_units_per_s))


def check_reachable(budget: float, source: str, cfg: Config, *, slots: int, chunks: int) -> None:
    """A budget the run's writer tasks (one per chunk, at most the task slots at once) cannot reach is a
    config mistake: say so before writing, not after hours at a fraction of it."""
    writers = min(slots, chunks)
    needed = writer_tasks_needed(budget, cfg)
    if needed > writers:
        raise ConfigError(
            f"dynamodb.max_write_units: {budget:,.0f} units/s ({source}) needs {needed} writer tasks at"
            f" {cfg.dynamodb.task_ceiling_units_per_s:,.0f} units/s each (dynamodb.task_ceiling_units_per_s);"
            f" the run has {writers} (task slots {slots}, load.chunks {chunks}):"
            " set load.task_slots or lower the budget"
        )


def register_data_key(key: dict[str, Any], target: str, targets: TargetSettings) -> None:
    """The data key in the target's key registry, before any item or row that uses it is written."""
    if key["source"] != "kms":
        return
    if target == "dynamodb":
        dynamodb_loader.register_data_key(targets.dynamodb, key)
    else:
        aurora_loader.register_data_key(targets.aurora.conninfo, key, targets.aurora.run_id)
    log.info("pii: data key %s registered in %s", key["key_ref"], target)


def load_dynamodb(
    protected_df: DataFrame,
    *,
    record: RunRecord,
    key: dict[str, Any],
    cfg: Config,
    opts: RunOptions,
    targets: TargetSettings,
    folder: RunFolder,
    slots: int,
    resolved: tuple[float, str] | None,
) -> TargetLoad:
    """``resolved``: the budget (write units/s, where from), checked by :func:`load_targets` before either
    load started (None in import mode, which spends no write capacity)."""
    results_path = folder.sub("_write_results", "dynamodb")
    failed_path = folder.sub("failed_writes", "dynamodb")
    if cfg.dynamodb.mode == "import":
        assert cfg.dynamodb.import_s3_uri is not None  # preflight
        stats, details = dynamodb_loader.import_into_table(
            protected_df,
            settings=targets.dynamodb,
            key=key if key["source"] == "kms" else None,
            s3_uri=cfg.dynamodb.import_s3_uri,
            poll_seconds=cfg.dynamodb.import_poll_seconds,
            timeout_s=cfg.dynamodb.import_timeout_s,
            results_path=results_path,
            failed_path=failed_path,
        )
        return TargetLoad(stats, details)
    register_data_key(key, "dynamodb", targets)
    assert resolved is not None  # load_targets resolved it
    budget, source = resolved
    markers = Markers(folder.sub("chunks", "dynamodb"))
    done = markers.done() if opts.resume else {}
    # One task per chunk; the chunks still to write share the budget equally (by default there are as many
    # chunks as task slots: one wave, every task busy until the end).
    tasks = record.chunks
    at_once = max(1, min(slots, tasks - len(done)))
    # Unguarded batches only into a table that held no reservation when the run started (live hotels are
    # guarded whatever the mode): anything else may meet a stored version, which must not go back in time.
    # A resumed run is guarded throughout: another run may have written the table since its first attempt.
    mode = cfg.dynamodb.mode if record.dynamodb_empty and not opts.resume else "conditional"
    settings = replace(
        targets.dynamodb, mode=mode, units_per_task=budget / at_once, markers_uri=markers.folder, done=done
    )
    log.info(
        "dynamodb: budget %.0f write units/s (%s); %d chunks (%d done before), %d tasks at once, %.0f each, mode %s%s",
        budget, source, tasks, len(done), at_once, settings.units_per_task, cfg.dynamodb.mode,
        "" if mode == cfg.dynamodb.mode else " (every write guarded: the table held reservations at the start)",
    )  # fmt: skip
    stats = dynamodb_loader.load(
        dynamodb_loader.spread(protected_df, tasks=tasks),
        settings=settings,
        results_path=results_path,
        failed_path=failed_path,
    )
    details = {"mode": cfg.dynamodb.mode, "budget": round(budget, 1), "budget_source": source, "tasks": at_once,
               "table_empty_at_start": record.dynamodb_empty,
               "guarded": "every item" if mode == "conditional" else "live hotels"}  # fmt: skip
    return TargetLoad(stats, {**details, "chunks_skipped": len(done)})


def load_aurora(
    protected_df: DataFrame,
    *,
    record: RunRecord,
    key: dict[str, Any],
    cfg: Config,
    opts: RunOptions,
    targets: TargetSettings,
    folder: RunFolder,
) -> TargetLoad:
    register_data_key(key, "aurora", targets)
    conninfo = targets.aurora.conninfo
    markers = Markers(folder.sub("chunks", "aurora"))
    path = record.aurora_path  # a resumed initial load goes on as one (keys are still dropped)
    if path is None:
        try:
            path = aurora_loader.choose_path(conninfo, cfg.aurora.load_path)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if path == "initial":
            aurora_loader.prepare_initial(conninfo)
        record = with_aurora_path(folder, record, path)
    elif path == "initial" and opts.resume:  # skipped parts are trusted only if their rows are there
        try:
            dropped = aurora_loader.check_parts(
                conninfo, opts.run_id, replace(targets.aurora, attempt=record.attempt).parts_key
            )
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if dropped:  # the tables were emptied since: nothing the earlier attempt did counts any more
            log.warning("aurora: %d load part marker(s) of this run had no rows stored: loading them again", dropped)
            markers.clear()
            Markers(folder.sub("chunks", "aurora_live")).clear()
    done = markers.done() if opts.resume else {}
    details: dict[str, Any] = {"path": path, "connections": cfg.aurora.max_connections, "chunks_skipped": len(done)}
    log.info("aurora: %s load over %d connections; %d of %d chunks done before", path,
             cfg.aurora.max_connections, len(done), record.chunks)  # fmt: skip
    settings = replace(targets.aurora, path=path, attempt=record.attempt, markers_uri=markers.folder, done=done)
    if path != "initial":
        started = time.monotonic()
        stats = _aurora_pass(protected_df, settings, cfg, folder, "aurora")
        details["copy_seconds"] = round(time.monotonic() - started, 3)
        return TargetLoad(stats, details)
    # The initial path writes unguarded, keys dropped: only hotels that are not live (the live system may
    # write the others meanwhile). Live hotels follow through the guarded upsert once the keys are back.
    started = time.monotonic()
    try:
        stats = _aurora_pass(protected_df.filter(~F.col("is_live")), settings, cfg, folder, "aurora")
    finally:
        details["copy_seconds"] = round(time.monotonic() - started, 3)
        details.update(aurora_loader.finish_initial(conninfo))  # keys and indexes back whatever happened
    live_df = protected_df.filter(F.col("is_live"))
    if live_df.limit(1).count():
        live_markers = Markers(folder.sub("chunks", "aurora_live"))
        live = replace(settings, path="backfill", markers_uri=live_markers.folder, progress_prefix="live",
                       done=live_markers.done() if opts.resume else {})  # fmt: skip
        started = time.monotonic()
        live_stats = _aurora_pass(live_df, live, cfg, folder, "aurora_live_hotels")
        details["live_hotels"] = {"path": "backfill", **live_stats.as_dict(),
                                  "seconds": round(time.monotonic() - started, 3)}  # fmt: skip
        stats = stats + live_stats
    return TargetLoad(stats, details)


def _aurora_pass(df: DataFrame, settings: AuroraSettings, cfg: Config, folder: RunFolder, name: str) -> WriteStats:
    return aurora_loader.load_aurora(
        df,
        settings=settings,
        max_connections=cfg.aurora.max_connections,
        results_path=folder.sub("_write_results", name),
        failed_path=folder.sub("failed_writes", name),
    )


def write_stats(stats: WriteStats, stage_seconds: float) -> dict[str, Any]:
    """The summed task outcome plus the achieved rate: write units over the whole stage's wall time."""
    out = stats.as_dict()
    out["units_per_second"] = round(stats.write_units / stage_seconds, 1) if stage_seconds else None
    out["items_per_second"] = round(stats.written / stage_seconds, 1) if stage_seconds else None
    return out
