"""The database link: verify-full against a server whose certificate a CA of the test's own signed (what the
RDS bundle is to Aurora), and one field of a JSON secret as the password (what RDS keeps in Secrets Manager)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import shutil
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
