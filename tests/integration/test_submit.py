"""jobs.submit end to end against the moto server (S3 + EMR), through a recording proxy that also drives
EMR step states (moto never finishes a step); the IAM documents against the calls the code makes."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import tarfile
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
        "AWS_ENDPOINT_URL_EMR_SERVERLESS": endpoint,
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
    bootstrap = request["BootstrapActions"][0]["ScriptBootstrapAction"]
    assert bootstrap["Path"] == f"{root}/install_python_deps.sh"
    # the wheels are named by the lock, not the commit: one upload serves every version sharing the lock
    assert re.fullmatch(rf"s3://{BUCKET}/{PREFIX}/python-deps/[0-9a-f]{{16}}\.tar", bootstrap["Args"][0])
    assert len(bootstrap["Args"]) == 1
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
    # a running cluster runs no bootstrap action: no wheels are uploaded, and the submitter is told so
    assert [o["Key"] for o in bucket.list_objects_v2(Bucket=BUCKET)["Contents"] if "python-deps" in o["Key"]] == []
    assert f"cluster {cluster} runs no bootstrap action now" in result.stdout
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


def test_serverless_runs_the_steps_as_job_runs_follows_them_and_exits_with_the_runs_code(moto, bucket):
    """--serverless: each step becomes one job run with the step's own options (the artifact as for a step),
    reconcile starts only after migrate succeeded, the driver's progress is printed while migrate runs, and the
    exit code is the run's."""
    s3 = _client(moto, "s3")
    if RUNS_BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=RUNS_BUCKET)
    app = _client(moto, "emr-serverless").create_application(
        name="reservation-migration", releaseLabel="emr-7.5.0", type="SPARK",
        tags={"application": "reservation-migration"})["applicationId"]  # fmt: skip
    line = "progress load_aurora: 600/1,020 rows (58.8 %), 300/s, ETA 1s"

    def the_run(name: str, poll: int) -> None:
        if name.startswith("migrate") and poll == 2:
            now = datetime.now(UTC).isoformat()
            put = s3.put_object
            put(Bucket=RUNS_BUCKET, Key="migration/runs/r9/_progress/stage-load_aurora.json",
                Body=json.dumps({"ts": now, "message": line}))  # fmt: skip
            manifest = {**INCOMPLETE, "run_id": "r9", "status": "succeeded", "exit_code": 0, "started_at": now}
            put(Bucket=RUNS_BUCKET, Key="migration/runs/r9/manifest.json", Body=json.dumps(manifest))
        if name.startswith("reconcile") and poll == 2:
            verdict = {"passed": True, "keys": 1020, "checked_at": datetime.now(UTC).isoformat()}
            s3.put_object(Bucket=RUNS_BUCKET, Key="migration/runs/r9/reconcile.json", Body=json.dumps(verdict))

    args = ("--serverless", app, "--run-id", "r9", *JOB_ARGS, "--set", f"output.root=s3://{RUNS_BUCKET}/migration")
    proxy = AwsProxy(moto.url, polls=3, on_poll=the_run)
    with proxy.serve() as url:
        planned = json.loads(submit(url, "--dry-run", *args).stdout)
        assert proxy.operations == set()  # the dry run's job runs are printed, not started
        result = submit(url, *args)
    out = result.stdout
    print(out)  # what the README shows (pytest -s)
    assert result.returncode == 0, out + result.stderr
    assert out.count(line) == 1 and "reconcile: PASSED (1,020 keys" in out
    assert re.search(r"COMPLETED\s+migrate local r9", out) and re.search(r"COMPLETED\s+reconcile local r9", out)

    root = f"s3://{BUCKET}/{PREFIX}/{planned['version']}"
    client = _client(moto, "emr-serverless")
    runs = [client.get_job_run(applicationId=app, jobRunId=r["id"])["jobRun"]
            for r in client.list_job_runs(applicationId=app)["jobRuns"]]
    by_name = {r["name"]: r for r in runs}
    assert set(by_name) == {"migrate local r9", "reconcile local r9"}
    migrate = by_name["migrate local r9"]
    assert migrate["executionRole"] == "arn:aws:iam::123456789012:role/reservation-migration-job"
    driver = migrate["jobDriver"]["sparkSubmit"]
    assert driver["entryPoint"] == f"{root}/migrate.py"
    assert driver["entryPointArguments"] == ["--env", "local", "--run-id", "r9", *JOB_ARGS]
    params = driver["sparkSubmitParameters"].split(" ")
    pairs = set(zip(params[::2], params[1::2], strict=True))
    # the step's options: the same artifact, the driver's environment under the serverless name
    step = planned["steps"][0]["HadoopJarStep"]["Args"]
    assert {("--py-files", f"{root}/migration.zip"), ("--jars", f"{root}/migration-udfs.jar"),
            ("--archives", f"{root}/conf.zip#conf"), ("--conf", "spark.io.encryption.enabled=true"),
            ("--conf", "spark.emr-serverless.driverEnv.MIGRATION_CONF_DIR=conf"),
            ("--conf", f"spark.emr-serverless.driverEnv.MIGRATION_CODE_VERSION={planned['version']}"),
            ("--conf", "spark.emr-serverless.driverEnv.PYSPARK_PYTHON=/usr/bin/python3.11"),
            ("--conf", "spark.executorEnv.PYSPARK_PYTHON=/usr/bin/python3.11"),
            # what a transient cluster's spark-defaults would give it, with the application's executor ceiling
            ("--conf", "spark.sql.session.timeZone=UTC"), ("--conf", "spark.executor.cores=4"),
            ("--conf", "spark.driver.extraJavaOptions=-XX:-DontCompileHugeMethods"),
            ("--conf", "spark.dynamicAllocation.maxExecutors=20")} <= pairs  # fmt: skip
    assert not any(p.startswith(("spark.shuffle.service.", "spark.dynamicAllocation.enabled")) for p in params)
    assert planned["job_runs"][0]["jobDriver"] == migrate["jobDriver"]
    assert "--deploy-mode" not in params and not any("spark.yarn." in p for p in params)
    assert sum(1 for p in step if p.startswith("spark.yarn.appMasterEnv.")) == sum(
        1 for p in params if p.startswith("spark.emr-serverless.driverEnv.MIGRATION_"))  # fmt: skip
    logs = migrate["configurationOverrides"]["monitoringConfiguration"]["s3MonitoringConfiguration"]["logUri"]
    assert logs == f"s3://{BUCKET}/emr-logs/"
    assert by_name["reconcile local r9"]["jobDriver"]["sparkSubmit"]["entryPoint"] == f"{root}/reconcile.py"
    _assert_allowed(proxy.operations, ROOT / "conf" / "iam" / "submitter-policy.json")
    assert {"emr-serverless:StartJobRun", "emr-serverless:GetJobRun"} <= proxy.operations

    # a migrate run that fails: reconcile is never started, and the exit is the run's (here: no manifest, 1)
    proxy = AwsProxy(moto.url, polls=1, fail=("migrate",))
    with proxy.serve() as url:
        failed = submit(url, "--serverless", app, "--run-id", "r10", "--set", f"output.root=s3://{RUNS_BUCKET}/m")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "FAILED (injected by the test proxy)" in failed.stdout
    assert "reconcile local r10: not started" in failed.stdout
    names = [r["name"] for r in client.list_job_runs(applicationId=app)["jobRuns"]]
    assert "migrate local r10" in names and "reconcile local r10" not in names


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
        again = submit(url, "--create-cluster", "--run-id", "r5")
    assert again.returncode == 0, again.stdout + again.stderr
    cluster_id = re.search(r"created cluster (\S+)", result.stdout).group(1)  # type: ignore[union-attr]
    emr = _client(moto, "emr")
    described = emr.describe_cluster(ClusterId=cluster_id)["Cluster"]
    assert {"Key": "application", "Value": "reservation-migration"} in described["Tags"]
    assert described["AutoTerminate"] is True  # KeepJobFlowAliveWhenNoSteps false
    _assert_allowed(proxy.operations, ROOT / "conf" / "iam" / "submitter-policy.json")

    # the nodes install the locked wheels from the artifact: uploaded by the first submission only
    deps = re.search(r"^uploaded (s3://\S+/python-deps/\S+\.tar) ", result.stdout, re.M).group(1)  # type: ignore[union-attr]
    assert f"present  {deps}" in again.stdout and f"uploaded {deps}" not in again.stdout
    (action,) = emr.list_bootstrap_actions(ClusterId=cluster_id)["BootstrapActions"]
    assert action["Args"] == [deps] and action["ScriptPath"].endswith("/install_python_deps.sh")
    key = deps.removeprefix(f"s3://{BUCKET}/")
    head = bucket.get_object(Bucket=BUCKET, Key=key, Range="bytes=0-1048575")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(head), mode="r|") as tar:
        first = tar.next()
        assert first is not None and first.name == "cluster.lock"
        assert tar.extractfile(first).read() == (ROOT / "requirements" / "cluster.lock").read_bytes()  # type: ignore[union-attr]


def test_bad_arguments_exit_2_with_one_line(moto: Any) -> None:
    for args, message in [
        ((), "submit: error: --cluster-id, --create-cluster or --serverless: one is needed (or --dry-run)"),
        (("--serverless", "app1", "--no-wait"), "submit: error: --no-wait: job runs start one after the other"),
        (("--serverless", "app1", "--set", "emr.serverless_execution_role=null"),
         "submit: error: emr.serverless_execution_role: not set"),
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
