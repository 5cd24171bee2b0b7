from __future__ import annotations

import datetime as dt
from decimal import Decimal

from chispa import assert_df_equality
from pyspark.sql import functions as F

from tests.unit.edw_rows import RULES, properties_df, reservations_df
from tests.unit.schemas import PROPERTIES, STRING, struct
from transforms import filter_unsafe_properties, to_canonical_edw, to_canonical_properties


def _canonical(spark, *rows):
    props = to_canonical_properties(properties_df(spark))
    return to_canonical_edw(reservations_df(spark, *rows), props, status_codes=RULES.edw_status)


def test_canonical_fields_of_a_good_row(spark) -> None:
    row = _canonical(spark, {}).collect()[0]
    assert row["property_code"] == "H00001"
    assert row["confirmation_no"] == "1001"
    assert row["status"] == "CONFIRMED"
    # 09:00 in New York in January (UTC-5) is 14:00 UTC.
    assert row["last_modified"] == dt.datetime(2025, 1, 10, 14, 0)
    assert row["created_at"] == dt.datetime(2025, 1, 10, 14, 0)
    assert (row["arrival_date"], row["departure_date"], row["nights"]) == (dt.date(2025, 3, 1), dt.date(2025, 3, 4), 3)
    assert row["total_amount"] == Decimal("1234.50")
    assert (row["currency"], row["channel"], row["card_type"], row["card_last4"]) == ("USD", "OTA", "VI", "1111")
    assert row["guest"].asDict() == {
        "first_name": "Ana",
        "last_name": "Silva",
        "email": "ana.silva@example.com",
        "phone": "+1 555 0100",
        "country": "PRT",
    }
    assert row["source"] == "EDW" and row["source_seq"] == 10


def test_messy_codes_map_and_unknown_values_become_null(spark) -> None:
    rows = (
        _canonical(
            spark,
            {"CONF_NO": " 2002 ", "PROP_CD": " lis01 ", "RES_STATUS": " cxl", "LAST_MOD_TS": "07/01/2025 10:00:00"},
            {"CONF_NO": "3003", "PROP_CD": "XXX99", "RES_STATUS": "ZZ"},
            {"CONF_NO": None, "RES_STATUS": None, "TOTAL_AMT": None, "GUEST_EMAIL": None},
        )
        .orderBy(F.col("confirmation_no").asc_nulls_last())
        .collect()
    )
    lisbon, unknown, empty = rows
    assert (lisbon["property_code"], lisbon["confirmation_no"], lisbon["status"]) == ("H00002", "2002", "CANCELLED")
    assert lisbon["last_modified"] == dt.datetime(2025, 7, 1, 9, 0)  # Lisbon summer time is UTC+1
    assert lisbon["cutover_ts"] == dt.datetime(2025, 6, 1, 0, 0)
    assert (unknown["property_code"], unknown["legacy_property_code"], unknown["status"]) == (None, "XXX99", None)
    assert unknown["last_modified"] is None  # no zone for an unknown property
    assert (empty["confirmation_no"], empty["status"], empty["total_amount"], empty["guest"]["email"]) == (
        None,
        None,
        None,
        None,
    )


def test_masked_raw_record_hides_guest_pii(spark) -> None:
    row = _canonical(spark, {"GUEST_PHONE": None}).collect()[0]
    raw = row["raw"].asDict()
    assert raw["GUEST_FIRST_NM"] == raw["GUEST_LAST_NM"] == raw["GUEST_EMAIL"] == "***"
    assert raw["GUEST_PHONE"] is None
    assert raw["CARD_LAST4"] == "1111" and raw["CONF_NO"] == "1001"
    assert "Silva" not in str(raw)


def test_identical_rows_share_a_content_hash_and_different_rows_do_not(spark) -> None:
    rows = _canonical(spark, {}, {}, {"EDW_SEQ": "11"}).select("content_hash").collect()
    assert rows[0][0] == rows[1][0]
    assert rows[0][0] != rows[2][0]


def test_canonical_properties_are_normalized_once_per_legacy_code(spark) -> None:
    source = struct(
        LEGACY_PROP_CD=STRING, PROPERTY_CODE=STRING, PROPERTY_NAME=STRING, COUNTRY=STRING, TIMEZONE=STRING,
        CUTOVER_TS=STRING,
    )  # fmt: skip
    properties = spark.createDataFrame(
        [
            (" nyc01 ", "h00001", " Hotel NYC ", "us", "America/New_York", ""),
            ("LIS01", "H00002", "Hotel Lisbon", "PT", "Europe/Lisbon", "2025-06-01 00:00:00"),
            ("lis01", "H00002", "Hotel Lisbon", "pt", "Europe/Lisbon", "2025-06-01T00:00:00Z"),  # listed twice
            ("BOS01", "H00003", "NULL", None, " ", "01/06/2025"),  # no name, country, zone; cutover not parsed
            (None, None, None, None, None, None),
        ],
        source,
    )
    expected = spark.createDataFrame(
        [
            ("NYC01", "H00001", "Hotel NYC", "US", "America/New_York", None),
            ("LIS01", "H00002", "Hotel Lisbon", "PT", "Europe/Lisbon", dt.datetime(2025, 6, 1, 0, 0)),
            ("BOS01", "H00003", None, None, None, None),
            (None, None, None, None, None, None),
        ],
        PROPERTIES,
    )
    assert_df_equality(to_canonical_properties(properties), expected, ignore_row_order=True, ignore_nullable=True)


def test_cutover_accepts_iso_8601_with_offsets(spark) -> None:
    source = struct(LEGACY_PROP_CD=STRING, PROPERTY_CODE=STRING, PROPERTY_NAME=STRING, COUNTRY=STRING,
                    TIMEZONE=STRING, CUTOVER_TS=STRING)  # fmt: skip
    rows = [
        ("A", "H1", "a", "US", "UTC", "2025-01-01T00:00:00+00:00"),
        ("B", "H2", "b", "US", "UTC", "2025-01-01T02:30:00+02:30"),  # the same instant
        ("C", "H3", "c", "US", "UTC", "2025-01-01T00:00:00.250Z"),
        ("D", "H4", "d", "US", "UTC", "2025-01-01 00:00:00"),  # plain: UTC
    ]
    cutovers = {r["legacy_property_code"]: r["cutover_ts"] for r in
                to_canonical_properties(spark.createDataFrame(rows, source)).collect()}  # fmt: skip
    midnight = dt.datetime(2025, 1, 1)
    assert cutovers == {"A": midnight, "B": midnight, "C": midnight.replace(microsecond=250_000), "D": midnight}


def test_unsafe_properties_are_unparsed_cutovers_and_disagreeing_rows(spark) -> None:
    source = struct(LEGACY_PROP_CD=STRING, PROPERTY_CODE=STRING, PROPERTY_NAME=STRING, COUNTRY=STRING,
                    TIMEZONE=STRING, CUTOVER_TS=STRING)  # fmt: skip
    properties = spark.createDataFrame(
        [
            ("NYC01", "H00001", "Hotel NYC", "US", "America/New_York", ""),  # fine: not live
            ("LIS01", "H00002", "Lisbon", "PT", "Europe/Lisbon", "2025-06-01 00:00:00"),
            ("lis01", "H00002", "Lisbon (old name)", "PT", "Europe/Lisbon", "2025-06-01T00:00:00Z"),  # agrees
            ("BOS01", "H00003", "Boston", "US", "America/New_York", "01/06/2025"),  # does not parse
            ("MAD01", "H00004", "Madrid", "ES", "Europe/Madrid", "2025-06-01 00:00:00"),
            ("MAD01", "H00004", "Madrid", "ES", "Europe/Madrid", "2025-07-01 00:00:00"),  # another cutover
            ("PAR01", "H00005", "Paris", "FR", "Europe/Paris", None),
            ("PAR01", "H00009", "Paris", "FR", "Europe/Paris", None),  # another new code
            (None, None, None, None, None, None),
        ],
        source,
    )
    expected = spark.createDataFrame(
        [
            ("BOS01", "CUTOVER_TS does not parse"),
            ("MAD01", "rows disagree on PROPERTY_CODE, TIMEZONE or CUTOVER_TS"),
            ("PAR01", "rows disagree on PROPERTY_CODE, TIMEZONE or CUTOVER_TS"),
        ],
        struct(legacy_property_code=STRING, problem=STRING),
    )
    actual = filter_unsafe_properties(properties)
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)
