"""What every job shares: --env/--conf-file/--set, one-line errors (exit 2), logging, the session."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from datetime import date
from typing import Any, NoReturn

from pipeline.config import Config, ConfigError, load_config
from pipeline.options import TARGETS

# Exit codes of SPEC: 0 done, 1 failed, 2 usage/config, 3 gate failed, 4 load incomplete.
EXIT_FAILED, EXIT_USAGE = 1, 2


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def base_parser(prog: str, description: str) -> OneLineParser:
    parser = OneLineParser(prog=prog, description=description)
    parser.add_argument("--env", required=True, help="conf/<env>.yaml over conf/base.yaml (local, dev, prod)")
    parser.add_argument("--conf-file", help="extra YAML merged last")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY.PATH=VALUE",
        help="override any config key (repeatable)",
    )
    return parser


def load(args: argparse.Namespace, *, secrets: Sequence[str] | None = None) -> tuple[Config, dict[str, Any]]:
    """The job's config; ``secrets``: resolve only these keys' secret references (a tool's own)."""
    return load_config(args.env, conf_file=args.conf_file, overrides=args.overrides, secrets=secrets)


def parse_day(text: str | None, flag: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{flag}: expected YYYY-MM-DD, got {text!r}") from None


def setup_logging() -> None:
    """Readable on a terminal, one JSON object per line elsewhere (EMR step logs)."""
    from pipeline.log_context import ContextFilter

    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter())
    if os.environ.get("MIGRATION_LOG_FORMAT") == "text" or (
        sys.stderr.isatty() and os.environ.get("MIGRATION_LOG_FORMAT") != "json"
    ):
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    else:
        handler.setFormatter(_JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    for noisy in ("py4j", "botocore", "boto3", "urllib3", "great_expectations"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class _JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the run id and stage, a progress line's figures
    as fields, and for a logged exception its type and traceback."""

    def format(self, record: logging.LogRecord) -> str:
        from pipeline.log_context import FIELDS

        line: dict[str, Any] = {
            "ts": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "run_id": getattr(record, "run_id", None),
            "stage": getattr(record, "stage", None),
        }
        line.update({k: getattr(record, k) for k in FIELDS if hasattr(record, k)})
        if record.exc_info and record.exc_info[0] is not None:
            line["exc_type"] = record.exc_info[0].__name__
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def code_version() -> str:
    """MIGRATION_CODE_VERSION (set by the EMR step), else the git commit of this checkout (-dirty if changed)."""
    if os.environ.get("MIGRATION_CODE_VERSION"):
        return os.environ["MIGRATION_CODE_VERSION"]
    from jobs.package import code_version as checkout_version

    return checkout_version()


def build_session(cfg: Config, app_name: str) -> Any:
    """The job's one SparkSession (master from config only when not under spark-submit)."""
    from pyspark.sql import SparkSession

    from jobs.jars import JarBuildError, udf_jar

    os.environ.setdefault("TZ", "UTC")
    builder = SparkSession.builder.appName(app_name)
    conf = dict(cfg.spark.conf)
    if cfg.spark.master:  # we start Spark ourselves (spark-submit on EMR gets the artifact's jar as --jars)
        builder = builder.master(cfg.spark.master)
        try:
            jar = udf_jar()
        except JarBuildError as exc:
            raise ConfigError(f"spark.jars: {exc}") from None
        conf["spark.jars"] = ",".join(j for j in (conf.get("spark.jars"), str(jar)) if j)
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark


def main_guard(argv: Sequence[str] | None) -> list[str]:
    return list(sys.argv[1:] if argv is None else argv)


def parse_targets(text: str | None) -> tuple[str, ...]:
    if not text:
        return TARGETS
    names = tuple(t.strip().lower() for t in text.split(",") if t.strip())
    unknown = [t for t in names if t not in TARGETS]
    if unknown or not names:
        raise ConfigError(f"--targets: unknown target {unknown[0] if unknown else text!r} (known: dynamodb, aurora)")
    return names


def parse_properties(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    return tuple(p.strip().upper() for p in text.split(",") if p.strip())
