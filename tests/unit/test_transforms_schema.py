"""The version chain's wide outputs, whole: every column, in order, with its type, against rows written by hand.

EDW rows -> canonical versions -> versions with their grouping key; HTNG rows -> canonical versions; both ->
classified versions. A version written out here as an expected output is the literal input of the next step.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from typing import Any

from chispa import assert_df_equality
from pyspark.sql import types as T

from tests.unit.schemas import (
    BOOLEAN,
    CANONICAL_VERSION,
    INT,
    LONG,
    PROPERTIES,
    ROOM_STAYS,
    STRING,
    row,
    struct,
)
from transforms import classify_versions, to_canonical_edw, to_canonical_htng, to_edw_versions
from transforms.parameters import RuleParameters

RULES = RuleParameters(
    currencies=frozenset({"USD", "EUR"}),
    edw_status={"RES": "CONFIRMED", "CXL": "CANCELLED"},
    htng_status={"COMMIT": "CONFIRMED", "MODIFY": "CONFIRMED", "CANCELLED": "CANCELLED"},
    htng_default_status="COMMIT",
)
NYC_CUTOVER = dt.datetime(2025, 6, 1, 4, 0)
PROPERTY_ROWS = [("NYC01", "H00001", "Hotel NYC", "US", "America/New_York", NYC_CUTOVER)]
MASK = "***"


def content_hash(*values: str | None) -> str:
    """SHA-256 of the values joined by U+0001, an absent one as U+0000 (how re-extracted copies are told)."""
    return hashlib.sha256("\x01".join("\x00" if v is None else v for v in values).encode("utf-8")).hexdigest()


def frame(spark: Any, schema: T.StructType, *values: dict[str, Any]) -> Any:
    return spark.createDataFrame([row(schema, v) for v in values], schema)


# --- EDW ---

EDW_ROW = struct(
    CONF_NO=STRING, PROP_CD=STRING, RES_STATUS=STRING, CREATE_TS=STRING, LAST_MOD_TS=STRING, EDW_SEQ=STRING,
    ARR_DT=STRING, DEP_DT=STRING, ADULTS=STRING, CHILDREN=STRING, GUEST_FIRST_NM=STRING, GUEST_LAST_NM=STRING,
    GUEST_EMAIL=STRING, GUEST_PHONE=STRING, GUEST_COUNTRY=STRING, CARD_TYPE=STRING, CARD_LAST4=STRING,
    TOTAL_AMT=STRING, CURRENCY_CD=STRING, CHANNEL_CD=STRING, _input_file=STRING,
)  # fmt: skip
GOOD_EDW = {
    "CONF_NO": "1001", "PROP_CD": " nyc01 ", "RES_STATUS": "res", "CREATE_TS": "2025-01-10 09:00:00",
    "LAST_MOD_TS": "01/12/2025 09:30:00", "EDW_SEQ": "10", "ARR_DT": "20250301", "DEP_DT": "2025-03-04",
    "ADULTS": "2", "CHILDREN": "0", "GUEST_FIRST_NM": " Ana ", "GUEST_LAST_NM": "Silva",
    "GUEST_EMAIL": " Ana.Silva@Example.com ", "GUEST_PHONE": "+1 555 0100", "GUEST_COUNTRY": "prt",
    "CARD_TYPE": "VI", "CARD_LAST4": "1111", "TOTAL_AMT": "1,234.50", "CURRENCY_CD": "usd", "CHANNEL_CD": "ota",
    "_input_file": "file:/edw/part-0.csv",
}  # fmt: skip
UNKNOWN_EDW = {**GOOD_EDW, "CONF_NO": "3003", "PROP_CD": "xxx99", "RES_STATUS": "zz"}  # no such property, status
EMPTY_EDW = {**dict.fromkeys(GOOD_EDW), "_input_file": "file:/edw/part-1.csv"}

# New York is UTC-5 in January; the cutover comes from the property reference
GOOD_CANONICAL = {
    "source": "EDW", "input_file": "file:/edw/part-0.csv", "legacy_property_code": "NYC01",
    "property_code": "H00001", "confirmation_no": "1001", "status": "CONFIRMED",
    "created_at": dt.datetime(2025, 1, 10, 14, 0), "last_modified": dt.datetime(2025, 1, 12, 14, 30),
    "source_seq": 10, "arrival_date": dt.date(2025, 3, 1), "departure_date": dt.date(2025, 3, 4), "nights": 3,
    "adults": 2, "children": 0, "guest": ("Ana", "Silva", "ana.silva@example.com", "+1 555 0100", "PRT"),
    "card_type": "VI", "card_last4": "1111", "total_amount": Decimal("1234.50"), "currency": "USD",
    "channel": "OTA", "cutover_ts": NYC_CUTOVER, "checks": (True, True, True, True, True),
    "raw": ("1001", " nyc01 ", "res", "2025-01-10 09:00:00", "01/12/2025 09:30:00", "10", "20250301", "2025-03-04",
            "2", "0", MASK, MASK, MASK, MASK, "prt", "VI", "1111", "1,234.50", "usd", "ota"),
    "content_hash": content_hash(
        "1001", " nyc01 ", "res", "2025-01-10 09:00:00", "01/12/2025 09:30:00", "10", "20250301", "2025-03-04",
        "2", "0", " Ana ", "Silva", " Ana.Silva@Example.com ", "+1 555 0100", "prt", "VI", "1111", "1,234.50",
        "usd", "ota",
    ),
    "malformed": None, "message_id": None, "confirmation_source": None,
}  # fmt: skip
# without a property there is no zone: no instant for the local times, no cutover
UNKNOWN_CANONICAL = {
    **GOOD_CANONICAL, "legacy_property_code": "XXX99", "property_code": None, "confirmation_no": "3003",
    "status": None, "created_at": None, "last_modified": None, "cutover_ts": None,
    "checks": (True, True, True, True, False),
    "raw": ("3003", "xxx99", "zz", "2025-01-10 09:00:00", "01/12/2025 09:30:00", "10", "20250301", "2025-03-04",
            "2", "0", MASK, MASK, MASK, MASK, "prt", "VI", "1111", "1,234.50", "usd", "ota"),
    "content_hash": content_hash(
        "3003", "xxx99", "zz", "2025-01-10 09:00:00", "01/12/2025 09:30:00", "10", "20250301", "2025-03-04",
        "2", "0", " Ana ", "Silva", " Ana.Silva@Example.com ", "+1 555 0100", "prt", "VI", "1111", "1,234.50",
        "usd", "ota",
    ),
}  # fmt: skip
EMPTY_CANONICAL = {
    **dict.fromkeys(GOOD_CANONICAL), "source": "EDW", "input_file": "file:/edw/part-1.csv",
    "guest": (None, None, None, None, None), "checks": (False, False, False, False, False), "raw": (None,) * 20,
    "content_hash": content_hash(*[None] * 20),
}  # fmt: skip

EDW_VERSION = T.StructType([*CANONICAL_VERSION.fields, T.StructField("group_property", STRING)])
GOOD_VERSION = {**GOOD_CANONICAL, "group_property": "H00001"}
UNKNOWN_VERSION = {**UNKNOWN_CANONICAL, "group_property": "?XXX99"}  # the legacy code, marked
EMPTY_VERSION = {**EMPTY_CANONICAL, "group_property": None}


def test_canonical_edw_versions_whole(spark) -> None:
    reservations = frame(spark, EDW_ROW, GOOD_EDW, UNKNOWN_EDW, EMPTY_EDW)
    properties = spark.createDataFrame(PROPERTY_ROWS, PROPERTIES)
    expected = frame(spark, CANONICAL_VERSION, GOOD_CANONICAL, UNKNOWN_CANONICAL, EMPTY_CANONICAL)
    actual = to_canonical_edw(reservations, properties, status_codes=RULES.edw_status)
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_edw_versions_carry_their_grouping_key_last(spark) -> None:
    reservations = frame(spark, EDW_ROW, GOOD_EDW, UNKNOWN_EDW, EMPTY_EDW)
    properties = spark.createDataFrame(PROPERTY_ROWS, PROPERTIES)
    expected = frame(spark, EDW_VERSION, GOOD_VERSION, UNKNOWN_VERSION, EMPTY_VERSION)
    actual = to_edw_versions(reservations, properties, rules=RULES)
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


# --- HTNG ---

HTNG_ROOM = struct(
    LINE_NO=STRING, ROOM_TYPE_CD=STRING, RATE_PLAN_CD=STRING, STAY_START_DT=STRING, STAY_END_DT=STRING,
    NIGHTLY_RATE=STRING, CURRENCY_CD=STRING,
)  # fmt: skip
HTNG_ROW = struct(
    input_file=STRING, res_index=INT, message_id=STRING, message_type=STRING, malformed=STRING, CONF_NO=STRING,
    CONF_SOURCE=STRING, PROP_CD=STRING, RES_STATUS=STRING, SEQ=STRING, VERSION_TS=STRING, VERSION_TS_FIELD=STRING,
    CREATE_TS=STRING, ARR_DT=STRING, DEP_DT=STRING, ADULTS=STRING, CHILDREN=STRING, GUEST_FIRST_NM=STRING,
    GUEST_LAST_NM=STRING, GUEST_EMAIL=STRING, GUEST_PHONE=STRING, GUEST_COUNTRY=STRING, CARD_TYPE=STRING,
    CARD_LAST4=STRING, TOTAL_AMT=STRING, CURRENCY_CD=STRING, CHANNEL_CD=STRING, ROOM_STAYS=T.ArrayType(HTNG_ROOM),
)  # fmt: skip
GOOD_HTNG = {
    "input_file": "file:/htng/a.xml", "res_index": 0, "message_id": "m-1", "message_type": "OTA_HotelResNotifRQ",
    "malformed": None, "CONF_NO": "1001", "CONF_SOURCE": "HotelReservationID[10]", "PROP_CD": "nyc01",
    "RES_STATUS": "Modify", "SEQ": None, "VERSION_TS": "2025-01-12T15:00:00Z", "VERSION_TS_FIELD": "LastModifyDateTime",
    "CREATE_TS": "2025-01-10T09:00:00", "ARR_DT": "2025-03-01", "DEP_DT": "2025-03-05", "ADULTS": "2",
    "CHILDREN": None, "GUEST_FIRST_NM": "Ana", "GUEST_LAST_NM": "Silva", "GUEST_EMAIL": "Ana.Silva@Example.com",
    "GUEST_PHONE": None, "GUEST_COUNTRY": "PT", "CARD_TYPE": "mc", "CARD_LAST4": "4444", "TOTAL_AMT": "400.00",
    "CURRENCY_CD": "USD", "CHANNEL_CD": "gds",
    "ROOM_STAYS": [("2", "dbl", "BAR", "2025-03-03", "2025-03-05", "100.00", "USD"),
                   ("1", "kng", "BAR", "2025-03-01", "2025-03-03", "100", "USD")],
}  # fmt: skip
MALFORMED_HTNG = {
    **dict.fromkeys(GOOD_HTNG), "input_file": "file:/htng/b.xml", "malformed": "no OTA reservation message",
}  # fmt: skip

HTNG_VERSION = T.StructType(
    [
        *CANONICAL_VERSION.fields,
        *struct(
            group_property=STRING, room_stays=ROOM_STAYS, has_bad_room_date=BOOLEAN, has_bad_room_amount=BOOLEAN,
            has_bad_room_currency=BOOLEAN, has_bad_room_key=BOOLEAN, room_stay_lines=INT, room_stay_rows=INT,
        ).fields,
    ]
)  # fmt: skip
# an offset names the instant; a wall time without one is the hotel's (New York, UTC-5 in January); no
# sequence number is 0; the room stays in line order
GOOD_HTNG_VERSION = {
    "source": "HTNG", "input_file": "file:/htng/a.xml", "legacy_property_code": "NYC01", "property_code": "H00001",
    "confirmation_no": "1001", "status": "CONFIRMED", "created_at": dt.datetime(2025, 1, 10, 14, 0),
    "last_modified": dt.datetime(2025, 1, 12, 15, 0), "source_seq": 0, "arrival_date": dt.date(2025, 3, 1),
    "departure_date": dt.date(2025, 3, 5), "nights": 4, "adults": 2, "children": None,
    "guest": ("Ana", "Silva", "ana.silva@example.com", None, "PT"), "card_type": "MC", "card_last4": "4444",
    "total_amount": Decimal("400.00"), "currency": "USD", "channel": "GDS", "cutover_ts": NYC_CUTOVER,
    "checks": (True, True, True, True, True),
    "raw": ("1001", "nyc01", "Modify", "2025-01-10T09:00:00", "2025-01-12T15:00:00Z", None, "2025-03-01",
            "2025-03-05", "2", None, MASK, MASK, MASK, None, "PT", "mc", "4444", "400.00", "USD", "gds"),
    "content_hash": content_hash(
        "1001", "nyc01", "Modify", "2025-01-10T09:00:00", "2025-01-12T15:00:00Z", None, "2025-03-01", "2025-03-05",
        "2", None, "Ana", "Silva", "Ana.Silva@Example.com", None, "PT", "mc", "4444", "400.00", "USD", "gds",
        "OTA_HotelResNotifRQ", "LastModifyDateTime",
        '[{"LINE_NO":"2","ROOM_TYPE_CD":"dbl","RATE_PLAN_CD":"BAR","STAY_START_DT":"2025-03-03",'
        '"STAY_END_DT":"2025-03-05","NIGHTLY_RATE":"100.00","CURRENCY_CD":"USD"},'
        '{"LINE_NO":"1","ROOM_TYPE_CD":"kng","RATE_PLAN_CD":"BAR","STAY_START_DT":"2025-03-01",'
        '"STAY_END_DT":"2025-03-03","NIGHTLY_RATE":"100","CURRENCY_CD":"USD"}]',
    ),
    "malformed": None, "message_id": "m-1", "confirmation_source": "HotelReservationID[10]",
    "group_property": "H00001",
    "room_stays": [(1, "KNG", "BAR", dt.date(2025, 3, 1), dt.date(2025, 3, 3), Decimal("100.00"), "USD"),
                   (2, "DBL", "BAR", dt.date(2025, 3, 3), dt.date(2025, 3, 5), Decimal("100.00"), "USD")],
    "has_bad_room_date": False, "has_bad_room_amount": False, "has_bad_room_currency": False,
    "has_bad_room_key": False, "room_stay_lines": 2, "room_stay_rows": 2,
}  # fmt: skip
# an unusable document: the default status word, sequence 0, identified by its file and the parser's message
MALFORMED_HTNG_VERSION = {
    **dict.fromkeys(GOOD_HTNG_VERSION), "source": "HTNG", "input_file": "file:/htng/b.xml", "status": "CONFIRMED",
    "source_seq": 0, "guest": (None, None, None, None, None), "checks": (False, False, False, False, False),
    "raw": (None,) * 20, "content_hash": content_hash("file:/htng/b.xml", "no OTA reservation message"),
    "malformed": "no OTA reservation message", "room_stays": [], "has_bad_room_date": False,
    "has_bad_room_amount": False, "has_bad_room_currency": False, "has_bad_room_key": False,
    "room_stay_lines": 0, "room_stay_rows": 0,
}  # fmt: skip


def test_canonical_htng_versions_whole(spark) -> None:
    parsed = frame(spark, HTNG_ROW, GOOD_HTNG, MALFORMED_HTNG)
    properties = spark.createDataFrame(PROPERTY_ROWS, PROPERTIES)
    expected = frame(spark, HTNG_VERSION, GOOD_HTNG_VERSION, MALFORMED_HTNG_VERSION)
    actual = to_canonical_htng(parsed, properties, rules=RULES)
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


# --- both sources classified ---

KING = (1, "KNG", "BAR", dt.date(2025, 3, 1), dt.date(2025, 3, 4), Decimal("411.50"), "USD")
SUMMARY = struct(
    room_stays=ROOM_STAYS, has_bad_room_date=BOOLEAN, has_bad_room_amount=BOOLEAN, has_bad_room_currency=BOOLEAN,
    room_stay_rows=LONG, room_stay_lines=INT, has_bad_room_key=BOOLEAN,
)  # fmt: skip
KEY = ("group_property", "confirmation_no", "source_seq")
GROUPED = T.StructType([*[EDW_VERSION[k] for k in KEY], *SUMMARY.fields])
CLASSIFIED = T.StructType(
    [
        *[EDW_VERSION[k] for k in KEY],
        *[f for f in CANONICAL_VERSION.fields if f.name not in KEY],
        *SUMMARY.fields,
        *struct(reasons=T.ArrayType(STRING), is_duplicate=BOOLEAN, is_latest=BOOLEAN, outcome=STRING).fields,
    ]
)
NO_ROOM_STAYS = {"room_stays": [], **dict.fromkeys(list(SUMMARY.fieldNames())[1:])}


def test_classified_versions_of_both_sources_whole(spark) -> None:
    older = {**GOOD_VERSION, "source_seq": 9, "last_modified": dt.datetime(2025, 1, 11, 14, 30), "content_hash": "9"}
    versions = frame(spark, EDW_VERSION, GOOD_VERSION, older, UNKNOWN_VERSION, EMPTY_VERSION)
    grouped = spark.createDataFrame([("H00001", "1001", 10, [KING], False, False, False, 1, 1, False)], GROUPED)
    htng = frame(spark, HTNG_VERSION, GOOD_HTNG_VERSION, MALFORMED_HTNG_VERSION)

    def outcome(reasons: list[str], is_latest: bool, outcome: str) -> dict[str, Any]:
        return {"reasons": reasons, "is_duplicate": False, "is_latest": is_latest, "outcome": outcome}

    edw_summary = {
        "room_stays": [KING], "has_bad_room_date": False, "has_bad_room_amount": False,
        "has_bad_room_currency": False, "room_stay_rows": 1, "room_stay_lines": 1, "has_bad_room_key": False,
    }  # fmt: skip
    expected = frame(
        spark,
        CLASSIFIED,
        # 1001: the HTNG message (15:00 UTC) is newer than the EDW's newest version (14:30 UTC)
        {**GOOD_VERSION, **edw_summary, **outcome([], False, "superseded")},
        {**older, **NO_ROOM_STAYS, **outcome([], False, "superseded")},
        {**GOOD_HTNG_VERSION, **outcome([], True, "loaded")},
        {**UNKNOWN_VERSION, **NO_ROOM_STAYS, **outcome(["UNKNOWN_PROPERTY", "BAD_STATUS"], True, "quarantined")},
        # no key: quarantined on their own (one null-key window; the HTNG row's sequence 0 sorts first)
        {**EMPTY_VERSION, **NO_ROOM_STAYS,
         **outcome(["MISSING_KEY", "BAD_TIMESTAMP", "BAD_DATE", "BAD_STATUS"], False, "quarantined")},
        {**MALFORMED_HTNG_VERSION, **outcome(["MALFORMED_XML"], True, "quarantined")},
    )  # fmt: skip
    actual = classify_versions(versions, grouped, rules=RULES, htng_versions_df=htng)
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_an_htng_version_keeps_its_own_room_stays_where_edw_lines_share_its_key_and_sequence(spark) -> None:
    versions = frame(spark, EDW_VERSION, GOOD_VERSION)
    grouped = spark.createDataFrame(
        [("H00001", "1001", 10, [KING], False, False, False, 1, 1, False),
         ("H00001", "1001", 0, [KING], True, True, True, 9, 1, True)],  # the HTNG message's key and sequence
        GROUPED,
    )  # fmt: skip
    htng = frame(spark, HTNG_VERSION, GOOD_HTNG_VERSION)
    actual = classify_versions(versions, grouped, rules=RULES, htng_versions_df=htng)
    summary = ["source", "source_seq", *SUMMARY.fieldNames()]
    rows = {r["source"]: r.asDict() for r in actual.select(*summary).collect()}
    own = {k: GOOD_HTNG_VERSION[k] for k in SUMMARY.fieldNames()}
    assert rows["HTNG"] == {"source": "HTNG", "source_seq": 0, **own}
    assert rows["EDW"]["room_stays"] == [KING] and rows["EDW"]["room_stay_rows"] == 1
