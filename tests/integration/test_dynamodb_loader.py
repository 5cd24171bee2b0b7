"""The DynamoDB loader against a throttling, failing endpoint in front of the moto server, and ImportTable."""

from __future__ import annotations

import re

import boto3
import pytest

from tests.faults import ThrottlingProxy, put_units
from tests.integration.conftest import BUDGET, CAPACITY, LOOSE_GATE, ReferenceRun
from tests.integration.harness import Result, Targets, comparable_items, run_migrate

# One xdist worker runs every test of the shared reference run (it is computed once per worker).
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("reference_run")]
DYNAMODB_ONLY = ("--targets", "dynamodb", *LOOSE_GATE)


def test_throttled_endpoint_gets_every_item_and_never_more_than_the_budget(small_sample, reference_run: ReferenceRun):
    _, truth = small_sample
    loaded = truth["counts"]["reservations_loaded"]
    proxy, result, items = reference_run.proxy, reference_run.result, reference_run.items
    assert result.code == 0, result.stderr[-3000:]
    assert result.manifest is not None
    assert result.manifest["counts"]["targets"]["dynamodb"] == {"written": loaded, "kept_newer": 0, "failed": 0}
    assert len(items) == len({it["pk"]["S"] for it in items}) == loaded  # nothing lost, nothing twice

    # the endpoint throttled, failed and dropped connections; the job saw and retried every one
    assert proxy.throttled + proxy.unprocessed > 0 and proxy.errors > 0 and proxy.drops > 0
    stats = result.manifest["write_stats"]["dynamodb"]
    assert stats["throttles"] > 0 and stats["retries"] >= proxy.errors + proxy.drops
    assert (stats["budget"], stats["budget_source"], stats["tasks"]) == (BUDGET, "dynamodb.max_write_units", 2)

    # the budget, by the endpoint's own accounting: no 10 s window offered more than 105 % of it
    offered = ThrottlingProxy.max_window(proxy.offered, 10)
    assert sum(proxy.offered.values()) > 12 * BUDGET  # long enough for the window to mean something
    assert offered <= 1.05 * BUDGET * 10, offered
    # the job's meter agrees with the endpoint's reckoning of what is stored
    assert stats["write_units"] == sum(put_units(it) for it in items)
    # and the operator saw the load go: progress lines (every 5 s locally) with counts growing towards the total
    done = [
        int(m.replace(",", ""))
        for m in re.findall(rf"progress load_dynamodb: ([\d,]+)/{loaded:,} items", result.stderr)
    ]
    assert len(done) >= 2 and done == sorted(done) and done[-1] <= loaded, result.stderr[-2000:]
    assert re.search(r"progress load_dynamodb: .* items \([\d.]+ %\), [\d,]+/s, ETA \w+", result.stderr)


def test_conditional_mode_keeps_newer_live_items_under_throttling(small_sample, reference_run, tmp_path):
    data_dir, truth = small_sample
    loaded = truth["counts"]["reservations_loaded"]
    targets = reference_run.targets
    # GIVEN the live system wrote newer versions of five reservations
    client = targets.dynamodb()
    live = sorted(it["pk"]["S"] for it in targets.items())[::97][:5]
    for pk in live:
        client.update_item(
            TableName=targets.table,
            Key={"pk": {"S": pk}, "sk": {"S": "ITINERARY"}},
            UpdateExpression="SET last_modified = :lm, #s = :s",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":lm": {"S": "2099-01-01T00:00:00Z"}, ":s": {"S": "LIVE"}},
        )
    # WHEN the job runs in conditional mode through a throttling endpoint
    proxy = ThrottlingProxy(targets.moto.url, capacity=1.5 * CAPACITY, burst_s=0.5, error_rate=0.05)
    with proxy.serve() as url:
        result = run_migrate(
            data_dir, tmp_path, targets, *DYNAMODB_ONLY, "--set", "dynamodb.mode=conditional",
            "--set", f"dynamodb.max_write_units={3 * BUDGET}", run_id="conditional", endpoint=url,
        )  # fmt: skip
    # THEN the five are kept and counted, everything else is rewritten
    assert result.code == 0, result.stderr[-3000:]
    assert result.manifest is not None
    assert result.manifest["counts"]["targets"] == {"dynamodb": {"written": loaded - 5, "kept_newer": 5, "failed": 0}}
    assert proxy.throttled > 0 and proxy.errors > 0
    stored = {it["pk"]["S"]: it for it in targets.items()}
    assert len(stored) == loaded
    assert {pk for pk, it in stored.items() if it["status"]["S"] == "LIVE"} == set(live)
    assert all(stored[pk]["last_modified"]["S"] == "2099-01-01T00:00:00Z" for pk in live)
    assert {it["run_id"]["S"] for pk, it in stored.items() if pk not in live} == {"conditional"}


def test_import_mode_creates_the_table_with_every_item(small_sample, reference_run, moto, tmp_path):
    data_dir, truth = small_sample
    loaded = truth["counts"]["reservations_loaded"]
    batch_targets = reference_run.targets
    boto3.client("s3", endpoint_url=moto.url, region_name="us-east-1").create_bucket(Bucket="dyn-import")
    targets = Targets("dyn_imported", "dyn_imported", moto, batch_targets.postgres)  # the table must not exist
    args = (*DYNAMODB_ONLY, "--set", "dynamodb.mode=import", "--set",
            "dynamodb.import_s3_uri=s3://dyn-import/staging")  # fmt: skip
    env = {"AWS_ENDPOINT_URL_S3": moto.url}
    result = run_migrate(data_dir, tmp_path, targets, *args, run_id="imported", env=env)
    assert result.code == 0, result.stderr[-3000:]
    assert result.manifest is not None
    assert result.manifest["counts"]["targets"] == {"dynamodb": {"written": loaded, "kept_newer": 0, "failed": 0}}
    stats = result.manifest["write_stats"]["dynamodb"]
    assert stats["import"]["status"] == "COMPLETED" and stats["import"]["imported"] == stats["staged"] == loaded
    table = targets.dynamodb().describe_table(TableName="dyn_imported")["Table"]
    assert sorted(g["IndexName"] for g in table["GlobalSecondaryIndexes"]) == ["gsi1", "gsi2"]
    # the same items as the batch load of the same data
    assert comparable_items(targets) == comparable_items(reference_run.targets, reference_run.items)

    # WHEN it runs again THEN it refuses before any work: ImportTable only creates tables
    again: Result = run_migrate(data_dir, tmp_path, targets, *args, run_id="imported2", env=env)
    assert again.code == 2
    assert again.stderr.strip().splitlines()[-1] == (
        "migrate: error: dynamodb.mode: import loads a new table, and 'dyn_imported' exists (use batch or auto)"
    )


def test_the_budget_comes_from_the_table_when_not_configured(dynamodb):
    from loaders.dynamodb import resolve_budget, table_definition

    provisioned = table_definition("budget_provisioned")
    provisioned.pop("BillingMode")
    provisioned["ProvisionedThroughput"] = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 3000}
    for index, wcu in zip(provisioned["GlobalSecondaryIndexes"], (2000, 2500), strict=True):
        index["ProvisionedThroughput"] = {"ReadCapacityUnits": 5, "WriteCapacityUnits": wcu}
    dynamodb.create_table(**provisioned)
    units, why = resolve_budget(dynamodb, "budget_provisioned", fraction=0.5)
    assert units == 2000 * 3 * 0.5  # the smallest index, for each of the three copies, half of it
    assert why.startswith("provisioned 2000 WCU")

    dynamodb.create_table(**table_definition("budget_on_demand"))
    units, why = resolve_budget(dynamodb, "budget_on_demand", fraction=0.8)
    limit = dynamodb.describe_limits()["TableMaxWriteCapacityUnits"]
    assert units == limit * 3 * 0.8 and why.startswith(f"on-demand account limit {limit}")
