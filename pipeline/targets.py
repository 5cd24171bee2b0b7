"""Each loader's settings, built once from the config and handed down to the stages that use them."""

from __future__ import annotations

from dataclasses import dataclass

from loaders.aurora import AuroraSettings
from loaders.dynamodb import DynamoSettings
from pipeline.config import Config
from storage.runfolder import RunFolder


@dataclass(frozen=True)
class TargetSettings:
    dynamodb: DynamoSettings  # units_per_task, markers and done are set by the load stage
    aurora: AuroraSettings  # path, markers and done are set by the load stage


def target_settings(cfg: Config, run_id: str, folder: RunFolder | None = None) -> TargetSettings:
    """``folder``: the run's, where the writers' progress files go (none for reconcile)."""
    return TargetSettings(
        dynamodb=DynamoSettings(
            table=cfg.dynamodb.table,
            region=cfg.dynamodb.region,
            endpoint_url=cfg.dynamodb.endpoint_url,
            mode=cfg.dynamodb.mode,
            units_per_task=1.0,
            max_attempts=cfg.dynamodb.max_attempts,
            retry_deadline_s=cfg.dynamodb.retry_deadline_s,
            run_id=run_id,
            conditional_threads=cfg.dynamodb.conditional_threads,
            progress_uri=folder.sub("_progress", "dynamodb") if folder else None,
            progress_interval_s=cfg.progress.interval_s,
        ),
        aurora=AuroraSettings(
            # empty when Aurora is not configured: a DynamoDB-only run needs none (preflight names the key
            # when Aurora is a target)
            conninfo=cfg.aurora.conninfo_if_set() or "",
            run_id=run_id,
            max_attempts=cfg.aurora.max_attempts,
            retry_deadline_s=cfg.aurora.retry_deadline_s,
            rows_per_transaction=cfg.aurora.rows_per_transaction,
            progress_uri=folder.sub("_progress", "aurora") if folder else None,
            progress_interval_s=cfg.progress.interval_s,
        ),
    )
