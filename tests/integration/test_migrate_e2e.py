"""The whole job on generated data, against a real PostgreSQL and a moto server."""

from __future__ import annotations

import csv
import json
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow.parquet as pq
import pytest
from cryptography.exceptions import InvalidTag

from bootstrap.local.verify import COUNT_KEYS
from sample.vocabulary import FIRST_NAMES
from tests.faults import FaultProxy, put_units_by_index
from tests.integration.conftest import LOOSE_GATE
from tests.integration.harness import (
    ROOT,
    Targets,
    comparable_items,
    comparable_rows,
    fresh_targets,
    generate,
    run_migrate,
)
from tests.integration.leaks import folder_bytes, htng_pans, input_rows, occurring
from transforms.pii import decrypt_field

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("sample")
    # 1 % broken reservations so that every reason code occurs (the gate is loosened accordingly).
    truth = generate(out, 1500, 11, "--broken-fraction", "0.01")
    return out, truth


@pytest.fixture(scope="module")
def daily_sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The same sample in daily LAST_MOD_DT=<date> folders, as date-partitioned extracts land (~670 folders:
    its own fixture, so that only the window test pays for reading that many small files)."""
    out = tmp_path_factory.mktemp("daily")
    truth = generate(out, 1500, 11, "--broken-fraction", "0.01", "--partition-by", "day")
    return out, truth


def test_migration_matches_ground_truth_is_idempotent_and_keeps_newer_live_data(sample, moto, postgres, tmp_path):
    data_dir, truth = sample
    targets = fresh_targets(moto, postgres, "e2e_main")
    # GIVEN a dry run's plan, made first (it must leave the targets untouched)
    plan = _dry_run_plan(data_dir, truth, targets, tmp_path)

    # WHEN the job runs on the generated extract
    first = run_migrate(data_dir, tmp_path, targets, *LOOSE_GATE, run_id="first")

    # THEN every count equals what the generator planned, and both targets hold the loaded reservations
    assert first.code == 0, first.stderr[-3000:]
    assert first.manifest is not None and first.manifest["status"] == "succeeded"
    counts = first.manifest["counts"]
    for key in COUNT_KEYS:
        assert counts[key] == truth["counts"][key], key
    assert all(
        v > 0
        for k, v in truth["counts"]["quarantined_by_reason"].items()
        if k not in ("MALFORMED_XML", "ITEM_TOO_LARGE", "ORPHAN_ROOM_STAY")
    )
    loaded = truth["counts"]["reservations_loaded"]
    assert counts["targets"] == {
        "dynamodb": {"written": loaded, "kept_newer": 0, "failed": 0},
        "aurora": {"written": loaded, "kept_newer": 0, "failed": 0},
    }
    items = targets.items()
    assert len(items) == loaded
    # the quarantine, one partition per reason, holds exactly the versions counted under that reason
    quarantine = first.run_dir / "quarantine" / "versions"
    by_partition = {
        d.name.removeprefix("reason="): pq.read_table(d).num_rows for d in quarantine.iterdir() if d.is_dir()
    }
    assert by_partition == {k: v for k, v in counts["quarantined_by_reason"].items() if v and k != "ORPHAN_ROOM_STAY"}
    # (the generator breaks OUT_OF_RANGE versions with 120 adults: the quarantine names the column)
    out_of_range = pq.read_table(quarantine / "reason=OUT_OF_RANGE").column("detail").to_pylist()
    assert out_of_range and set(out_of_range) == {"out of range: adults"}
    # the HTNG archive: every file listed, the empty one counted apart, its winners stored as HTNG versions
    htng = truth["htng"]
    assert first.manifest["input_files"]["htng"]["files"] == htng["files"]
    assert first.manifest["input_files"]["htng"]["empty"] == htng["empty_files"] == 1
    assert sum(1 for it in items if it["source"]["S"] == "HTNG") == truth["counts"]["loaded"]["htng"] > 0
    assert targets.sql("SELECT count(*) FROM reservations WHERE source = 'HTNG'") == [(counts["loaded"]["htng"],)]
    assert targets.sql("SELECT count(*) FROM reservations") == [(loaded,)]
    assert targets.sql("SELECT status, counts->'reservations_loaded' FROM migration_runs WHERE run_id = 'first'") == [
        ("succeeded", loaded)
    ]
    room_lines = sum(len(it["room_stays"]["L"]) for it in items)
    assert targets.sql("SELECT count(*) FROM room_stays") == [(room_lines,)]
    # AND the dry run's figures are what the real load then wrote
    assert first.manifest["write_stats"]["dynamodb"]["write_units"] == plan["dynamodb_write_units"]
    # and its units per item on the table and each GSI are what the stored items cost (tests/faults' size rules)
    spent = [put_units_by_index(it) for it in items]
    assert plan["dynamodb_write_units_per_item"] == {
        where: round(sum(s[where] for s in spent) / loaded, 3) for where in ("table", "gsi1", "gsi2")
    }
    assert targets.sql("SELECT count(*) FROM room_stays") == [(plan["aurora_room_stay_rows"],)]

    # AND guest data is encrypted everywhere, card numbers never leave the first step
    item, other = [it for it in items if "first_name" in it["guest"]["M"]][:2]
    key = targets.data_key(item["pii_key"]["S"])
    sealed = item["guest"]["M"]["first_name"]["B"]
    assert decrypt_field(sealed, "first_name", key, item["pk"]["S"]) in FIRST_NAMES
    # bound to its reservation: the same ciphertext copied onto another reservation does not decrypt, in
    # DynamoDB and in Aurora (the same seal: the reservation's pk and the field as associated data)
    assert other["pii_key"] == item["pii_key"] and other["pk"] != item["pk"]
    with pytest.raises(InvalidTag):
        decrypt_field(sealed, "first_name", key, other["pk"]["S"])
    (row_a, row_b) = targets.sql("SELECT property_code, confirmation_no, guest_last_name, pii_key FROM reservations"
                                 " WHERE guest_last_name IS NOT NULL ORDER BY 1, 2 LIMIT 2")  # fmt: skip
    row_key = targets.data_key(row_a[3])
    assert decrypt_field(bytes(row_a[2]), "last_name", row_key, f"RES#{row_a[0]}#{row_a[1]}")
    with pytest.raises(InvalidTag):
        decrypt_field(bytes(row_a[2]), "last_name", row_key, f"RES#{row_b[0]}#{row_b[1]}")
    assert re.fullmatch(r"RES#H\d{5}#\d{10}", item["pk"]["S"])
    assert re.fullmatch(r"GUEST#[0-9a-f]{64}", item.get("gsi1pk", {"S": "GUEST#" + "0" * 64})["S"])
    inputs = input_rows(data_dir)
    pans = {r["CARD_NO"] for r in inputs if r["CARD_NO"].isdigit() and len(r["CARD_NO"]) >= 13}
    emails = {r["GUEST_EMAIL"].strip().lower() for r in inputs if "@" in r["GUEST_EMAIL"]}
    xml_pans = htng_pans(data_dir)
    assert len(pans) > 100 and len(emails) > 100 and len(xml_pans) > 5
    pans |= xml_pans
    rows = targets.sql("SELECT * FROM reservations")
    stored = folder_bytes(first.run_dir) + repr(items).encode() + repr(rows).encode()
    assert not occurring(pans, stored)
    assert not occurring(emails, stored.lower())

    # GIVEN the state the first run left, and then the live system stored a newer version of a reservation at
    # a hotel that has cut over
    before_items, before_rows = comparable_items(targets), comparable_rows(targets)
    stay_places = _room_stay_places(targets)
    cut_over = _cut_over_properties(data_dir)
    victim = next(it for it in items if it["property_code"]["S"] in cut_over)
    pk, pc, cn = victim["pk"]["S"], victim["property_code"]["S"], victim["confirmation_no"]["S"]
    targets.dynamodb().update_item(
        TableName=targets.table,
        Key={"pk": {"S": pk}, "sk": {"S": "ITINERARY"}},
        UpdateExpression="SET last_modified = :lm, #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":lm": {"S": "2099-01-01T00:00:00Z"}, ":s": {"S": "LIVE"}},
    )
    targets.sql(
        "UPDATE reservations SET last_modified = '2099-01-01T00:00:00Z', status = 'LIVE'"
        " WHERE property_code = %s AND confirmation_no = %s",
        (pc, cn),
    )
    live_item = comparable_items(targets)[pk]

    # AND the room stays of another reservation drifted from the EDW's (one changed, one gone, one extra),
    # and the live reservation has a stay the EDW does not know
    stays = before_rows[1]
    drifted = next(r[:2] for r in stays if r[:2] != (pc, cn) and sum(1 for x in stays if x[:2] == r[:2]) >= 2)
    lines = [r for r in stays if r[:2] == drifted]
    targets.sql(
        "UPDATE room_stays SET nightly_rate = nightly_rate + 1 WHERE property_code = %s AND confirmation_no = %s"
        " AND line_no = %s", (*drifted, lines[0][2]),
    )  # fmt: skip
    targets.sql(
        "DELETE FROM room_stays WHERE property_code = %s AND confirmation_no = %s AND line_no = %s",
        (*drifted, lines[1][2]),
    )
    for key in (drifted, (pc, cn)):
        targets.sql(
            "INSERT INTO room_stays VALUES (%s, %s, 99, 'KNG', 'BAR', '2026-01-01', '2026-01-02', 1.00, 'EUR')", key
        )
    live_stays = targets.sql("SELECT * FROM room_stays WHERE property_code = %s AND confirmation_no = %s", (pc, cn))
    assert any(r[2] == 99 for r in live_stays)

    # WHEN the same job runs again (a backfill now) THEN the counts repeat, the live version survives in both
    # targets and is counted, and every other reservation is as the first run left it
    second = run_migrate(data_dir, tmp_path, targets, *LOOSE_GATE, run_id="second")
    assert second.code == 0, second.stderr[-3000:]
    assert second.manifest is not None
    assert second.manifest["write_stats"]["aurora"]["path"] == "backfill"
    assert {k: second.manifest["counts"][k] for k in COUNT_KEYS} == {k: counts[k] for k in COUNT_KEYS}
    assert second.manifest["counts"]["targets"] == {
        "dynamodb": {"written": loaded - 1, "kept_newer": 1, "failed": 0},
        "aurora": {"written": loaded - 1, "kept_newer": 1, "failed": 0},
    }
    assert comparable_items(targets) == {**before_items, pk: live_item}
    stored_item = targets.dynamodb().get_item(TableName=targets.table, Key={"pk": {"S": pk}, "sk": {"S": "ITINERARY"}})
    assert stored_item["Item"]["status"]["S"] == "LIVE"
    reservations_now = comparable_rows(targets)[0]
    assert [r for r in reservations_now if r[:2] != (pc, cn)] == [r for r in before_rows[0] if r[:2] != (pc, cn)]
    assert targets.sql(
        "SELECT status FROM reservations WHERE property_code = %s AND confirmation_no = %s", (pc, cn)
    ) == [("LIVE",)]
    # AND the backfill rewrote every other reservation ...
    assert targets.sql("SELECT count(*) FROM reservations WHERE run_id = 'second'") == [(loaded - 1,)]
    # ... but not one room stay that had not changed; the drifted reservation has the EDW's room stays again,
    # while the live one keeps its own
    unchanged = {k: v for k, v in stay_places.items() if k[:2] not in (drifted, (pc, cn))}
    places_now = _room_stay_places(targets)
    assert {k: places_now[k] for k in unchanged} == unchanged
    assert (
        targets.sql(
            "SELECT * FROM room_stays WHERE property_code = %s AND confirmation_no = %s ORDER BY line_no", drifted
        )
        == lines
    )
    assert (
        targets.sql("SELECT * FROM room_stays WHERE property_code = %s AND confirmation_no = %s", (pc, cn))
        == live_stays
    )
    assert [r for r in comparable_rows(targets)[1] if r[:2] != (pc, cn)] == [r for r in stays if r[:2] != (pc, cn)]


def _dry_run_plan(data_dir: Path, truth: dict[str, Any], targets: Targets, tmp_path: Path) -> dict[str, Any]:
    """A dry run with a 90 M extrapolation: it plans without writing (the plan is returned, for the real run
    that follows to be held to it)."""
    loaded = truth["counts"]["reservations_loaded"]
    scale = ("--plan-scale", "90000000", "--plan-cluster", "10 x m5.4xlarge")
    # "first"'s length: the run id is stored in every item, so its length counts in the write units
    result = run_migrate(data_dir, tmp_path, targets, *LOOSE_GATE, "--dry-run", *scale, run_id="plan0")
    assert result.code == 0, result.stderr[-3000:]
    assert result.manifest is not None and result.manifest["dry_run"] is True
    assert result.manifest["counts"]["reservations_loaded"] == loaded
    plan = result.manifest["plan"]
    assert plan["dynamodb_items"] == loaded == plan["aurora_reservation_rows"]
    # every item lands in the table and gsi2 (at least 2 units); none here reaches 2 KB (at most 3 x 2 units)
    assert 2 * loaded <= plan["dynamodb_write_units"] <= 6 * loaded
    assert targets.all_items() == []
    assert targets.sql("SELECT to_regclass('reservations')") == [(None,)]  # not even the schema was touched
    # the extrapolation to 90 M reservations scales what this run counted
    versions = sum(truth["counts"]["input"].values())
    big = plan["extrapolated"]
    assert big["reservations"] == 90_000_000 and big["versions"] == round(versions * 90_000_000 / loaded)
    assert big["dynamodb_write_units"] == round(plan["dynamodb_write_units"] * 90_000_000 / loaded)
    assert big["cluster"] == "10 x m5.4xlarge (160 vCPUs)"
    # the transform, then both loads at once: the longer of the two
    assert big["total_seconds"] == round(big["spark_seconds"] + max(big["dynamodb_seconds_at_budget"],
                                                                   big["aurora_seconds"]), 1)  # fmt: skip
    assert "extrapolated: reservations 90,000,000" in result.stdout
    return plan


def _room_stay_places(targets: Targets) -> dict[tuple[Any, ...], str]:
    """Where each room stay is stored (its ctid): a row that is rewritten moves."""
    rows = targets.sql("SELECT property_code, confirmation_no, line_no, ctid::text FROM room_stays")
    return {r[:3]: r[3] for r in rows}


def _cut_over_properties(data_dir: Path) -> set[str]:
    path = next((data_dir / "reference" / "properties").iterdir())
    with open(path, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="|"))
    return {r["PROPERTY_CODE"] for r in rows if r["CUTOVER_TS"] and r["CUTOVER_TS"] < "2026-11-01"}


def test_quality_gate_failure_writes_nothing_and_exits_3(sample, moto, postgres, tmp_path):
    data_dir, truth = sample
    targets = fresh_targets(moto, postgres, "e2e_gate")

    # GIVEN more quarantine than the default 0.5 % allows, and a suite the clean data cannot meet and no row
    # rule sees: property codes of the first five hotels only (a value out of a row rule's range would be
    # quarantined instead: OUT_OF_RANGE)
    result = run_migrate(data_dir, tmp_path, targets, "--set", "quality.rules.property_code_regex=^H0000[1-5]$",
                         run_id="gate_suite")  # fmt: skip
    # THEN exit 3, both reasons reported, nothing sent: not even the data key
    assert result.code == 3, result.stderr[-3000:]
    assert result.manifest is not None and result.manifest["status"] == "gate_failed"
    quality = result.manifest["quality"]
    assert quality["passed"] is False and quality["reason"].startswith("quarantine fraction")
    assert result.manifest["counts"]["quarantined"] == truth["counts"]["quarantined"]
    assert result.manifest["counts"]["reservations_loaded"] == 0
    assert targets.all_items() == []
    assert targets.sql("SELECT count(*) FROM reservations") == [(0,)]
    assert result.run_dir is not None and any((result.run_dir / "quarantine" / "versions").rglob("*.parquet"))
    suite = quality["suite"]
    others = [f for f in suite["failed"] if f["column"] == "property_code"]
    assert suite["success"] is False
    assert [f["expectation"] for f in suite["failed"]] == ["expect_column_values_to_match_regex"]
    assert others[0]["unexpected_count"] > 0
    assert all(re.fullmatch(r"H\d{5}", c) and not re.fullmatch(r"H0000[1-5]", c) for c in others[0]["examples"])
    reason = result.manifest["quality"]["reason"]
    assert "suite failed: expect_column_values_to_match_regex(property_code)" in reason
    assert "FAILED expect_column_values_to_match_regex on property_code" in result.stdout
    # the report: results JSON and the Data Docs site, both naming the failed expectation
    assert result.run_dir is not None
    report = json.loads((result.run_dir / "quality" / "results.json").read_text())
    assert [d["kwargs"]["column"] for d in report["details"]] == ["property_code"]
    docs = result.run_dir / "quality" / "data_docs"
    assert (docs / "index.html").is_file()
    (page,) = (docs / "validations" / "clean_reservations_failed" / "gate_suite-details").rglob("*.html")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.read_text()))
    unexpected = others[0]["unexpected_count"]
    assert "Status: Failed" in text and "^H0000[1-5]$" in text, text[:500]
    assert f"{unexpected} unexpected values found" in text


def test_retries_absorb_server_errors_and_exhausted_retries_exit_4(sample, moto, postgres, tmp_path):
    data_dir, truth = sample
    loaded = truth["counts"]["reservations_loaded"]

    def dynamodb_run_behind(proxy: FaultProxy, name: str, *extra: str):  # type: ignore[no-untyped-def]
        targets = fresh_targets(moto, postgres, name)
        with proxy.serve() as url:
            args = (*LOOSE_GATE, "--targets", "dynamodb", "--set", "dynamodb.mode=batch", *extra)
            return targets, run_migrate(data_dir, tmp_path, targets, *args, run_id=name, endpoint=url)

    # GIVEN 30 % of every DynamoDB call (the table's description, the key registry, the writes) fails with
    # HTTP 500 in front of the real server
    flaky = FaultProxy(moto.url, operation=None, failure_rate=0.3)
    targets, result = dynamodb_run_behind(flaky, "e2e_flaky")
    # THEN retries absorb them: everything is written, and the writes' retries are counted
    assert result.code == 0, result.stderr[-3000:]
    assert result.manifest is not None
    assert result.manifest["counts"]["targets"] == {"dynamodb": {"written": loaded, "kept_newer": 0, "failed": 0}}
    batches = flaky.injected_by["dynamodb:BatchWriteItem"]
    assert batches > 0 and result.manifest["write_stats"]["dynamodb"]["retries"] >= batches
    assert {op for op, n in flaky.injected_by.items() if n} - {"dynamodb:BatchWriteItem"}, flaky.injected_by
    assert len(targets.items()) == loaded
    # AND every DynamoDB call the job made is one the job role's policy grants
    granted = {a for st in json.loads((ROOT / "conf/iam/job-role-policy.json").read_text())["Statement"]
               for a in st["Action"]}  # fmt: skip
    assert flaky.operations and flaky.operations <= granted, sorted(flaky.operations - granted)

    # GIVEN every BatchWriteItem fails THEN the run ends with exit 4 and every batched item is in failed_writes/
    # (live hotels' items are guarded PutItems in every mode: they get through)
    broken = FaultProxy(moto.url, operation="BatchWriteItem", failure_rate=1.0)
    targets, result = dynamodb_run_behind(broken, "e2e_broken", "--set", "dynamodb.max_attempts=2")
    assert result.code == 4, result.stderr[-3000:]
    assert result.manifest is not None and result.manifest["status"] == "load_incomplete"
    dynamo = result.manifest["counts"]["targets"]["dynamodb"]
    assert dynamo["kept_newer"] == 0 and dynamo["written"] + dynamo["failed"] == loaded
    assert result.run_dir is not None
    failed_lines = [
        line
        for p in (result.run_dir / "failed_writes" / "dynamodb").glob("*.json")
        for line in p.read_text().splitlines()
    ]
    assert len(failed_lines) == dynamo["failed"] > loaded // 2
    assert all('"InternalServerError"' in line and '"pk":"RES#' in line for line in failed_lines)
    assert len(targets.items()) == dynamo["written"] and len(targets.key_items()) == 1  # the key first (PutItem)


def test_property_selection_migrates_only_those_hotels(sample, moto, postgres, tmp_path):
    data_dir, truth = sample
    targets = fresh_targets(moto, postgres, "e2e_select")
    # the two hotels with the most reservations in this sample, from the reference and the extract
    inputs = input_rows(data_dir)
    counts: dict[str, int] = {}
    for row in inputs:
        code = row["PROP_CD"].strip().upper()
        counts[code] = counts.get(code, 0) + 1
    crosswalk = _crosswalk(data_dir)
    chosen = sorted((c for c in counts if c in crosswalk), key=lambda c: -counts[c])[:2]
    wanted = {crosswalk[c] for c in chosen}
    result = run_migrate(
        data_dir, tmp_path, targets, *LOOSE_GATE, "--properties", ",".join(sorted(wanted)), run_id="some"
    )
    assert result.code == 0, result.stderr[-3000:]
    assert result.manifest is not None
    c = result.manifest["counts"]
    assert c["input"]["edw"] == sum(counts[x] for x in chosen)  # every row of those hotels, copies included
    everything = len(inputs) + truth["counts"]["input"]["htng"]
    assert c["excluded_by_selection"] == everything - sum(c["input"].values())
    assert result.manifest["selection"]["properties"] == sorted(wanted)
    assert result.manifest["input_partitions"] == {}  # no window: nothing to prune
    stored = {it["property_code"]["S"] for it in targets.items()}
    assert stored == wanted
    assert {r[0] for r in targets.sql("SELECT DISTINCT property_code FROM reservations")} == wanted
    assert c["targets"]["dynamodb"]["written"] == c["reservations_loaded"] == len(targets.items())


def test_a_window_reads_only_its_date_folders_and_migrates_only_its_versions(daily_sample, moto, postgres, tmp_path):
    data_dir, truth = daily_sample
    targets = fresh_targets(moto, postgres, "e2e_window")
    lo, hi = date(2025, 3, 1), date(2025, 4, 15)  # three DST changes inside, none on an edge
    layout = ("--set", "input.reservations.date_partition.column=LAST_MOD_DT",
              "--set", "input.room_stays.date_partition.column=LAST_MOD_DT")  # fmt: skip
    result = run_migrate(
        data_dir, tmp_path, targets, *LOOSE_GATE, *layout, "--from", lo.isoformat(), "--to", hi.isoformat(),
        run_id="window",
    )  # fmt: skip
    assert result.code == 0, result.stderr[-3000:]
    assert result.manifest is not None
    c = result.manifest["counts"]

    # the folders read: the window's days and one day either side (local dates vs UTC), nothing else
    folders = {
        name: sorted(p.name.removeprefix("LAST_MOD_DT=") for p in (data_dir / "edw" / name).iterdir())
        for name in ("reservations", "room_stays")
    }
    near = [d for d in folders["reservations"] if "2025-02-28" <= d <= "2025-04-16"]
    assert len(near) > 40
    assert result.manifest["input_partitions"]["edw_reservations"] == {
        "column": "LAST_MOD_DT",
        "dates": ["2025-02-28", "2025-04-16"],
        "folders_read": len(near),
        "folders_skipped": len(folders["reservations"]) - len(near),
        "folders_undated": 0,
    }
    read = result.manifest["input_files"]["edw_reservations"]
    assert len(read) == len(near)
    assert sorted(re.search(r"LAST_MOD_DT=([0-9-]+)/", f)[1] for f in read) == near  # type: ignore[index]
    assert result.manifest["input_partitions"]["edw_room_stays"]["folders_read"] == len(
        [d for d in folders["room_stays"] if "2025-02-28" <= d <= "2025-04-16"]
    )

    # the versions selected: worked out here from the extract, the property reference's time zones and zoneinfo
    zones = _time_zones(data_dir)
    inputs = input_rows(data_dir, with_folder=True)
    days = {id(r): _utc_day(r, zones) for r in inputs}
    selected = [r for r in inputs if days[id(r)] is not None and lo <= days[id(r)] <= hi]  # type: ignore[operator]
    assert c["input"]["edw"] == len(selected) > 150
    assert any(not ("2025-03-01" <= r["_folder"] <= "2025-04-15") for r in selected)  # the slack day matters
    in_folders_read = sum(1 for r in inputs if "2025-02-28" <= r["_folder"] <= "2025-04-16")
    everything_read = in_folders_read + truth["counts"]["input"]["htng"]  # the archive is not partitioned
    assert c["excluded_by_selection"] == everything_read - sum(c["input"].values())
    assert c["room_stays"]["input"] == sum(
        1 for r in input_rows(data_dir, "room_stays", with_folder=True) if "2025-02-28" <= r["_folder"] <= "2025-04-16"
    )

    # the targets hold only versions of the window
    items = targets.items()
    assert len(items) == c["reservations_loaded"] == c["targets"]["dynamodb"]["written"] > 100
    assert all(lo.isoformat() <= it["last_modified"]["S"][:10] <= hi.isoformat() for it in items)
    (outside,) = targets.sql(
        "SELECT count(*) FROM reservations WHERE (last_modified AT TIME ZONE 'UTC')::date NOT BETWEEN %s AND %s",
        (lo, hi),
    )
    assert outside == (0,)
    assert targets.sql("SELECT count(*) FROM reservations") == [(len(items),)]


def _time_zones(data_dir: Path) -> dict[str, ZoneInfo]:
    path = next((data_dir / "reference" / "properties").iterdir())
    with open(path, encoding="utf-8") as fh:
        return {r["LEGACY_PROP_CD"]: ZoneInfo(r["TIMEZONE"]) for r in csv.DictReader(fh, delimiter="|")}


def _utc_day(row: dict[str, str], zones: dict[str, ZoneInfo]) -> date | None:
    """The UTC date of an EDW row's LAST_MOD_TS (property-local wall time), None when unusable."""
    zone = zones.get(row["PROP_CD"].strip().upper())
    for fmt in ("%Y-%m-%d %H:%M:%S", "%m/%d/%Y %H:%M:%S"):
        try:
            wall = datetime.strptime(row["LAST_MOD_TS"].strip(), fmt)
        except ValueError:
            continue
        return wall.replace(tzinfo=zone).astimezone(UTC).date() if zone else None
    return None


def _crosswalk(data_dir: Path) -> dict[str, str]:
    path = next((data_dir / "reference" / "properties").iterdir())
    with open(path, encoding="utf-8") as fh:
        return {r["LEGACY_PROP_CD"]: r["PROPERTY_CODE"] for r in csv.DictReader(fh, delimiter="|")}
