from __future__ import annotations

from pyspark.sql import functions as F

from tests.unit.edw_rows import RULES, properties_df, reservations_df, room_stays_df
from transforms import (
    classify_versions,
    filter_orphan_room_stays,
    group_room_stays,
    to_canonical_properties,
    to_edw_versions,
    to_room_stay_lines,
)


def _classified(spark, rows, room_rows=()):
    props = to_canonical_properties(properties_df(spark))
    versions = to_edw_versions(reservations_df(spark, *rows), props, rules=RULES)
    room_df = room_stays_df(spark, *room_rows) if room_rows else room_stays_df(spark, {}).limit(0)
    grouped = group_room_stays(to_room_stay_lines(room_df, props), currencies=RULES.currencies)
    return classify_versions(versions, grouped, rules=RULES), grouped, versions


def _by_seq(df):
    return {r["source_seq"]: (r["outcome"], list(r["reasons"])) for r in df.collect()}


def test_each_rule_reports_its_reason_and_only_that(spark) -> None:
    rows = [
        {"EDW_SEQ": "1", "CONF_NO": "C1"},  # valid
        {"EDW_SEQ": "2", "CONF_NO": ""},
        {"EDW_SEQ": "3", "CONF_NO": "C3", "PROP_CD": "XXX99"},
        {"EDW_SEQ": "4", "CONF_NO": "C4", "LAST_MOD_TS": "2025-13-45 25:61:00"},
        {"EDW_SEQ": "5", "CONF_NO": "C5", "ARR_DT": "2025-02-30"},
        {"EDW_SEQ": "6", "CONF_NO": "C6", "DEP_DT": "20250301"},
        {"EDW_SEQ": "7", "CONF_NO": "C7", "TOTAL_AMT": "12,3x.00"},
        {"EDW_SEQ": "8", "CONF_NO": "C8", "CURRENCY_CD": "EURO"},
        {"EDW_SEQ": "9", "CONF_NO": "C9", "RES_STATUS": "ZZ"},
        {"EDW_SEQ": "12", "CONF_NO": "C12", "TOTAL_AMT": "-5.00", "RES_STATUS": None, "ARR_DT": None},
        {"EDW_SEQ": "13", "CONF_NO": "C13", "TOTAL_AMT": None, "CURRENCY_CD": None},  # absent optional data is fine
    ]
    got = _by_seq(_classified(spark, rows)[0])
    assert got == {
        1: ("loaded", []),
        2: ("quarantined", ["MISSING_KEY"]),
        3: ("quarantined", ["UNKNOWN_PROPERTY"]),
        4: ("quarantined", ["BAD_TIMESTAMP"]),
        5: ("quarantined", ["BAD_DATE"]),
        6: ("quarantined", ["DEPARTURE_NOT_AFTER_ARRIVAL"]),
        7: ("quarantined", ["BAD_AMOUNT"]),
        8: ("quarantined", ["BAD_CURRENCY"]),
        9: ("quarantined", ["BAD_STATUS"]),
        12: ("quarantined", ["BAD_DATE", "BAD_AMOUNT", "BAD_STATUS"]),
        13: ("loaded", []),
    }


def test_latest_wins_and_exact_copies_are_duplicates(spark) -> None:
    rows = [
        {"EDW_SEQ": "10", "LAST_MOD_TS": "2025-01-10 09:00:00"},
        {"EDW_SEQ": "11", "LAST_MOD_TS": "2025-01-12 09:00:00", "RES_STATUS": "CXL"},
        {"EDW_SEQ": "11", "LAST_MOD_TS": "2025-01-12 09:00:00", "RES_STATUS": "CXL"},  # re-extracted copy
        {"EDW_SEQ": "9", "LAST_MOD_TS": "2025-01-11 09:00:00"},  # lower seq but newer than 10
    ]
    df = _classified(spark, rows)[0]
    outcomes = sorted((r["source_seq"], r["outcome"], r["status"]) for r in df.collect())
    assert outcomes == [
        (9, "superseded", "CONFIRMED"),
        (10, "superseded", "CONFIRMED"),
        (11, "duplicate", "CANCELLED"),
        (11, "loaded", "CANCELLED"),
    ]


def test_equal_timestamps_fall_back_to_seq_then_content(spark) -> None:
    same = "2025-01-10 09:00:00"
    rows = [
        {"EDW_SEQ": "20", "LAST_MOD_TS": same},
        {"EDW_SEQ": "21", "LAST_MOD_TS": same},
        {"CONF_NO": "2", "EDW_SEQ": "30", "LAST_MOD_TS": same, "ADULTS": "1"},
        {"CONF_NO": "2", "EDW_SEQ": "30", "LAST_MOD_TS": same, "ADULTS": "3"},
    ]
    df = _classified(spark, rows)[0]
    got = sorted((r["confirmation_no"], r["source_seq"], r["adults"], r["outcome"]) for r in df.collect())
    assert got[:2] == [("1001", 20, 2, "superseded"), ("1001", 21, 2, "loaded")]
    # Same (last_modified, seq): exactly one wins, decided by the content hash, the same on every run.
    assert sorted(o for *_, o in got[2:]) == ["loaded", "superseded"]
    again = sorted(
        (r["adults"], r["outcome"]) for r in _classified(spark, rows)[0].filter("confirmation_no = '2'").collect()
    )
    assert again == sorted((a, o) for _, _, a, o in got[2:])


def test_invalid_newest_version_holds_back_the_whole_reservation(spark) -> None:
    rows = [
        {"EDW_SEQ": "1", "LAST_MOD_TS": "2025-01-01 09:00:00"},
        {"EDW_SEQ": "2", "LAST_MOD_TS": "2025-01-02 09:00:00", "TOTAL_AMT": "-1"},  # older invalid
        {"EDW_SEQ": "3", "LAST_MOD_TS": "2025-01-03 09:00:00", "CURRENCY_CD": "XYZ"},  # newest invalid
        {"EDW_SEQ": "3", "LAST_MOD_TS": "2025-01-03 09:00:00", "CURRENCY_CD": "XYZ"},  # its copy
        {"CONF_NO": "77", "EDW_SEQ": "5", "LAST_MOD_TS": "2025-01-01 09:00:00"},
        {"CONF_NO": "77", "EDW_SEQ": "6", "LAST_MOD_TS": "2025-01-02 09:00:00", "ARR_DT": "x"},  # older invalid only
        {"CONF_NO": "77", "EDW_SEQ": "7", "LAST_MOD_TS": "2025-01-03 09:00:00"},
        {"CONF_NO": "88", "EDW_SEQ": "8", "LAST_MOD_TS": "2025-01-01 09:00:00"},
        {"CONF_NO": "88", "EDW_SEQ": "9", "LAST_MOD_TS": "garbage"},  # undatable: may be newest -> held back
    ]
    df = _classified(spark, rows)[0]
    got = sorted((r["source_seq"], r["outcome"], tuple(r["reasons"])) for r in df.collect())
    assert got == [
        (1, "quarantined", ("LATEST_VERSION_INVALID",)),
        (2, "quarantined", ("BAD_AMOUNT", "LATEST_VERSION_INVALID")),
        (3, "duplicate", ("BAD_CURRENCY",)),
        (3, "quarantined", ("BAD_CURRENCY",)),
        (5, "superseded", ()),
        (6, "quarantined", ("BAD_DATE",)),
        (7, "loaded", ()),
        (8, "quarantined", ("LATEST_VERSION_INVALID",)),
        (9, "quarantined", ("BAD_TIMESTAMP",)),
    ]


def test_versions_without_a_key_are_quarantined_on_their_own(spark) -> None:
    rows = [
        {"CONF_NO": None, "EDW_SEQ": "1", "LAST_MOD_TS": "2025-01-01 09:00:00"},
        {"CONF_NO": None, "EDW_SEQ": "2", "LAST_MOD_TS": "2025-01-02 09:00:00"},
        {"PROP_CD": "XXX99", "EDW_SEQ": "3"},
        {"PROP_CD": "XXX99", "EDW_SEQ": "4", "LAST_MOD_TS": "2025-02-01 09:00:00"},
    ]
    got = sorted((r["source_seq"], r["outcome"], tuple(r["reasons"])) for r in _classified(spark, rows)[0].collect())
    assert got == [
        (1, "quarantined", ("MISSING_KEY",)),
        (2, "quarantined", ("MISSING_KEY",)),
        (3, "quarantined", ("UNKNOWN_PROPERTY",)),
        (4, "quarantined", ("UNKNOWN_PROPERTY",)),
    ]


def test_room_stays_attach_in_line_order_flag_bad_lines_and_orphans(spark) -> None:
    rows = [{"EDW_SEQ": "10"}, {"CONF_NO": "2", "EDW_SEQ": "20"}]
    room_rows = [
        {"LINE_NO": "2", "ROOM_TYPE_CD": " dbl"},
        {"LINE_NO": "1"},
        {"LINE_NO": "1"},  # re-extracted copy
        {"CONF_NO": "2", "EDW_SEQ": "20", "NIGHTLY_RATE": "abc"},
        {"CONF_NO": "9", "EDW_SEQ": "90"},  # no such version
    ]
    df, grouped, versions = _classified(spark, rows, room_rows)
    got = {r["confirmation_no"]: r for r in df.collect()}
    stays = got["1001"]["room_stays"]
    assert [(s["line_no"], s["room_type"]) for s in stays] == [(1, "KNG"), (2, "DBL")]
    assert str(stays[0]["nightly_rate"]) == "411.50" and stays[0]["start_date"].isoformat() == "2025-03-01"
    assert (got["1001"]["outcome"], list(got["1001"]["reasons"])) == ("loaded", [])
    assert (got["2"]["outcome"], list(got["2"]["reasons"])) == ("quarantined", ["BAD_AMOUNT"])
    orphans = filter_orphan_room_stays(grouped, versions).collect()
    assert [(o["confirmation_no"], o["source_seq"], o["room_stay_lines"]) for o in orphans] == [("9", 90, 1)]
    rows_total = grouped.agg(F.sum("room_stay_rows"), F.sum("room_stay_lines")).first()
    assert tuple(rows_total) == (5, 4)


def test_a_version_without_room_stays_gets_an_empty_array(spark) -> None:
    df = _classified(spark, [{}])[0]
    assert df.first()["room_stays"] == []


def test_room_lines_without_a_usable_number_make_the_version_keyless(spark) -> None:
    rows = [{"CONF_NO": "1", "EDW_SEQ": "1"}, {"CONF_NO": "2", "EDW_SEQ": "2"}, {"CONF_NO": "3", "EDW_SEQ": "3"}]
    room_rows = [
        {"CONF_NO": "1", "EDW_SEQ": "1", "LINE_NO": None},
        {"CONF_NO": "2", "EDW_SEQ": "2", "LINE_NO": "1", "ROOM_TYPE_CD": "KNG"},
        {"CONF_NO": "2", "EDW_SEQ": "2", "LINE_NO": "1", "ROOM_TYPE_CD": "DBL"},  # two lines numbered 1
        {"CONF_NO": "3", "EDW_SEQ": "3", "LINE_NO": "1"},
        {"CONF_NO": "3", "EDW_SEQ": "3", "LINE_NO": "2"},
    ]
    got = {
        r["confirmation_no"]: (r["outcome"], list(r["reasons"]))
        for r in _classified(spark, rows, room_rows)[0].collect()
    }
    assert got == {"1": ("quarantined", ["MISSING_KEY"]), "2": ("quarantined", ["MISSING_KEY"]), "3": ("loaded", [])}


def test_an_item_over_the_dynamodb_limit_is_too_large(spark) -> None:
    # 2,600 room-stay lines: the item-size estimate (2 KB + 160 B per line) passes DynamoDB's 400 KB
    rows = [{"CONF_NO": "1", "EDW_SEQ": "1"}, {"CONF_NO": "2", "EDW_SEQ": "2"}]
    room_rows = [{"CONF_NO": "1", "EDW_SEQ": "1", "LINE_NO": str(n)} for n in range(1, 2601)]
    room_rows.append({"CONF_NO": "2", "EDW_SEQ": "2", "LINE_NO": "1"})
    got = {
        r["confirmation_no"]: (r["outcome"], list(r["reasons"]), len(r["room_stays"]))
        for r in _classified(spark, rows, room_rows)[0].collect()
    }
    assert got == {"1": ("quarantined", ["ITEM_TOO_LARGE"], 2600), "2": ("loaded", [], 1)}
