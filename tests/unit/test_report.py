"""The report renders whatever point a run ended at: a run that failed before it counted anything, a dry run."""

from __future__ import annotations

from lxml import html

from pipeline.report import render_report

EARLY_FAILURE = {
    "run_id": "r1", "status": "failed", "exit_code": 1, "env": "local", "dry_run": False,
    "started_at": "2026-12-02T10:00:00+00:00", "finished_at": "2026-12-02T10:00:09+00:00",
    "selection": {"from": None, "to": None, "properties": [], "targets": ["dynamodb"]},
    "timings_s": {"preflight": 4.0, "total": 9.0},
    "failure": {"stage": "extract", "type": "InputError", "message": "no files under <edw/reservations>"},
}  # fmt: skip


def test_a_run_that_failed_before_counting_shows_where_and_why() -> None:
    page = html.fromstring(render_report(EARLY_FAILURE, []))
    assert page.xpath('//*[@id="failure"]')[0].text_content().startswith("Failed in stage extract: InputError")
    assert "no files under <edw/reservations>" in page.text_content()  # escaped as text, not markup
    assert not page.xpath('//table[@id="counts"]') and not page.xpath("//edw")
    stages = [r.xpath("./td")[0].text for r in page.xpath('//table[@id="timings"]//tr[td]')]
    assert stages == ["preflight", "total (wall)"]


def test_a_dry_runs_plan_is_shown_alone() -> None:
    manifest = {**EARLY_FAILURE, "status": "succeeded", "exit_code": 0, "dry_run": True, "failure": None,
                "plan": {"reservations": 1000, "dynamodb_items": 1000, "dynamodb_write_units": 3016.0}}  # fmt: skip
    page = html.fromstring(render_report(manifest, []))
    rows = {r.xpath("./td")[0].text: r.xpath("./td")[1].text for r in page.xpath('//table[@id="plan"]//tr[td]')}
    assert rows["reservations"] == "1,000" and rows["DynamoDB write units"] == "3,016.0"
    assert [h.text_content() for h in page.xpath('//table[@id="plan"]//th')] == ["", "plan"]  # no actual column
    assert "nothing to reconcile" in page.xpath('//*[@id="reconcile"]')[0].text_content()
