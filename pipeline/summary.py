"""Human-readable run summary of a manifest (what `make run` prints)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def render_summary(manifest: Mapping[str, Any]) -> str:
    lines = [f"run {manifest['run_id']}: {manifest['status']} (exit {manifest.get('exit_code')})"]
    failure = manifest.get("failure")
    if failure:
        lines.append(f"failed in stage {failure.get('stage')}: {failure.get('type')}: {failure.get('message')}")
        lines.append("(the traceback is in the job's log; the counts below are as far as the run got)")
    c = manifest.get("counts")
    if not c:
        return "\n".join([*lines, f"run folder: {manifest.get('run_dir')}"])
    lines += ["", f"{'versions':<14}{'edw':>12}{'htng':>12}"]
    for bucket in ("input", "superseded", "duplicates", "quarantined", "loaded"):
        lines.append(f"{bucket:<14}{c[bucket]['edw']:>12,}{c[bucket]['htng']:>12,}")
    lines.append(f"{'reservations loaded':<26}{c['reservations_loaded']:>12,}")
    if c.get("excluded_by_selection"):
        lines.append(f"{'excluded by selection':<26}{c['excluded_by_selection']:>12,}")
    reasons = {k: v for k, v in c["quarantined_by_reason"].items() if v}
    if reasons:
        lines += ["", "quarantined by reason"]
        lines += [f"  {k:<30}{v:>10,}" for k, v in sorted(reasons.items(), key=lambda kv: -kv[1])]
    htng_files = manifest.get("input_files", {}).get("htng")
    if htng_files:
        lines += ["", f"htng archive: {htng_files['files']:,} files listed, {htng_files.get('read', 0):,} read, "
                      f"{htng_files.get('empty', 0):,} empty"]  # fmt: skip
    rooms = c.get("room_stays")
    if rooms:
        lines += ["", "room stay lines: " + ", ".join(f"{k} {v:,}" for k, v in rooms.items())]
    if c["targets"]:
        lines += ["", f"{'target':<14}{'written':>12}{'kept_newer':>12}{'failed':>10}"]
        for name, t in c["targets"].items():
            lines.append(f"{name:<14}{t['written']:>12,}{t['kept_newer']:>12,}{t['failed']:>10,}")
        lines += _write_lines(manifest.get("write_stats") or {})
    quality = manifest.get("quality")
    if quality:
        lines += ["", *_quality_lines(quality)]
    plan = manifest.get("plan")
    if plan:
        lines += ["", *_plan_lines(plan)]
    timings = manifest.get("timings_s", {})
    lines += ["", "timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items())]
    lines += [f"run folder: {manifest.get('run_dir')}"]
    return "\n".join(lines)


def _quality_lines(quality: Mapping[str, Any]) -> list[str]:
    verdict = "passed" if quality["passed"] else "FAILED"
    lines = [
        f"quality gate: {verdict} (quarantine fraction {quality['quarantine_fraction']:.4%}"
        f" of at most {quality['max_quarantine_fraction']:.4%})"
    ]
    suite = quality.get("suite") or {}
    if not suite:
        return lines
    failed = suite.get("failed") or []
    lines.append(f"  expectations: {suite['expectations'] - len(failed)} of {suite['expectations']} met")
    for f in failed:
        examples = ", ".join(str(x) for x in f.get("examples") or [])
        lines.append(
            f"  FAILED {f['expectation']} on {f['column']}: {f['unexpected_count']} unexpected"
            + (f" (e.g. {examples})" if examples else "")
        )
    if suite.get("data_docs"):
        lines.append(f"  data docs: {suite['data_docs']}")
    return lines


def _write_lines(stats: Mapping[str, Any]) -> list[str]:
    lines = []
    dynamo = stats.get("dynamodb")
    if dynamo and dynamo.get("mode") == "import":
        imp = dynamo.get("import") or {}
        lines.append(
            f"dynamodb import: {dynamo['staged']:,} staged under {dynamo['s3_prefix']}, "
            f"{imp.get('imported', 0):,} imported ({imp.get('status', 'not started')}, {imp.get('errors', 0):,} errors)"
        )
    elif dynamo:
        lines.append(
            f"dynamodb: {dynamo['write_units']:,.0f} write units at {dynamo.get('units_per_second') or 0:,.0f}/s"
            f" of a {dynamo.get('budget', 0):,.0f}/s budget ({dynamo.get('budget_source')}); "
            f"{dynamo['retries']:,} retries, {dynamo['throttles']:,} throttles, {dynamo.get('tasks')} tasks"
        )
    return lines


def _plan_lines(plan: Mapping[str, Any]) -> list[str]:
    lines = ["plan: " + _pairs({k: v for k, v in plan.items() if not isinstance(v, dict)})]
    for key, title in (("dynamodb_write_units_per_item", "dynamodb write units per item"),
                       ("measured", "measured here"), ("extrapolated", "extrapolated")):  # fmt: skip
        if plan.get(key):
            lines.append(f"  {title}: " + _pairs(plan[key]))
    return lines


def _pairs(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{k} {v:,}" if isinstance(v, (int, float)) else f"{k} {v}" for k, v in values.items())
