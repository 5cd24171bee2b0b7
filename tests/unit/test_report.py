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


def test_a_real_run_shows_the_latest_dry_run_plan_of_its_selection_beside_what_it_did(tmp_path) -> None:
    from pipeline.report import write_report
    from storage.runfolder import RunFolder

    selection = {"from": "2025-03-01", "to": "2025-03-31", "properties": [], "targets": ["dynamodb"]}
    base = {"env": "local", "selection": selection, "status": "succeeded", "exit_code": 0, "timings_s": {}}

    def dry_run(run_id: str, started: str, items: int, **changes: object) -> None:
        manifest = {**base, "run_id": run_id, "started_at": started, "dry_run": True,
                    "plan": {"reservations": items, "dynamodb_items": items}, **changes}  # fmt: skip
        RunFolder(str(tmp_path), run_id).write_json("manifest.json", manifest)

    dry_run("older", "2026-12-01T08:00:00+00:00", 900)
    dry_run("latest", "2026-12-01T09:00:00+00:00", 1000)
    dry_run("other-window", "2026-12-01T09:30:00+00:00", 5, selection={**selection, "to": "2025-04-30"})
    dry_run("after", "2026-12-01T11:00:00+00:00", 7)  # started after the run: not its plan
    run = {**base, "run_id": "real", "started_at": "2026-12-01T10:00:00+00:00", "dry_run": False,
           "counts": None, "write_stats": {}}  # fmt: skip
    run["counts"] = {b: {"edw": 0, "htng": 0} for b in ("input", "superseded", "duplicates", "quarantined", "loaded")}
    run["counts"].update(quarantined_by_reason={}, reservations_loaded=998,
                         targets={"dynamodb": {"written": 990, "kept_newer": 6, "failed": 2}})  # fmt: skip
    folder = RunFolder(str(tmp_path), "real")
    written = write_report(folder, run)
    assert written == folder.sub("report.html")
    page = html.fromstring((tmp_path / "runs" / "real" / "report.html").read_text())
    rows = {r.xpath("./td")[0].text: [td.text_content() for td in r.xpath("./td")[1:]]
            for r in page.xpath('//table[@id="plan"]//tr[td]')}  # fmt: skip
    assert rows["reservations"] == ["1,000", "998"]
    assert rows["DynamoDB items"] == ["1,000", "998"]  # written + kept newer + failed
    assert "latest" in page.text_content() and "older" not in page.text_content()
