"""``runs/<id>/report.html``: the run at a glance, one self-contained page (inline SVG and CSS, one small
inline script; nothing fetched), readable from S3 or a local folder.

Written at the end of every run (dry runs, gate failures, incomplete loads and failed runs too) from the
manifest, the loads' progress series (``_progress/series.json``) and, once ``jobs.reconcile`` has run, its
``reconcile.json`` (reconcile writes the report again). A real run also shows the plan of the latest dry run
of the same selection into the same output root, beside what the run did.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from pipeline.manifest import BUCKETS, SOURCES
from storage.runfolder import RunFolder, join, list_folders, read_text, write_text

log = logging.getLogger("migration")

REPORT = "report.html"
BUCKET_COLOURS = {"loaded": "#2e7d32", "superseded": "#90a4ae", "duplicates": "#b0bec5", "quarantined": "#e65100"}
OUTCOME_COLOURS = {"written": "#2e7d32", "kept_newer": "#1565c0", "failed": "#c62828"}
TARGET_COLOURS = {"dynamodb": "#6a1b9a", "aurora": "#00838f"}
TROUBLE_COLOURS = {"throttles": "#c62828", "retries": "#ef6c00"}
WRITE_STATS_SHOWN = ("mode", "path", "budget", "budget_source", "units_per_second", "items_per_second", "written",
                     "write_units", "retries", "throttles", "tasks", "chunks_skipped")  # fmt: skip
STATUS_COLOURS = {"succeeded": "#2e7d32", "gate_failed": "#e65100", "load_incomplete": "#e65100", "failed": "#c62828"}

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1100px;
color:#1d2330;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dde;padding-bottom:4px}
.badge{display:inline-block;color:#fff;border-radius:4px;padding:1px 8px;font-weight:600}
.meta{color:#556;margin:0}.meta span{margin-right:18px}
table{border-collapse:collapse;margin:6px 0}td,th{padding:3px 10px;text-align:right;border-bottom:1px solid #eef}
th{background:#f4f6fa}td:first-child,th:first-child{text-align:left}
.box{border-left:4px solid #c62828;background:#fdecea;padding:8px 12px;margin:10px 0}
.ok{border-left-color:#2e7d32;background:#edf7ee}.cols{display:flex;gap:28px;flex-wrap:wrap}
svg text{font:12px system-ui,sans-serif;fill:#1d2330}.muted{color:#778}
"""

# Turns each <time> into the reader's local time beside UTC; marks the page as rendered (the tests check it).
_SCRIPT = """
document.querySelectorAll("time[datetime]").forEach(function (el) {
  var d = new Date(el.getAttribute("datetime"));
  if (!isNaN(d)) { el.title = d.toString(); }
});
document.documentElement.setAttribute("data-rendered", "1");
"""


def write_report(folder: RunFolder, manifest: Mapping[str, Any]) -> str | None:
    """Render and write the report; a report that cannot be written is logged, never fails the run."""
    try:
        series = _read_json(folder.sub("_progress", "series.json")) or {}
        reconcile = _read_json(folder.sub("reconcile.json"))
        planned = None if manifest.get("dry_run") else latest_plan(folder.root, manifest)
        page = render_report(manifest, series.get("samples") or [], reconcile=reconcile, planned=planned)
        target = folder.sub(REPORT)
        write_text(target, page)
        return target
    except Exception as exc:
        log.warning("report: not written (%s: %s)", type(exc).__name__, exc)
        return None


def latest_plan(root: str, manifest: Mapping[str, Any]) -> dict[str, Any] | None:
    """The manifest of the latest dry run before this run, of the same selection and env, that made a plan."""
    best: dict[str, Any] | None = None
    for run_id in list_folders(join(root, "runs")):
        if run_id == manifest.get("run_id"):
            continue
        other = _read_json(RunFolder(root, run_id).sub("manifest.json"))
        if (
            other is not None
            and other.get("dry_run")
            and other.get("plan")
            and other.get("env") == manifest.get("env")
            and other.get("selection") == manifest.get("selection")
            and other.get("started_at", "") < manifest.get("started_at", "")
            and (best is None or other["started_at"] > best["started_at"])
        ):
            best = other
    return best


def render_report(
    manifest: Mapping[str, Any],
    samples: Sequence[Mapping[str, Any]],
    *,
    reconcile: Mapping[str, Any] | None = None,
    planned: Mapping[str, Any] | None = None,
) -> str:
    parts = [_header(manifest)]
    counts = manifest.get("counts")
    if counts:
        parts.append(_where_rows_went(counts, manifest.get("counts_complete", True)))
    if manifest.get("write_stats") or samples:
        parts.append(_write_rates(manifest, samples))
    parts.append(_stage_timings(manifest.get("timings_s") or {}))
    parts.append(_quality(manifest.get("quality"), manifest.get("run_dir", "")))
    if manifest.get("plan") or planned:
        parts.append(_plan(manifest, planned))
    parts.append(_reconcile(reconcile, manifest))
    title = f"Run {manifest.get('run_id')}: {manifest.get('status')}"
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><style>{_CSS}</style></head>'
        f"<body>{''.join(parts)}<script>{_SCRIPT}</script></body></html>\n"
    )


# -- sections -------------------------------------------------------------------------------------------------


def _header(m: Mapping[str, Any]) -> str:
    status = str(m.get("status"))
    selection = m.get("selection") or {}
    chosen = ", ".join(
        f"{k} {', '.join(v) if isinstance(v, list) else v}" for k, v in selection.items() if v not in (None, [], "")
    )
    total = (m.get("timings_s") or {}).get("total")
    html = [
        f"<h1>Run <code>{escape(str(m.get('run_id')))}</code> "
        f'<span class="badge" style="background:{STATUS_COLOURS.get(status, "#555")}">{escape(status)}</span>'
        f' <span class="muted">exit {escape(str(m.get("exit_code")))}</span></h1>',
        '<p class="meta">'
        f"<span>env <b>{escape(str(m.get('env')))}</b></span><span>code {escape(str(m.get('code_version')))}</span>"
        f"<span>started {_time(m.get('started_at'))}</span><span>finished {_time(m.get('finished_at'))}</span>"
        f"<span>total {_seconds(total)}</span>{'<span><b>dry run</b></span>' if m.get('dry_run') else ''}"
        f"{'<span>resumed</span>' if m.get('resumed') else ''}</p>",
        f'<p class="meta">selection: {escape(chosen) or "everything"}</p>',
    ]
    failure = m.get("failure")
    if failure:
        html.append(
            f'<div class="box" id="failure"><b>Failed in stage {escape(str(failure.get("stage")))}</b>: '
            f"{escape(str(failure.get('type')))}: {escape(str(failure.get('message')))}<br>"
            '<span class="muted">The traceback is in the job\'s log. Counts below are as far as the run got.</span>'
            "</div>"
        )
    for problem in m.get("count_problems") or []:
        html.append(f'<div class="box">counts do not add up: {escape(str(problem))}</div>')
    return "".join(html)


def _where_rows_went(c: Mapping[str, Any], complete: bool) -> str:
    buckets = ("loaded", "superseded", "duplicates", "quarantined")  # the bars: what was loaded first
    rows = [(source, [(b, c[b][source], BUCKET_COLOURS[b]) for b in buckets]) for source in SOURCES]
    html = [
        "<h2>Where every input row went</h2>",
        "" if complete else '<p class="muted">(the run failed: these are the counts as far as it got)</p>',
        _stacked_bars(rows),
        _legend([(b, BUCKET_COLOURS[b]) for b in buckets]),
    ]
    table = [["versions", "edw", "htng"], ["input", c["input"]["edw"], c["input"]["htng"]]]
    table += [[b, c[b]["edw"], c[b]["htng"]] for b in BUCKETS]
    html.append('<div class="cols"><div>' + _table(table, table_id="counts"))
    html.append(
        _table(
            [["reservations", ""], ["loaded (one per key)", c.get("reservations_loaded", 0)]]
            + ([["excluded by selection", c["excluded_by_selection"]]] if c.get("excluded_by_selection") else [])
        )
    )
    html.append("</div>")
    reasons = sorted(((k, v) for k, v in (c.get("quarantined_by_reason") or {}).items() if v), key=lambda kv: -kv[1])
    if reasons:
        html.append(
            "<div><b>quarantined by reason</b>"
            + _table([["reason", "versions"], *reasons], table_id="reasons")
            + "</div>"
        )
    rooms = c.get("room_stays")
    if rooms:
        html.append("<div><b>room-stay lines</b>" + _table([["", "lines"], *rooms.items()]) + "</div>")
    html.append("</div>")
    targets = c.get("targets") or {}
    if targets:
        outcomes = ("written", "kept_newer", "failed")
        html.append("<h3>Loaded reservations, per target</h3>")
        html.append(
            _stacked_bars([(t, [(o, v.get(o, 0), OUTCOME_COLOURS[o]) for o in outcomes]) for t, v in targets.items()])
        )
        html.append(_legend([(o.replace("_", " "), OUTCOME_COLOURS[o]) for o in outcomes]))
        html.append(
            _table(
                [["target", *outcomes], *[[t, *[v.get(o, 0) for o in outcomes]] for t, v in targets.items()]],
                table_id="targets",
            )
        )
    return "".join(html)


def _write_rates(m: Mapping[str, Any], samples: Sequence[Mapping[str, Any]]) -> str:
    stats = m.get("write_stats") or {}
    html = ["<h2>Write rate</h2>"]
    for target in sorted({str(s["target"]) for s in samples} | set(stats)):
        mine = sorted((s for s in samples if s.get("target") == target), key=lambda s: float(s["t"]))
        unit = "write units/s" if target == "dynamodb" else "rows/s"
        field = "write_units" if target == "dynamodb" else "done"
        rate = _rates(mine, field)
        s = stats.get(target) or {}
        budget = s.get("budget") if target == "dynamodb" else None
        colour = TARGET_COLOURS.get(target, "#333")
        html.append(f"<h3>{escape(target)}</h3>")
        if rate:
            trouble = [(f"{counter} per interval", _rates(mine, counter, per_second=False), colour_of)
                       for counter, colour_of in TROUBLE_COLOURS.items()]  # fmt: skip
            html.append(_line_chart([(unit, rate, colour)], budget=budget, y_label=unit))
            html.append(_line_chart(trouble, height=110, y_label="count"))
            html.append(_legend([(unit, colour), *TROUBLE_COLOURS.items()]
                                + ([("budget", "#999")] if budget else [])))  # fmt: skip
        else:
            html.append('<p class="muted">no progress samples (the load ended within one progress interval)</p>')
        keys = [k for k in WRITE_STATS_SHOWN if k in s]
        if keys:
            html.append(
                _table([["", target], *[[k.replace("_", " "), s[k]] for k in keys]], table_id=f"stats-{target}")
            )
    return "".join(html)


def _stage_timings(timings: Mapping[str, float]) -> str:
    stages = [(k, float(v)) for k, v in timings.items() if k != "total"]
    html = ["<h2>Stage timings</h2>"]
    if stages:
        html.append(_bars(stages, unit="s"))
    html.append(
        _table(
            [
                ["stage", "seconds"],
                *[[k, f"{v:,.1f}"] for k, v in stages],
                ["total (wall)", f"{float(timings.get('total', 0) or 0):,.1f}"],
            ],
            table_id="timings",
        )
    )
    return "".join(html)


def _quality(q: Mapping[str, Any] | None, run_dir: str) -> str:
    if not q:
        return '<h2>Quality gate</h2><p class="muted">the run ended before the gate</p>'
    suite = q.get("suite") or {}
    docs = str(suite.get("data_docs") or "")
    if docs and run_dir and docs.startswith(run_dir.rstrip("/") + "/"):
        docs = docs[len(run_dir.rstrip("/")) + 1 :]  # relative: the link works wherever the folder is read
    verdict = "passed" if q.get("passed") else "FAILED"
    html = [
        f'<h2>Quality gate</h2><div class="box{" ok" if q.get("passed") else ""}" id="gate"><b>{verdict}</b>'
        f"{': ' + escape(str(q['reason'])) if q.get('reason') else ''}</div>"
    ]
    rows = [
        ["", ""],
        ["quarantined share", f"{float(q.get('quarantine_fraction') or 0):.4%}"],
        ["allowed share", f"{float(q.get('max_quarantine_fraction') or 0):.4%}"],
        ["expectations", suite.get("expectations", "")],
        ["failed expectations", ", ".join(map(str, suite.get("failed") or [])) or "none"],
        ["clean reservations", q.get("clean_reservations", "")],
    ]
    html.append(_table(rows))
    if docs:
        html.append(f'<p><a href="{escape(docs)}">Data Docs</a> (great-expectations)</p>')
    return "".join(html)


def _plan(m: Mapping[str, Any], planned: Mapping[str, Any] | None) -> str:
    plan = m.get("plan") or (planned or {}).get("plan") or {}
    html = ["<h2>Plan" + (" and actual" if planned else "") + "</h2>"]
    if planned:
        html.append(
            f'<p class="muted">plan of dry run <code>{escape(str(planned.get("run_id")))}</code> '
            f"({_time(planned.get('started_at'))}), same selection</p>"
        )
    c = m.get("counts") or {}
    targets = c.get("targets") or {}
    stats = m.get("write_stats") or {}
    timings = m.get("timings_s") or {}
    rows: list[list[Any]] = [["", "plan", "actual"] if planned else ["", "plan"]]

    def row(label: str, planned_value: Any, actual: Any = None) -> None:
        rows.append([label, planned_value, "" if actual is None else actual] if planned else [label, planned_value])

    row("reservations", plan.get("reservations"), c.get("reservations_loaded"))
    row("DynamoDB items", plan.get("dynamodb_items"), _sum_outcomes(targets.get("dynamodb")))
    row("DynamoDB write units", plan.get("dynamodb_write_units"), (stats.get("dynamodb") or {}).get("write_units"))
    row("DynamoDB budget (units/s)", plan.get("dynamodb_budget"), (stats.get("dynamodb") or {}).get("budget"))
    row("DynamoDB seconds", plan.get("dynamodb_seconds_at_budget"), timings.get("load_dynamodb"))
    row("Aurora reservation rows", plan.get("aurora_reservation_rows"), _sum_outcomes(targets.get("aurora")))
    row("Aurora room-stay rows", plan.get("aurora_room_stay_rows"))
    html.append(_table(rows, table_id="plan"))
    extra = plan.get("extrapolated")
    if extra:
        html.append("<b>extrapolated</b>" + _table([["", ""], *extra.items()], table_id="extrapolated"))
    return "".join(html)


def _reconcile(r: Mapping[str, Any] | None, m: Mapping[str, Any]) -> str:
    html = ["<h2>Reconcile</h2>"]
    if r is None:
        ran = m.get("loaded_keys") and not m.get("dry_run")
        hint = (
            f"not run yet: <code>python -m jobs.reconcile --env {escape(str(m.get('env')))} --run-id "
            f"{escape(str(m.get('run_id')))}</code>"
            if ran
            else "nothing to reconcile (nothing was sent)"
        )
        return html[0] + f'<p class="muted" id="reconcile">{hint}</p>'
    verdict = "PASSED" if r.get("passed") else "MISMATCH"
    html.append(
        f'<div class="box{" ok" if r.get("passed") else ""}" id="reconcile"><b>{verdict}</b>, checked '
        f"{_time(r.get('checked_at'))}: {int(r.get('keys', 0)):,} keys recorded, manifest "
        f"{int(r.get('reservations_loaded', 0)):,}</div>"
    )
    totals = r.get("totals") or {}
    if totals:
        names = sorted({k for t in totals.values() for k in t})
        html.append(
            _table(
                [
                    ["target", *names, "hotel-months off"],
                    *[
                        [t, *[v.get(n, 0) for n in names], (r.get("mismatching_hotel_months") or {}).get(t, 0)]
                        for t, v in totals.items()
                    ],
                ]
            )
        )
    return "".join(html)


# -- drawing --------------------------------------------------------------------------------------------------


def _stacked_bars(rows: Sequence[tuple[str, Sequence[tuple[str, float, str]]]], width: int = 900) -> str:
    """One bar per row, split by its parts in proportion (each row is 100 %), labelled with the shares."""
    left, bar_h, gap = 140, 26, 10
    height = len(rows) * (bar_h + gap) + gap
    out = [f'<svg role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}">']
    for i, (label, parts) in enumerate(rows):
        y = gap + i * (bar_h + gap)
        total = sum(v for _, v, _ in parts)
        out.append(f'<text x="0" y="{y + 17}">{escape(label)} {total:,.0f}</text>')
        x = float(left)
        for name, value, colour in parts:
            w = (width - left) * value / total if total else 0
            if w <= 0:
                continue
            out.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}">'
                f"<title>{escape(name)}: {value:,.0f} ({value / total:.2%})</title></rect>"
            )
            if w > 70:
                out.append(f'<text x="{x + 4:.1f}" y="{y + 17}" style="fill:#fff">{value / total:.1%}</text>')
            x += w
    out.append("</svg>")
    return "".join(out)


def _bars(items: Sequence[tuple[str, float]], *, unit: str, width: int = 900) -> str:
    left, bar_h, gap = 130, 16, 6
    top = max((v for _, v in items), default=0) or 1
    height = len(items) * (bar_h + gap) + gap
    out = [f'<svg role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}">']
    for i, (label, value) in enumerate(items):
        y = gap + i * (bar_h + gap)
        w = (width - left - 80) * value / top
        out.append(
            f'<text x="0" y="{y + 12}">{escape(label)}</text>'
            f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="#3f51b5"/>'
            f'<text x="{left + w + 6:.1f}" y="{y + 12}">{value:,.1f} {unit}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def _line_chart(
    lines: Sequence[tuple[str, Sequence[tuple[float, float]], str]],
    *,
    budget: float | None = None,
    y_label: str = "",
    height: int = 220,
    width: int = 900,
) -> str:
    """Step lines over the run's time (seconds since it started), with the budget as a dashed line."""
    left, bottom, top_pad = 70, 24, 10
    xs = [x for _, pts, _ in lines for x, _ in pts] or [0.0, 1.0]
    ys = [y for _, pts, _ in lines for _, y in pts] + ([budget] if budget else []) + [0.0]
    x0 = min(xs)
    x1 = max(max(xs), x0 + 1.0)
    y1 = max(max(ys) * 1.1, 1.0)

    def px(x: float) -> float:
        return left + (width - left - 10) * (x - x0) / (x1 - x0)

    def py(y: float) -> float:
        return top_pad + (height - bottom - top_pad) * (1 - y / y1)

    out = [
        f'<svg role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        f'<line x1="{left}" y1="{py(0):.1f}" x2="{width - 10}" y2="{py(0):.1f}" stroke="#889"/>',
        f'<line x1="{left}" y1="{top_pad}" x2="{left}" y2="{py(0):.1f}" stroke="#889"/>',
        f'<text x="2" y="{top_pad + 10}">{y1:,.0f}</text><text x="2" y="{py(0):.1f}">0</text>',
        f'<text x="2" y="{height / 2:.0f}" class="muted">{escape(y_label)}</text>',
        f'<text x="{left}" y="{height - 6}">{x0:,.0f} s</text>'
        f'<text x="{width - 10}" y="{height - 6}" text-anchor="end">{x1:,.0f} s since the run started</text>',
    ]
    if budget:
        out.append(
            f'<line x1="{left}" y1="{py(budget):.1f}" x2="{width - 10}" y2="{py(budget):.1f}" '
            f'stroke="#999" stroke-dasharray="6 4"><title>budget {budget:,.0f}</title></line>'
        )
    for name, pts, colour in lines:
        if not pts:
            continue
        path = " ".join(f"{'M' if i == 0 else 'L'}{px(x):.1f},{py(y):.1f}" for i, (x, y) in enumerate(pts))
        out.append(
            f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2"><title>{escape(name)}</title></path>'
        )
    out.append("</svg>")
    return "".join(out)


def _legend(items: Sequence[tuple[str, str]]) -> str:
    return (
        "<p>"
        + "".join(
            f'<span style="margin-right:16px"><span style="display:inline-block;width:10px;height:10px;background:{c};'
            f'margin-right:4px"></span>{escape(n)}</span>'
            for n, c in items
        )
        + "</p>"
    )


def _table(rows: Sequence[Sequence[Any]], table_id: str | None = None) -> str:
    ident = f' id="{escape(table_id)}"' if table_id else ""
    head, *body = rows
    out = [f"<table{ident}><tr>" + "".join(f"<th>{escape(str(h))}</th>" for h in head) + "</tr>"]
    for r in body:
        out.append("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in r) + "</tr>")
    out.append("</table>")
    return "".join(out)


# -- helpers --------------------------------------------------------------------------------------------------


def _rates(samples: Sequence[Mapping[str, Any]], field: str, *, per_second: bool = True) -> list[tuple[float, float]]:
    """Between consecutive samples: the counter's increase (per second, or per interval)."""
    out = []
    for before, after in itertools.pairwise(samples):
        dt = float(after["t"]) - float(before["t"])
        if dt <= 0:
            continue
        delta = max(0.0, float(after.get(field, 0)) - float(before.get(field, 0)))
        out.append((float(after["t"]), delta / dt if per_second else delta))
    return out


def _sum_outcomes(t: Mapping[str, Any] | None) -> int | None:
    return None if not t else int(t.get("written", 0)) + int(t.get("kept_newer", 0)) + int(t.get("failed", 0))


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, Mapping):
        return escape(", ".join(f"{k} {v}" for k, v in value.items()))
    return escape("" if value is None else str(value))


def _time(text: Any) -> str:
    if not text:
        return "?"
    shown = str(text)[:19].replace("T", " ") + " UTC"
    return f'<time datetime="{escape(str(text))}">{escape(shown)}</time>'


def _seconds(value: Any) -> str:
    if value is None:
        return "?"
    from pipeline.progress import eta_text

    return escape(eta_text(float(value)))


def _read_json(uri: str) -> Any:
    text = read_text(uri)
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None
