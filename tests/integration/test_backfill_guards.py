"""Backfills never regress data: what a run may meet in the targets and in its own past attempts.

Each test tells one story against the real PostgreSQL and moto servers; the expected figures are worked out
here from what the targets held before the run and what the run sent (``runs/<id>/loaded/``)."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import json
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loaders.dynamodb import DynamoSettings
from loaders.dynamodb.writer import write_batches
from tests.integration.conftest import LOOSE_GATE, ReferenceRun
from tests.integration.harness import Targets, fresh_targets, run_migrate

pytestmark = pytest.mark.integration


def _loaded(run_dir: Path) -> dict[tuple[str, str], tuple[dt.datetime, int]]:
    """What a run sent: key -> (last_modified, source_seq), from its record for reconcile."""
    table = pq.read_table(run_dir / "loaded")
    return {
        (r["property_code"], r["confirmation_no"]): (r["last_modified"], r["source_seq"]) for r in table.to_pylist()
    }


def _stored(targets: Targets) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], dt.datetime]]:
    """last_modified per key: DynamoDB's text and Aurora's timestamp."""
    items = {tuple(it["pk"]["S"].split("#")[1:]): it["last_modified"]["S"] for it in targets.items()}
    rows = {
        (p, c): lm for p, c, lm in targets.sql("SELECT property_code, confirmation_no, last_modified FROM reservations")
    }
    return items, rows  # type: ignore[return-value]


def _an_older_extract(source: Path, target: Path) -> None:
    """The same extract as it stood before: every multi-version reservation without its newest EDW row(s)."""
    shutil.copytree(source, target)

    def when(row: dict[str, str]) -> dt.datetime:
        for fmt in ("%Y-%m-%d %H:%M:%S", "%m/%d/%Y %H:%M:%S"):
            try:
                return dt.datetime.strptime(row["LAST_MOD_TS"].strip(), fmt)
            except ValueError:
                continue
        return dt.datetime.min

    files = sorted(p for p in (target / "edw" / "reservations").rglob("part-*") if p.is_file())
    contents = {}
    for path in files:
        opener: Any = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as fh:
            reader = csv.DictReader(fh, delimiter="|", quoting=csv.QUOTE_NONE)
            contents[path] = (reader.fieldnames, list(reader))
    versions: dict[tuple[str, str], list[dt.datetime]] = {}
    for _, rows in contents.values():
        for r in rows:
            versions.setdefault((r["PROP_CD"], r["CONF_NO"]), []).append(when(r))
    newest = {k: max(v) for k, v in versions.items() if len(set(v)) > 1}
    for path, (header, rows) in contents.items():
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "wt", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=header, delimiter="|", quoting=csv.QUOTE_NONE, escapechar="\\")
            writer.writeheader()
            writer.writerows(r for r in rows if newest.get((r["PROP_CD"], r["CONF_NO"])) != when(r))


def _with_a_year_9999_version(source: Path, data_dir: Path) -> None:
    """A copy of the extract plus one more version of a reservation of a hotel west of UTC, last modified at
    9999-12-31 23:59:59 local (year 10000 in UTC)."""
    shutil.copytree(source, data_dir)
    props = next((data_dir / "reference" / "properties").iterdir())
    with open(props, encoding="utf-8") as fh:
        west = {r["LEGACY_PROP_CD"] for r in csv.DictReader(fh, delimiter="|") if r["TIMEZONE"].startswith("America/")}
    folder = data_dir / "edw" / "reservations"
    plain = next(p for p in sorted(folder.iterdir()) if p.suffix == ".csv")
    with open(plain, encoding="utf-8") as fh:
        reader = csv.DictReader(fh, delimiter="|")
        header = reader.fieldnames
        row = next(r for r in reader if r["PROP_CD"].strip().upper() in west and r["CONF_NO"].strip())
    assert header is not None
    row.update(LAST_MOD_TS="9999-12-31 23:59:59", EDW_SEQ="999999")
    with open(folder / "future.csv", "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, delimiter="|")
        writer.writeheader()
        writer.writerow(row)


def test_a_year_9999_version_is_quarantined_and_a_window_backfill_over_older_versions_keeps_newer_ones(
    small_sample, moto, postgres, tmp_path
):
    source, truth = small_sample
    targets = fresh_targets(moto, postgres, "bf_window")
    # GIVEN an extract with one version at year 9999 in an American hotel (once a crash of the DynamoDB load)
    data_dir = tmp_path / "data"
    _with_a_year_9999_version(source, data_dir)
    # WHEN a full run loads it THEN it succeeds, with that version quarantined as OUT_OF_RANGE ...
    full = run_migrate(data_dir, tmp_path, targets, *LOOSE_GATE, run_id="full")
    assert full.code == 0, full.stderr[-3000:]
    assert full.run_dir is not None and full.manifest is not None
    counts = full.manifest["counts"]
    assert (
        counts["quarantined_by_reason"]["OUT_OF_RANGE"]
        == truth["counts"]["quarantined_by_reason"]["OUT_OF_RANGE"] + 1
    )
    assert counts["quarantined"]["edw"] == truth["counts"]["quarantined"]["edw"] + 1
    assert counts["reservations_loaded"] == truth["counts"]["reservations_loaded"]  # it held nothing back
    # ... and every reservation is at its newest version in both targets
    before_items, before_rows = _stored(targets)
    newest = _loaded(full.run_dir)
    assert len(before_items) == len(before_rows) == len(newest) == truth["counts"]["reservations_loaded"]

    # WHEN a backfill runs over the whole period from an older extract (its latest versions are older)
    older_extract = tmp_path / "older"
    _an_older_extract(data_dir, older_extract)
    days = sorted(lm.date() for lm, _ in newest.values())
    window = run_migrate(older_extract, tmp_path, targets, *LOOSE_GATE, "--from", days[0].isoformat(),
                         "--to", days[-1].isoformat(), run_id="window")  # fmt: skip
    assert window.code == 0, window.stderr[-3000:]
    assert window.run_dir is not None and window.manifest is not None
    sent = _loaded(window.run_dir)
    older = {k for k, version in sent.items() if newest[k] > version}
    assert len(older) > 100  # the story needs reservations whose stored version is newer than the backfill's

    # THEN nothing went back in time, in either target, and the kept ones are counted as kept_newer
    after_items, after_rows = _stored(targets)
    assert after_items == before_items and after_rows == before_rows
    for target in ("dynamodb", "aurora"):
        assert window.manifest["counts"]["targets"][target] == {
            "written": len(sent) - len(older),
            "kept_newer": len(older),
            "failed": 0,
        }, target
    stats = window.manifest["write_stats"]["dynamodb"]
    assert (stats["table_empty_at_start"], stats["guarded"]) == (False, "every item")

    # GIVEN a writer outside the job's guards then put two of those reservations back in time, to the version
    # the backfill sent: one in DynamoDB, another in Aurora
    months = {(r["property_code"], r["confirmation_no"]): r["arrival_month"]
              for r in pq.read_table(window.run_dir / "loaded").to_pylist()}  # fmt: skip
    back_in_dynamodb, back_in_aurora = sorted(older)[:2]
    when = sent[back_in_dynamodb][0].replace(tzinfo=dt.UTC)
    targets.dynamodb().update_item(
        TableName=targets.table,
        Key={"pk": {"S": "RES#{}#{}".format(*back_in_dynamodb)}, "sk": {"S": "ITINERARY"}},
        UpdateExpression="SET last_modified = :lm",
        ExpressionAttributeValues={":lm": {"S": f"{when:%Y-%m-%dT%H:%M:%S.%fZ}"}},
    )
    targets.sql(
        "UPDATE reservations SET last_modified = %s WHERE property_code = %s AND confirmation_no = %s",
        (sent[back_in_aurora][0].replace(tzinfo=dt.UTC), *back_in_aurora),
    )
    # WHEN the backfill is reconciled THEN each target names its one reservation that went back behind the full
    # run's version (the backfill's own keys all match: neither is stale or missing), and exit 5
    result = run_migrate(older_extract, tmp_path, targets, job="reconcile", run_id="window")
    assert result.code == 5, result.stderr[-3000:]
    report = json.loads((window.run_dir / "reconcile.json").read_text())
    assert report["earlier_runs"] == {"dynamodb": ["full"], "aurora": ["full"]}
    for target, key in (("dynamodb", back_in_dynamodb), ("aurora", back_in_aurora)):
        totals = report["totals"][target]
        assert totals == {"loaded": len(sent), "present": len(sent), "newer": len(older) - 1, "stale": 0,
                          "missing": 0, "regressed": 1}, target  # fmt: skip
        mismatches = [(m["property_code"], m["arrival_month"], m["regressed"]) for m in report["mismatches"][target]]
        assert mismatches == [(key[0], months[key], 1)], target


@pytest.mark.xdist_group("reference_run")
def test_a_live_item_written_a_fraction_of_a_second_later_survives_an_older_version(
    small_sample, reference_run: ReferenceRun, moto, postgres, tmp_path
):
    data_dir, _ = small_sample
    targets = fresh_targets(moto, postgres, "bf_fraction")
    # GIVEN the live system wrote five reservations 300 ms after the second of the version this extract
    # holds (the reference run loaded this same sample: its items are the versions a run of it writes)
    client = targets.dynamodb()
    live = sorted(reference_run.items, key=lambda it: it["pk"]["S"])[::101][:5]
    for item in live:
        stored = item["last_modified"]["S"]  # fixed width: 2025-03-01T10:00:00.000000Z
        assert stored.endswith(".000000Z"), stored
        newer = {**item, "last_modified": {"S": stored[:19] + ".300000Z"}, "status": {"S": "LIVE"}}
        client.put_item(TableName=targets.table, Item=newer)
    # WHEN the same extract runs again
    again = run_migrate(data_dir, tmp_path, targets, *LOOSE_GATE, "--targets", "dynamodb", run_id="again")
    assert again.code == 0, again.stderr[-3000:]
    # THEN the five live items are kept (the same second, but older by 300 ms), the rest written
    stored = {it["pk"]["S"]: it for it in targets.items()}
    assert all(stored[it["pk"]["S"]]["status"]["S"] == "LIVE" for it in live)
    assert len(stored) == len(reference_run.items)
    assert again.manifest is not None
    assert again.manifest["counts"]["targets"]["dynamodb"] == {
        "written": len(reference_run.items) - len(live), "kept_newer": len(live), "failed": 0
    }


def test_a_reused_run_id_after_emptied_tables_loads_everything_and_resume_checks_inputs(
    small_sample, moto, postgres, tmp_path
):
    source, truth = small_sample
    loaded = truth["counts"]["reservations_loaded"]
    data_dir = tmp_path / "data"
    shutil.copytree(source, data_dir)
    targets = fresh_targets(moto, postgres, "bf_rerun")
    first = run_migrate(data_dir, tmp_path, targets, *LOOSE_GATE, "--targets", "aurora", run_id="same")
    assert first.code == 0, first.stderr[-3000:]
    assert first.manifest is not None and first.manifest["write_stats"]["aurora"]["path"] == "initial"
    # GIVEN an operator emptied the tables (the initial load's part markers stay where they were)
    targets.sql("TRUNCATE reservations, room_stays")
    assert targets.sql("SELECT count(*) FROM migration_load_parts") != [(0,)]
    # WHEN a fresh run reuses the run id
    second = run_migrate(data_dir, tmp_path, targets, *LOOSE_GATE, "--targets", "aurora", run_id="same")
    assert second.code == 0, second.stderr[-3000:]
    # THEN it loads every reservation again, and counts only what it wrote
    assert targets.sql("SELECT count(*) FROM reservations") == [(loaded,)]
    assert second.manifest is not None
    assert second.manifest["counts"]["targets"]["aurora"] == {"written": loaded, "kept_newer": 0, "failed": 0}

    # GIVEN one more extract file landed since the run started
    folder = data_dir / "edw" / "reservations"
    some = sorted(p for p in folder.iterdir() if p.is_file())[0]
    shutil.copyfile(some, folder / f"late-{some.name}")
    # WHEN the run is resumed THEN it refuses with one line naming the input
    resumed = run_migrate(data_dir, tmp_path, targets, *LOOSE_GATE, "--resume", "same")
    assert resumed.code == 2, resumed.stderr[-3000:]
    lines = [line for line in resumed.stderr.splitlines() if "error" in line]
    assert lines == ["migrate: error: --resume: input reservations changed since the run started (files, sizes or"
                     " times): run again without --resume"], resumed.stderr[-2000:]  # fmt: skip


def _row(confirmation: str, first_name: bytes = b"\x01name") -> dict[str, Any]:
    return {
        "property_code": "H00001", "confirmation_no": confirmation, "status": "CONFIRMED",
        "arrival_date": dt.date(2025, 3, 1), "departure_date": dt.date(2025, 3, 4), "nights": 3, "adults": 2,
        "children": 0, "total_amount": Decimal("100.00"), "currency": "EUR", "channel": "WEB", "room_stays": [],
        "guest": {"first_name": first_name, "country": "PRT"}, "card_type": None, "card_last4": None,
        "created_at": dt.datetime(2025, 1, 1, 10, 0), "last_modified": dt.datetime(2025, 1, 2, 10, 0),
        "source": "EDW", "source_seq": 1, "pii_key": "dev", "email_hash": None, "is_live": False,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        (_row("TOOBIG", first_name=b"\x01" + b"x" * 500_000), "ITEM_TOO_LARGE"),  # over 400 KB: never sent
        (_row("K" * 3000), "ValidationException"),  # a key over 2048 bytes: the service refuses the batch
    ],
)
def test_one_bad_item_among_twenty_five_fails_alone(moto, postgres, bad, error):
    targets = fresh_targets(moto, postgres, f"bf_bad_{error.lower()}")
    rows = [_row(f"GOOD{i:02d}") for i in range(24)]
    rows.insert(12, bad)
    settings = DynamoSettings(
        table=targets.table, region="us-east-1", endpoint_url=moto.url, mode="batch", units_per_task=10_000,
        max_attempts=3, retry_deadline_s=30, run_id="bad-item",
    )  # fmt: skip
    (outcome,) = list(write_batches(iter([pa.RecordBatch.from_pylist(rows)]), settings=settings))
    summary = next(r for r in outcome.to_pylist() if r["kind"] == "summary")
    failed = [r for r in outcome.to_pylist() if r["kind"] == "failed"]
    assert (summary["written"], summary["failed"]) == (24, 1)
    assert [(r["pk"], r["error"]) for r in failed] == [(f"RES#H00001#{bad['confirmation_no']}", error)]
    assert sorted(it["confirmation_no"]["S"] for it in targets.items()) == [f"GOOD{i:02d}" for i in range(24)]
