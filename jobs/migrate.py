"""spark-submit jobs/migrate.py --env ENV [options]   (also: python -m jobs.migrate)

Exit codes: 0 done; 2 bad arguments or config; 3 quality gate failed (nothing written);
4 load incomplete (every unwritten record is in the run's failed_writes/); 1 anything else.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if __package__ in (None, ""):  # spark-submit jobs/migrate.py: make the repository importable
    import os

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from jobs.cli import (
    EXIT_FAILED,
    EXIT_USAGE,
    base_parser,
    build_session,
    code_version,
    load,
    main_guard,
    parse_day,
    parse_properties,
    parse_targets,
    setup_logging,
)
from pipeline.config import Config, ConfigError
from pipeline.summary import render_summary
from readers.edw import InputError
from storage.runfolder import new_run_id

if TYPE_CHECKING:
    from pipeline.options import RunOptions

log = logging.getLogger("migration")


def main(argv: Sequence[str] | None = None) -> int:
    parser = base_parser("migrate", "Migrate EDW reservation history to DynamoDB and Aurora PostgreSQL.")
    parser.add_argument(
        "--from", dest="date_from", metavar="YYYY-MM-DD", help="window on last_modified (UTC), inclusive"
    )
    parser.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD")
    parser.add_argument("--properties", metavar="CODE,CODE", help="only these (new) property codes")
    parser.add_argument("--targets", metavar="dynamodb,aurora", help="targets to write (default: both)")
    parser.add_argument("--run-id", help="run id (default: UTC timestamp + random suffix)")
    parser.add_argument("--resume", metavar="RUN_ID", help="finish an interrupted run: its finished chunks are skipped")
    parser.add_argument("--dry-run", action="store_true", help="everything but the writes; print the plan")
    parser.add_argument("--summary-json", action="store_true", help="print the manifest as JSON instead of a table")
    parser.add_argument("--plan-scale", type=int, metavar="N", help="dry run: extrapolate the plan to N reservations")
    parser.add_argument("--plan-cluster", metavar="'10 x m5.4xlarge'", help="dry run: ... on this EMR cluster")
    args = parser.parse_args(main_guard(argv))
    setup_logging()

    from pipeline.options import RunOptions
    from pipeline.resume import resume_options
    from pipeline.run import run

    try:
        if args.resume:  # the arguments first (no AWS call for a typo), then the config
            _check_resume_options(args)
            cfg, redacted = load(args)
            opts = resume_options(cfg, redacted, args.resume, code_version())
        else:
            opts = RunOptions(
                run_id=args.run_id or new_run_id(),
                targets=parse_targets(args.targets),
                date_from=parse_day(args.date_from, "--from"),
                date_to=parse_day(args.date_to, "--to"),
                properties=parse_properties(args.properties),
                dry_run=args.dry_run,
                code_version=code_version(),
                plan_scale=args.plan_scale,
                plan_cluster=args.plan_cluster,
            )
            if opts.date_from and opts.date_to and opts.date_from > opts.date_to:
                raise ConfigError("--from: must not be after --to")
            if not opts.run_id.replace("-", "").replace("_", "").isalnum():
                raise ConfigError(f"--run-id: only letters, digits, '-' and '_' allowed, got {opts.run_id!r}")
            cfg, redacted = load(args)
        _check_plan_options(opts, cfg)
    except ConfigError as exc:
        sys.stderr.write(f"migrate: error: {exc}\n")
        return EXIT_USAGE

    from pipeline.preflight import check_targets

    try:
        checked = check_targets(cfg, opts)  # a refusal (no such table, an import into one that exists): no JVM
        spark = build_session(cfg, f"edw-migration-{opts.run_id}")
    except ConfigError as exc:
        sys.stderr.write(f"migrate: error: {exc}\n")
        return EXIT_USAGE
    try:
        result = run(spark, cfg, opts, redacted_config=redacted, targets_checked=checked)
    except (ConfigError, InputError) as exc:
        sys.stderr.write(f"migrate: error: {exc}\n")
        return EXIT_USAGE
    except Exception:  # the run has logged it (stage, traceback) and written its manifest
        return EXIT_FAILED
    finally:
        spark.stop()
    if args.summary_json:
        print(json.dumps(result.manifest, indent=2, default=str))
    else:
        print(render_summary(result.manifest))
    return result.exit_code


def _check_resume_options(args: argparse.Namespace) -> None:
    """A resumed run repeats the run's own selection and targets: options that would change them are refused."""
    given = [flag for flag, value in (("--run-id", args.run_id), ("--from", args.date_from), ("--to", args.date_to),
             ("--properties", args.properties), ("--targets", args.targets), ("--dry-run", args.dry_run),
             ("--plan-scale", args.plan_scale), ("--plan-cluster", args.plan_cluster)) if value]  # fmt: skip
    if given:
        raise ConfigError(f"--resume: takes the run's own selection and targets, not {', '.join(given)}")


def _check_plan_options(opts: RunOptions, cfg: Config) -> None:
    from pipeline.plan import parse_cluster

    if (opts.plan_scale or opts.plan_cluster) and not opts.dry_run:
        raise ConfigError("--plan-scale/--plan-cluster: only with --dry-run")
    if opts.plan_cluster and not opts.plan_scale:
        raise ConfigError("--plan-cluster: needs --plan-scale")
    if opts.plan_scale is not None and opts.plan_scale <= 0:
        raise ConfigError("--plan-scale: must be a positive number of reservations")
    if opts.plan_cluster:
        try:
            parse_cluster(opts.plan_cluster, cfg.plan.instances)
        except ValueError as exc:
            raise ConfigError(f"--plan-cluster: {exc}") from None


if __name__ == "__main__":
    sys.exit(main())
