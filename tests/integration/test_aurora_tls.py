"""The database link: verify-full against a server whose certificate a CA of the test's own signed (what the
RDS bundle is to Aurora), one field of a JSON secret as the password (what RDS keeps in Secrets Manager), and
IAM database authentication (the same server checking each token through PAM, as RDS does)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import shutil
import time
from pathlib import Path

import boto3
import psycopg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bootstrap.local.services import Postgres, free_port
from pipeline.config import ConfigError, aws_secret_resolver, load_config
from pipeline.config_model import AuroraConfig

pytestmark = pytest.mark.integration


def _certificate(subject: str, issuer_key, issuer: x509.Name | None, key, *, ca: bool, names=()):  # type: ignore[no-untyped-def]
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder().subject_name(name).issuer_name(issuer or name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )  # fmt: skip
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(names)), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(cert) -> bytes:  # type: ignore[no-untyped-def]
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def tls_server(services_dir: Path):  # type: ignore[no-untyped-def]
    """A PostgreSQL server of the test's own whose certificate (for localhost and 127.0.0.1) a test CA signed."""
    server = Postgres(services_dir / "pg_tls", free_port())
    server.start()
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("migration test CA", ca_key, None, ca_key, ca=True)
    names = (x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    cert = _certificate("localhost", ca_key, ca.subject, server_key, ca=False, names=names)
    (server.home / "server.crt").write_bytes(_pem(cert))
    key_file = server.home / "server.key"
    key_file.write_bytes(server_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))  # fmt: skip
    key_file.chmod(0o600)
    if os.geteuid() == 0:  # the server runs as postgres (bootstrap/local/services.py)
        shutil.chown(server.home / "server.crt", "postgres", "postgres")
        shutil.chown(key_file, "postgres", "postgres")
    admin = server.conninfo.replace("user=migration", "user=postgres").replace("dbname=migration", "dbname=postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"ALTER SYSTEM SET ssl_cert_file = '{server.home / 'server.crt'}'")
        conn.execute(f"ALTER SYSTEM SET ssl_key_file = '{key_file}'")
        conn.execute("ALTER SYSTEM SET ssl = on")
        conn.execute("SELECT pg_reload_conf()")
    other_key = ec.generate_private_key(ec.SECP256R1())
    stranger = _certificate("some other CA", other_key, None, other_key, ca=True)
    roots = services_dir / "tls_roots"
    roots.mkdir(exist_ok=True)
    (roots / "ca.pem").write_bytes(_pem(ca))
    (roots / "stranger.pem").write_bytes(_pem(stranger))
    yield server, roots
    server.stop()


def _aurora(server: Postgres, **settings: str) -> AuroraConfig:
    return AuroraConfig.model_validate({"host": "127.0.0.1", "port": server.port, "database": "migration",
                                        "user": "migration", "password": "migration-local", **settings})  # fmt: skip


def test_verify_full_checks_the_server_against_the_configured_root(tls_server) -> None:
    server, roots = tls_server
    # the CA that signed it: connected, encrypted
    with psycopg.connect(_aurora(server, sslmode="verify-full", sslrootcert=str(roots / "ca.pem")).conninfo()) as c:
        assert c.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone() == (True,)
    # another CA: refused, where `require` (encrypt, check nothing) connects to the same server
    with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
        psycopg.connect(_aurora(server, sslmode="verify-full", sslrootcert=str(roots / "stranger.pem")).conninfo())
    with psycopg.connect(_aurora(server, sslmode="require").conninfo()) as c:
        assert c.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone() == (True,)
    # the same server under a name its certificate does not carry: refused by verify-full
    wrong_name = _aurora(server, host="db.example.test", sslmode="verify-full", sslrootcert=str(roots / "ca.pem"))
    with pytest.raises(psycopg.OperationalError, match=r"does not match host name"):
        psycopg.connect(wrong_name.conninfo() + " hostaddr=127.0.0.1")


def test_verify_without_a_root_is_refused_by_the_config() -> None:
    with pytest.raises(ValueError, match="sslrootcert: required with sslmode verify-full"):
        AuroraConfig.model_validate({"host": "db", "sslmode": "verify-full"})


def test_a_relative_root_is_the_one_under_conf_that_every_node_receives(tmp_path: Path) -> None:
    from psycopg.conninfo import conninfo_to_dict

    from jobs import package
    from pipeline.config_model import CONF_DIR

    relative = AuroraConfig.model_validate({"host": "db", "sslmode": "verify-full", "sslrootcert": "certs/rds.pem"})
    assert conninfo_to_dict(relative.conninfo())["sslrootcert"] == str(CONF_DIR / "certs" / "rds.pem")
    absolute = AuroraConfig.model_validate({"host": "db", "sslmode": "verify-full", "sslrootcert": "/etc/ca.pem"})
    assert conninfo_to_dict(absolute.conninfo())["sslrootcert"] == "/etc/ca.pem"
    # and conf.zip carries a bundle put there
    root = tmp_path / "repo"
    shutil.copytree(package.ROOT / "conf", root / "conf")
    (root / "conf" / "certs").mkdir()
    (root / "conf" / "certs" / "rds.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    (root / "conf" / "emr" / "stray.pem").write_text("-----BEGIN CERTIFICATE-----\n")  # not under certs/
    import zipfile

    zipped = package._zip(tmp_path / "conf.zip", root / "conf", [root / "conf"], package.CONF_SUFFIXES)
    names = zipfile.ZipFile(zipped).namelist()
    assert "certs/rds.pem" in names and "emr/stray.pem" not in names and "base.yaml" in names
    # a private key under conf/ stops the packaging rather than travel to S3 and every node
    (root / "conf" / "certs" / "server.pem").write_text("-----BEGIN PRIVATE KEY-----\n")
    with pytest.raises(RuntimeError, match="holds a private key"):
        package._zip(tmp_path / "conf2.zip", root / "conf", [root / "conf"], package.CONF_SUFFIXES)


def test_one_field_of_a_json_secret_is_the_password(moto, monkeypatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto.url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    client = boto3.client("secretsmanager", endpoint_url=moto.url, region_name="us-east-1")
    name = "rds!cluster-0123-tls-test"
    client.create_secret(Name=name, SecretString=json.dumps({"username": "migration", "password": "p@ss w0rd"}))
    assert aws_secret_resolver(f"secret:{name}#password") == "p@ss w0rd"
    assert json.loads(aws_secret_resolver(f"secret:{name}")) == {"username": "migration", "password": "p@ss w0rd"}
    with pytest.raises(ConfigError, match="not a JSON object with a 'token' field"):
        aws_secret_resolver(f"secret:{name}#token")
    cfg, redacted = load_config("local", overrides=[f"aurora.password=secret:{name}#password"],
                                environ={"MIGRATION_DATA_DIR": "/d", "MIGRATION_OUTPUT_ROOT": "/o",
                                         "MIGRATION_PG_PORT": "5432", "AWS_ENDPOINT_URL_DYNAMODB": moto.url},
                                secrets=["aurora.password"])  # fmt: skip
    assert cfg.aurora.password is not None and cfg.aurora.password.get_secret_value() == "p@ss w0rd"
    assert redacted["aurora"]["password"] == f"secret:{name}#password"
    with pytest.raises(ConfigError, match=r"^aurora.password: secret:.*#token: not a JSON object"):
        load_config("local", overrides=[f"aurora.password=secret:{name}#token"],
                    environ={"MIGRATION_DATA_DIR": "/d", "MIGRATION_OUTPUT_ROOT": "/o", "MIGRATION_PG_PORT": "5432",
                             "AWS_ENDPOINT_URL_DYNAMODB": moto.url}, secrets=["aurora.password"])  # fmt: skip


class TokenChecker:
    """What RDS does with an IAM authentication token, for a PostgreSQL server of the test's own: the server
    authenticates ``migration_iam`` through PAM (pam_exec hands the password to a script that asks this
    checker over loopback), and the checker verifies the token as AWS documents it, written here by hand: a
    SigV4 presigned ``connect`` for this host, port and user, service ``rds-db``, signed with the secret key,
    not expired."""

    def __init__(self, hostport: str, secret: str, region: str) -> None:
        import socketserver
        import threading

        self.hostport = hostport
        self.secret = secret
        self.region = region
        self.seen: list[tuple[str, str, bool]] = []  # (user, token, accepted)
        checker = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                user = self.rfile.readline().decode().strip()
                token = self.rfile.readline().decode().strip()
                ok = checker.valid(user, token)
                checker.seen.append((user, token, ok))
                self.wfile.write(b"OK\n" if ok else b"NO\n")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def valid(self, user: str, token: str) -> bool:
        import hashlib
        import hmac
        from urllib.parse import parse_qsl, quote

        hostport, sep, query = token.partition("/?")
        if not sep or hostport != self.hostport:
            return False
        params = dict(parse_qsl(query, keep_blank_values=True))
        signature = params.pop("X-Amz-Signature", "")
        try:
            _key_id, day, region, service, terminator = params["X-Amz-Credential"].split("/")
            signed_at = dt.datetime.strptime(params["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
        except (KeyError, ValueError):
            return False
        age = (dt.datetime.now(dt.UTC) - signed_at).total_seconds()
        expected = ("connect", user, self.region, "rds-db", "aws4_request")
        if (params.get("Action"), params.get("DBUser"), region, service, terminator) != expected:
            return False
        if not -300 <= age <= int(params.get("X-Amz-Expires", "0")):
            return False
        encode = lambda text: quote(text, safe="-_.~")  # noqa: E731
        canonical_query = "&".join(f"{encode(k)}={encode(v)}" for k, v in sorted(params.items()))
        empty = hashlib.sha256(b"").hexdigest()
        canonical = "\n".join(["GET", "/", canonical_query, f"host:{hostport}\n", "host", empty])
        scope = f"{day}/{region}/{service}/aws4_request"
        to_sign = "\n".join(["AWS4-HMAC-SHA256", params["X-Amz-Date"], scope,
                             hashlib.sha256(canonical.encode()).hexdigest()])  # fmt: skip
        key = ("AWS4" + self.secret).encode()
        for part in (day, region, service, "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        return hmac.compare_digest(hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest(), signature)


@pytest.fixture(scope="module")
def iam_server(tls_server):  # type: ignore[no-untyped-def]
    if os.geteuid() != 0:
        pytest.skip("PAM services are configured under /etc/pam.d (root only); CI runs as root")
    server, _roots = tls_server
    # the credentials this process and the Spark session's Python workers started with (tests/conftest.py)
    checker = TokenChecker(f"127.0.0.1:{server.port}", os.environ["AWS_SECRET_ACCESS_KEY"], "eu-west-1")
    script = server.home / "rds_iam_check.sh"
    script.write_text(f"""#!/bin/bash
read -r -d '' token  # pam_exec expose_authtok: the password on stdin
exec 3<>/dev/tcp/127.0.0.1/{checker.port}
printf '%s\\n%s\\n' "$PAM_USER" "$token" >&3
read -r verdict <&3
[ "$verdict" = OK ]
""")
    script.chmod(0o755)
    service = f"migration-rds-iam-{server.port}"
    pam = Path("/etc/pam.d") / service
    pam.write_text(f"auth required pam_exec.so expose_authtok quiet {script}\naccount required pam_permit.so\n")
    hba = server.data / "pg_hba.conf"
    original = hba.read_text()
    hba.write_text(f"hostssl all migration_iam 127.0.0.1/32 pam pamservice={service}\n" + original)
    admin = server.conninfo.replace("user=migration", "user=postgres").replace("dbname=migration", "dbname=postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS migration_iam")
        conn.execute("CREATE ROLE migration_iam LOGIN")
        conn.execute("SELECT pg_reload_conf()")
    yield server, checker
    pam.unlink()
    hba.write_text(original)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("SELECT pg_reload_conf()")
    checker.server.shutdown()


def test_iam_auth_signs_every_connection_in_with_a_token_minted_where_it_opens(iam_server, spark, monkeypatch):
    from loaders.aurora.connection import adbc_connect, psycopg_connect

    server, checker = iam_server
    aurora = AuroraConfig.model_validate({
        "host": "127.0.0.1", "port": server.port, "database": "migration", "user": "migration_iam",
        "iam_auth": True, "iam_region": "eu-west-1"})  # fmt: skip
    conninfo = aurora.conninfo()
    assert "password" not in conninfo
    # handed to libpq as it is, it fails loudly instead of connecting some other way
    with pytest.raises(psycopg.ProgrammingError, match="invalid connection option \"rds-iam:"):
        psycopg.connect(conninfo)

    with psycopg_connect(conninfo) as conn:  # the driver's path (schema, registry)
        assert conn.execute("SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone() \
            == ("migration_iam", True)  # fmt: skip
    first = checker.seen[-1][1]
    time.sleep(1.1)  # a token is signed to the second: the next connection's is a new one, not this one again
    with adbc_connect(conninfo) as conn, conn.cursor() as cur:  # the loaders' path (COPY)
        cur.execute("SELECT current_user")
        assert cur.fetchone() == ("migration_iam",)
    second = checker.seen[-1][1]
    assert second != first and _signed_at(second) > _signed_at(first)

    def in_task(rows):  # type: ignore[no-untyped-def]
        with adbc_connect(conninfo) as conn, conn.cursor() as cur:  # an executor's Python worker mints its own
            cur.execute("SELECT current_user")
            yield cur.fetchone()[0]

    users = spark.sparkContext.parallelize(range(4), 4).mapPartitions(in_task).collect()
    assert users == ["migration_iam"] * 4
    accepted = [token for user, token, ok in checker.seen if ok and user == "migration_iam"]
    # the tasks signed in (their connection strings held no token: they minted their own); ADBC opens two
    # sessions with one connect (its database, then its connection), psycopg one
    assert len(accepted) == 1 + 5 * 2
    assert all(token.startswith(f"127.0.0.1:{server.port}/?Action=connect&DBUser=migration_iam&") for token in accepted)

    # signed with another secret: the server refuses it (and a worker could not have been handed a token)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    from loaders.aurora import connection

    connection._rds.cache_clear()
    try:
        with pytest.raises(psycopg.OperationalError, match="PAM authentication failed"):
            psycopg_connect(conninfo)
        assert checker.seen[-1][2] is False
    finally:
        connection._rds.cache_clear()  # the client holding the wrong secret goes with this test


def _signed_at(token: str) -> str:
    from urllib.parse import parse_qs

    return parse_qs(token.partition("?")[2])["X-Amz-Date"][0]


def test_iam_auth_config_wants_ssl_a_region_and_no_password() -> None:
    base = {"host": "db", "iam_auth": True, "iam_region": "us-east-1"}
    for extra, message in [({"password": "x"}, "neither aurora.dsn nor aurora.password"),
                           ({"sslmode": "prefer"}, "needs SSL"), ({"iam_region": None}, "iam_region: required")]:
        with pytest.raises(ValueError, match=message):
            AuroraConfig.model_validate({**base, **extra})
