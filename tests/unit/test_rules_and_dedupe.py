from __future__ import annotations

import datetime as dt
from decimal import Decimal

from chispa import assert_df_equality
from pyspark.sql import functions as F
from pyspark.sql import types as T

from tests.unit.edw_rows import RULES, properties_df, reservations_df, room_stays_df
from tests.unit.schemas import (
    AMOUNT,
    BOOLEAN,
    CHECKS,
    DATE,
    GUEST,
    INT,
    LONG,
    ROOM_LINE,
    ROOM_STAYS,
    STRING,
    TIMESTAMP,
    struct,
)
from transforms import (
    classify_versions,
    filter_orphan_room_stays,
    group_room_stays,
    to_canonical_properties,
    to_edw_versions,
    to_room_stay_lines,
    with_outcome,
    with_reasons,
    with_room_stays_attached,
)
from transforms.rules import estimated_item_bytes, out_of_range_columns


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
        # outside conf/base.yaml's quality.rules: 99 adults, 20 children, 365 nights, arrivals 2015-2035
        {"EDW_SEQ": "14", "CONF_NO": "C14", "ADULTS": "120"},
        {"EDW_SEQ": "15", "CONF_NO": "C15", "ARR_DT": "20400301", "DEP_DT": "2040-03-04"},
        {"EDW_SEQ": "16", "CONF_NO": "C16", "CHILDREN": "-1"},
        {"EDW_SEQ": "17", "CONF_NO": "C17", "DEP_DT": "2026-06-01"},
        {"EDW_SEQ": "18", "CONF_NO": "C18", "ADULTS": "99", "CHILDREN": "20", "DEP_DT": "2026-03-01"},  # the limits
    ]
    classified = _classified(spark, rows)[0]
    got = _by_seq(classified)
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
        14: ("quarantined", ["OUT_OF_RANGE"]),
        15: ("quarantined", ["OUT_OF_RANGE"]),
        16: ("quarantined", ["OUT_OF_RANGE"]),
        17: ("quarantined", ["OUT_OF_RANGE"]),
        18: ("loaded", []),
    }
    # the quarantine names the column (pipeline.quarantine's detail)
    assert RULES.ranges is not None
    named = classified.select("source_seq", out_of_range_columns(RULES.ranges).alias("columns")).collect()
    assert {r["source_seq"]: list(r["columns"]) for r in named if r["columns"]} == {
        14: ["adults"], 15: ["arrival_date"], 16: ["children"], 17: ["nights"]
    }  # fmt: skip


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
    # 2,600 room-stay lines (at 160 B and more each the estimate passes DynamoDB's 400 KB), a 500 KB guest
    # name with one line (a line count alone would let it through), and a 390 KB name that fits
    rows = [
        {"CONF_NO": "1", "EDW_SEQ": "1"},
        {"CONF_NO": "2", "EDW_SEQ": "2"},
        {"CONF_NO": "3", "EDW_SEQ": "3", "GUEST_LAST_NM": "x" * 500_000},
        {"CONF_NO": "4", "EDW_SEQ": "4", "GUEST_LAST_NM": "y" * 390_000},
    ]
    room_rows = [{"CONF_NO": "1", "EDW_SEQ": "1", "LINE_NO": str(n)} for n in range(1, 2601)]
    room_rows += [{"CONF_NO": c, "EDW_SEQ": c, "LINE_NO": "1"} for c in ("2", "3", "4")]
    got = {
        r["confirmation_no"]: (r["outcome"], list(r["reasons"]), len(r["room_stays"]))
        for r in _classified(spark, rows, room_rows)[0].collect()
    }
    assert got == {
        "1": ("quarantined", ["ITEM_TOO_LARGE"], 2600),
        "2": ("loaded", [], 1),
        "3": ("quarantined", ["ITEM_TOO_LARGE"], 1),
        "4": ("loaded", [], 1),
    }


def test_the_item_size_estimate_counts_every_text_byte_of_the_version_and_its_room_stays(spark) -> None:
    # The estimate written out by hand from its definition (transforms.rules.MAX_ITEM_BYTES): 2,048 B, the keys'
    # UTF-8 bytes four times, the item's text values, every guest field's bytes + 29 (absent: 29), per room stay
    # 160 B and its room type, rate plan and currency. 'Müller' and 'ÉTÉ' are 7 and 5 bytes.
    schema = struct(
        property_code=STRING, confirmation_no=STRING, status=STRING, currency=STRING, channel=STRING,
        card_type=STRING, card_last4=STRING, source=STRING, guest=GUEST, room_stays=ROOM_STAYS,
    )  # fmt: skip
    day = dt.date(2025, 3, 1)
    stays = [(1, "KNG", "BAR", day, day, Decimal("1.00"), "USD"), (2, None, "ÉTÉ", day, day, None, None)]
    rows = [
        ("NYC01", "1001", "CONFIRMED", "USD", None, "VI", "1234", "EDW", ("Ana", "Müller", None, None, "PT"), stays),
        (None, None, None, None, None, None, None, None, None, None),
        ("A", "B", None, None, None, None, None, None, None, []),
    ]
    got = spark.createDataFrame(rows, schema).select(estimated_item_bytes(schema.fieldNames()).alias("bytes"))
    guest_allowance = 5 * 29
    assert [r["bytes"] for r in got.collect()] == [
        2048 + (5 + 4) * 4 + (9 + 3 + 2 + 4 + 3) + (3 + 7 + 2 + guest_allowance) + (2 * 160 + 3 + 3 + 3 + 5),
        2048 + guest_allowance,
        2048 + (1 + 1) * 4 + guest_allowance,
    ]


# --- each transform on its own: literal input with an explicit schema, the expected output written out ---

CURRENCIES = frozenset({"USD", "EUR"})
KEY = struct(group_property=STRING, confirmation_no=STRING, source_seq=LONG)
KING = (1, "KNG", "BAR", dt.date(2025, 3, 1), dt.date(2025, 3, 4), Decimal("411.50"), "USD")
DOUBLE = (2, "DBL", "BAR", dt.date(2025, 3, 1), dt.date(2025, 3, 4), Decimal("100.00"), "USD")


def test_room_stay_lines_are_parsed_keyed_like_the_versions_and_flagged(spark) -> None:
    source = struct(
        CONF_NO=STRING, PROP_CD=STRING, EDW_SEQ=STRING, LINE_NO=STRING, ROOM_TYPE_CD=STRING, RATE_PLAN_CD=STRING,
        STAY_START_DT=STRING, STAY_END_DT=STRING, NIGHTLY_RATE=STRING, CURRENCY_CD=STRING,
    )  # fmt: skip
    room_stays = spark.createDataFrame(
        [
            (" 1001 ", "nyc01", "10", "1", " kng", "bar", "20250301", "2025-03-04", "411.50", "usd"),
            ("2002", "XXX99", "x", "2", "DBL", None, "20250305", "20250301", "-5", "EUR"),  # unknown property
            ("3003", "NYC01", "30", "1", "KNG", "BAR", "2025-02-30", "20250304", "abc", "USD"),
            (None, None, None, None, None, None, None, None, None, None),
        ],
        source,
    )
    properties = spark.createDataFrame([("NYC01", "H00001")], struct(legacy_property_code=STRING, property_code=STRING))
    expected_schema = struct(
        group_property=STRING, confirmation_no=STRING, source_seq=LONG, line=ROOM_LINE, is_bad_date=BOOLEAN,
        is_bad_amount=BOOLEAN, _currency=STRING,
    )  # fmt: skip
    expected = spark.createDataFrame(
        [
            ("H00001", "1001", 10, KING, False, False, "USD"),
            # ends before it starts, negative rate; no sequence number
            ("?XXX99", "2002", None, (2, "DBL", None, dt.date(2025, 3, 5), dt.date(2025, 3, 1), Decimal("-5.00"),
                                      "EUR"), True, True, "EUR"),
            # no such day; a rate that is not a number
            ("H00001", "3003", 30, (1, "KNG", "BAR", None, dt.date(2025, 3, 4), None, "USD"), True, True, "USD"),
            # no dates: a bad date; no rate: not a bad amount (null, which the group's max ignores)
            (None, None, None, (None, None, None, None, None, None, None), True, None, None),
        ],
        expected_schema,
    )  # fmt: skip
    actual = to_room_stay_lines(room_stays, properties)
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_room_stays_group_per_version_key_with_their_flags(spark) -> None:
    lines_schema = struct(
        group_property=STRING, confirmation_no=STRING, source_seq=LONG, line=ROOM_LINE, is_bad_date=BOOLEAN,
        is_bad_amount=BOOLEAN, _currency=STRING,
    )  # fmt: skip
    no_number = (None, "KNG", None, None, None, None, "XYZ")
    lines = spark.createDataFrame(
        [
            ("H00001", "1001", 10, DOUBLE, False, False, "USD"),
            ("H00001", "1001", 10, KING, False, False, "USD"),
            ("H00001", "1001", 10, KING, False, False, "USD"),  # re-extracted copy
            ("H00001", "2002", 20, no_number, True, None, "XYZ"),
            (None, None, None, None, None, None, None),
        ],
        lines_schema,
    )
    expected_schema = T.StructType(
        KEY.fields
        + struct(
            room_stays=ROOM_STAYS, has_bad_room_date=BOOLEAN, has_bad_room_amount=BOOLEAN,
            has_bad_room_currency=BOOLEAN, room_stay_rows=LONG, room_stay_lines=INT, has_bad_room_key=BOOLEAN,
        ).fields
    )  # fmt: skip
    expected = spark.createDataFrame(
        [
            # identical rows once, in line order; rows counts what was read, lines what was kept
            ("H00001", "1001", 10, [KING, DOUBLE], False, False, False, 3, 2, False),
            # a line without a number: no usable key; an unknown currency
            ("H00001", "2002", 20, [no_number], True, None, True, 1, 1, True),
            (None, None, None, [], None, None, False, 1, 0, False),
        ],
        expected_schema,
    )
    actual = group_room_stays(lines, currencies=CURRENCIES)
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_room_stays_attach_to_their_version_and_an_empty_array_otherwise(spark) -> None:
    versions_schema = T.StructType(KEY.fields + struct(status=STRING).fields)
    versions = spark.createDataFrame(
        [("H00001", "1001", 10, "CONFIRMED"), ("H00001", "1001", 11, "CANCELLED"), (None, None, None, None)],
        versions_schema,
    )
    grouped_schema = T.StructType(KEY.fields + struct(room_stays=ROOM_STAYS, has_bad_room_key=BOOLEAN).fields)
    grouped = spark.createDataFrame(
        [("H00001", "1001", 10, [KING], False), ("H00001", "9009", 90, [KING], False)], grouped_schema
    )
    expected_schema = T.StructType(
        KEY.fields + struct(status=STRING, room_stays=ROOM_STAYS, has_bad_room_key=BOOLEAN).fields
    )
    expected = spark.createDataFrame(
        [
            ("H00001", "1001", 10, "CONFIRMED", [KING], False),
            ("H00001", "1001", 11, "CANCELLED", [], None),
            (None, None, None, None, [], None),  # a null key joins nothing
        ],
        expected_schema,
    )
    actual = with_room_stays_attached(versions, grouped)
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_orphan_room_stays_are_the_groups_without_a_version(spark) -> None:
    grouped_schema = T.StructType(KEY.fields + struct(room_stay_lines=INT).fields)
    grouped = spark.createDataFrame(
        [("H00001", "1001", 10, 1), ("H00001", "9009", 90, 2), ("H00001", "1001", 11, 1), (None, None, None, 1)],
        grouped_schema,
    )
    versions = spark.createDataFrame(
        [("H00001", "1001", 10, "CONFIRMED"), (None, None, None, None)],
        T.StructType(KEY.fields + struct(status=STRING).fields),
    )
    expected = spark.createDataFrame(
        [("H00001", "9009", 90, 2), ("H00001", "1001", 11, 1), (None, None, None, 1)],  # a null key matches nothing
        grouped_schema,
    )
    actual = filter_orphan_room_stays(grouped, versions)
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_reasons_name_every_rule_a_version_fails_in_order(spark) -> None:
    schema = struct(
        confirmation_no=STRING, legacy_property_code=STRING, property_code=STRING, status=STRING,
        arrival_date=DATE, departure_date=DATE, total_amount=AMOUNT, currency=STRING, checks=CHECKS,
        room_stays=ROOM_STAYS, has_bad_room_key=BOOLEAN, has_bad_room_date=BOOLEAN, has_bad_room_amount=BOOLEAN,
        has_bad_room_currency=BOOLEAN, malformed=STRING,
    )  # fmt: skip
    ok = (True, True, True, True, True)
    mar1, mar4 = dt.date(2025, 3, 1), dt.date(2025, 3, 4)
    rows = [
        ("C1", "NYC01", "H00001", "CONFIRMED", mar1, mar4, Decimal("10.00"), "USD", ok, [KING],
         False, False, False, False, None),
        # created_at present but unreadable; dates backwards; negative amount; unknown currency; unknown status
        ("C2", "NYC01", "H00001", None, mar4, mar1, Decimal("-1.00"), "XYZ", (True, False, True, True, True), [],
         None, None, None, None, None),
        # its room stays: no usable key, a bad date, a bad amount, a bad currency
        ("C3", "NYC01", "H00001", "CONFIRMED", mar1, mar4, Decimal("10.00"), "USD", ok, [], True, True, True, True,
         None),
        # an unknown property has no time zone: that is not a timestamp problem as well
        ("C4", "XXX99", None, "CONFIRMED", mar1, mar4, None, None, (True, True, True, False, False), [],
         None, None, None, None, None),
        ("C5", "NYC01", "H00001", "CONFIRMED", mar1, mar4, Decimal("10.00"), "USD", ok, [], False, False, False,
         False, "XMLSyntaxError: not XML"),
        (None, None, None, None, None, None, None, None, None, None, None, None, None, None, None),
    ]  # fmt: skip
    reasons = [
        [],
        ["BAD_TIMESTAMP", "DEPARTURE_NOT_AFTER_ARRIVAL", "BAD_AMOUNT", "BAD_CURRENCY", "BAD_STATUS"],
        ["MISSING_KEY", "BAD_DATE", "BAD_AMOUNT", "BAD_CURRENCY"],
        ["UNKNOWN_PROPERTY"],
        ["MALFORMED_XML"],  # an unusable document is that and nothing else
        ["MISSING_KEY", "BAD_DATE", "BAD_STATUS"],
    ]
    expected = spark.createDataFrame(
        [(*r, why) for r, why in zip(rows, reasons, strict=True)],
        T.StructType([*schema.fields, T.StructField("reasons", T.ArrayType(STRING))]),
    )
    actual = with_reasons(spark.createDataFrame(rows, schema), currencies=CURRENCIES)
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_outcome_latest_wins_copies_are_duplicates_and_an_invalid_latest_holds_back(spark) -> None:
    schema = struct(
        group_property=STRING, confirmation_no=STRING, property_code=STRING, last_modified=TIMESTAMP,
        source_seq=LONG, source=STRING, content_hash=STRING, input_file=STRING, reasons=T.ArrayType(STRING),
    )  # fmt: skip
    k1, k2, k3 = ("H00001", "1001", "H00001"), ("H00001", "2002", "H00001"), ("H00001", "3003", "H00001")
    jan = {day: dt.datetime(2025, 1, day, 14, 0) for day in (1, 2, 3, 10, 12)}
    rows = [
        (*k1, jan[10], 10, "EDW", "a10", "f1", []),
        (*k1, jan[12], 11, "EDW", "a11", "f1", []),
        (*k1, jan[12], 11, "EDW", "a11", "f2", []),  # re-extracted copy
        (*k2, jan[1], 1, "EDW", "b1", "f1", []),
        (*k2, jan[2], 2, "EDW", "b2", "f1", ["BAD_AMOUNT"]),  # the newest version is invalid
        (*k3, jan[3], 0, "EDW", "c1", "f1", []),
        (*k3, jan[3], 0, "HTNG", "c2", "h1", []),  # same time and sequence: HTNG wins
        (None, None, None, None, None, None, None, None, []),
    ]
    decided = [  # reasons, is_duplicate, is_latest, outcome
        ([], False, False, "superseded"),
        ([], False, True, "loaded"),
        ([], True, False, "duplicate"),
        (["LATEST_VERSION_INVALID"], False, False, "quarantined"),
        (["BAD_AMOUNT"], False, True, "quarantined"),
        ([], False, False, "superseded"),
        ([], False, True, "loaded"),
        ([], False, True, "quarantined"),  # no key
    ]
    expected_schema = T.StructType(
        [*schema.fields, *struct(is_duplicate=BOOLEAN, is_latest=BOOLEAN, outcome=STRING).fields]
    )
    expected = spark.createDataFrame(
        [(*r[:-1], why, *rest) for r, (why, *rest) in zip(rows, decided, strict=True)], expected_schema
    )
    actual = with_outcome(spark.createDataFrame(rows, schema))
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)
