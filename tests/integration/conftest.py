"""What the loader tests share: a small sample and one reference run of both targets on it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.faults import RecordingProxy, ThrottlingProxy
from tests.integration.harness import Result, Targets, comparable_rows, fresh_targets, generate, run_migrate

BUDGET = 150  # write units/s the job may use ...
CAPACITY = 100  # ... on a table that gives it less: throttling is certain
# The sample's hostile HTNG documents are more than 0.5 % of so few versions.
LOOSE_GATE = ("--set", "quality.max_quarantine_fraction=0.05")


@dataclass
class ReferenceRun:
    targets: Targets
    out: Path  # output.root of the run
    event_log: Path  # the run's Spark event log folder
    proxy: ThrottlingProxy
    result: Result
    items: list[dict[str, Any]]  # DynamoDB, as this run left it
    rows: tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]  # Aurora, as this run left it
    aws: RecordingProxy  # the run's AWS calls other than DynamoDB's (those went through ``proxy``)


@pytest.fixture(scope="session")
def small_sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("small_sample")
    return out, generate(out, 600, 23)


@pytest.fixture(scope="session")
def reference_run(small_sample, moto, postgres, tmp_path_factory) -> ReferenceRun:  # type: ignore[no-untyped-def]
    """Both targets, empty at first: DynamoDB in batch mode through an endpoint that throttles at 2/3 of the
    budget, answers 500 and drops connections; Aurora direct (an initial load)."""
    data_dir, _ = small_sample
    targets = fresh_targets(moto, postgres, "reference")
    proxy = ThrottlingProxy(moto.url, capacity=CAPACITY, burst_s=1.0, error_rate=0.1, drop_rate=0.06)
    out = tmp_path_factory.mktemp("out")
    event_log = tmp_path_factory.mktemp("event_log")  # scanned for guest data and keys (test_pii)
    aws = RecordingProxy(moto.url)  # every other AWS call of the job (test_operating checks them all)
    with proxy.serve() as url, aws.serve() as aws_url:
        others = {f"AWS_ENDPOINT_URL_{s}": aws_url for s in ("KMS", "SECRETS_MANAGER", "CLOUDWATCH", "S3", "SSM")}
        result = run_migrate(
            data_dir, out, targets, *LOOSE_GATE,
            "--set", "dynamodb.mode=batch", "--set", f"dynamodb.max_write_units={BUDGET}",
            "--set", "spark.conf.spark.eventLog.enabled=true", "--set", f"spark.conf.spark.eventLog.dir={event_log}",
            run_id="reference", endpoint=url, env={"MIGRATION_LOG_FORMAT": "json", **others},  # as on EMR
        )  # fmt: skip
    return ReferenceRun(targets, out, event_log, proxy, result, targets.items(), comparable_rows(targets), aws)
