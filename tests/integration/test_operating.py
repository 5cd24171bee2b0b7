"""Operating a run: the report in a real browser, CloudWatch metrics in moto, and a failed run that says why
(manifest and JSON log), with the figures checked against what the run and the targets hold."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from lxml import html

from loaders.aurora.schema import ensure_schema
from tests.integration.conftest import LOOSE_GATE
from tests.integration.harness import ROOT, fresh_targets, run_migrate

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# as root, with nothing on the network to reach (the machine's network is closed)
BROWSER = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


def browse(page: Path, profile: Path) -> tuple[Any, list[str]]:
    """The page's DOM after its scripts ran, and the script errors Chromium reported on its console."""
    if CHROMIUM is None:
        if os.environ.get("MIGRATION_REQUIRE_BROWSER"):  # CI installs Debian's chromium: never skip there
            pytest.fail("chromium is not installed")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    done = subprocess.run(
        [CHROMIUM, *BROWSER, f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--dump-dom",
         page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    errors = [line for line in done.stderr.splitlines() if ":CONSOLE" in line and "Uncaught" in line]
    return html.fromstring(done.stdout), errors


def _numbers(row: Any) -> list[str]:
    return [cell.text_content().strip() for cell in row.xpath("./td")]


@pytest.mark.xdist_group("reference_run")
def test_the_report_shows_the_runs_figures_in_a_browser_without_script_errors(reference_run, tmp_path) -> None:
    manifest = reference_run.result.manifest
    report = reference_run.result.run_dir / "report.html"
    dom, errors = browse(report, tmp_path / "profile")
    assert errors == []
    assert dom.getroottree().getroot().get("data-rendered") == "1"  # the page's script ran to its end
    # where every row went: the manifest's counts, per source
    counts = manifest["counts"]
    shown = {row[0]: row[1:] for row in map(_numbers, dom.xpath('//table[@id="counts"]//tr[td]'))}
    assert shown == {b: [f"{counts[b]['edw']:,}", f"{counts[b]['htng']:,}"]
                     for b in ("input", "superseded", "duplicates", "quarantined", "loaded")}  # fmt: skip
    targets = {row[0]: row[1:] for row in map(_numbers, dom.xpath('//table[@id="targets"]//tr[td]'))}
    assert targets == {t: [f"{v['written']:,}", f"{v['kept_newer']:,}", f"{v['failed']:,}"]
                       for t, v in counts["targets"].items()}  # fmt: skip
    reasons = {row[0]: row[1] for row in map(_numbers, dom.xpath('//table[@id="reasons"]//tr[td]'))}
    assert reasons == {k: f"{v:,}" for k, v in counts["quarantined_by_reason"].items() if v}
    # the write rate: the throttled run's throttles and retries, and a drawn rate line per target
    stats = {row[0]: row[1] for row in map(_numbers, dom.xpath('//table[@id="stats-dynamodb"]//tr[td]'))}
    dynamo = manifest["write_stats"]["dynamodb"]
    assert dynamo["throttles"] > 0 and stats["throttles"] == f"{dynamo['throttles']:,}"
    assert stats["retries"] == f"{dynamo['retries']:,}" and stats["budget"] == f"{dynamo['budget']:,.1f}"
    assert len(dom.xpath("//svg//path[@d]")) >= 4  # two targets: a rate line and a throttle/retry line each
    timings = [row[0] for row in map(_numbers, dom.xpath('//table[@id="timings"]//tr[td]'))]
    assert timings == [*[k for k in manifest["timings_s"] if k != "total"], "total (wall)"]
    gate = dom.xpath('//*[@id="gate"]')[0].text_content()
    assert gate.startswith("passed")
    docs = dom.xpath('//a[text()="Data Docs"]/@href')
    assert docs and (report.parent / docs[0]).is_file()  # the link resolves from the report's own folder


@pytest.mark.xdist_group("reference_run")
def test_every_aws_call_of_the_job_is_one_its_role_allows(reference_run) -> None:
    """Every call the reference run made (driver and executors: DynamoDB through the throttling proxy, KMS,
    Secrets Manager, CloudWatch and S3 through a recorder) is an action of conf/iam/job-role-policy.json."""
    policy = json.loads((ROOT / "conf" / "iam" / "job-role-policy.json").read_text())
    allowed = {action for statement in policy["Statement"] for action in statement["Action"]}
    made = reference_run.proxy.operations | reference_run.aws.operations
    assert made <= allowed, sorted(made - allowed)
    assert {"dynamodb:BatchWriteItem", "dynamodb:DescribeTable", "kms:GenerateDataKey",
            "secretsmanager:GetSecretValue", "cloudwatch:PutMetricData"} <= made  # fmt: skip


def test_a_script_error_in_a_page_is_seen(tmp_path) -> None:
    """The browser check above can fail: a page whose script throws is reported."""
    page = tmp_path / "broken.html"
    page.write_text("<!doctype html><html><body><script>notAFunction();</script></body></html>")
    _, errors = browse(page, tmp_path / "profile")
    assert len(errors) == 1 and "notAFunction" in errors[0]


@pytest.mark.xdist_group("reference_run")
def test_the_run_publishes_its_counters_and_gate_as_cloudwatch_metrics(reference_run, moto) -> None:
    manifest = reference_run.result.manifest
    cloudwatch = boto3.client("cloudwatch", endpoint_url=moto.url, region_name="us-east-1")

    def total(name: str, target: str | None) -> float:
        dims = [{"Name": "RunId", "Value": manifest["run_id"]}, {"Name": "Env", "Value": "local"}]
        if target:
            dims.append({"Name": "Target", "Value": target})
        now = datetime.now(UTC)
        answer = cloudwatch.get_metric_data(
            MetricDataQueries=[{"Id": "m", "MetricStat": {"Metric": {"Namespace": "ReservationMigration",
                                "MetricName": name, "Dimensions": dims}, "Period": 60, "Stat": "Sum"}}],
            StartTime=now - timedelta(hours=2), EndTime=now + timedelta(minutes=5),
        )  # fmt: skip
        return float(sum(answer["MetricDataResults"][0]["Values"]))

    for target, outcome in manifest["counts"]["targets"].items():
        assert total("ItemsWritten", target) == outcome["written"] > 0
        assert total("KeptNewer", target) == outcome["kept_newer"]
        assert total("Failures", target) == outcome["failed"]
    dynamo = manifest["write_stats"]["dynamodb"]
    assert total("Throttles", "dynamodb") == dynamo["throttles"] > 0
    assert total("Retries", "dynamodb") == dynamo["retries"]
    assert total("WriteUnits", "dynamodb") == pytest.approx(dynamo["write_units"], abs=1.0)
    assert total("QualityGatePassed", None) == 1.0
    run = [{"Name": "RunId", "Value": manifest["run_id"]}]
    listed = cloudwatch.list_metrics(Namespace="ReservationMigration", Dimensions=run)["Metrics"]
    assert {m["MetricName"] for m in listed} == {"ItemsWritten", "WriteUnits", "Throttles", "Retries", "Failures",
                                                 "KeptNewer", "QualityGatePassed"}  # fmt: skip


@pytest.mark.xdist_group("reference_run")
def test_json_log_lines_carry_the_run_id_the_stage_and_the_progress_figures(reference_run) -> None:
    lines = [json.loads(line) for line in reference_run.result.stderr.splitlines() if line.startswith("{")]
    assert lines and all(line["run_id"] == "reference" and line["stage"] for line in lines)
    stages = [line["stage"] for line in lines if line["message"].startswith("stage ") and "started" in line["message"]]
    assert stages[:4] == ["preflight", "extract", "transform", "quarantine"]
    loaded = reference_run.result.manifest["counts"]["reservations_loaded"]
    loads = [line for line in lines if line["message"].startswith("progress load_dynamodb")]
    assert len(loads) >= 2, [line["message"] for line in lines]  # the throttled load lasts several intervals
    for line in loads:  # the figures as fields, and the same figures in the text
        assert line["stage"] == "load_dynamodb" and line["target"] == "dynamodb" and line["total"] == loaded
        assert line["message"].startswith(f"progress load_dynamodb: {line['done']:,}/{loaded:,} items")
        assert {"percent", "rate", "eta_s"} <= line.keys() and line["unit"] == "items"
    assert [line["done"] for line in loads] == sorted(line["done"] for line in loads)


def test_a_failed_load_writes_a_failed_manifest_and_logs_its_traceback(small_sample, moto, postgres, tmp_path):
    data_dir, truth = small_sample
    targets = fresh_targets(moto, postgres, "failing_load")
    # GIVEN an Aurora database that refuses the run's data key (a trigger raises on the key registry), so the
    # Aurora load fails with an exception while DynamoDB's completes
    ensure_schema(targets.conninfo)
    with psycopg.connect(targets.conninfo, autocommit=True) as conn:
        conn.execute("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                     "$$BEGIN RAISE EXCEPTION 'injected: the key registry refuses'; END$$")  # fmt: skip
        conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON pii_data_keys FOR EACH ROW EXECUTE FUNCTION refuse()")
    result = run_migrate(data_dir, tmp_path, targets, *LOOSE_GATE, "--set", "metrics.enabled=false",
                         run_id="failing", env={"MIGRATION_LOG_FORMAT": "json"})  # fmt: skip
    # THEN the run exits 1 and its manifest says where and why, with the counts as far as it got
    assert result.code == 1, result.stderr[-3000:]
    manifest = result.manifest
    assert manifest is not None and manifest["status"] == "failed" and manifest["exit_code"] == 1
    assert manifest["failure"] == {"stage": "load_aurora", "type": "RaiseException",
                                   "message": "injected: the key registry refuses"}  # fmt: skip
    assert manifest["counts"]["input"] == truth["counts"]["input"]
    assert manifest["counts"]["reservations_loaded"] == truth["counts"]["reservations_loaded"]
    stored = len(targets.items())
    assert manifest["counts"]["targets"]["dynamodb"]["written"] == stored == truth["counts"]["reservations_loaded"]
    assert manifest["counts"]["targets"]["aurora"]["written"] == 0
    assert (result.run_dir / "report.html").is_file()
    assert "Failed in stage load_aurora" in (result.run_dir / "report.html").read_text()
    # AND every JSON log line of the run carries its id; the failure line its stage and traceback
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert lines and all(line["run_id"] == "failing" and line["stage"] for line in lines)
    (failure,) = [line for line in lines if line["level"] == "ERROR" and "traceback" in line]
    assert failure["stage"] == "load_aurora" and failure["exc_type"] == "RaiseException"
    assert "injected: the key registry refuses" in failure["traceback"]
    assert "Traceback (most recent call last)" in failure["traceback"]
    stages = {line["stage"] for line in lines if line["message"].startswith("stage ")}
    assert {"preflight", "extract", "transform", "gate", "load_dynamodb", "load_aurora"} <= stages
    # AND with metrics.enabled false it published nothing
    cloudwatch = boto3.client("cloudwatch", endpoint_url=moto.url, region_name="us-east-1")
    listed = cloudwatch.list_metrics(Namespace="ReservationMigration",
                                     Dimensions=[{"Name": "RunId", "Value": "failing"}])["Metrics"]  # fmt: skip
    assert listed == []


def test_an_s3a_root_is_the_bucket_an_s3_root_names(moto, monkeypatch) -> None:
    """Spark's other names for S3 write the driver's files into the bucket, not into a local folder 's3a:'."""
    from pipeline.progress import read_counters
    from storage.runfolder import RunFolder, list_names, read_text, write_text

    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto.url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.chdir(Path(os.environ.get("TMPDIR", "/tmp")))
    s3 = boto3.client("s3", endpoint_url=moto.url, region_name="us-east-1")
    s3.create_bucket(Bucket="s3a-root")
    for scheme in ("s3a", "s3n"):
        folder = RunFolder(f"{scheme}://s3a-root/migration", f"run-{scheme}")
        folder.write_json("manifest.json", {"status": "succeeded"})
        write_text(folder.sub("_progress", "dynamodb", "part-00000.json"), json.dumps({"done": 7, "written": 6}))
        key = f"migration/runs/run-{scheme}/manifest.json"
        assert json.loads(s3.get_object(Bucket="s3a-root", Key=key)["Body"].read()) == {"status": "succeeded"}
        assert read_text(f"s3://s3a-root/{key}") == read_text(folder.sub("manifest.json"))
        assert list_names(folder.path) == ["manifest.json"]
        assert read_counters(folder.sub("_progress", "dynamodb"))["written"] == 6
        assert not Path(f"{scheme}:").exists()
