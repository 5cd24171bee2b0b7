"""Preflight: everything that can fail fast, before hours of transform (targets, the job's jar, the data key,
the quality suite)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from pyspark.sql import SparkSession

from loaders import aurora as aurora_loader
from loaders import dynamodb as dynamodb_loader
from pipeline import quality
from pipeline.config import Config, ConfigError
from pipeline.functions import register_functions
from pipeline.options import RunOptions
from pipeline.pii_keys import DataKey, run_data_key
from pipeline.seal import SealUnavailableError
from pipeline.targets import TargetSettings, target_settings
from readers.edw import read_properties
from transforms import filter_unsafe_properties

log = logging.getLogger("migration")


@dataclass(frozen=True)
class Preflight:
    suite_definition: dict[str, Any]  # the quality suite, its parameters resolved


@dataclass(frozen=True)
class TargetCheck:
    """What :func:`check_targets` found, before the run's Spark session started."""

    dynamodb_empty: bool | None  # the table held no reservation (None: not asked: dry run, no such target)
    error: Exception | None = None  # not a refusal (a target unreachable): raised by the preflight stage


def check_targets(cfg: Config, opts: RunOptions) -> TargetCheck:
    """The targets' checks (no Spark), which the job asks before it starts a session: a refusal (ConfigError,
    exit 2) costs no JVM. Any other error is kept, not asked again, and :func:`preflight` raises it, so that it
    fails the run with its manifest, in the preflight stage."""
    try:
        return TargetCheck(_check_targets(cfg, opts, target_settings(cfg, opts.run_id)))
    except ConfigError:
        raise
    except Exception as exc:
        return TargetCheck(None, error=exc)


def preflight(spark: SparkSession, cfg: Config, checked: TargetCheck) -> Preflight:
    """``checked``: the targets as :func:`check_targets` found them before the session."""
    if checked.error is not None:
        raise checked.error
    _check_properties(spark, cfg)
    try:  # the job's jar (time zones, guest encryption) must be there before hours of work, not after
        register_functions(spark)
    except SealUnavailableError as exc:
        raise ConfigError(str(exc)) from None
    suite_definition = quality.load_suite(cfg.quality.suite_path(), cfg.quality.rules.model_dump())
    return Preflight(suite_definition=suite_definition)


def _check_properties(spark: SparkSession, cfg: Config) -> None:
    """Cutover decisions fail closed: a CUTOVER_TS that does not parse, or rows of one legacy code that
    disagree, stop the run here (exit 2 naming the hotels) instead of meaning "not live"."""
    src = cfg.input.properties
    if not src.path:
        return
    reference = read_properties(spark, src.path, fmt=src.format, delimiter=src.delimiter)
    unsafe = filter_unsafe_properties(reference).orderBy("legacy_property_code").limit(4).collect()  # a few rows
    if unsafe:
        named = "; ".join(f"{r['legacy_property_code']}: {r['problem']}" for r in unsafe[:3])
        more = " (and more)" if len(unsafe) > 3 else ""
        raise ConfigError(f"input.properties: {named}{more}")


def _check_targets(cfg: Config, opts: RunOptions, targets: TargetSettings) -> bool | None:
    """A missing table, an import into an existing one, an initial load asked for on tables that hold data.
    Returns whether the DynamoDB table holds no reservation yet (unguarded batches are allowed only then)."""
    if opts.dry_run:
        return None
    dynamodb_empty = None
    if "dynamodb" in opts.targets:
        exists = dynamodb_loader.table_exists(targets.dynamodb)
        if cfg.dynamodb.mode == "import":
            try:
                dynamodb_loader.check_staging(targets.dynamodb, cfg.dynamodb.import_s3_uri, table_exists=exists)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
        elif not exists:
            raise ConfigError(f"dynamodb.table: table {cfg.dynamodb.table!r} does not exist")
        else:
            dynamodb_empty = not dynamodb_loader.holds_reservations(targets.dynamodb)
    if "aurora" in opts.targets:
        cfg.aurora.conninfo()  # aurora.host or aurora.dsn: named when missing
        aurora_loader.ensure_schema(targets.aurora.conninfo)
        if not opts.resume:  # a resumed run's path is its own (a resumed initial load finds the rows it loaded)
            try:
                aurora_loader.choose_path(targets.aurora.conninfo, cfg.aurora.load_path)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
    return dynamodb_empty


def data_key(cfg: Config) -> DataKey:
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
