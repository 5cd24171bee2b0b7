"""python -m jobs.reconcile after a real run: it passes, then names the hotel-month a deleted row leaves short."""

from __future__ import annotations

import json

import pytest

from tests.integration.conftest import ReferenceRun
from tests.integration.harness import run_migrate

# One xdist worker runs every test of the shared reference run (it is computed once per worker).
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("reference_run")]


def test_reconcile_passes_after_a_run_and_names_what_goes_missing(small_sample, reference_run: ReferenceRun):
    data_dir, truth = small_sample
    loaded = truth["counts"]["reservations_loaded"]
    targets, out = reference_run.targets, reference_run.out

    def reconcile():  # type: ignore[no-untyped-def]
        return run_migrate(data_dir, out, targets, job="reconcile", run_id="reference")

    # WHEN the run is reconciled as it stands THEN both targets hold every reservation it loaded
    result = reconcile()
    assert result.code == 0, result.stderr[-3000:]
    assert "reconcile reference: PASSED" in result.stdout
    report = json.loads((out / "runs" / "reference" / "reconcile.json").read_text())
    assert report["passed"] is True and report["keys"] == report["reservations_loaded"] == loaded
    assert {t: (c["loaded"], c["present"], c["stale"], c["missing"]) for t, c in report["totals"].items()} == {
        "dynamodb": (loaded, loaded, 0, 0),
        "aurora": (loaded, loaded, 0, 0),
    }
    assert targets.sql("SELECT reconcile->>'passed' FROM migration_runs WHERE run_id = 'reference'") == [("true",)]

    # GIVEN one reservation deleted from Aurora and another from DynamoDB
    (pc1, cn1, month1), (pc2, cn2, month2) = targets.sql(
        "SELECT property_code, confirmation_no, to_char(arrival_date, 'YYYY-MM') FROM reservations"
        " ORDER BY confirmation_no LIMIT 2"
    )
    targets.sql("DELETE FROM room_stays WHERE property_code = %s AND confirmation_no = %s", (pc1, cn1))
    targets.sql("DELETE FROM reservations WHERE property_code = %s AND confirmation_no = %s", (pc1, cn1))
    targets.dynamodb().delete_item(
        TableName=targets.table, Key={"pk": {"S": f"RES#{pc2}#{cn2}"}, "sk": {"S": "ITINERARY"}}
    )
    # THEN reconcile fails and names each hotel-month, in the target it is short in
    result = reconcile()
    assert result.code == 5, result.stderr[-3000:]
    assert "reconcile reference: MISMATCH" in result.stdout
    report = json.loads((out / "runs" / "reference" / "reconcile.json").read_text())
    assert report["passed"] is False
    assert [(m["property_code"], m["arrival_month"], m["missing"]) for m in report["mismatches"]["aurora"]] == [
        (pc1, month1, 1)
    ]
    assert [(m["property_code"], m["arrival_month"], m["missing"]) for m in report["mismatches"]["dynamodb"]] == [
        (pc2, month2, 1)
    ]
    assert f"{pc1:<12}{month1:<9}" in result.stdout and f"{pc2:<12}{month2:<9}" in result.stdout
    assert targets.sql("SELECT reconcile->>'passed' FROM migration_runs WHERE run_id = 'reference'") == [("false",)]


def test_reconcile_of_an_unknown_run_is_one_line_and_exit_2(small_sample, reference_run: ReferenceRun):
    data_dir, _ = small_sample
    result = run_migrate(data_dir, reference_run.out, reference_run.targets, job="reconcile", run_id="no_such_run")
    assert result.code == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"reconcile: error: --run-id: no manifest for run 'no_such_run' under {reference_run.out}"
    )
