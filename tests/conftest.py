"""Shared fixtures: one local[2] SparkSession, a real PostgreSQL server and a moto server (both on free ports)."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TZ", "UTC")
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
for _k, _v in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}.items():
    os.environ[_k] = _v

from bootstrap.local.services import Moto, Postgres, ensure_pii_keys, free_port  # noqa: E402


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Tests of one ``xdist_group`` share session fixtures computed once per worker (the reference run):
    fail loudly when ``--dist loadgroup`` has not grouped them (pytest-xdist tags a grouped test's node id
    with ``@<group>``; under pytest 9 it silently cannot)."""
    if not getattr(item.config.option, "loadgroup", False):
        return
    groups = {str(m.args[0] if m.args else m.kwargs.get("name", "default")) for m in item.iter_markers("xdist_group")}
    if groups and not item.nodeid.endswith("@" + "_".join(sorted(groups))):
        pytest.fail("xdist_group ignored by --dist loadgroup: pytest and pytest-xdist do not match", pytrace=False)


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    from pyspark.sql import SparkSession

    from jobs.jars import udf_jar
    from pipeline.config import load_raw
    from pipeline.functions import register_functions
    from tests.integration.harness import DRIVER_JAVA_OPTIONS  # (the job runs' driver JVM flags)

    # the job's executor environment (conf/base.yaml), so that the Python workers run as the job's do
    executor_env = {k: v for k, v in load_raw("local")["spark"]["conf"].items() if k.startswith("spark.executorEnv.")}
    session = (
        SparkSession.builder.master("local[2]")
        .config(map=executor_env)
        .config("spark.jars", str(udf_jar()))
        .appName("tests")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.legacy.timeParserPolicy", "CORRECTED")
        .config("spark.sql.adaptive.enabled", "true")
        .config("spark.driver.memory", "2g")
        .config("spark.driver.extraJavaOptions", DRIVER_JAVA_OPTIONS)
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    register_functions(session)  # the job's JVM functions, as the run's preflight registers them
    yield session
    session.stop()


@pytest.fixture(scope="session")
def services_dir() -> Iterator[Path]:
    # Not under pytest's tmp (mode 700): the postgres user must reach the data directory.
    path = Path(tempfile.mkdtemp(prefix="migration-services-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres(services_dir: Path) -> Iterator[Postgres]:
    """A real PostgreSQL 15 server on a free loopback port, for the whole session."""
    pg = Postgres(services_dir / "pg", free_port())
    pg.start()
    yield pg
    pg.stop()


@pytest.fixture(scope="session")
def moto(services_dir: Path) -> Iterator[Moto]:
    """moto in server mode (Spark's Python workers are separate processes: they reach it over HTTP)."""
    server = Moto(services_dir / "moto", free_port())
    server.start()
    ensure_pii_keys(server.url)  # conf/local.yaml's KMS key and HMAC secret
    yield server
    server.stop()


@pytest.fixture()
def dynamodb(moto: Moto) -> object:
    import boto3

    return boto3.client("dynamodb", endpoint_url=moto.url, region_name="us-east-1")
