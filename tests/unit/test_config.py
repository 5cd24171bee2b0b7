from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import ConfigError, apply_override, deep_merge, load_config

KEY = "c2VjcmV0LWtleS0zMi1ieXRlcy1sb25nLi4uLi4uLi4uLg=="  # 32 bytes, base64
ENV = {
    "MIGRATION_DATA_DIR": "/data",
    "MIGRATION_OUTPUT_ROOT": "/out",
    "AWS_ENDPOINT_URL_DYNAMODB": "http://x:1",
    "MIGRATION_PG_PORT": "5433",
}


def _load(*overrides: str, env: str = "local", environ: dict[str, str] | None = None, conf_file: str | None = None):
    return load_config(
        env,
        overrides=overrides,
        environ=ENV if environ is None else environ,
        conf_file=conf_file,
        resolve_secret=lambda ref: KEY if "/pii-" in ref else f"resolved<{ref}>",
    )


def test_local_config_merges_base_env_and_interpolates() -> None:
    cfg, redacted = _load()
    assert cfg.input.reservations.path == "/data/edw/reservations"
    assert cfg.input.reservations.format == "csv"  # from base.yaml
    assert cfg.aurora.port == 5433  # "${MIGRATION_PG_PORT}" typed to int
    assert cfg.dynamodb.endpoint_url == "http://x:1"
    assert cfg.spark.conf["spark.sql.session.timeZone"] == "UTC"
    assert cfg.spark.conf["spark.sql.shuffle.partitions"] == "4"
    assert redacted["aurora"]["password"] == "***"
    assert redacted["pii"]["hmac_key"] == "secret:migration/local/pii-hmac"  # a reference, even locally
    assert cfg.pii.kms_key_id == "alias/reservation-migration-local-pii" and cfg.pii.data_key is None
    assert "migration-local" not in repr(cfg.aurora)  # SecretStr never prints (the password)


def test_set_overrides_are_typed_and_win() -> None:
    cfg, _ = _load(
        "dynamodb.max_write_units=750",
        "quality.max_quarantine_fraction=0.01",
        "spark.conf.spark.sql.shuffle.partitions=8",
        "dynamodb.mode=batch",
    )
    assert cfg.dynamodb.max_write_units == 750
    assert cfg.quality.max_quarantine_fraction == 0.01
    assert cfg.spark.conf["spark.sql.shuffle.partitions"] == "8"
    assert cfg.dynamodb.mode == "batch"


def test_conf_file_is_merged_before_set(tmp_path: Path) -> None:
    extra = tmp_path / "extra.yaml"
    extra.write_text("dynamodb:\n  table: from-file\n  max_write_units: 5\n")
    cfg, _ = _load("dynamodb.max_write_units=6", conf_file=str(extra))
    assert (cfg.dynamodb.table, cfg.dynamodb.max_write_units) == ("from-file", 6)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (("dynamodb.max_write_unit=5",), "dynamodb.max_write_unit: unknown key"),
        (("dynamodb.max_write_units=abc",), "dynamodb.max_write_units: Input should be a valid integer"),
        (("dynamodb.max_write_units=0",), "dynamodb.max_write_units: Input should be greater than 0"),
        (("dynamodb.mode=fast",), "dynamodb.mode: Input should be"),
        (("pii.data_key=not-base64!",), "pii.data_key: must be base64"),
        (("pii.kms_key_id=null",), "pii: set kms_key_id (or data_key, a development key, in the local env)"),
        (("output.root=",), "output.root: Input should be a valid string"),
        (("output.root=hdfs://namenode/migration",), "output.root: must be a local path, file:// or s3://"),
        (("nonsense",), "--set: expected key.path=value"),
        (("quality.rules.currencies=[EUR, eur]",), "quality.rules.currencies: not a 3-letter upper-case code: eur"),
        (("quality.rules.edw_status_codes.RES=BOOKED",), "quality.rules.edw_status_codes.RES: Input should be"),
        (
            ("quality.rules.htng_default_status=PENDING",),
            "quality.rules.htng_default_status: 'PENDING' is not one of htng_status_words",
        ),
        (("quality.rules.arrival_from=someday",), "quality.rules.arrival_from: Input should be a valid date"),
    ],
)
def test_bad_config_names_the_key_on_one_line(overrides: tuple[str, ...], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        _load(*overrides)
    text = str(err.value)
    assert text.startswith(message), text
    assert "\n" not in text


def test_missing_env_var_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"^input.reservations.path: environment variable MIGRATION_DATA_DIR"):
        _load(environ={k: v for k, v in ENV.items() if k != "MIGRATION_DATA_DIR"})


def test_unknown_env_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"^--env: unknown environment 'staging' \(known: dev, local, prod\)"):
        _load(env="staging")


def test_secret_references_are_resolved_but_kept_as_references_in_the_manifest() -> None:
    environ = {**ENV, "MIGRATION_BUCKET": "b", "AURORA_HOST": "db.example"}
    cfg, redacted = _load(env="prod", environ=environ)
    assert cfg.aurora.password is not None
    assert cfg.aurora.password.get_secret_value() == "resolved<secret:migration/prod/aurora>"
    assert redacted["aurora"]["password"] == "secret:migration/prod/aurora"
    assert redacted["pii"]["hmac_key"] == "secret:migration/prod/pii-hmac"
    assert cfg.pii.hmac_key_bytes() == b"secret-key-32-bytes-long.........."


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_job_asks_for_its_own_secrets_only_and_the_support_tool_for_its_own(env: str) -> None:
    """What the job resolves is what the job role may read (migration/<env>/aurora-?????? and pii-hmac-??????,
    conf/iam/job-role-policy.json); the support role's password is the support tool's alone."""
    environ = {**ENV, "MIGRATION_BUCKET": "b", "AURORA_HOST": "db.example"}
    asked: list[str] = []

    def resolver(ref: str) -> str:
        asked.append(ref)
        return KEY if "/pii-" in ref else f"resolved<{ref}>"

    cfg, _ = load_config(env, environ=environ, resolve_secret=resolver)
    assert sorted(asked) == [f"secret:migration/{env}/aurora", f"secret:migration/{env}/pii-hmac"]
    assert cfg.pii_support.aurora_password is not None  # a placeholder, never fetched
    assert "aurora-support" not in cfg.pii_support.aurora_password.get_secret_value()
    asked.clear()
    load_config(env, environ=environ, resolve_secret=resolver, secrets=["pii.hmac_key", "pii_support.aurora_password"])
    assert sorted(asked) == [f"secret:migration/{env}/aurora-support", f"secret:migration/{env}/pii-hmac"]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (f"pii.data_key={KEY}",
         "pii.data_key: must be a secret:NAME or ssm:/path reference outside the local env"),
        ("aurora.password=hunter2",
         "aurora.password: must be a secret:NAME or ssm:/path reference outside the local env"),
        ("pii.data_key=secret:migration/prod/pii-dev",
         "pii.data_key: a development key, local env only (set pii.kms_key_id)"),
        ("pii.kms_key_id=null",
         "pii.kms_key_id: missing (guest data is encrypted under a KMS data key outside local)"),
        ("aurora.sslmode=disable",
         "aurora.sslmode: 'disable' outside the local env (require, verify-ca or verify-full)"),
    ],
)  # fmt: skip
def test_outside_local_secrets_are_references_and_the_database_link_is_encrypted(override: str, message: str) -> None:
    environ = {**ENV, "MIGRATION_BUCKET": "b", "AURORA_HOST": "db.example"}
    with pytest.raises(ConfigError) as err:
        _load(override, env="prod", environ=environ)
    assert str(err.value) == message


def test_deep_merge_and_override_do_not_mutate_inputs() -> None:
    base = {"a": {"b": 1, "c": 2}}
    merged = deep_merge(base, {"a": {"c": 3}})
    assert merged == {"a": {"b": 1, "c": 3}} and base == {"a": {"b": 1, "c": 2}}
    assert apply_override(base, "a.d=true") == {"a": {"b": 1, "c": 2, "d": True}}
