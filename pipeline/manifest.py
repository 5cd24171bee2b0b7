"""The manifest: counts in SPEC's shape, the nothing-lost equations, and the run's end (manifest.json and the
``migration_runs`` row)."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from loaders import aurora as aurora_loader
from pipeline.options import RunOptions
from storage.runfolder import RunFolder

if TYPE_CHECKING:
    from pipeline.classify import VersionCounts

log = logging.getLogger("migration")
# a quoted value in an error's message: it may be a row's value (Spark's ANSI errors quote the input)
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")

SOURCES: tuple[str, ...] = ("edw", "htng")
BUCKETS: tuple[str, ...] = ("superseded", "duplicates", "quarantined", "loaded")


def count_problems(counts: Mapping[str, Any], *, targets: Sequence[str], sent: bool) -> list[str]:
    """Every equation of SPEC that does not hold, as text (empty when all hold).

    ``sent``: the clean reservations went on to the targets (or to the dry-run plan), so
    ``reservations_loaded`` must equal the loaded versions; a gate-failed run sent nothing.
    """
    problems = []
    for source in SOURCES:
        parts = sum(counts[b][source] for b in BUCKETS)
        if counts["input"][source] != parts:
            problems.append(
                f"{source}: input {counts['input'][source]} != superseded+duplicates+quarantined+loaded {parts}"
            )
    loaded = sum(counts["loaded"].values())
    if sent and counts["reservations_loaded"] != loaded:
        problems.append(f"reservations_loaded {counts['reservations_loaded']} != loaded versions {loaded}")
    for target in targets:
        t = counts["targets"][target]
        if t["written"] + t["kept_newer"] + t["failed"] != counts["reservations_loaded"]:
            problems.append(
                f"{target}: written+kept_newer+failed {t['written'] + t['kept_newer'] + t['failed']} "
                f"!= reservations_loaded {counts['reservations_loaded']}"
            )
    rooms = counts.get("room_stays")
    if rooms:
        parts = rooms["duplicates"] + rooms["attached"] + rooms["orphaned"] + rooms.get("excluded_by_selection", 0)
        if rooms["input"] != parts or rooms.get("excluded_by_selection", 0) < 0:
            problems.append(f"room_stays: input {rooms['input']} != duplicates+attached+orphaned {parts}")
    return problems


@dataclass(frozen=True)
class RunResult:
    exit_code: int
    status: str
    manifest: dict[str, Any]
    run_dir: str


def version_counts(counts: VersionCounts, *, targets: Sequence[str], reservations_loaded: int,
                   target_counts: Mapping[str, Mapping[str, int]]) -> dict[str, Any]:  # fmt: skip
    """The manifest's ``counts`` (SPEC's shape) from the classify stage's counts and the loads' outcomes."""
    out: dict[str, Any] = {"input": dict(counts.by_bucket["input"])}
    for bucket in BUCKETS:
        out[bucket] = dict(counts.by_bucket[bucket])
    out["quarantined_by_reason"] = dict(counts.by_reason)
    out["reservations_loaded"] = reservations_loaded
    out["targets"] = {t: dict(target_counts.get(t, {"written": 0, "kept_newer": 0, "failed": 0})) for t in targets}
    if counts.excluded_by_selection is not None:
        out["excluded_by_selection"] = counts.excluded_by_selection
    out["room_stays"] = dict(counts.room_stays)
    return out


def finish(
    manifest: dict[str, Any],
    *,
    folder: RunFolder,
    opts: RunOptions,
    conninfo: str | None,
    env: str,
    status: str,
    exit_code: int,
) -> RunResult:
    """Check the equations, write ``manifest.json`` and the ``migration_runs`` row (when Aurora is a target)."""
    loaded_targets = opts.targets if status in ("succeeded", "load_incomplete") and not opts.dry_run else ()
    problems = count_problems(manifest["counts"], targets=loaded_targets, sent=status != "gate_failed")
    if problems:
        status, exit_code = "failed", 1
        manifest["count_problems"] = problems
        log.error("counts do not add up: %s", "; ".join(problems))
    manifest["status"] = status
    manifest["exit_code"] = exit_code
    _write(manifest, folder=folder, opts=opts, conninfo=conninfo, env=env)
    return RunResult(exit_code=exit_code, status=status, manifest=manifest, run_dir=folder.path)


def fail(manifest: dict[str, Any], exc: BaseException, *, stage: str | None, folder: RunFolder, opts: RunOptions,
         conninfo: str | None, env: str) -> None:  # fmt: skip
    """The manifest of a run that an exception ended: status ``failed``, the stage, the exception's type and
    first line with quoted values replaced by '…' (a Spark error's first line names the call; its Java trace
    is in the log), and the counts as far as the run got (``counts_complete`` false: the equations are not
    checked)."""
    lines = str(exc).strip().splitlines()
    message = _QUOTED.sub("'…'", lines[0])[:500] if lines else ""  # (an ANSI cast error quotes the value)
    manifest["status"] = "failed"
    manifest["exit_code"] = 1
    manifest["failure"] = {"stage": stage, "type": type(exc).__name__, "message": message}
    manifest["counts_complete"] = False
    try:
        _write(manifest, folder=folder, opts=opts, conninfo=conninfo, env=env)
    except Exception as write_error:  # the run's own exception is the one to raise
        log.error("could not write the failed run's manifest: %s", type(write_error).__name__)


def _write(manifest: dict[str, Any], *, folder: RunFolder, opts: RunOptions, conninfo: str | None, env: str) -> None:
    """``manifest.json``, the report beside it, and the ``migration_runs`` row (when Aurora is a target)."""
    from pipeline.report import write_report

    manifest["finished_at"] = datetime.now(UTC).isoformat()
    timings = manifest["timings_s"]
    # wall time from the start: the two loads overlap, so the stages' sum would count that time twice
    started = datetime.fromisoformat(manifest["started_at"])
    timings["total"] = round((datetime.now(UTC) - started).total_seconds(), 3)
    manifest["run_dir"] = folder.path
    folder.write_json("manifest.json", manifest)
    write_report(folder, manifest)
    if "aurora" in opts.targets and not opts.dry_run and conninfo is not None:
        try:
            aurora_loader.record_run(
                conninfo,
                {
                    "run_id": opts.run_id,
                    "env": env,
                    "status": manifest["status"],
                    "code_version": opts.code_version,
                    "started_at": manifest["started_at"],
                    "finished_at": manifest["finished_at"],
                    "selection": manifest["selection"],
                    "counts": manifest.get("counts") or {},
                    "timings": timings,
                },
            )
        except Exception as exc:
            log.warning("could not record the run in migration_runs: %s", type(exc).__name__)
