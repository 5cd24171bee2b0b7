"""spark-submit jobs/reconcile.py --env ENV --run-id ID   (also: python -m jobs.reconcile)

Compares what a run's manifest says was loaded with what Aurora and DynamoDB hold, per hotel and arrival
month; prints a table, writes runs/<id>/reconcile.json, records the verdict in migration_runs.
Exit codes: 0 the targets agree; 5 they do not; 2 bad arguments or config (or no such run); 1 anything else.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

if __package__ in (None, ""):  # spark-submit jobs/reconcile.py: make the repository importable
    import os

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from jobs.cli import EXIT_FAILED, EXIT_USAGE, base_parser, build_session, load, main_guard, setup_logging
from pipeline.config import ConfigError

EXIT_MISMATCH = 5
log = logging.getLogger("migration")


def main(argv: Sequence[str] | None = None) -> int:
    parser = base_parser("reconcile", "Compare a run's manifest with what DynamoDB and Aurora hold.")
    parser.add_argument("--run-id", required=True, help="the run to reconcile")
    args = parser.parse_args(main_guard(argv))
    setup_logging()
    from pipeline.reconcile import reconcile, render, run_manifest

    try:
        cfg, _ = load(args)
        manifest = run_manifest(cfg, args.run_id)  # no such run: said before a JVM starts
    except ConfigError as exc:
        sys.stderr.write(f"reconcile: error: {exc}\n")
        return EXIT_USAGE

    spark = build_session(cfg, f"edw-migration-reconcile-{args.run_id}")
    try:
        verdict = reconcile(spark, cfg, args.run_id, manifest)
    except ConfigError as exc:
        sys.stderr.write(f"reconcile: error: {exc}\n")
        return EXIT_USAGE
    except Exception:
        log.exception("reconcile of %s failed", args.run_id)
        return EXIT_FAILED
    finally:
        spark.stop()
    print(render(verdict))
    return 0 if verdict.passed else EXIT_MISMATCH


if __name__ == "__main__":
    sys.exit(main())
