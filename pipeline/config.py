"""Configuration: conf/base.yaml <- conf/<env>.yaml <- --conf-file <- --set, validated into a frozen value.

Loaded once by a job's ``main`` and passed down. Any problem raises :class:`ConfigError` whose message is
one line naming the key; jobs turn it into exit code 2.
"""

from __future__ import annotations

import base64
import copy
import os
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from transforms.parameters import RuleParameters

# The repository's conf/; on EMR the step ships it as an archive and names it in MIGRATION_CONF_DIR.
CONF_DIR = Path(os.environ.get("MIGRATION_CONF_DIR") or Path(__file__).resolve().parent.parent / "conf")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SECRET_PREFIXES = ("secret:", "ssm:", "kms:")


class ConfigError(ValueError):
    """Bad configuration or arguments: a one-line message naming the key."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DatePartitionConfig(_Model):
    """A layout of hive-style ``<column>=<date>`` folders right under the source's path (``2025-03-01``,
    ``20250301``, or a month: ``2025-03``, ``202503``), where a row's folder date is within ``slack_days`` of
    the UTC date of its ``last_modified``. With ``--from``/``--to`` only the folders that can hold selected
    rows are listed and read."""

    column: str = Field(min_length=1, pattern=r"^[^=/]+$")
    # property-local wall time vs UTC is up to a day apart; raise it for extracts that land days late
    slack_days: int = Field(default=1, ge=0, le=366)


class SourceConfig(_Model):
    path: str | None = None
    format: Literal["csv", "parquet"] = "csv"
    delimiter: str = "|"
    columns: dict[str, str] = Field(default_factory=dict)
    date_partition: DatePartitionConfig | None = None


class HtngConfig(_Model):
    path: str | None = None
    date_partition: DatePartitionConfig | None = None
    max_document_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    # Which confirmation number is the hotel's: ResID_Type / UniqueID Type codes (OTA UIT), best first.
    confirmation_types: tuple[str, ...] = ("10", "14")


class InputConfig(_Model):
    reservations: SourceConfig
    room_stays: SourceConfig
    htng: HtngConfig = HtngConfig()
    properties: SourceConfig


class OutputConfig(_Model):
    root: str


class DynamoDBConfig(_Model):
    table: str
    endpoint_url: str | None = None
    region: str = "us-east-1"
    mode: Literal["auto", "batch", "conditional", "import"] = "auto"
    max_write_units: int | None = Field(default=None, gt=0)
    budget_fraction: float = Field(default=0.8, gt=0, le=1)
    max_attempts: int = Field(default=10, gt=0)
    retry_deadline_s: float = Field(default=300.0, gt=0)
    conditional_threads: int = Field(default=8, gt=0, le=64)
    import_s3_uri: str | None = None
    import_timeout_s: float = Field(default=21600.0, gt=0)
    import_poll_seconds: float = Field(default=15.0, gt=0)

    @field_validator("import_s3_uri")
    @classmethod
    def _s3_uri(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^s3://[a-z0-9][a-z0-9.\-]{0,62}(/.*)?$", value):
            raise ValueError("must be s3://bucket/prefix")
        return value


class ProgressConfig(_Model):
    interval_s: float = Field(default=30.0, gt=0)


class LoadConfig(_Model):
    chunks: int | None = Field(default=None, ge=1, le=100_000)  # None: the cluster's task slots


class PlanConfig(_Model):
    parallel_efficiency: float = Field(default=0.6, gt=0, le=1)
    aurora_rows_per_second: float = Field(default=150_000, gt=0)
    prices: dict[str, float] = Field(default_factory=dict)
    instances: dict[str, tuple[int, float]] = Field(default_factory=dict)

    @field_validator("prices")
    @classmethod
    def _prices(cls, value: dict[str, float]) -> dict[str, float]:
        missing = {"dynamodb_on_demand_per_million_writes", "dynamodb_provisioned_wcu_hour"} - set(value)
        if missing:
            raise ValueError(f"missing {', '.join(sorted(missing))}")
        return value


class AuroraConfig(_Model):
    dsn: SecretStr | None = None
    host: str | None = None
    port: int = 5432
    database: str = "reservations"
    user: str = "migration"
    password: SecretStr | None = None
    sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] = "require"
    max_connections: int = Field(default=8, gt=0)
    max_attempts: int = Field(default=5, gt=0)
    load_path: Literal["auto", "initial", "backfill"] = "auto"
    rows_per_transaction: int = Field(default=50_000, gt=0)

    def conninfo(self) -> str:
        """libpq connection string (contains the password: never log it)."""
        if self.dsn is not None:
            return self.dsn.get_secret_value()
        if not self.host:
            raise ConfigError("aurora.host: required when aurora.dsn is not set")
        parts = {
            "host": self.host,
            "port": str(self.port),
            "dbname": self.database,
            "user": self.user,
            "sslmode": self.sslmode,
            "application_name": "edw-migration",
        }
        if self.password is not None:
            parts["password"] = self.password.get_secret_value()
        return " ".join(f"{k}='{_libpq_quote(v)}'" for k, v in parts.items())


Status = Literal["CONFIRMED", "CANCELLED", "NO_SHOW", "IN_HOUSE", "CHECKED_OUT", "WAITLISTED"]


class RulesConfig(_Model):
    """Parameters of the row rules and of the quality suite (conf/base.yaml ``quality.rules``)."""

    currencies: tuple[str, ...] = Field(min_length=1)
    edw_status_codes: dict[str, Status]
    htng_status_words: dict[str, Status]
    htng_default_status: str
    statuses: tuple[Status, ...]
    min_nights: int = Field(ge=0)
    max_nights: int = Field(ge=1)
    max_adults: int = Field(ge=1)
    max_children: int = Field(ge=0)
    arrival_from: date
    arrival_to: date
    property_code_regex: str

    @field_validator("currencies")
    @classmethod
    def _iso_codes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [c for c in value if not re.fullmatch(r"[A-Z]{3}", c)]
        if bad:
            raise ValueError(f"not a 3-letter upper-case code: {bad[0]}")
        return value

    @field_validator("htng_default_status")
    @classmethod
    def _known_word(cls, value: str, info: ValidationInfo) -> str:
        words = info.data.get("htng_status_words") or {}
        if value not in words:
            raise ValueError(f"{value!r} is not one of htng_status_words")
        return value

    def parameters(self) -> RuleParameters:
        return RuleParameters(
            currencies=frozenset(self.currencies),
            edw_status=dict(self.edw_status_codes),
            htng_status=dict(self.htng_status_words),
            htng_default_status=self.htng_default_status,
        )


class QualityConfig(_Model):
    max_quarantine_fraction: float = Field(default=0.005, ge=0.0, le=1.0)
    suite: str = "quality/reservations_suite.yaml"
    rules: RulesConfig

    def suite_path(self) -> Path:
        path = Path(self.suite)
        return path if path.is_absolute() else CONF_DIR / path


class PiiConfig(_Model):
    """Guest PII keys. The data key comes from KMS (``GenerateDataKey`` for ``kms_key_id``, once per run);
    ``data_key`` is a plain development key, a fallback for the local env only."""

    kms_key_id: str | None = None  # key id, ARN or alias/NAME
    hmac_key: SecretStr
    data_key: SecretStr | None = None

    @field_validator("hmac_key", "data_key")
    @classmethod
    def _base64_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        try:
            raw = base64.b64decode(value.get_secret_value(), validate=True)
        except ValueError as exc:
            raise ValueError("must be base64") from exc
        if len(raw) < 32:
            raise ValueError("must decode to at least 32 bytes")
        return value

    @model_validator(mode="after")
    def _a_data_key_source(self) -> PiiConfig:
        if not self.kms_key_id and self.data_key is None:
            raise ValueError("set kms_key_id (or data_key, a development key, in the local env)")
        return self

    def hmac_key_bytes(self) -> bytes:
        return base64.b64decode(self.hmac_key.get_secret_value())

    def data_key_bytes(self) -> bytes:
        if self.data_key is None:
            raise ValueError("pii.data_key: not set")
        return base64.b64decode(self.data_key.get_secret_value())[:32]


class EmrConfig(_Model):
    """Where ``jobs.submit`` puts the artifact and how it runs it (steps, or a transient cluster)."""

    artifact_bucket: str | None = None
    artifact_prefix: str = "emr-artifacts/reservation-migration"
    region: str = "us-east-1"
    release_label: str = "emr-7.5.0"
    log_uri: str | None = None
    service_role: str = "EMR_DefaultRole_V2"
    job_flow_role: str = "reservation-migration-job"  # the EC2 instance profile (conf/iam/job-role-policy.json)
    subnet_ids: tuple[str, ...] = ()
    primary_instance_type: str = "m5.xlarge"
    core_instance_types: tuple[str, ...] = ("m5.4xlarge", "m5a.4xlarge", "r5.4xlarge")
    core_capacity: int = Field(default=10, ge=1)
    idle_timeout_s: int = Field(default=1800, ge=60)
    poll_seconds: float = Field(default=30.0, gt=0)

    def artifact_root(self, version: str) -> str:
        if not self.artifact_bucket:
            raise ConfigError("emr.artifact_bucket: not set")
        return f"s3://{self.artifact_bucket}/{self.artifact_prefix.strip('/')}/{version}"


class SparkConfig(_Model):
    master: str | None = None
    conf: dict[str, str] = Field(default_factory=dict)


class Config(_Model):
    env: str
    input: InputConfig
    output: OutputConfig
    dynamodb: DynamoDBConfig
    aurora: AuroraConfig
    quality: QualityConfig
    pii: PiiConfig
    spark: SparkConfig = SparkConfig()
    emr: EmrConfig = EmrConfig()
    plan: PlanConfig = PlanConfig()
    progress: ProgressConfig = ProgressConfig()
    load: LoadConfig = LoadConfig()


SecretResolver = Callable[[str], str]


def load_config(
    env: str,
    *,
    conf_file: str | None = None,
    overrides: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
    resolve_secret: SecretResolver | None = None,
    conf_dir: Path = CONF_DIR,
) -> tuple[Config, dict[str, Any]]:
    """Return the validated config and a redacted plain copy for the manifest."""
    raw = load_raw(env, conf_file=conf_file, overrides=overrides, conf_dir=conf_dir)
    interpolated = interpolate(raw, os.environ if environ is None else environ, path="")
    redacted = redact(interpolated)
    if env != "local":
        _require_production_safety(interpolated)
    # A mistake anywhere is named before any secret is fetched (no AWS call for a typo).
    _validated(_resolve_secrets(interpolated, lambda ref: _PLACEHOLDER_SECRET, path=""), env)
    resolved = _resolve_secrets(interpolated, resolve_secret or aws_secret_resolver, path="")
    return _validated(resolved, env), redacted


_PLACEHOLDER_SECRET = base64.b64encode(bytes(32)).decode("ascii")


def _validated(resolved: dict[str, Any], env: str) -> Config:
    try:
        return Config.model_validate({**resolved, "env": env})
    except ValidationError as exc:
        raise ConfigError(_one_line(exc)) from None


def load_raw(
    env: str, *, conf_file: str | None = None, overrides: Sequence[str] = (), conf_dir: Path = CONF_DIR
) -> dict[str, Any]:
    if not re.fullmatch(r"[A-Za-z0-9_-]+", env or ""):
        raise ConfigError(f"--env: invalid environment name {env!r}")
    env_file = conf_dir / f"{env}.yaml"
    if not env_file.is_file():
        known = sorted(p.stem for p in conf_dir.glob("*.yaml") if p.stem != "base")
        raise ConfigError(f"--env: unknown environment {env!r} (known: {', '.join(known)})")
    merged = _read_yaml(conf_dir / "base.yaml")
    merged = deep_merge(merged, _read_yaml(env_file))
    if conf_file:
        merged = deep_merge(merged, _read_yaml(Path(conf_file)))
    for item in overrides:
        merged = apply_override(merged, item)
    return merged


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(base))
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def apply_override(cfg: Mapping[str, Any], item: str) -> dict[str, Any]:
    """``key.path=value``; the value is read as a YAML scalar, so numbers and booleans are typed."""
    if "=" not in item:
        raise ConfigError(f"--set: expected key.path=value, got {item!r}")
    dotted, text = item.split("=", 1)
    keys = dotted.strip().split(".")
    if not all(keys):
        raise ConfigError(f"--set: bad key path {dotted!r}")
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError:
        value = text
    # spark.conf.<key> keeps the rest of the dotted path as one Spark conf key.
    if len(keys) > 2 and keys[0] == "spark" and keys[1] == "conf":
        keys = ["spark", "conf", ".".join(keys[2:])]
        value = text
    patch: dict[str, Any] = {keys[-1]: value}
    for key in reversed(keys[:-1]):
        patch = {key: patch}
    return deep_merge(cfg, patch)


def redact(value: Any, path: str = "") -> Any:
    """Copy for the manifest: secrets keep their reference, literal secrets become '***'."""
    if isinstance(value, Mapping):
        return {k: redact(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, str) and _is_secret_key(path) and not value.startswith(_SECRET_PREFIXES):
        return "***"
    return value


def _require_production_safety(cfg: Mapping[str, Any]) -> None:
    """Outside the local env: secrets are references (never literals in a file or on a command line) and
    the database connection is encrypted."""
    for path in sorted(_SECRET_KEYS):
        section, key = path.split(".")
        value = (cfg.get(section) or {}).get(key)
        if isinstance(value, str) and not value.startswith(_SECRET_PREFIXES):
            raise ConfigError(f"{path}: must be a secret:NAME or ssm:/path reference outside the local env")
    pii = cfg.get("pii") or {}
    if pii.get("data_key") is not None:
        raise ConfigError("pii.data_key: a development key, local env only (set pii.kms_key_id)")
    if not pii.get("kms_key_id"):
        raise ConfigError("pii.kms_key_id: missing (guest data is encrypted under a KMS data key outside local)")
    sslmode = (cfg.get("aurora") or {}).get("sslmode")
    if sslmode not in ("require", "verify-ca", "verify-full"):
        raise ConfigError(f"aurora.sslmode: {sslmode!r} outside the local env (require, verify-ca or verify-full)")


_SECRET_KEYS = frozenset({"aurora.password", "aurora.dsn", "pii.hmac_key", "pii.data_key"})


def _is_secret_key(path: str) -> bool:
    return path in _SECRET_KEYS


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except FileNotFoundError:
        raise ConfigError(f"--conf-file: no such file {str(path)!r}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}:{where} is not valid YAML") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    return data


def interpolate(value: Any, environ: Mapping[str, str], path: str) -> Any:
    """``${VAR}`` in every string of ``value`` replaced from ``environ`` (a missing one names ``path``)."""
    if isinstance(value, Mapping):
        return {k: interpolate(v, environ, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, str):

        def repl(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in environ:
                raise ConfigError(f"{path}: environment variable {name} is not set")
            return environ[name]

        return _ENV_REF.sub(repl, value)
    return value


def _resolve_secrets(value: Any, resolver: SecretResolver, path: str) -> Any:
    if isinstance(value, Mapping):
        return {k: _resolve_secrets(v, resolver, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, str) and value.startswith(_SECRET_PREFIXES):
        try:
            return resolver(value)
        except ConfigError:
            raise
        except Exception as exc:
            raise ConfigError(f"{path}: cannot resolve {value} ({type(exc).__name__})") from None
    return value


def aws_secret_resolver(ref: str) -> str:
    """Resolve ``secret:NAME`` (Secrets Manager) and ``ssm:/path`` (Parameter Store, decrypted)."""
    import boto3

    if ref.startswith("secret:"):
        client = boto3.client("secretsmanager")
        return str(client.get_secret_value(SecretId=ref[len("secret:") :])["SecretString"])
    if ref.startswith("ssm:"):
        client = boto3.client("ssm")
        return str(client.get_parameter(Name=ref[len("ssm:") :], WithDecryption=True)["Parameter"]["Value"])
    raise ConfigError(f"unsupported secret reference scheme in {ref.split(':', 1)[0]}:")


def _one_line(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"]) or "config"
    kind = err["type"]
    if kind == "missing":
        return f"{loc}: missing required key"
    if kind == "extra_forbidden":
        return f"{loc}: unknown key"
    msg = err["msg"].replace("Value error, ", "")
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{loc}: {msg}{more}"


def _libpq_quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")
