"""Run the real job (a subprocess, as an operator would) against the session's PostgreSQL and moto."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import psycopg

from bootstrap.local.services import PG_USER, Moto, Postgres, _owner_prefix, _pg_bin
from loaders.dynamodb import create_table_if_missing, key_registry_key
from pipeline.pii_keys import unwrap
from transforms.pii import decrypt_field

ROOT = Path(__file__).resolve().parents[2]
_DATA_KEYS: dict[tuple[str, str], bytes] = {}  # (database, key ref) -> plaintext, as moto's KMS unwraps it
# Short runs on two cores: the C1 compiler alone spends less CPU compiling what runs once, and the serial
# collector has no concurrent threads to feed.
DRIVER_JAVA_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xlog:cds=off -Xlog:cds+dynamic=off"
# Every job run starts a driver JVM that looks up and loads Spark's classes out of some 250 jars: most of
# a small run's CPU. The first run of this process that ends well dumps the classes it loaded into a
# dynamic class-data-sharing archive (JDK 13+), and every later run maps them from it instead.
_JVM_ARCHIVE = Path(tempfile.gettempdir()) / f"migration-tests-{os.getpid()}.jsa"


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str
    manifest: dict[str, Any] | None
    run_dir: Path | None


@dataclass
class Targets:
    table: str
    database: str
    moto: Moto
    postgres: Postgres

    @property
    def conninfo(self) -> str:
        return self.postgres.conninfo.replace("dbname=migration", f"dbname={self.database}")

    def dynamodb(self) -> Any:
        return boto3.client("dynamodb", endpoint_url=self.moto.url, region_name="us-east-1")

    def items(self) -> list[dict[str, Any]]:
        """The reservations (the table also holds its data-key registry: ``key_items``)."""
        return [it for it in self.all_items() if it["pk"]["S"].startswith("RES#")]

    def key_items(self) -> list[dict[str, Any]]:
        return [it for it in self.all_items() if it["pk"]["S"].startswith("PIIKEY#")]

    def all_items(self) -> list[dict[str, Any]]:
        pages = self.dynamodb().get_paginator("scan").paginate(TableName=self.table)
        return [it for page in pages for it in page["Items"]]

    def data_key(self, ref: str) -> bytes:
        """The plaintext of a registered data key (from DynamoDB's registry, else Aurora's; kms:Decrypt, as the
        support tool does)."""
        if (self.database, ref) not in _DATA_KEYS:
            answer = self.dynamodb().get_item(TableName=self.table, Key=key_registry_key(ref))
            if "Item" in answer:
                encrypted = bytes(answer["Item"]["encrypted_data_key"]["B"])
            else:
                (row,) = self.sql("SELECT encrypted_data_key FROM pii_data_keys WHERE key_ref = %s", (ref,))
                encrypted = bytes(row[0])
            kms = boto3.client("kms", endpoint_url=self.moto.url, region_name="us-east-1")
            _DATA_KEYS[(self.database, ref)] = unwrap(encrypted, kms)
        return _DATA_KEYS[(self.database, ref)]

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.conninfo) as conn:
            cur = conn.execute(query, params)  # type: ignore[arg-type]
            return cur.fetchall() if cur.description else []


def fresh_targets(moto: Moto, postgres: Postgres, name: str) -> Targets:
    create_table_if_missing(boto3.client("dynamodb", endpoint_url=moto.url, region_name="us-east-1"), name)
    psql = [*_owner_prefix(), _pg_bin("psql"), "-h", "127.0.0.1", "-p", str(postgres.port), "-U", "postgres", "-qAt"]
    subprocess.run([*psql, "-c", f"DROP DATABASE IF EXISTS {name}"], check=True, capture_output=True)
    subprocess.run([*psql, "-c", f"CREATE DATABASE {name} OWNER {PG_USER}"], check=True, capture_output=True)
    return Targets(name, name, moto, postgres)


def migrate_command(
    data_dir: Path,
    out_root: Path,
    targets: Targets,
    *args: str,
    run_id: str | None = None,
    endpoint: str | None = None,
    env: dict[str, str] | None = None,
    job: str = "migrate",
    java_options: str | None = None,
) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of ``python -m jobs.<job> --env local`` against these targets."""
    environ = {
        **os.environ,
        "MIGRATION_DATA_DIR": str(data_dir),
        "MIGRATION_OUTPUT_ROOT": str(out_root),
        "MIGRATION_PG_PORT": str(targets.postgres.port),
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint or targets.moto.url,
        "AWS_ENDPOINT_URL_KMS": targets.moto.url,
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": targets.moto.url,
        "AWS_ENDPOINT_URL_CLOUDWATCH": targets.moto.url,
        "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": targets.moto.url,
        "AWS_ENDPOINT_URL_STS": targets.moto.url,
        "MIGRATION_LOG_FORMAT": "text",
        "PYTHONPATH": str(ROOT),
        **(env or {}),  # the test's own, over the defaults above
    }
    cmd = [
        sys.executable,
        "-m",
        f"jobs.{job}",
        "--env",
        "local",
        "--set",
        f"dynamodb.table={targets.table}",
        "--set",
        f"aurora.database={targets.database}",
        "--set",
        "spark.conf.spark.sql.shuffle.partitions=2",
        "--set",
        "spark.master=local[2]",
        "--set",
        "spark.conf.spark.driver.memory=1g",
        # A few hundred rows in two shuffle partitions: adaptive execution would only re-plan the query after
        # each stage, CPU that small runs pay for nothing. The cluster test and `make run` keep it on, as shipped.
        "--set",
        "spark.conf.spark.sql.adaptive.enabled=false",
        "--set",
        f"spark.conf.spark.driver.extraJavaOptions={java_options or _java_options()}",
        *args,
    ]
    if run_id:
        cmd += ["--run-id", run_id]
    return cmd, environ


def run_migrate(
    data_dir: Path, out_root: Path, targets: Targets, *args: str, run_id: str | None = None, **options: Any
) -> Result:
    """``python -m jobs.<job> --env local`` against these targets, to its end (``options``: those of
    :func:`migrate_command`; ``job="reconcile"`` for the reconciler)."""
    dump = None if _JVM_ARCHIVE.exists() else _JVM_ARCHIVE.with_suffix(f".{os.getpid()}.partial")
    if dump is not None:
        options["java_options"] = f"{DRIVER_JAVA_OPTIONS} -XX:ArchiveClassesAtExit={dump}"
    cmd, environ = migrate_command(data_dir, out_root, targets, *args, run_id=run_id, **options)
    # (the driver JVM holds the pipes until it has exited, archive written)
    proc = subprocess.run(cmd, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=900)
    if dump is not None:
        _keep_archive(dump)
    manifest = run_dir = None
    if run_id and (out_root / "runs" / run_id / "manifest.json").is_file():
        run_dir = out_root / "runs" / run_id
        manifest = json.loads((run_dir / "manifest.json").read_text())
    return Result(proc.returncode, proc.stdout, proc.stderr, manifest, run_dir)


def _java_options() -> str:
    if not _JVM_ARCHIVE.exists():
        return DRIVER_JAVA_OPTIONS
    return f"{DRIVER_JAVA_OPTIONS} -XX:SharedArchiveFile={_JVM_ARCHIVE}"


def _keep_archive(dump: Path) -> None:
    """Keep a dumped archive only when a JVM starts with it (a cut-off archive crashes the JVM that maps it)."""
    java = shutil.which("java") or "java"
    check = [java, *DRIVER_JAVA_OPTIONS.split(), f"-XX:SharedArchiveFile={dump}", "-version"]
    if dump.is_file() and subprocess.run(check, capture_output=True).returncode == 0:
        dump.replace(_JVM_ARCHIVE)
        atexit.register(_JVM_ARCHIVE.unlink, missing_ok=True)
    else:
        dump.unlink(missing_ok=True)


def generate(out: Path, reservations: int, seed: int, *extra: str) -> dict[str, Any]:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "jobs.generate_sample",
            "--out",
            str(out),
            "--reservations",
            str(reservations),
            "--seed",
            str(seed),
            *extra,
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return json.loads((out / "ground_truth.json").read_text())


def comparable_items(targets: Targets, items: list[dict[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """DynamoDB items by pk with guest fields decrypted, run id and data key reference dropped (both differ
    from run to run, and ciphertexts by nonce)."""
    out = {}
    for stored in targets.items() if items is None else items:
        key = targets.data_key(stored["pii_key"]["S"])
        item = {k: v for k, v in stored.items() if k not in ("run_id", "pii_key", "guest")}
        guest = stored["guest"]["M"]
        pk = item["pk"]["S"]
        item["guest"] = {k: decrypt_field(v["B"], k, key, pk) if "B" in v else v["S"] for k, v in guest.items()}
        out[item["pk"]["S"]] = item
    return out


def comparable_rows(targets: Targets) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Aurora's reservations (guest fields decrypted: ciphertexts differ by nonce) and room stays, without
    run ids, load times and data key references."""
    rows = targets.sql(
        "SELECT property_code, confirmation_no, status, created_at, last_modified, source, source_seq, arrival_date,"
        " departure_date, nights, adults, children, guest_first_name, guest_last_name, guest_email, guest_phone,"
        " guest_country, email_hash, card_type, card_last4, total_amount, currency, channel, pii_key"
        " FROM reservations ORDER BY 1, 2"
    )
    decrypted = []
    for r in rows:
        key = targets.data_key(r[-1])
        pk = f"RES#{r[0]}#{r[1]}"
        guest = tuple(
            decrypt_field(bytes(v) if v is not None else None, f, key, pk)
            for v, f in zip(r[12:16], ("first_name", "last_name", "email", "phone"), strict=True)
        )
        decrypted.append(r[:12] + guest + r[16:-1])
    return decrypted, targets.sql("SELECT * FROM room_stays ORDER BY 1, 2, 3")
