"""The packaged job on a real cluster manager: a Spark standalone master and two workers (separate JVMs), the
job submitted from the artifact ``make package`` builds, exactly as an EMR step runs it (client mode here)."""

from __future__ import annotations

import json
import os
import subprocess
import zipfile

import pytest

from bootstrap.local.verify import COUNT_KEYS
from jobs import package
from tests.integration.conftest import LOOSE_GATE
from tests.integration.harness import DRIVER_JAVA_OPTIONS, comparable_rows, fresh_targets, migrate_command
from tests.integration.standalone import SPARK_HOME, standalone_cluster

pytestmark = pytest.mark.integration


def test_the_packaged_job_on_a_standalone_cluster_matches_the_ground_truth(small_sample, moto, postgres, tmp_path):
    data_dir, truth = small_sample
    # GIVEN the EMR artifact, and its conf unpacked as --archives conf.zip#conf unpacks it
    artifact = package.build(tmp_path / "dist")
    conf_dir = tmp_path / "conf"
    with zipfile.ZipFile(artifact.files["conf.zip"]) as zf:
        zf.extractall(conf_dir)
    targets = fresh_targets(moto, postgres, "cluster")
    out = tmp_path / "out"
    cmd, env = migrate_command(data_dir, out, targets, *LOOSE_GATE, "--set", "spark.master=null",
                               "--set", "spark.conf.spark.sql.adaptive.enabled=true", run_id="cluster")  # as shipped
    job_args = cmd[cmd.index("jobs.migrate") + 1 :]
    env = {k: v for k, v in env.items() if k != "PYTHONPATH"}  # nothing from the checkout: only the artifact
    run_dir = tmp_path / "submit"
    run_dir.mkdir()
    with standalone_cluster(tmp_path / "cluster") as cluster:
        executor_env = {k: env[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
        submit = [
            str(SPARK_HOME / "bin" / "spark-submit"), "--master", cluster.url, "--deploy-mode", "client",
            "--py-files", str(artifact.files["migration.zip"]), "--jars", str(artifact.files["migration-udfs.jar"]),
            "--archives", f"{artifact.files['conf.zip']}#conf",
            # (the driver JVM starts before the job reads its conf: the short-run flags every test run has)
            "--driver-java-options", DRIVER_JAVA_OPTIONS,
            *[a for k, v in executor_env.items() for a in ("--conf", f"spark.executorEnv.{k}={v}")],
            "--conf", "spark.executor.cores=1", "--conf", "spark.executor.memory=1g", "--conf", "spark.cores.max=2",
            str(artifact.files["migrate.py"]), *job_args,
        ]  # fmt: skip
        env.update(MIGRATION_CONF_DIR=str(conf_dir), MIGRATION_CODE_VERSION=artifact.version,
                   PYSPARK_PYTHON=str(cluster.python), PYSPARK_DRIVER_PYTHON=str(cluster.python),
                   SPARK_HOME=str(SPARK_HOME))  # fmt: skip
        proc = subprocess.run(submit, cwd=run_dir, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"{proc.stderr[-4000:]}\n(cluster logs: {cluster.logs})"
    # THEN the run used the cluster's two workers, not a local master ...
    manifest = json.loads((out / "runs" / "cluster" / "manifest.json").read_text())
    assert manifest["task_slots"]["count"] == 2, manifest["task_slots"]
    assert "migration.zip" in proc.stderr or manifest["code_version"] == artifact.version
    # ... and its counts are the generator's ground truth, in both targets
    for key in COUNT_KEYS:
        assert manifest["counts"][key] == truth["counts"][key], key
    loaded = truth["counts"]["reservations_loaded"]
    assert manifest["counts"]["targets"]["dynamodb"] == {"written": loaded, "kept_newer": 0, "failed": 0}
    assert manifest["counts"]["targets"]["aurora"] == {"written": loaded, "kept_newer": 0, "failed": 0}
    assert len(targets.items()) == loaded
    rows, _ = comparable_rows(targets)
    assert len(rows) == loaded
    # the executors were the workers' processes (their work dirs hold the app's executor logs)
    assert list((tmp_path / "cluster").glob("worker-*/app-*/*/stderr")), os.listdir(tmp_path / "cluster")
