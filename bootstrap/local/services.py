"""Local PostgreSQL and moto servers for `make run` and the tests (loopback, high ports, idempotent).

    python -m bootstrap.local.services start|stop|status [--dir .local] [--pg-port 54329] [--moto-port 54330]

``start`` also creates the DynamoDB table (both GSIs) and the Aurora schema when missing, and prints
the environment variables that conf/local.yaml reads.
"""

from __future__ import annotations

import argparse
import glob
import grp
import os
import pwd
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PG_USER = "migration"
PG_PASSWORD = "migration-local"
PG_DATABASE = "migration"
SUPPORT_USER, SUPPORT_PASSWORD = "migration_support", "migration-support-local"  # conf/local.yaml pii_support
AUDIT_LOG_GROUP = "/reservation-migration/pii-decrypt-audit"  # conf/base.yaml pii_support.audit_log_group
AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@dataclass(frozen=True)
class Postgres:
    root: Path
    port: int

    @property
    def home(self) -> Path:
        """Where the server's files live: ``root``, unless we are root and the postgres user cannot enter one of
        its parents (a clone under /root, any chmod 700 folder): then a folder of its own under /var/tmp,
        named after ``root`` (the same one every time)."""
        return _reachable_home(self.root)

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def log(self) -> Path:
        return self.home / "postgres.log"

    @property
    def conninfo(self) -> str:
        return (
            f"host=127.0.0.1 port={self.port} dbname={PG_DATABASE} user={PG_USER} "
            f"password={PG_PASSWORD} sslmode=disable"
        )

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.home != self.root:
            _own_folder(self.home)
            print(f"postgres: the postgres user cannot enter {_blocked_parent(self.root)}: its data is in {self.home}",
                  file=sys.stderr)  # fmt: skip
        if not (self.data / "PG_VERSION").is_file():
            self._as_owner(
                [
                    _pg_bin("initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-locale",
                ],
                quiet=True,
            )
        if not self.running():
            opts = (
                f"-p {self.port} -k {self.home} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100 "
                "-c shared_buffers=256MB"
            )
            self._as_owner(
                [_pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", opts, "-w", "-t", "60", "start"],
                quiet=True,
            )
        self._bootstrap_role()

    def stop(self) -> None:
        if self.running():
            self._as_owner([_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"], quiet=True)

    def running(self) -> bool:
        if not (self.data / "PG_VERSION").is_file():
            return False
        res = subprocess.run(
            [*_owner_prefix(), _pg_bin("pg_ctl"), "-D", str(self.data), "status"], capture_output=True, text=True
        )
        return res.returncode == 0

    def _bootstrap_role(self) -> None:
        sql = "".join(
            f"DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{user}') THEN "
            f"CREATE ROLE {user} LOGIN PASSWORD '{password}'; END IF; END$$;"
            for user, password in ((PG_USER, PG_PASSWORD), (SUPPORT_USER, SUPPORT_PASSWORD))
        )  # the job's role, and the support tool's (it gets SELECT on the tables: grant_support_reads)
        psql = [
            _pg_bin("psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-qAt",
        ]
        subprocess.run([*psql, "-c", sql], check=True, capture_output=True)
        exists = subprocess.run(
            [*psql, "-c", f"SELECT 1 FROM pg_database WHERE datname = '{PG_DATABASE}'"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        if exists != "1":
            subprocess.run(
                [*psql, "-c", f"CREATE DATABASE {PG_DATABASE} OWNER {PG_USER}"], check=True, capture_output=True
            )

    def _as_owner(self, cmd: list[str], *, quiet: bool) -> None:
        if os.geteuid() == 0:  # never through a link: a link is chowned itself, not what it points at
            user = pwd.getpwnam("postgres")
            for path in (self.home, *self.home.rglob("*")):
                os.chown(path, user.pw_uid, user.pw_gid, follow_symlinks=False)
        res = subprocess.run(_owner_prefix() + cmd, capture_output=quiet, text=True)
        if res.returncode != 0:
            tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(cmd[:2])} failed: {res.stderr or res.stdout}\n{tail}")


def _blocked_parent(path: Path) -> Path | None:
    """The first parent of ``path`` the postgres user may not enter (None: all, or we are not root)."""
    if os.geteuid() != 0:
        return None
    user = pwd.getpwnam("postgres")
    groups = {user.pw_gid, *(g.gr_gid for g in grp.getgrall() if "postgres" in g.gr_mem)}
    for parent in reversed(path.resolve().parents):
        try:
            st = parent.stat()
        except FileNotFoundError:  # made later by us, with the default mode (others may enter)
            return None
        # the first class that matches decides, as the kernel does: owner, else group, else others
        if st.st_uid == user.pw_uid:
            may_enter = st.st_mode & 0o100
        elif st.st_gid in groups:
            may_enter = st.st_mode & 0o010
        else:
            may_enter = st.st_mode & 0o001
        if not may_enter:
            return parent
    return None


def _own_folder(path: Path) -> None:
    """``path`` under the world-writable /var/tmp: made by us, or refused when somebody else put anything
    there first (a link or a folder of theirs would have root chown what it points at)."""
    try:
        os.mkdir(path, 0o700)
        return
    except FileExistsError:
        st = os.lstat(path)
    owners = {0, pwd.getpwnam("postgres").pw_uid}
    if not stat.S_ISDIR(st.st_mode) or st.st_uid not in owners:
        raise RuntimeError(f"{path}: exists and is not a folder of root's or postgres's: remove it first")


def _reachable_home(root: Path) -> Path:
    if _blocked_parent(root) is None:
        return root
    import hashlib

    return Path("/var/tmp") / f"migration-pg-{hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:12]}"


def _owner_prefix() -> list[str]:
    """initdb refuses root: run PostgreSQL as the postgres user when we are root."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _pg_bin(name: str) -> str:
    for candidate in sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True):
        return candidate
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} not found: install PostgreSQL server binaries")
    return found


@dataclass(frozen=True)
class Moto:
    root: Path
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pidfile(self) -> Path:
        return self.root / "moto.pid"

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.running():
            return
        exe = Path(sys.executable).with_name("moto_server")
        cmd = [str(exe) if exe.exists() else "moto_server", "-H", "127.0.0.1", "-p", str(self.port)]
        with open(self.root / "moto.log", "ab") as log:
            proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env={**os.environ, **AWS_ENV}
            )
        self.pidfile.write_text(str(proc.pid))
        wait_for_port(self.port, timeout=30)

    def stop(self) -> None:
        pid = self._pid()
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGINT)  # moto ignores SIGTERM
            for _ in range(50):
                os.kill(pid, 0)
                time.sleep(0.1)
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.pidfile.unlink(missing_ok=True)

    def running(self) -> bool:
        pid = self._pid()
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return port_open(self.port)

    def _pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None


def port_open(port: int) -> bool:
    """Something listens on 127.0.0.1:``port``. The probe is closed with a reset, not a FIN: a closed probe
    would sit in TIME_WAIT on the port for a minute, and when nothing listens on a port of the ephemeral range
    Linux may connect the probe to itself (same source and destination port), which then keeps the server
    that should start there from binding it ("Address already in use")."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.settimeout(0.2)
        if s.connect_ex(("127.0.0.1", port)) != 0:
            return False
        return s.getsockname() != s.getpeername()  # connected to itself: nobody listens


def wait_for_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(port):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")


LOCAL_BUCKET = "migration-artifacts"
# conf/local.yaml's pii keys: a KMS key under this alias and the HMAC secret, both in moto.
LOCAL_KMS_ALIAS = "alias/reservation-migration-local-pii"
LOCAL_HMAC_SECRET = "migration/local/pii-hmac"
LOCAL_HMAC_VALUE = "ZGV2LWhtYWMta2V5LW5vdC1mb3ItcHJvZHVjdGlvbi0wMDAwMDAwMDAwMDA="  # synthetic data only


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _client(moto_url: str, service: str) -> Any:
    import boto3

    return boto3.client(
        service,
        endpoint_url=moto_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def ensure_pii_keys(moto_url: str) -> None:
    """The local env's KMS key (by alias) and HMAC secret, when missing."""
    kms = _client(moto_url, "kms")
    aliases = {a["AliasName"] for a in kms.list_aliases()["Aliases"]}
    if LOCAL_KMS_ALIAS not in aliases:
        key_id = kms.create_key(Description="reservation migration: guest PII (local)")["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName=LOCAL_KMS_ALIAS, TargetKeyId=key_id)
    secrets = _client(moto_url, "secretsmanager")
    try:
        secrets.describe_secret(SecretId=LOCAL_HMAC_SECRET)
    except secrets.exceptions.ResourceNotFoundException:
        secrets.create_secret(Name=LOCAL_HMAC_SECRET, SecretString=LOCAL_HMAC_VALUE)


def grant_support_reads(conninfo: str) -> None:
    """The support tool's role reads what a decrypt needs, and writes nothing (the tables' owner grants it)."""
    import psycopg

    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f"GRANT SELECT ON reservations, pii_data_keys TO {SUPPORT_USER}")


def create_targets(moto_url: str, conninfo: str, table: str = "reservations", *, empty: bool = False) -> None:
    """The DynamoDB table (both GSIs) and the Aurora schema, when missing; ``empty`` drops them first."""
    import psycopg

    from loaders.aurora import ensure_schema
    from loaders.dynamodb import create_table_if_missing

    dynamodb = _client(moto_url, "dynamodb")
    if empty:
        try:
            dynamodb.delete_table(TableName=table)
        except dynamodb.exceptions.ResourceNotFoundException:
            pass
        with psycopg.connect(conninfo) as conn:
            conn.execute("DROP TABLE IF EXISTS reservations, room_stays, migration_runs, migration_load_parts")
    create_table_if_missing(dynamodb, table)
    ensure_schema(conninfo)
    grant_support_reads(conninfo)
    ensure_pii_keys(moto_url)
    ensure_audit_log_group(moto_url)
    s3 = _client(moto_url, "s3")
    if LOCAL_BUCKET not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
        s3.create_bucket(Bucket=LOCAL_BUCKET)  # conf/local.yaml: emr.artifact_bucket, dynamodb.import_s3_uri


def ensure_audit_log_group(moto_url: str) -> None:
    """The CloudWatch Logs group the decrypt tool writes its audit lines to."""
    logs = _client(moto_url, "logs")
    if not logs.describe_log_groups(logGroupNamePrefix=AUDIT_LOG_GROUP)["logGroups"]:
        logs.create_log_group(logGroupName=AUDIT_LOG_GROUP)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="services")
    parser.add_argument("action", choices=("start", "stop", "status", "env"))
    parser.add_argument("--empty-targets", action="store_true", help="start from an empty table and schema")
    parser.add_argument("--dir", default=".local")
    parser.add_argument("--pg-port", type=int, default=int(os.environ.get("MIGRATION_PG_PORT", "54329")))
    parser.add_argument("--moto-port", type=int, default=int(os.environ.get("MIGRATION_MOTO_PORT", "54330")))
    args = parser.parse_args(argv)
    root = Path(args.dir).resolve()
    pg, moto = Postgres(root / "pg", args.pg_port), Moto(root / "moto", args.moto_port)
    if args.action == "start":
        pg.start()
        moto.start()
        create_targets(moto.url, pg.conninfo, empty=args.empty_targets)
        print(f'postgres: 127.0.0.1:{pg.port} (psql "{pg.conninfo}"); moto: {moto.url}', file=sys.stderr)
    elif args.action == "stop":
        moto.stop()
        pg.stop()
        print("local services stopped", file=sys.stderr)
    elif args.action == "status":
        print(f"postgres {'running' if pg.running() else 'stopped'}; moto {'running' if moto.running() else 'stopped'}")
    if args.action in ("start", "env"):
        print(f"export MIGRATION_PG_PORT={pg.port}")
        print(f"export AWS_ENDPOINT_URL_DYNAMODB={moto.url}")
        print(f"export AWS_ENDPOINT_URL_S3={moto.url}")  # dynamodb.mode=import stages its files here
        print(f"export AWS_ENDPOINT_URL_KMS={moto.url}")  # pii.kms_key_id: the run's data key
        print(f"export AWS_ENDPOINT_URL_SECRETS_MANAGER={moto.url}")  # pii.hmac_key
        print(f"export AWS_ENDPOINT_URL_CLOUDWATCH={moto.url}")  # metrics
        print(f"export AWS_ENDPOINT_URL_CLOUDWATCH_LOGS={moto.url}")  # jobs.pii decrypt: its audit lines
        print(f"export AWS_ENDPOINT_URL_STS={moto.url}")  # jobs.pii decrypt: who asked
        for k, v in AWS_ENV.items():
            print(f"export {k}={v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
