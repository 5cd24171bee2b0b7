"""jobs.submit end to end against the moto server (S3 + EMR), through a recording proxy that also drives
EMR step states (moto never finishes a step); the IAM documents against the calls the code makes."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.validate import ParamValidator

from tests.faults import AwsProxy

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parent.parent.parent
BUCKET = "migration-artifacts"  # conf/local.yaml emr.artifact_bucket
PREFIX = "emr-artifacts/reservation-migration"
JOB_ARGS = ["--from", "2025-01-01", "--to", "2025-01-31", "--properties", "H00001,H00002"]


def _client(moto: Any, service: str) -> Any:
    return boto3.client(service, endpoint_url=moto.url, region_name="us-east-1")


@pytest.fixture()
def bucket(moto: Any) -> Any:
    s3 = _client(moto, "s3")
    existing = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    if BUCKET in existing:
        for obj in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
            s3.delete_object(Bucket=BUCKET, Key=obj["Key"])
    else:
        s3.create_bucket(Bucket=BUCKET)
    return s3


@pytest.fixture()
def cluster(moto: Any) -> str:
    emr = _client(moto, "emr")
    return emr.run_job_flow(
        Name="shared",
        ReleaseLabel="emr-7.5.0",
        Instances={"MasterInstanceType": "m5.xlarge", "InstanceCount": 1, "KeepJobFlowAliveWhenNoSteps": True},
        JobFlowRole="reservation-migration-job",
        ServiceRole="EMR_DefaultRole_V2",
        Tags=[{"Key": "application", "Value": "reservation-migration"}],
    )["JobFlowId"]


def submit(endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL_S3": endpoint,
        "AWS_ENDPOINT_URL_EMR": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "PYTHONPATH": str(ROOT),
    }
    cmd = [sys.executable, "-m", "jobs.submit", "--env", "local", *args]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def _validate(operation: str, params: dict[str, Any]) -> None:
    model = botocore.session.get_session().get_service_model("emr").operation_model(operation)
    report = ParamValidator().validate(params, model.input_shape)
    assert not report.has_errors(), report.generate_report()


def test_dry_run_renders_valid_steps_and_calls_nothing(moto: Any, bucket: Any) -> None:
    proxy = AwsProxy(moto.url)
    with proxy.serve() as url:
        shared = submit(url, "--dry-run", "--cluster-id", "j-123", "--run-id", "r1", *JOB_ARGS)
        transient = submit(url, "--dry-run", "--create-cluster", "--run-id", "r1", *JOB_ARGS)
    assert shared.returncode == 0, shared.stderr
    assert transient.returncode == 0, transient.stderr
    assert proxy.operations == set()  # nothing uploaded, nothing added
    assert "Contents" not in bucket.list_objects_v2(Bucket=BUCKET)
    plan = json.loads(shared.stdout)
    root = f"s3://{BUCKET}/{PREFIX}/{plan['version']}"
    assert plan["artifact_root"] == root and re.fullmatch(r"[0-9a-f]{12}(-dirty)?", plan["version"])
    _validate("AddJobFlowSteps", {"JobFlowId": "j-123", "Steps": plan["steps"]})
    migrate, reconcile = plan["steps"]
    assert reconcile["HadoopJarStep"]["Args"][-5:] == [f"{root}/reconcile.py", "--env", "local", "--run-id", "r1"]
    assert migrate["ActionOnFailure"] == "CANCEL_AND_WAIT"  # never terminate a shared cluster
    args = migrate["HadoopJarStep"]["Args"]
    assert migrate["HadoopJarStep"]["Jar"] == "command-runner.jar"
    assert args[:3] == ["spark-submit", "--deploy-mode", "cluster"]
    entry = args.index(f"{root}/migrate.py")
    assert args[entry + 1 :] == ["--env", "local", "--run-id", "r1", *JOB_ARGS]
    assert args[args.index("--py-files") + 1] == f"{root}/migration.zip"
    assert args[args.index("--jars") + 1] == f"{root}/migration-udfs.jar"
    assert args[args.index("--archives") + 1] == f"{root}/conf.zip#conf"

    cluster_plan = json.loads(transient.stdout)
    request = cluster_plan["cluster"]
    _validate("RunJobFlow", request)
    assert request["Steps"][0]["ActionOnFailure"] == "TERMINATE_CLUSTER"  # a transient cluster is ours
    assert request["BootstrapActions"][0]["ScriptBootstrapAction"]["Path"] == f"{root}/install_python_deps.sh"
    assert {"Key": "application", "Value": "reservation-migration"} in request["Tags"]
    spark_env = request["Configurations"][0]["Configurations"][0]["Properties"]
    assert spark_env["PYSPARK_PYTHON"] == "python3.11"
    # guest data in the clear between extract and protect: encrypted on disk and between nodes
    assert request["SecurityConfiguration"] == "reservation-migration"
    assert request["Configurations"][1]["Properties"]["spark.io.encryption.enabled"] == "true"  # shuffle, spill
    for step in (migrate, request["Steps"][0]):  # a shared cluster's security configuration is not ours
        step_args = step["HadoopJarStep"]["Args"]
        assert step_args[step_args.index("spark.io.encryption.enabled=true") - 1] == "--conf"


def test_the_security_configuration_encrypts_local_disks_and_traffic_and_emr_accepts_it(moto: Any) -> None:
    from jobs.submit import render

    template = json.loads((ROOT / "conf" / "emr" / "security-configuration.json").read_text())
    kms = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    doc = render(template, {"AT_REST_KMS_KEY": kms, "TLS_CERTIFICATES_ZIP": "s3://certs/emr/tls.zip"})
    encryption = doc["EncryptionConfiguration"]
    assert encryption["EnableAtRestEncryption"] is True and encryption["EnableInTransitEncryption"] is True
    local = encryption["AtRestEncryptionConfiguration"]["LocalDiskEncryptionConfiguration"]
    assert local == {"EncryptionKeyProviderType": "AwsKms", "AwsKmsKey": kms, "EnableEbsEncryption": True}
    emr = _client(moto, "emr")
    request = {"Name": "reservation-migration", "SecurityConfiguration": json.dumps(doc)}
    _validate("CreateSecurityConfiguration", request)
    emr.create_security_configuration(Name="reservation-migration-test", SecurityConfiguration=json.dumps(doc))
    stored = emr.describe_security_configuration(Name="reservation-migration-test")["SecurityConfiguration"]
    assert json.loads(stored) == doc


def test_submit_uploads_adds_exactly_the_rendered_steps_and_follows_them(moto: Any, bucket: Any, cluster: str) -> None:
    proxy = AwsProxy(moto.url, polls=2)
    with proxy.serve() as url:
        planned = json.loads(submit(url, "--dry-run", "--cluster-id", cluster, "--run-id", "r2", *JOB_ARGS).stdout)
        result = submit(url, "--cluster-id", cluster, "--run-id", "r2", *JOB_ARGS)
    assert result.returncode == 0, result.stdout + result.stderr
    # the artifact, the conf and the bootstrap landed under the versioned prefix
    prefix = f"{PREFIX}/{planned['version']}/"
    keys = {o["Key"] for o in bucket.list_objects_v2(Bucket=BUCKET, Prefix=prefix)["Contents"]}
    assert keys == {
        prefix + n
        for n in (
            "migration.zip",
            "conf.zip",
            "migration-udfs.jar",
            "migrate.py",
            "reconcile.py",
            "install_python_deps.sh",
        )
    }
    jar_bytes = bucket.get_object(Bucket=BUCKET, Key=prefix + "migration-udfs.jar")["Body"].read()
    jar = zipfile.ZipFile(io.BytesIO(jar_bytes))
    assert "migration/pii/Seal.class" in jar.namelist()
    code = zipfile.ZipFile(io.BytesIO(bucket.get_object(Bucket=BUCKET, Key=prefix + "migration.zip")["Body"].read()))
    assert {"pipeline/run.py", "readers/htng_xml.py", "loaders/sql/001_tables.sql", "loaders/sql/002_keys.sql"} <= set(
        code.namelist()
    )
    conf = zipfile.ZipFile(io.BytesIO(bucket.get_object(Bucket=BUCKET, Key=prefix + "conf.zip")["Body"].read()))
    assert {"base.yaml", "prod.yaml", "quality/reservations_suite.yaml"} <= set(conf.namelist())
    # the steps on the cluster (read from moto directly) are the rendered ones
    stored = _client(moto, "emr").list_steps(ClusterId=cluster)["Steps"][::-1]  # ListSteps: newest first
    got = [{"Name": s["Name"], "ActionOnFailure": s["ActionOnFailure"],
            "HadoopJarStep": {"Jar": s["Config"]["Jar"], "Args": s["Config"]["Args"]}} for s in stored]  # fmt: skip
    assert got == planned["steps"]
    assert re.search(r"COMPLETED\s+migrate local r2", result.stdout)
    assert re.search(r"COMPLETED\s+reconcile local r2", result.stdout)
    assert "/runs/r2/manifest.json" in result.stdout
    assert f"s3://{BUCKET}/emr-logs/{cluster}/steps/" in result.stdout
    _assert_allowed(proxy.operations, ROOT / "conf" / "iam" / "submitter-policy.json")
    assert proxy.operations >= {"s3:PutObject", "elasticmapreduce:AddJobFlowSteps", "elasticmapreduce:DescribeStep"}


def test_a_failed_step_ends_the_submit_with_a_non_zero_exit(moto: Any, bucket: Any, cluster: str) -> None:
    proxy = AwsProxy(moto.url, polls=1, fail=("migrate",))
    with proxy.serve() as url:
        result = submit(url, "--cluster-id", cluster, "--run-id", "r3")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAILED (injected by the test proxy)" in result.stdout
    assert re.search(r"FAILED\s+migrate local r3", result.stdout)


RUNS_BUCKET = "migration-data"
# a load_incomplete run's manifest as the job writes it (only what the summary reads)
INCOMPLETE = {
    "run_id": "r6", "status": "load_incomplete", "exit_code": 4, "run_dir": f"s3://{RUNS_BUCKET}/migration/runs/r6",
    "counts": {
        "input": {"edw": 1200, "htng": 30}, "superseded": {"edw": 150, "htng": 10},
        "duplicates": {"edw": 40, "htng": 0}, "quarantined": {"edw": 10, "htng": 0},
        "loaded": {"edw": 1000, "htng": 20},
        "quarantined_by_reason": {"BAD_DATE": 10}, "reservations_loaded": 1020,
        "targets": {"dynamodb": {"written": 1003, "kept_newer": 5, "failed": 12}},
    },
    "timings_s": {"extract": 3.0, "load_dynamodb": 40.0, "total": 60.0},
}  # fmt: skip


def test_submit_follows_the_run_and_exits_with_its_code(moto: Any, bucket: Any, cluster: str) -> None:
    """While the migrate step runs, each new progress line the driver writes is printed once; at the end the
    run's summary, and the run's own exit code (4: load incomplete), not the step's 1."""
    s3 = _client(moto, "s3")
    if RUNS_BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=RUNS_BUCKET)
    run_dir = "migration/runs/r6"
    lines = {
        1: "progress load_dynamodb: 250/1,020 items (24.5 %), 50/s, ETA 15s",
        2: "progress load_dynamodb: 1,020/1,020 items (100.0 %), 102/s, ETA 0s",
    }

    # an earlier attempt under the same run id left its files: they are not this run's
    stale = {"ts": "2026-01-01T00:00:00+00:00", "message": "progress transform: 9 s, Spark tasks 1/2"}
    s3.put_object(Bucket=RUNS_BUCKET, Key=f"{run_dir}/_progress/stage-transform.json", Body=json.dumps(stale))

    def the_run(step: str, poll: int) -> None:  # what the driver writes while the step runs
        if not step.startswith("migrate") or poll not in lines:
            return
        now = datetime.now(UTC).isoformat()
        line = {"ts": now, "message": lines[poll], "stage": "load_dynamodb"}
        s3.put_object(Bucket=RUNS_BUCKET, Key=f"{run_dir}/_progress/stage-load_dynamodb.json", Body=json.dumps(line))
        if poll == 2:
            manifest = {**INCOMPLETE, "started_at": now}
            s3.put_object(Bucket=RUNS_BUCKET, Key=f"{run_dir}/manifest.json", Body=json.dumps(manifest))

    proxy = AwsProxy(moto.url, polls=4, fail=("migrate",), on_poll=the_run)  # the job exits 4: the step fails
    with proxy.serve() as url:
        result = submit(url, "--cluster-id", cluster, "--run-id", "r6", "--steps", "migrate",
                        "--set", f"output.root=s3://{RUNS_BUCKET}/migration")  # fmt: skip
    out = result.stdout
    print(out)  # what the README shows (pytest -s)
    assert result.returncode == 4, out + result.stderr
    assert out.count(lines[1]) == 1 and out.count(lines[2]) == 1  # polled four times, each line printed once
    assert out.index(lines[1]) < out.index(lines[2]) < out.index("run r6: load_incomplete (exit 4)")
    assert re.search(r"dynamodb\s+1,003\s+5\s+12", out)
    assert re.search(r"FAILED\s+migrate local r6", out)
    assert stale["message"] not in out
    _assert_allowed(proxy.operations, ROOT / "conf" / "iam" / "submitter-policy.json")
    assert {"s3:GetObject", "s3:ListBucket"} <= proxy.operations


def test_a_step_that_dies_before_its_manifest_exits_1_whatever_an_earlier_attempt_left(moto, bucket, cluster):
    s3 = _client(moto, "s3")
    if RUNS_BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=RUNS_BUCKET)
    earlier = {**INCOMPLETE, "run_id": "r7", "status": "succeeded", "exit_code": 0,
               "started_at": "2026-01-01T00:00:00+00:00"}  # fmt: skip
    s3.put_object(Bucket=RUNS_BUCKET, Key="migration/runs/r7/manifest.json", Body=json.dumps(earlier))
    proxy = AwsProxy(moto.url, polls=1, fail=("migrate",))
    with proxy.serve() as url:
        result = submit(url, "--cluster-id", cluster, "--run-id", "r7", "--steps", "migrate",
                        "--set", f"output.root=s3://{RUNS_BUCKET}/migration")  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "run r7: succeeded" not in result.stdout


def test_create_cluster_runs_a_tagged_transient_cluster(moto: Any, bucket: Any) -> None:
    proxy = AwsProxy(moto.url, polls=1)
    with proxy.serve() as url:
        result = submit(url, "--create-cluster", "--run-id", "r4")
    assert result.returncode == 0, result.stdout + result.stderr
    cluster_id = re.search(r"created cluster (\S+)", result.stdout).group(1)  # type: ignore[union-attr]
    described = _client(moto, "emr").describe_cluster(ClusterId=cluster_id)["Cluster"]
    assert {"Key": "application", "Value": "reservation-migration"} in described["Tags"]
    assert described["AutoTerminate"] is True  # KeepJobFlowAliveWhenNoSteps false
    _assert_allowed(proxy.operations, ROOT / "conf" / "iam" / "submitter-policy.json")


def test_bad_arguments_exit_2_with_one_line(moto: Any) -> None:
    for args, message in [
        ((), "submit: error: --cluster-id or --create-cluster: one is needed (or --dry-run)"),
        (("--dry-run", "--from", "2025-02-30"), "submit: error: --from: expected YYYY-MM-DD"),
        (("--dry-run", "--steps", "nothing"), "submit: error: --steps: nothing to run"),
    ]:
        result = submit(moto.url, *args)
        assert result.returncode == 2 and result.stderr.strip().startswith(message), result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def _policy_actions(path: Path) -> set[str]:
    doc = json.loads(path.read_text())
    return {a for st in doc["Statement"] for a in st["Action"]}


def _assert_allowed(operations: set[str], policy: Path) -> None:
    allowed = _policy_actions(policy)
    assert operations <= allowed, sorted(operations - allowed)


@pytest.mark.parametrize("name", ["job-role-policy.json", "submitter-policy.json", "support-decrypt-policy.json"])
def test_iam_policies_grant_no_wildcard_action_and_no_open_resource(name: str) -> None:
    doc = json.loads((ROOT / "conf" / "iam" / name).read_text())
    for statement in doc["Statement"]:
        assert statement["Effect"] == "Allow"
        assert all("*" not in action for action in statement["Action"]), statement["Sid"]
        for resource in statement["Resource"]:
            if resource == "*":
                # only the APIs without resource-level permissions, and then bound by a condition
                assert statement["Action"] in (["cloudwatch:PutMetricData"], ["elasticmapreduce:RunJobFlow"],
                                               ["dynamodb:DescribeLimits"])  # fmt: skip
                assert statement.get("Condition"), statement["Sid"]
            else:
                assert re.match(r"arn:aws:[a-z0-9-]+:[^*]*:[^*]*:?[^*]+", resource), resource
                # (the streams of one named log group are that group's: not an open resource)
                assert not resource.endswith(":*") or re.search(r":log-group:[^*]+:\*$", resource), resource
                assert "::*" not in resource, resource


def test_the_bootstrap_pins_satisfy_setup_py() -> None:
    from packaging.requirements import Requirement

    script = (ROOT / "bootstrap" / "install_python_deps.sh").read_text()
    pins = dict(re.findall(r'"([A-Za-z0-9_.\-\[\]]+)==([0-9.]+)"', script))
    setup = (ROOT / "setup.py").read_text()
    wanted = [Requirement(r) for r in re.findall(r'"([A-Za-z][^"]*[<>=][^"]*)"', setup.split("extras_require")[0])]
    checked = 0
    for req in wanted:
        pin = next((v for k, v in pins.items() if k.split("[")[0].lower().replace("_", "-") == req.name.lower()), None)
        if pin is not None:
            assert req.specifier.contains(pin), f"{req} does not allow the bootstrap pin {pin}"
            checked += 1
    assert checked >= 8
    assert subprocess.run(["bash", "-n", str(ROOT / "bootstrap" / "install_python_deps.sh")]).returncode == 0
