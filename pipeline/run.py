"""The migration: extract -> transform -> classify -> quarantine -> gate -> protect -> load -> manifest."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from loaders import aurora as aurora_loader
from loaders import dynamodb as dynamodb_loader
from loaders.chunks import Markers, chunked
from loaders.outcomes import WriteStats
from pipeline import plan as plan_module
from pipeline import progress, quality
from pipeline.config import Config, ConfigError, DatePartitionConfig, SourceConfig
from pipeline.manifest import count_problems, empty_counts
from pipeline.pii_keys import DataKey, run_data_key
from storage.runfolder import RunFolder, read_text
from readers.edw import InputError, read_properties, read_reservations, read_room_stays
from readers.htng import read_htng
from readers.partitions import Selection, select_partitions
from transforms import (
    filter_orphan_room_stays,
    with_canonical_htng,
    with_classification,
    with_edw_versions,
    with_guest_protected,
    with_properties_normalized,
    with_room_stays_grouped,
    with_room_stays_normalized,
)
from transforms.pii import SealUnavailableError, register_seal

log = logging.getLogger("migration")

TARGETS: tuple[str, ...] = ("dynamodb", "aurora")
CANONICAL_COLUMNS: tuple[str, ...] = (
    "property_code", "confirmation_no", "status", "created_at", "last_modified", "source", "source_seq",
    "arrival_date", "departure_date", "nights", "adults", "children", "guest", "card_type", "card_last4",
    "total_amount", "currency", "channel", "room_stays",
)  # fmt: skip


@dataclass(frozen=True)
class RunOptions:
    run_id: str
    targets: tuple[str, ...] = TARGETS
    date_from: date | None = None
    date_to: date | None = None
    properties: tuple[str, ...] = ()
    dry_run: bool = False
    code_version: str = "unknown"
    plan_scale: int | None = None  # dry run: extrapolate the plan to this many reservations ...
    plan_cluster: str | None = None  # ... on this cluster ("10 x m5.4xlarge")
    resume: bool = False  # --resume: an earlier attempt of this run id; its finished chunks are skipped


@dataclass
class RunResult:
    exit_code: int
    status: str
    manifest: dict[str, Any]
    run_dir: str


@dataclass
class _Timer:
    spark: Any = None
    progress_interval_s: float = 30.0
    timings: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str, *, counters: str | None = None, total: int = 0) -> Iterator[None]:
        """Time a stage; while it runs, a progress line every ``progress_interval_s`` (``counters``: the
        executors' counter files of a load, ``total`` items to go)."""
        started = time.monotonic()
        log.info("stage %s: started", name)
        try:
            with progress.watch(self.spark, name, interval_s=self.progress_interval_s, counters=counters, total=total):
                yield
        finally:
            self.timings[name] = round(time.monotonic() - started, 3)
            log.info("stage %s: %.1f s", name, self.timings[name])


def run(spark: SparkSession, cfg: Config, opts: RunOptions, *, redacted_config: dict[str, Any]) -> RunResult:
    started_at = datetime.now(UTC)
    folder = RunFolder(cfg.output.root, opts.run_id)
    timer = _Timer(spark, cfg.progress.interval_s)
    manifest: dict[str, Any] = {
        "run_id": opts.run_id,
        "status": "running",
        "env": cfg.env,
        "code_version": opts.code_version,
        "started_at": started_at.isoformat(),
        "selection": _selection(opts),
        "dry_run": opts.dry_run,
        "resumed": opts.resume,
        "config": redacted_config,
        "counts": empty_counts(opts.targets),
        "timings_s": timer.timings,
    }
    with timer.stage("preflight"):
        record = _run_record(spark, cfg, opts, folder, redacted_config)
        manifest["chunks"] = record["chunks"]
        _preflight(cfg, opts)
        try:  # the job's jar (guest encryption) must be there before hours of work, not after
            register_seal(spark)
        except SealUnavailableError as exc:
            raise ConfigError(str(exc)) from None
        data_key = _data_key(cfg)
        manifest["pii"] = data_key.manifest_entry()
        rules_config = cfg.quality.rules
        suite_definition = quality.load_suite(cfg.quality.suite_path(), rules_config.model_dump())

    with timer.stage("extract"):
        props_df, raw_res, raw_rs, raw_htng = _extract(spark, cfg, opts, manifest)

    with timer.stage("transform"):
        rules = rules_config.parameters()
        all_versions = with_edw_versions(raw_res, props_df, rules=rules)
        lines = with_room_stays_normalized(raw_rs, props_df)
        grouped = with_room_stays_grouped(lines, currencies=rules.currencies).persist(StorageLevel.MEMORY_AND_DISK)
        selecting = bool(opts.date_from or opts.date_to or opts.properties)
        htng_versions = with_canonical_htng(raw_htng, props_df, rules=rules) if raw_htng is not None else None
        if htng_versions is not None and selecting:  # counted twice below: parse the archive once
            htng_versions = htng_versions.persist(StorageLevel.MEMORY_AND_DISK)
        classified = with_classification(
            _selected(all_versions, opts),
            grouped,
            rules=rules,
            htng_versions_df=_selected(htng_versions, opts) if htng_versions is not None else None,
        ).persist(StorageLevel.MEMORY_AND_DISK)
        counts = manifest["counts"]
        _count_versions(classified, counts)
        if htng_versions is not None:
            read_from = htng_versions if selecting else classified.filter(F.col("source") == "HTNG")
            _count_htng_files(manifest["input_files"]["htng"], read_from)
        if selecting:
            everything = all_versions.count() + (htng_versions.count() if htng_versions is not None else 0)
            counts["excluded_by_selection"] = everything - sum(counts["input"].values())
            if htng_versions is not None:
                htng_versions.unpersist()  # classified (persisted, counted) holds what is still needed
            key_df = all_versions
        else:
            key_df = classified.filter(F.col("source") == "EDW")
        orphans = filter_orphan_room_stays(grouped, key_df)
        counts["room_stays"] = _count_room_stays(grouped, classified.filter(F.col("source") == "EDW"), key_df)

    with timer.stage("quarantine"):
        _write_quarantine(classified, orphans, folder)

    with timer.stage("protect"):
        clean = classified.filter(F.col("outcome") == "loaded").select(
            *CANONICAL_COLUMNS,
            F.coalesce(F.col("cutover_ts") <= F.lit(started_at.replace(tzinfo=None)), F.lit(False)).alias("is_live"),
        )
        protected = with_guest_protected(
            clean,
            data_key=data_key.plaintext,
            hmac_key=cfg.pii.hmac_key_bytes(),
            key_ref=data_key.ref,
        )
        # one partition per load chunk (what --resume counts in), persisted once for the gate and the loads
        protected = chunked(protected, record["chunks"]).persist(StorageLevel.MEMORY_AND_DISK)
        del data_key  # the driver keeps no reference to the plaintext key beyond this stage
        clean_count = protected.count()

    with timer.stage("gate"):
        gate = _gate(counts, cfg.quality.max_quarantine_fraction)
        _run_suite(gate, protected, suite_definition, folder, opts.run_id)
        gate["clean_reservations"] = clean_count
        manifest["quality"] = gate
    if not gate["passed"]:
        log.error("quality gate failed: %s", gate["reason"])
        return _finish(cfg, opts, manifest, folder, timer, status="gate_failed", exit_code=3)
    counts["reservations_loaded"] = clean_count

    if opts.dry_run:
        with timer.stage("plan"):
            manifest["plan"] = _plan(protected, cfg, opts, counts, timer.timings)
        return _finish(cfg, opts, manifest, folder, timer, status="succeeded", exit_code=0)

    with timer.stage("record_keys"):  # what jobs.reconcile checks the targets against
        manifest["loaded_keys"] = _record_loaded_keys(protected, folder)
    target_stats: dict[str, WriteStats] = {}
    target_details: dict[str, dict[str, Any]] = {}
    if "dynamodb" in opts.targets:
        with timer.stage("load_dynamodb", counters=folder.sub("_progress", "dynamodb"), total=clean_count):
            target_stats["dynamodb"], target_details["dynamodb"] = _load_dynamodb(
                protected, record, manifest["pii"], cfg, opts, folder
            )
    if "aurora" in opts.targets:
        with timer.stage("load_aurora", counters=folder.sub("_progress", "aurora"), total=clean_count):
            _register_data_key(cfg, opts, manifest["pii"], "aurora")
            target_stats["aurora"], target_details["aurora"] = _load_aurora(protected, record, cfg, opts, folder)
    for name, stats in target_stats.items():
        counts["targets"][name] = {"written": stats.written, "kept_newer": stats.kept_newer, "failed": stats.failed}
    manifest["write_stats"] = {
        name: {**_write_stats(s, timer.timings[f"load_{name}"]), **target_details.get(name, {})}
        for name, s in target_stats.items()
    }
    failed = sum(s.failed for s in target_stats.values())
    if failed:
        return _finish(cfg, opts, manifest, folder, timer, status="load_incomplete", exit_code=4)
    return _finish(cfg, opts, manifest, folder, timer, status="succeeded", exit_code=0)


RUN_RECORD = "run_options.json"


def _run_record(
    spark: SparkSession, cfg: Config, opts: RunOptions, folder: RunFolder, redacted_config: dict[str, Any]
) -> dict[str, Any]:
    """What a resumed attempt must repeat: the selection, the targets and the chunking. A fresh run writes
    it (and forgets the markers of any earlier run that used its id); a resumed one reads it back."""
    if opts.resume:
        record = read_run_record(folder)
        if record is None:
            raise ConfigError(f"--resume: no run {opts.run_id!r} to resume under {cfg.output.root}")
        return record
    record = {
        "run_id": opts.run_id,
        "selection": _selection(opts),
        "chunks": cfg.load.chunks or task_slots(spark),
        "code_version": opts.code_version,
        "config": redacted_config,
    }
    if not opts.dry_run:
        for target in TARGETS:
            Markers(folder.sub("chunks", target)).clear()
        _save_record(folder, record)
    return record


def _flat(tree: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(tree, dict):
        out: dict[str, Any] = {}
        for key, value in tree.items():
            out.update(_flat(value, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): tree}


def read_run_record(folder: RunFolder) -> dict[str, Any] | None:
    text = read_text(folder.sub(RUN_RECORD))
    return json.loads(text) if text else None


def _save_record(folder: RunFolder, record: dict[str, Any]) -> None:
    folder.write_json(RUN_RECORD, record)


# What may change between a run and its resumption: pace, retries, the cluster. Anything else (inputs, rules,
# the gate, targets, modes) would make the resumed chunks a different run's.
RESUME_MAY_CHANGE = (
    "spark", "emr", "plan", "progress", "dynamodb.endpoint_url", "dynamodb.max_write_units", "dynamodb.budget_fraction",
    "dynamodb.retry_deadline_s", "dynamodb.max_attempts", "dynamodb.conditional_threads", "aurora.max_attempts",
    "aurora.max_connections",
)  # fmt: skip


def resume_options(cfg: Config, redacted_config: dict[str, Any], run_id: str, code_version: str) -> RunOptions:
    """The options of the run to resume, from its record (``--resume RUN_ID``); its config must be the same
    but for pace, retries and the cluster."""
    record = read_run_record(RunFolder(cfg.output.root, run_id))
    if record is None:
        raise ConfigError(f"--resume: no run {run_id!r} to resume under {cfg.output.root}")
    before, now = _flat(record["config"]), _flat(redacted_config)
    changed = [
        key for key in sorted(set(before) | set(now))
        if before.get(key) != now.get(key) and not any(key == k or key.startswith(f"{k}.") for k in RESUME_MAY_CHANGE)
    ]  # fmt: skip
    if changed:
        more = f" (+{len(changed) - 3} more)" if len(changed) > 3 else ""
        raise ConfigError(
            f"--resume: config differs from the run's in {', '.join(changed[:3])}{more}:"
            " pass the same --conf-file/--set"
        )
    if cfg.dynamodb.mode == "import" and "dynamodb" in record["selection"]["targets"]:
        raise ConfigError("--resume: dynamodb.mode=import stages and imports in one go; run it again instead")
    sel = record["selection"]
    return RunOptions(
        run_id=run_id,
        targets=tuple(sel["targets"]),
        date_from=date.fromisoformat(sel["from"]) if sel["from"] else None,
        date_to=date.fromisoformat(sel["to"]) if sel["to"] else None,
        properties=tuple(sel["properties"]),
        code_version=code_version,
        resume=True,
    )


def _register_data_key(cfg: Config, opts: RunOptions, key: dict[str, Any], target: str) -> None:
    """The data key in the target's key registry, before any item or row that uses it is written."""
    if key["source"] != "kms":
        return
    if target == "dynamodb":
        client = dynamodb_loader.make_client(_dynamo_settings(cfg, opts, units_per_task=1.0))
        dynamodb_loader.register_data_key(client, cfg.dynamodb.table, key, opts.run_id)
    else:
        aurora_loader.register_data_key(cfg.aurora.conninfo(), key, opts.run_id)
    log.info("pii: data key %s registered in %s", key["key_ref"], target)


def _data_key(cfg: Config) -> DataKey:
    """The run's data key (KMS ``GenerateDataKey``); a refusal or an unknown key is a config error."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        key = run_data_key(cfg.pii)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise ConfigError(f"pii.kms_key_id: GenerateDataKey for {cfg.pii.kms_key_id!r} failed ({code})") from None
    except BotoCoreError as exc:
        raise ConfigError(f"pii.kms_key_id: KMS unreachable ({type(exc).__name__})") from None
    if key.encrypted is None:
        log.warning("pii: plain development data key (pii.data_key), not KMS: for synthetic data only")
    else:
        log.info("pii: data key from KMS key %s", key.key_id)
    return key


def _preflight(cfg: Config, opts: RunOptions) -> None:
    """Fail fast (before hours of transform) when a target is missing."""
    if opts.dry_run:
        return
    if "dynamodb" in opts.targets:
        client = dynamodb_loader.make_client(_dynamo_settings(cfg, opts, units_per_task=1.0))
        try:
            client.describe_table(TableName=cfg.dynamodb.table)
            exists = True
        except client.exceptions.ResourceNotFoundException:
            exists = False
        if cfg.dynamodb.mode == "import":
            _preflight_import(cfg, exists)
        elif not exists:
            raise ConfigError(f"dynamodb.table: table {cfg.dynamodb.table!r} does not exist")
    if "aurora" in opts.targets:
        aurora_loader.ensure_schema(cfg.aurora.conninfo())
        if opts.resume:  # the path is the run's own (a resumed initial load finds the rows it loaded)
            return
        try:  # an initial load asked for on tables that hold data: say so now, not after the transform
            aurora_loader.choose_path(cfg.aurora.conninfo(), cfg.aurora.load_path)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None


def _load_aurora(
    protected: DataFrame, record: dict[str, Any], cfg: Config, opts: RunOptions, folder: RunFolder
) -> tuple[WriteStats, dict[str, Any]]:
    conninfo = cfg.aurora.conninfo()
    markers = Markers(folder.sub("chunks", "aurora"))
    done = markers.done() if opts.resume else {}
    path = record.get("aurora_path")  # a resumed initial load goes on as one (keys are still dropped)
    if path is None:
        try:
            path = aurora_loader.choose_path(conninfo, cfg.aurora.load_path)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if path == "initial":
            aurora_loader.prepare_initial(conninfo)
        _save_record(folder, {**record, "aurora_path": path})
    details: dict[str, Any] = {"path": path, "connections": cfg.aurora.max_connections, "chunks_skipped": len(done)}
    log.info("aurora: %s load over %d connections; %d of %d chunks done before", path,
             cfg.aurora.max_connections, len(done), record["chunks"])  # fmt: skip
    started = time.monotonic()
    try:
        stats = aurora_loader.load_aurora(
            protected,
            settings=aurora_loader.AuroraSettings(
                conninfo=conninfo,
                run_id=opts.run_id,
                max_attempts=cfg.aurora.max_attempts,
                path=path,
                rows_per_transaction=cfg.aurora.rows_per_transaction,
                progress_uri=folder.sub("_progress", "aurora"),
                progress_interval_s=cfg.progress.interval_s,
                markers_uri=markers.folder,
                done=done,
            ),
            max_connections=cfg.aurora.max_connections,
            results_path=folder.sub("_write_results", "aurora"),
            failed_path=folder.sub("failed_writes", "aurora"),
        )
    finally:
        details["copy_seconds"] = round(time.monotonic() - started, 3)
        if path == "initial":  # keys and indexes back whatever happened: the tables stay usable
            details.update(aurora_loader.finish_initial(conninfo))
    return stats, details


def _record_loaded_keys(protected: DataFrame, folder: RunFolder) -> str:
    path = folder.sub("loaded")
    protected.select(
        "property_code",
        "confirmation_no",
        F.date_format("arrival_date", "yyyy-MM").alias("arrival_month"),
        "last_modified",
        "source_seq",
    ).write.mode("overwrite").parquet(path)
    return path


def _preflight_import(cfg: Config, table_exists: bool) -> None:
    """ImportTable creates its table: it must not exist yet, and the staging bucket must."""
    if table_exists:
        raise ConfigError(
            f"dynamodb.mode: import loads a new table, and {cfg.dynamodb.table!r} exists (use batch or auto)"
        )
    if not cfg.dynamodb.import_s3_uri:
        raise ConfigError("dynamodb.import_s3_uri: required when dynamodb.mode is import")
    bucket, _ = dynamodb_loader.parse_s3_uri(cfg.dynamodb.import_s3_uri)
    import boto3
    from botocore.exceptions import ClientError

    try:
        boto3.client("s3", region_name=cfg.dynamodb.region).head_bucket(Bucket=bucket)
    except ClientError:
        raise ConfigError(f"dynamodb.import_s3_uri: bucket {bucket!r} is not reachable") from None


def _extract(
    spark: SparkSession, cfg: Config, opts: RunOptions, manifest: dict[str, Any]
) -> tuple[DataFrame, DataFrame, DataFrame, DataFrame | None]:
    """The property reference, the EDW extracts and the HTNG archive (the window's folders of partitioned
    layouts only); records the files read and the folders pruned."""
    props_df = with_properties_normalized(
        read_properties(
            spark,
            cfg.input.properties.path or "",
            fmt=cfg.input.properties.format,
            delimiter=cfg.input.properties.delimiter,
        )
    ).persist(StorageLevel.MEMORY_AND_DISK)
    partitions: dict[str, Any] = {}
    raw_res, res_sel = _read_edw(spark, read_reservations, cfg.input.reservations, opts, "input.reservations")
    raw_rs, rs_sel = _read_edw(spark, read_room_stays, cfg.input.room_stays, opts, "input.room_stays")
    manifest["input_files"] = {
        "edw_reservations": [] if res_sel.empty else sorted(raw_res.inputFiles()),
        "edw_room_stays": [] if rs_sel.empty else sorted(raw_rs.inputFiles()),
    }
    partitions.update({"edw_reservations": res_sel.summary, "edw_room_stays": rs_sel.summary})
    raw_htng = None
    if cfg.input.htng.path:
        htng_cfg = cfg.input.htng
        htng_sel = _partitions(spark, htng_cfg.path, htng_cfg.date_partition, opts, "input.htng")
        partitions["htng"] = htng_sel.summary
        if not htng_sel.empty:
            raw_htng = read_htng(
                spark,
                htng_sel.paths,
                max_document_bytes=htng_cfg.max_document_bytes,
                confirmation_types=htng_cfg.confirmation_types,
            )
        # An archive can hold millions of files: their number and root, not the list.
        files = len(raw_htng.inputFiles()) if raw_htng is not None else 0
        manifest["input_files"]["htng"] = {"root": htng_cfg.path, "files": files}
    manifest["input_partitions"] = {name: s for name, s in partitions.items() if s is not None}
    return props_df, raw_res, raw_rs, raw_htng


def _partitions(
    spark: SparkSession, root: str | None, layout: DatePartitionConfig | None, opts: RunOptions, what: str
) -> Selection:
    """The folders of a date-partitioned input that can hold rows of the window (all of them without one)."""
    if not root:
        raise InputError(f"{what}.path: not set")
    chosen = select_partitions(
        spark,
        root,
        column=layout.column if layout else None,
        slack_days=layout.slack_days if layout else 0,
        date_from=opts.date_from,
        date_to=opts.date_to,
        what=what,
    )
    if chosen.summary:
        s = chosen.summary
        log.info("%s: %d %s folder(s) read for %s..%s, %d skipped", what, s["folders_read"], s["column"],
                 s["dates"][0] or "", s["dates"][1] or "", s["folders_skipped"])  # fmt: skip
    return chosen


def _read_edw(
    spark: SparkSession, reader: Callable[..., DataFrame], src: SourceConfig, opts: RunOptions, what: str
) -> tuple[DataFrame, Selection]:
    chosen = _partitions(spark, src.path, src.date_partition, opts, what)
    df = reader(
        spark, chosen.paths, base_path=chosen.base_path, fmt=src.format, delimiter=src.delimiter, columns=src.columns
    )
    # no folder in the window: the layout's columns (from one file's header), no rows, nothing scanned
    return (df.where(F.lit(False)) if chosen.empty else df), chosen


def _selected(versions: DataFrame, opts: RunOptions) -> DataFrame:
    out = versions
    if opts.date_from:
        out = out.filter(F.to_date("last_modified") >= F.lit(opts.date_from))
    if opts.date_to:
        out = out.filter(F.to_date("last_modified") <= F.lit(opts.date_to))
    if opts.properties:
        out = out.filter(F.col("property_code").isin(list(opts.properties)))
    return out


def _selection(opts: RunOptions) -> dict[str, Any]:
    return {
        "from": opts.date_from.isoformat() if opts.date_from else None,
        "to": opts.date_to.isoformat() if opts.date_to else None,
        "properties": list(opts.properties),
        "targets": list(opts.targets),
    }


def _count_versions(classified: DataFrame, counts: dict[str, Any]) -> None:
    """Per source and outcome, and per reason (aggregates only: a few dozen rows reach the driver)."""
    for row in classified.groupBy("source", "outcome").count().collect():
        bucket = {"duplicate": "duplicates"}.get(row["outcome"], row["outcome"])
        source = row["source"].lower()
        counts["input"][source] += row["count"]
        counts[bucket][source] += row["count"]
    reasons = (
        classified.filter(F.col("outcome") == "quarantined")
        .select(F.explode("reasons").alias("reason"))
        .groupBy("reason")
        .count()
        .collect()
    )
    for row in reasons:
        counts["quarantined_by_reason"][row["reason"]] = row["count"]


def _count_htng_files(files: dict[str, Any], versions: DataFrame) -> None:
    """Spark skips zero-byte files (they hold no document): files listed vs files read tells how many."""
    files["read"] = versions.agg(F.countDistinct("input_file")).first()[0]  # type: ignore[index]
    files["empty"] = files["files"] - files["read"]
    if files["empty"]:
        log.warning("htng: %d empty file(s) under %s hold no document", files["empty"], files["root"])


def _count_room_stays(grouped: DataFrame, selected: DataFrame, known: DataFrame) -> dict[str, int]:
    """Room-stay rows and lines in one aggregation: attached to a selected version, or to no version at all."""
    key = ["group_property", "confirmation_no", "source_seq"]
    flagged = grouped.join(selected.select(*key, F.lit(True).alias("_selected")).dropDuplicates(key), key, "left")
    flagged = flagged.join(known.select(*key, F.lit(True).alias("_known")).dropDuplicates(key), key, "left")
    lines = F.col("room_stay_lines")
    total = flagged.agg(
        F.coalesce(F.sum("room_stay_rows"), F.lit(0)).alias("rows"),
        F.coalesce(F.sum(lines), F.lit(0)).alias("lines"),
        F.coalesce(F.sum(F.when(F.col("_selected"), lines)), F.lit(0)).alias("attached"),
        F.coalesce(F.sum(F.when(F.col("_known").isNull(), lines)), F.lit(0)).alias("orphaned"),
    ).first()
    assert total is not None
    out = {
        "input": int(total["rows"]),
        "duplicates": int(total["rows"] - total["lines"]),
        "attached": int(total["attached"]),
        "orphaned": int(total["orphaned"]),
    }
    out["excluded_by_selection"] = out["input"] - out["duplicates"] - out["attached"] - out["orphaned"]
    return out


def _write_quarantine(classified: DataFrame, orphans: DataFrame, folder: RunFolder) -> None:
    """Masked raw record, source, reason codes (no guest data in the clear, no PAN: it never got here)."""
    quarantined = classified.filter(F.col("outcome") == "quarantined").select(
        "source",
        "input_file",
        "message_id",
        F.col("malformed").alias("detail"),
        F.col("property_code"),
        F.col("confirmation_no"),
        F.col("source_seq"),
        F.col("last_modified"),
        F.col("reasons"),
        F.col("raw").alias("record"),
    )
    # One row per (version, reason), partitioned by reason: reason=BAD_DATE/ holds every version failing that
    # rule, each with all its reasons; a partition's row count is quarantined_by_reason's figure.
    by_reason = quarantined.withColumn("reason", F.explode_outer("reasons"))
    by_reason.write.mode("overwrite").partitionBy("reason").parquet(folder.sub("quarantine", "versions"))
    orphans.select(
        F.lit("EDW").alias("source"),
        F.col("group_property").alias("property_code"),
        "confirmation_no",
        "source_seq",
        F.array(F.lit("ORPHAN_ROOM_STAY")).alias("reasons"),
        "room_stays",
        F.col("room_stay_lines").alias("lines"),
    ).write.mode("overwrite").parquet(folder.sub("quarantine", "room_stays"))


def _gate(counts: dict[str, Any], max_fraction: float) -> dict[str, Any]:
    total = sum(counts["input"].values())
    quarantined = sum(counts["quarantined"].values())
    fraction = quarantined / total if total else 0.0
    passed = fraction <= max_fraction
    reason = None if passed else f"quarantine fraction {fraction:.4%} exceeds {max_fraction:.4%}"
    return {
        "passed": passed,
        "quarantine_fraction": round(fraction, 6),
        "max_quarantine_fraction": max_fraction,
        "reason": reason,
    }


def _run_suite(
    gate: dict[str, Any], protected: DataFrame, suite_definition: dict[str, Any], folder: RunFolder, run_id: str
) -> None:
    """The great-expectations suite on the clean set: its verdict joins the quarantine-fraction verdict."""
    suite = quality.run_suite(protected, suite_definition, out_dir=folder.sub("quality"), run_id=run_id)
    gate["suite"] = suite.as_dict()
    if not suite.success:
        gate["passed"] = False
        checks = "; ".join(
            f"{f['expectation']}({f['column']}): {f['unexpected_count']} unexpected" for f in suite.failed
        )
        gate["reason"] = "; ".join(r for r in (gate["reason"], f"suite failed: {checks}") if r)


def _dynamo_settings(cfg: Config, opts: RunOptions, *, units_per_task: float) -> dynamodb_loader.DynamoSettings:
    return dynamodb_loader.DynamoSettings(
        table=cfg.dynamodb.table,
        region=cfg.dynamodb.region,
        endpoint_url=cfg.dynamodb.endpoint_url,
        mode=cfg.dynamodb.mode,
        units_per_task=units_per_task,
        max_attempts=cfg.dynamodb.max_attempts,
        retry_deadline_s=cfg.dynamodb.retry_deadline_s,
        run_id=opts.run_id,
        conditional_threads=cfg.dynamodb.conditional_threads,
        progress_uri=RunFolder(cfg.output.root, opts.run_id).sub("_progress", "dynamodb"),
        progress_interval_s=cfg.progress.interval_s,
    )


def _budget(cfg: Config, opts: RunOptions) -> tuple[float, str]:
    """The job's write budget (units/s) and where it comes from: the config, else the table."""
    if cfg.dynamodb.max_write_units is not None:
        return float(cfg.dynamodb.max_write_units), "dynamodb.max_write_units"
    client = dynamodb_loader.make_client(_dynamo_settings(cfg, opts, units_per_task=1.0))
    return dynamodb_loader.resolve_budget(client, cfg.dynamodb.table, fraction=cfg.dynamodb.budget_fraction)


def _load_dynamodb(
    protected: DataFrame, record: dict[str, Any], key: dict[str, Any], cfg: Config, opts: RunOptions, folder: RunFolder
) -> tuple[WriteStats, dict[str, Any]]:
    if cfg.dynamodb.mode == "import":
        return _import_dynamodb(protected, cfg, opts, folder, key)
    _register_data_key(cfg, opts, key, "dynamodb")
    budget, source = _budget(cfg, opts)
    markers = Markers(folder.sub("chunks", "dynamodb"))
    done = markers.done() if opts.resume else {}
    # One task per chunk; the chunks still to write share the budget equally (by default there are as many
    # chunks as task slots: one wave, every task busy until the end).
    tasks = record["chunks"]
    at_once = max(1, min(task_slots(protected.sparkSession), tasks - len(done)))
    settings = replace(
        _dynamo_settings(cfg, opts, units_per_task=budget / at_once), markers_uri=markers.folder, done=done
    )
    log.info(
        "dynamodb: budget %.0f write units/s (%s); %d chunks (%d done before), %d tasks at once, %.0f each, mode %s",
        budget,
        source,
        tasks,
        len(done),
        at_once,
        settings.units_per_task,
        cfg.dynamodb.mode,
    )
    stats = dynamodb_loader.load_dynamodb(
        dynamodb_loader.spread(protected, tasks=tasks),
        settings=settings,
        results_path=folder.sub("_write_results", "dynamodb"),
        failed_path=folder.sub("failed_writes", "dynamodb"),
    )
    details = {"mode": cfg.dynamodb.mode, "budget": round(budget, 1), "budget_source": source, "tasks": at_once}
    return stats, {**details, "chunks_skipped": len(done)}


def _import_dynamodb(
    protected: DataFrame, cfg: Config, opts: RunOptions, folder: RunFolder, key: dict[str, Any]
) -> tuple[WriteStats, dict[str, Any]]:
    """Stage gzip DynamoDB JSON under <import_s3_uri>/<run_id>/, then ImportTable into the new table."""
    assert cfg.dynamodb.import_s3_uri is not None  # preflight
    bucket, base = dynamodb_loader.parse_s3_uri(cfg.dynamodb.import_s3_uri)
    prefix = f"{base}{opts.run_id}/"
    settings = _dynamo_settings(cfg, opts, units_per_task=1.0)
    dynamodb_loader.clear_prefix(cfg.dynamodb.region, bucket, prefix)
    staged = dynamodb_loader.stage_for_import(
        protected,
        settings=settings,
        bucket=bucket,
        prefix=prefix,
        results_path=folder.sub("_write_results", "dynamodb"),
        failed_path=folder.sub("failed_writes", "dynamodb"),
    )
    details: dict[str, Any] = {"mode": "import", "s3_prefix": f"s3://{bucket}/{prefix}", "staged": staged.written}
    if staged.failed:  # an incomplete staging is not imported: a re-run stages again and imports everything
        log.error("dynamodb import: %d items could not be staged; nothing imported", staged.failed)
        folder.write_json("failed_writes/dynamodb/import.json", {**details, "not_imported": staged.written})
        return WriteStats(0, 0, staged.written + staged.failed, 0.0, 0, 0, staged.task_seconds), details
    log.info("dynamodb import: %d items staged under s3://%s/%s; importing", staged.written, bucket, prefix)
    result = dynamodb_loader.import_table(
        settings,
        bucket=bucket,
        prefix=prefix,
        poll_seconds=cfg.dynamodb.import_poll_seconds,
        timeout_s=cfg.dynamodb.import_timeout_s,
    )
    details["import"] = result
    if result["status"] == "COMPLETED":  # the table exists only now
        _register_data_key(cfg, opts, key, "dynamodb")
    imported = result["imported"] if result["status"] == "COMPLETED" else 0
    failed = staged.written - imported
    if failed:
        # Which items the import rejected is only in its CloudWatch log; the staged files stay for a re-run.
        folder.write_json("failed_writes/dynamodb/import.json", {**details, "not_imported": failed})
        log.error("dynamodb import %s: %d of %d items not imported", result["status"], failed, staged.written)
    return WriteStats(imported, 0, failed, 0.0, 0, 0, staged.task_seconds), details


def task_slots(spark: SparkSession) -> int:
    """How many tasks can run at once: local[N] threads, else executors x cores (dynamic allocation's max)."""
    conf = spark.sparkContext.getConf()
    master = conf.get("spark.master", "")
    if master.startswith("local"):
        inner = master[master.find("[") + 1 : master.find("]")] if "[" in master else "1"
        threads = inner.split(",")[0]
        return (os.cpu_count() or 1) if threads == "*" else int(threads)
    cores = int(conf.get("spark.executor.cores", "1"))
    if conf.get("spark.dynamicAllocation.enabled", "false") == "true":
        executors = int(conf.get("spark.dynamicAllocation.maxExecutors", "0") or 0)
    else:
        executors = int(conf.get("spark.executor.instances", "0") or 0)
    if executors <= 0:
        return max(1, spark.sparkContext.defaultParallelism)
    return max(1, executors * cores // int(conf.get("spark.task.cpus", "1")))


def _write_stats(stats: WriteStats, stage_seconds: float) -> dict[str, Any]:
    """The summed task outcome plus the achieved rate: write units over the whole stage's wall time."""
    out = stats.as_dict()
    out["units_per_second"] = round(stats.write_units / stage_seconds, 1) if stage_seconds else None
    out["items_per_second"] = round(stats.written / stage_seconds, 1) if stage_seconds else None
    return out


def _plan(
    protected: DataFrame, cfg: Config, opts: RunOptions, counts: dict[str, Any], timings: dict[str, float]
) -> dict[str, Any]:
    """What a real run would write, measured on this run's clean set; extrapolated when asked."""
    units = dynamodb_loader.measure_write_units(protected, opts.run_id)
    room_stays = int(protected.agg(F.coalesce(F.sum(F.size("room_stays")), F.lit(0))).first()[0])  # type: ignore[index]
    budget: float | None
    try:
        budget, _ = _budget(cfg, opts)
    except Exception as exc:  # a dry run may plan for a table that does not exist yet
        log.warning("dynamodb budget: not set and not resolvable from the table (%s)", type(exc).__name__)
        budget = None
    plan: dict[str, Any] = {
        "reservations": counts["reservations_loaded"],
        "dynamodb_items": counts["reservations_loaded"],
        "dynamodb_write_units": units,
        "dynamodb_budget": budget,
        "dynamodb_seconds_at_budget": round(units / budget, 1) if budget else None,
        "aurora_reservation_rows": counts["reservations_loaded"],
        "aurora_room_stay_rows": room_stays,
    }
    if opts.plan_scale:
        cores = task_slots(protected.sparkSession)
        measured = {
            "reservations": counts["reservations_loaded"],
            "versions": sum(counts["input"].values()),
            "room_stays": room_stays,
            "write_units": units,
            "spark_seconds": round(sum(timings.get(s, 0.0) for s in plan_module.SPARK_STAGES), 3),
            "cores": cores,
        }
        measured["spark_core_seconds"] = measured["spark_seconds"] * cores
        cluster = plan_module.parse_cluster(opts.plan_cluster, cfg.plan.instances) if opts.plan_cluster else None
        plan["measured"] = measured
        plan["extrapolated"] = plan_module.extrapolate(
            measured,
            scale=opts.plan_scale,
            cluster=cluster,
            budget=budget,
            efficiency=cfg.plan.parallel_efficiency,
            aurora_rows_per_second=cfg.plan.aurora_rows_per_second,
            prices=cfg.plan.prices,
        )
    return plan


def _finish(
    cfg: Config,
    opts: RunOptions,
    manifest: dict[str, Any],
    folder: RunFolder,
    timer: _Timer,
    *,
    status: str,
    exit_code: int,
) -> RunResult:
    loaded_targets = opts.targets if status in ("succeeded", "load_incomplete") and not opts.dry_run else ()
    problems = count_problems(manifest["counts"], targets=loaded_targets, sent=status != "gate_failed")
    if problems:
        status, exit_code = "failed", 1
        manifest["count_problems"] = problems
        log.error("counts do not add up: %s", "; ".join(problems))
    manifest["status"] = status
    manifest["exit_code"] = exit_code
    manifest["finished_at"] = datetime.now(UTC).isoformat()
    manifest["timings_s"]["total"] = round(sum(v for k, v in timer.timings.items() if k != "total"), 3)
    manifest["run_dir"] = folder.path
    folder.write_json("manifest.json", manifest)
    if "aurora" in opts.targets and not opts.dry_run:
        try:
            aurora_loader.record_run(
                cfg.aurora.conninfo(),
                {
                    "run_id": opts.run_id,
                    "env": cfg.env,
                    "status": status,
                    "code_version": opts.code_version,
                    "started_at": manifest["started_at"],
                    "finished_at": manifest["finished_at"],
                    "selection": manifest["selection"],
                    "counts": manifest["counts"],
                    "timings": manifest["timings_s"],
                },
            )
        except Exception as exc:
            log.warning("could not record the run in migration_runs: %s", type(exc).__name__)
    return RunResult(exit_code=exit_code, status=status, manifest=manifest, run_dir=folder.path)


def parse_targets(text: str | None) -> tuple[str, ...]:
    if not text:
        return TARGETS
    names = tuple(t.strip().lower() for t in text.split(",") if t.strip())
    unknown = [t for t in names if t not in TARGETS]
    if unknown or not names:
        raise ConfigError(f"--targets: unknown target {unknown[0] if unknown else text!r} (known: dynamodb, aurora)")
    return names


def parse_properties(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    return tuple(p.strip().upper() for p in text.split(",") if p.strip())
