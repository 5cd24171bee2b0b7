"""HTNG documents through the Spark reader into canonical versions, and into one latest-wins window with the EDW."""

from __future__ import annotations

import datetime as dt
import gzip
import os
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from pyspark.sql import functions as F

from pipeline.config import load_raw
from readers.htng import read_htng
from tests.unit.edw_rows import RULES, properties_df, reservations_df, room_stays_df
from transforms import (
    classify_versions,
    group_room_stays,
    to_canonical_htng,
    to_canonical_properties,
    to_edw_versions,
    to_room_stay_lines,
)

OTA = "http://www.opentravel.org/OTA/2003/05"


def message(
    conf: str,
    hotel: str,
    modified: str | None,
    *,
    status: str = "Commit",
    total: str = "300.00",
    currency: str = "USD",
    start: str = "2025-03-01",
    end: str = "2025-03-04",
    rooms: int = 1,
) -> bytes:
    times = f' LastModifyDateTime="{modified}"' if modified else ""
    room = "".join(
        f'<RoomStay RPH="{i + 1}"><RoomRates><RoomRate RoomTypeCode="kng" RatePlanCode="BAR"><Rates><Rate>'
        f'<Base AmountAfterTax="100.00" CurrencyCode="{currency}"/></Rate></Rates></RoomRate></RoomRates>'
        f'<TimeSpan Start="{start}" End="{end}"/></RoomStay>'
        for i in range(rooms)
    )
    return (
        f'<OTA_HotelResNotifRQ xmlns="{OTA}" EchoToken="m-{conf}"><HotelReservations>'
        f'<HotelReservation ResStatus="{status}"{times}><RoomStays>{room}</RoomStays>'
        "<ResGuests><ResGuest><Profiles><ProfileInfo><Profile><Customer><PersonName><GivenName>Ana</GivenName>"
        "<Surname>Silva</Surname></PersonName><Email> Ana.Silva@Example.com </Email></Customer></Profile>"
        "</ProfileInfo></Profiles></ResGuest></ResGuests>"
        f'<ResGlobalInfo><GuestCounts><GuestCount AgeQualifyingCode="10" Count="2"/></GuestCounts>'
        f'<Total AmountAfterTax="{total}" CurrencyCode="{currency}"/>'
        f'<HotelReservationIDs><HotelReservationID ResID_Type="10" ResID_Value="{conf}"/></HotelReservationIDs>'
        f'<BasicPropertyInfo HotelCode="{hotel}"/></ResGlobalInfo></HotelReservation></HotelReservations>'
        "</OTA_HotelResNotifRQ>"
    ).encode()


@pytest.fixture()
def archive(tmp_path: Path):
    def write(**docs: bytes) -> str:
        for name, doc in docs.items():
            path = tmp_path / "htng" / name.replace("__", "/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(doc)
        return str(tmp_path / "htng")

    return write


def _htng_versions(spark, root: str):
    props = to_canonical_properties(properties_df(spark))
    parsed = read_htng(spark, root, max_document_bytes=1 << 20, confirmation_types=("10", "14"))
    return to_canonical_htng(parsed, props, rules=RULES), props


def test_canonical_values_time_zones_and_room_stays(spark, archive) -> None:
    root = archive(
        **{
            # LIS01 is the legacy code (crosswalk -> H00002); a wall time without offset is Lisbon time (UTC+1 in
            # summer); the offset one is an instant; status vocabularies map to SPEC's
            "a.xml": message("L1", "lis01", "2025-07-01T10:00:00", status="In-house", rooms=2),
            "sub__b.xml": message("N1", "H00001", "2025-01-10T09:00:00-05:00", status="Cancelled"),
            "c.xml.gz": gzip.compress(message("N2", "NYC01", "2025-01-10T14:00:00Z", status="Initiate")),
            "ignored.txt": b"not part of the archive",
        }
    )
    versions, _ = _htng_versions(spark, root)
    rows = {r["confirmation_no"]: r for r in versions.collect()}
    assert set(rows) == {"L1", "N1", "N2"}
    lis, nyc, bad = rows["L1"], rows["N1"], rows["N2"]
    assert (lis["property_code"], lis["status"], lis["last_modified"]) == (
        "H00002", "IN_HOUSE", dt.datetime(2025, 7, 1, 9, 0))  # fmt: skip
    assert (nyc["property_code"], nyc["status"], nyc["last_modified"]) == (
        "H00001", "CANCELLED", dt.datetime(2025, 1, 10, 14, 0))  # fmt: skip
    assert (bad["property_code"], bad["status"], bad["last_modified"]) == ("H00001", None, dt.datetime(2025, 1, 10, 14))
    assert (lis["source"], lis["message_id"], lis["confirmation_source"]) == ("HTNG", "m-L1", "HotelReservationID[10]")
    assert (lis["guest"]["email"], lis["total_amount"], lis["currency"], lis["nights"]) == (
        "ana.silva@example.com", Decimal("300.00"), "USD", 3)  # fmt: skip
    assert [(s["line_no"], s["room_type"], s["nightly_rate"]) for s in lis["room_stays"]] == [
        (1, "KNG", Decimal("100.00")),
        (2, "KNG", Decimal("100.00")),
    ]


def test_htng_and_edw_versions_share_one_latest_wins_window(spark, archive) -> None:
    # EDW: reservation 1001 at NYC01, newest EDW version 2025-01-10 09:00 New York = 14:00 UTC
    edw = reservations_df(spark, {"EDW_SEQ": "10"}, {"EDW_SEQ": "11", "LAST_MOD_TS": "2025-01-09 09:00:00"},
                          {"CONF_NO": "1002", "EDW_SEQ": "20"})  # fmt: skip
    rooms = room_stays_df(spark, {}, {"EDW_SEQ": "11"}, {"CONF_NO": "1002", "EDW_SEQ": "20"})
    root = archive(
        **{
            "newer.xml": message("1001", "NYC01", "2025-01-10T14:00:01Z", status="Modify"),  # one second newer
            "older.xml": message("1002", "NYC01", "2024-12-01T00:00:00Z"),
            "resent__older.xml": message("1002", "NYC01", "2024-12-01T00:00:00Z"),  # archived twice
            "only.xml": message("3003", "NYC01", "2025-02-01T00:00:00Z"),
            "broken.xml": message("4004", "NYC01", "2025-02-30T00:00:00Z"),  # invalid ISO 8601 date
            "bad-amount.xml": message("5005", "NYC01", "2025-02-01T00:00:00Z", total="12x"),
            "xxe.xml": b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
        }
    )
    htng, props = _htng_versions(spark, root)
    edw_versions = to_edw_versions(edw, props, rules=RULES)
    grouped = group_room_stays(to_room_stay_lines(rooms, props), currencies=RULES.currencies)
    classified = classify_versions(edw_versions, grouped, rules=RULES, htng_versions_df=htng)
    got = sorted(
        (r["source"], r["confirmation_no"] or "-", r["outcome"], ",".join(r["reasons"])) for r in classified.collect()
    )
    assert got == [
        ("EDW", "1001", "superseded", ""),
        ("EDW", "1001", "superseded", ""),
        ("EDW", "1002", "loaded", ""),
        ("HTNG", "-", "quarantined", "MALFORMED_XML"),
        ("HTNG", "1001", "loaded", ""),
        ("HTNG", "1002", "duplicate", ""),
        ("HTNG", "1002", "superseded", ""),
        ("HTNG", "3003", "loaded", ""),
        ("HTNG", "4004", "quarantined", "BAD_TIMESTAMP"),
        ("HTNG", "5005", "quarantined", "BAD_AMOUNT"),
    ]
    # the winner of 1001 carries the message's values, with its room stays, not the EDW's lines
    winner = classified.filter((F.col("confirmation_no") == "1001") & (F.col("outcome") == "loaded")).first()
    assert winner is not None and winner["status"] == "CONFIRMED" and len(winner["room_stays"]) == 1


def test_a_tie_on_time_and_sequence_goes_to_htng(spark, archive) -> None:
    edw = reservations_df(spark, {"EDW_SEQ": "0"})  # 2025-01-10 09:00 New York = 14:00 UTC
    root = archive(**{"tie.xml": message("1001", "NYC01", "2025-01-10T14:00:00Z")})
    htng, props = _htng_versions(spark, root)
    grouped = group_room_stays(to_room_stay_lines(room_stays_df(spark, {}), props), currencies=RULES.currencies)
    classified = classify_versions(
        to_edw_versions(edw, props, rules=RULES), grouped, rules=RULES, htng_versions_df=htng
    )
    assert sorted((r["source"], r["outcome"]) for r in classified.collect()) == [
        ("EDW", "superseded"),
        ("HTNG", "loaded"),
    ]


def test_the_parsing_workers_run_with_the_configured_malloc_tunables(spark, archive) -> None:
    """conf/base.yaml's executor environment reaches the Python worker processes that parse the archive: glibc
    reads GLIBC_TUNABLES when a process starts, so a setting made anywhere else would not apply."""
    configured = load_raw("local")["spark"]["conf"]["spark.executorEnv.GLIBC_TUNABLES"]
    assert configured == "glibc.malloc.tcache_count=500"
    root = archive(**{"a.xml": message("E1", "H00001", "2025-01-10T09:00:00Z")})

    def worker_env(batches):
        for batch in batches:
            yield pa.RecordBatch.from_pydict({"env": [os.environ.get("GLIBC_TUNABLES")] * batch.num_rows})

    files = spark.read.format("binaryFile").load(root).repartition(2)
    assert {r["env"] for r in files.select("path").mapInArrow(worker_env, "env string").collect()} == {configured}
