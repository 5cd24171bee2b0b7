"""The config's shape: frozen, validated pydantic models (what ``pipeline.config.load_config`` returns)."""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

if TYPE_CHECKING:
    from transforms.parameters import RuleParameters

# The repository's conf/; on EMR the step ships it as an archive and names it in MIGRATION_CONF_DIR.
CONF_DIR = Path(os.environ.get("MIGRATION_CONF_DIR") or Path(__file__).resolve().parent.parent / "conf")


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

    @field_validator("root")
    @classmethod
    def _root(cls, value: str) -> str:
        from storage.runfolder import check_root

        return check_root(value)


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
    # write units per second one writer task can push (benchmarks/dynamodb.py --ceiling, guarded path, about
    # 3 units per item): a budget the run's writer tasks cannot reach at this rate is refused (exit 2)
    task_ceiling_units_per_s: float = Field(default=1500.0, gt=0)
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


class MetricsConfig(_Model):
    """CloudWatch metrics of a run (pipeline.metrics): published by the driver each progress interval."""

    enabled: bool = True
    namespace: str = Field(default="ReservationMigration", min_length=1, max_length=255)
    region: str | None = None  # None: dynamodb.region
    endpoint_url: str | None = None  # None: AWS's (or AWS_ENDPOINT_URL_CLOUDWATCH)


class LoadConfig(_Model):
    chunks: int | None = Field(default=None, ge=1, le=100_000)  # None: the cluster's task slots
    planned_duration_s: float = Field(default=21_600, gt=0)  # a hotel cutting over before start + this is live
    task_slots: int | None = Field(default=None, ge=1)  # None: resolved from Spark and the EMR fleet


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
    # the CA bundle that signs the server's certificate (RDS: global-bundle.pem): what verify-ca/verify-full
    # check the server against; `require` encrypts without checking who answers
    sslrootcert: str | None = None
    # IAM database authentication: no password; every connection signs in with a token minted where it is
    # opened (loaders/aurora/connection.py), from that process's AWS credentials, for iam_region
    iam_auth: bool = False
    iam_region: str | None = None
    max_connections: int = Field(default=8, gt=0)
    max_attempts: int = Field(default=5, gt=0)
    retry_deadline_s: float = Field(default=180.0, ge=0)
    connect_timeout_s: int = Field(default=10, gt=0)
    load_path: Literal["auto", "initial", "backfill"] = "auto"
    rows_per_transaction: int = Field(default=50_000, gt=0)

    @model_validator(mode="after")
    def _a_consistent_link(self) -> AuroraConfig:
        if self.sslmode.startswith("verify-") and not self.sslrootcert and self.dsn is None:
            raise ValueError(f"sslrootcert: required with sslmode {self.sslmode} (the CA bundle to check the server)")
        if self.iam_auth:
            if self.dsn is not None or self.password is not None:
                raise ValueError("iam_auth: signs in with a token, so neither aurora.dsn nor aurora.password")
            if self.sslmode not in ("require", "verify-ca", "verify-full"):
                raise ValueError(f"iam_auth: needs SSL (sslmode require or verify-*), not {self.sslmode}")
            if not self.iam_region:
                raise ValueError("iam_region: required with iam_auth (the region the tokens are signed for)")
        return self

    def conninfo_if_set(self) -> str | None:
        """The job's connection string; None when Aurora is not configured (a DynamoDB-only run needs none)."""
        return self.conninfo() if self.dsn is not None or self.host else None

    def conninfo(self, *, role: tuple[str, SecretStr | None] | None = None) -> str:
        """libpq connection string (contains the password: never log it). ``role``: (user, password) instead of
        the job's own (the support tool's read-only role; not with ``aurora.dsn``)."""
        if self.dsn is not None and role is None:
            return _with_connection_defaults(self.dsn.get_secret_value(), self.connect_timeout_s)
        if not self.host:
            why = "for the support role" if role else "when aurora.dsn is not set"
            raise ConfigError(f"aurora.host: required {why}")
        user, password = role or (self.user, self.password)
        parts = {
            "host": self.host,
            "port": str(self.port),
            "dbname": self.database,
            "user": user,
            "sslmode": self.sslmode,
            "application_name": "edw-migration" if role is None else "edw-migration-pii",
        }
        if self.sslrootcert:
            # a relative path is under conf/, which travels to every node in conf.zip (with the .pem files of
            # conf/certs/): on EMR the relative "conf" of each container's working directory, driver's and
            # executors' alike
            root = Path(self.sslrootcert)
            parts["sslrootcert"] = str(root if root.is_absolute() else CONF_DIR / root)
        if password is not None:
            parts["password"] = password.get_secret_value()
        conninfo = _with_connection_defaults(
            " ".join(f"{k}='{_libpq_quote(v)}'" for k, v in parts.items()), self.connect_timeout_s
        )
        if self.iam_auth and password is None:  # (the support role too, unless it was given a password)
            from loaders.aurora.connection import with_iam

            return with_iam(conninfo, str(self.iam_region))
        return conninfo


def _with_connection_defaults(conninfo: str, connect_timeout_s: int) -> str:
    """``conninfo`` (key=value or URI) with what riding out an Aurora failover needs, unless it says otherwise:
    a connect that gives up (a failed-over endpoint may not answer at all), TCP keepalives (a writer that
    vanished is noticed in under a minute, not after the kernel's two hours) and read-write sessions only
    (the old writer comes back as a reader; the cluster endpoint's DNS can lag behind)."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    given = conninfo_to_dict(conninfo)
    defaults = {
        "connect_timeout": str(connect_timeout_s),
        "keepalives": "1",
        "keepalives_idle": "30",
        "keepalives_interval": "10",
        "keepalives_count": "3",
        "target_session_attrs": "read-write",
    }
    return make_conninfo(conninfo, **{k: v for k, v in defaults.items() if k not in given})


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
    timestamp_floor: date = date(2000, 1, 1)  # a version time before this is BAD_TIMESTAMP ...
    timestamp_skew_s: int = Field(default=86_400, ge=0)  # ... and so is one after the run's start + this

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

    def parameters(self, started_at: datetime | None = None) -> RuleParameters:
        """The rules' parameters; with the run's start, the plausible window of version times too."""
        from transforms.parameters import RuleParameters, ValueRanges  # not at import: transforms loads Spark

        window = None
        if started_at is not None:
            floor = datetime.combine(self.timestamp_floor, time.min)
            window = (floor, started_at.replace(tzinfo=None) + timedelta(seconds=self.timestamp_skew_s))
        return RuleParameters(
            currencies=frozenset(self.currencies),
            edw_status=dict(self.edw_status_codes),
            htng_status=dict(self.htng_status_words),
            htng_default_status=self.htng_default_status,
            timestamp_window=window,
            ranges=ValueRanges(
                arrival=(self.arrival_from, self.arrival_to),
                nights=(self.min_nights, self.max_nights),
                max_adults=self.max_adults,
                max_children=self.max_children,
            ),
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


class PiiSupportConfig(_Model):
    """What ``python -m jobs.pii decrypt`` uses, and nothing of the job's own: Aurora through a read-only role,
    and the audit log every decrypt writes to (a CloudWatch Logs group the job role cannot write)."""

    aurora_user: str = "migration_support"
    aurora_password: SecretStr | None = None
    audit_log_group: str = Field(default="/reservation-migration/pii-decrypt-audit", min_length=1)


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
    executor_cores: int = Field(default=4, ge=1)  # spark.executor.cores on a transient cluster
    idle_timeout_s: int = Field(default=1800, ge=60)
    poll_seconds: float = Field(default=30.0, gt=0)
    # a transient cluster's EMR security configuration (conf/emr/security-configuration.json, created once
    # per account: local disks and EBS encrypted under KMS, TLS between nodes)
    security_configuration: str | None = Field(default="reservation-migration", min_length=1)  # None: no
    # jobs.submit --serverless: the job runs' IAM role (conf/iam/job-role-policy.json, trusted by
    # emr-serverless.amazonaws.com), and a packed Python environment (an archive with its own CPython 3.11 and
    # cluster.lock) when the application's image does not hold them (conf/emr/serverless.Dockerfile)
    serverless_execution_role: str | None = None
    serverless_python_env: str | None = None
    serverless_max_executors: int = Field(default=20, ge=1)  # the job runs' ceiling (sizes the writers)

    def max_executors(self, instances: Mapping[str, tuple[int, float]]) -> int | None:
        """Executors the core fleet holds (its first instance type's vCPUs from ``plan.instances``), for
        ``spark.dynamicAllocation.maxExecutors``; None when the type is not in the catalog."""
        if not self.core_instance_types or self.core_instance_types[0] not in instances:
            return None
        kind = self.core_instance_types[0]
        return max(1, self.core_capacity * instances[kind][0] // self.executor_cores)

    def artifact_root(self, version: str) -> str:
        if not self.artifact_bucket:
            raise ConfigError("emr.artifact_bucket: not set")
        return f"s3://{self.artifact_bucket}/{self.artifact_prefix.strip('/')}/{version}"

    def logs_uri(self) -> str:
        """Where EMR (steps, containers) and EMR Serverless (job runs) write their logs."""
        return self.log_uri or f"s3://{self.artifact_bucket}/emr-logs/"

    def python_deps_uri(self, key: str) -> str:
        """The dependency wheels of one lock and platform (``jobs.package.deps_key``), shared by versions."""
        return f"{self.artifact_root('python-deps')}/{key}.tar"


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
    metrics: MetricsConfig = MetricsConfig()
    pii_support: PiiSupportConfig = PiiSupportConfig()
    load: LoadConfig = LoadConfig()


def _libpq_quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")
