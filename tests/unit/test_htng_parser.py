"""The OTA/HTNG parser on small hand-written documents: every variant, every attack (no Spark here)."""

from __future__ import annotations

import gzip
import itertools

import pytest

from readers.htng_xml import ParserSetup, parse_document

OTA = "http://www.opentravel.org/OTA/2003/05"
PAN = "4111111111111111"

# One reservation, written once without namespace declarations; the variants wrap or qualify it.
RESERVATION = (
    '<HotelReservation ResStatus="Reserved" CreateDateTime="2025-02-01T09:00:00+01:00"'
    ' LastModifyDateTime="2025-02-02T09:30:00-05:00">'
    '<UniqueID Type="14" ID="CRS-77"/>'
    "<RoomStays>"
    '<RoomStay IndexNumber="1"><RoomTypes><RoomType RoomTypeCode="KNG"/></RoomTypes>'
    '<RatePlans><RatePlan RatePlanCode="BAR"/></RatePlans>'
    '<RoomRates><RoomRate><Rates><Rate><Base AmountAfterTax="120.00" CurrencyCode="EUR"/></Rate></Rates>'
    "</RoomRate></RoomRates>"
    '<TimeSpan Start="2025-04-01" End="2025-04-03"/></RoomStay>'
    "</RoomStays>"
    "<ResGuests><ResGuest><Profiles><ProfileInfo><Profile><Customer>"
    "<PersonName><GivenName>Ana</GivenName><Surname>Silva</Surname></PersonName>"
    '<Telephone PhoneNumber="+351 21 000 0000"/><Email>Ana.Silva@Example.com</Email>'
    '<Address><CountryName Code="PT"/></Address>'
    "</Customer></Profile></ProfileInfo></Profiles></ResGuest></ResGuests>"
    "<ResGlobalInfo>"
    '<GuestCounts><GuestCount AgeQualifyingCode="10" Count="2"/><GuestCount AgeQualifyingCode="8" Count="1"/>'
    "</GuestCounts>"
    f'<Guarantee><GuaranteesAccepted><GuaranteeAccepted><PaymentCard CardCode="VI" CardNumber="{PAN}"/>'
    "</GuaranteeAccepted></GuaranteesAccepted></Guarantee>"
    '<Total AmountAfterTax="240.00" AmountBeforeTax="200.00" CurrencyCode="EUR"/>'
    '<HotelReservationIDs><HotelReservationID ResID_Type="10" ResID_Value="H-998"/></HotelReservationIDs>'
    '<BasicPropertyInfo HotelCode="LIS001"/>'
    "</ResGlobalInfo></HotelReservation>"
)
EXPECTED = {
    "CONF_NO": "H-998",
    "CONF_SOURCE": "HotelReservationID[10]",
    "PROP_CD": "LIS001",
    "RES_STATUS": "Reserved",
    "VERSION_TS": "2025-02-02T09:30:00-05:00",
    "VERSION_TS_FIELD": "LastModifyDateTime",
    "CREATE_TS": "2025-02-01T09:00:00+01:00",
    "ARR_DT": "2025-04-01",
    "DEP_DT": "2025-04-03",
    "ADULTS": "2",
    "CHILDREN": "1",
    "GUEST_FIRST_NM": "Ana",
    "GUEST_LAST_NM": "Silva",
    "GUEST_EMAIL": "Ana.Silva@Example.com",
    "GUEST_PHONE": "+351 21 000 0000",
    "GUEST_COUNTRY": "PT",
    "CARD_TYPE": "VI",
    "CARD_LAST4": "1111",
    "TOTAL_AMT": "240.00",
    "CURRENCY_CD": "EUR",
    "CHANNEL_CD": "WEB",
    "SEQ": "42",
    "ROOM_STAYS": [
        {
            "LINE_NO": "1",
            "ROOM_TYPE_CD": "KNG",
            "RATE_PLAN_CD": "BAR",
            "STAY_START_DT": "2025-04-01",
            "STAY_END_DT": "2025-04-03",
            "NIGHTLY_RATE": "120.00",
            "CURRENCY_CD": "EUR",
        }
    ],
}
POS = '<POS><Source><BookingChannel Type="7"><CompanyName Code="WEB"/></BookingChannel></Source></POS>'


def notif(xmlns: str = f' xmlns="{OTA}"', body: str = RESERVATION, attrs: str = "", name: str = "OTA_HotelResNotifRQ"):
    return (
        f'<{name}{xmlns} EchoToken="echo-1" TimeStamp="2025-02-03T00:00:00Z" SequenceNmbr="42"{attrs}>{POS}'
        f"<HotelReservations>{body}</HotelReservations></{name}>"
    )


def parse(doc: str | bytes, **setup: object) -> list[dict]:
    content = doc.encode("utf-8") if isinstance(doc, str) else doc
    return parse_document(ParserSetup(**setup), content)  # type: ignore[arg-type]


def only(records: list[dict]) -> dict:
    assert len(records) == 1, records
    return records[0]


def subset(record: dict) -> dict:
    return {k: record.get(k) for k in EXPECTED}


def prefixed(xml: str, prefix: str) -> str:
    """Qualify every element of ``xml`` with ``prefix:`` (hand-rolled for the test documents only)."""
    import re

    return re.sub(r"<(/?)([A-Za-z_]+)", lambda m: f"<{m.group(1)}{prefix}:{m.group(2)}", xml)


@pytest.mark.parametrize(
    "doc",
    [
        pytest.param(notif(), id="ota-2003-05"),
        pytest.param(notif(' xmlns="http://www.opentravel.org/OTA"'), id="legacy-ota-namespace"),
        pytest.param(notif(""), id="no-namespace"),
        pytest.param(
            prefixed(notif(""), "ota").replace(
                "<ota:OTA_HotelResNotifRQ", f'<ota:OTA_HotelResNotifRQ xmlns:ota="{OTA}"'
            ),
            id="prefixed-elements",
        ),
        pytest.param(
            '<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
            f"<soap:Header/><soap:Body>{notif()}</soap:Body></soap:Envelope>",
            id="soap-1.1",
        ),
        pytest.param(
            '<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body>'
            f"{notif()}</env:Body></env:Envelope>",
            id="soap-1.2",
        ),
        pytest.param(
            '<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Header>'
            '<htng:HTNGHeader xmlns:htng="http://htng.org/PWSWG/2007/02/AsyncHeaders">'
            "<htng:MessageID>hdr-1</htng:MessageID></htng:HTNGHeader></soap:Header>"
            f"<soap:Body>{notif()}</soap:Body></soap:Envelope>",
            id="htng-envelope",
        ),
    ],
)
def test_every_namespace_and_envelope_gives_the_same_record(doc: str) -> None:
    record = only(parse(doc))
    assert record.get("malformed") is None
    assert subset(record) == EXPECTED
    assert record["message_type"] == "OTA_HotelResNotifRQ"
    assert record["message_id"] == "echo-1"


def test_message_id_comes_from_the_envelope_when_the_message_has_none() -> None:
    message = notif().replace(' EchoToken="echo-1"', "")
    doc = (
        '<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"'
        ' xmlns:wsa="http://www.w3.org/2005/08/addressing">'
        "<env:Header><wsa:MessageID>urn:uuid:abc</wsa:MessageID></env:Header>"
        f"<env:Body>{message}</env:Body></env:Envelope>"
    )
    assert only(parse(doc))["message_id"] == "urn:uuid:abc"


def test_several_reservations_and_room_stays_with_totals_at_room_level() -> None:
    second = (
        RESERVATION.replace("H-998", "H-999")
        .replace('<Total AmountAfterTax="240.00" AmountBeforeTax="200.00" CurrencyCode="EUR"/>', "")
        .replace('<BasicPropertyInfo HotelCode="LIS001"/>', "")
        .replace(
            "</RoomStays>",
            '<RoomStay IndexNumber="2"><RoomRates><RoomRate RoomTypeCode="TWN" RatePlanCode="CORP"><Rates><Rate>'
            '<Base AmountBeforeTax="80.50" CurrencyCode="EUR"/></Rate></Rates></RoomRate></RoomRates>'
            '<TimeSpan Start="2025-04-02" End="2025-04-05"/><Total AmountBeforeTax="241.50" CurrencyCode="EUR"/>'
            '<BasicPropertyInfo HotelCode="LIS002"/></RoomStay></RoomStays>',
        )
        .replace('<TimeSpan Start="2025-04-01" End="2025-04-03"/></RoomStay>',
                 '<TimeSpan Start="2025-04-01" End="2025-04-03"/><Total AmountAfterTax="240.00"/></RoomStay>')
    )  # fmt: skip
    first, other = parse(notif(body=RESERVATION + second))
    assert (first["CONF_NO"], first["res_index"], other["CONF_NO"], other["res_index"]) == ("H-998", 0, "H-999", 1)
    # the hotel code taken from the room stay; the total summed over the room stays (after tax, else before)
    assert other["PROP_CD"] == "LIS002"
    assert (other["TOTAL_AMT"], other["CURRENCY_CD"]) == ("481.50", "EUR")
    # the reservation's dates span its room stays (no ResGlobalInfo/TimeSpan here)
    assert (other["ARR_DT"], other["DEP_DT"]) == ("2025-04-01", "2025-04-05")
    assert [(r["LINE_NO"], r["ROOM_TYPE_CD"], r["RATE_PLAN_CD"], r["NIGHTLY_RATE"]) for r in other["ROOM_STAYS"]] == [
        ("1", "KNG", "BAR", "120.00"),
        ("2", "TWN", "CORP", "80.50"),
    ]


@pytest.mark.parametrize(
    ("ids", "preferred", "expected"),
    [
        ('<UniqueID Type="14" ID="CRS-1"/>', ("10", "14"), ("CRS-1", "UniqueID[14]")),
        ('<UniqueID Type="14" ID="CRS-1"/>|<HotelReservationID ResID_Type="10" ResID_Value="H-1"/>', ("10", "14"),
         ("H-1", "HotelReservationID[10]")),
        ('<UniqueID Type="14" ID="CRS-1"/>|<HotelReservationID ResID_Type="10" ResID_Value="H-1"/>', ("14",),
         ("CRS-1", "UniqueID[14]")),
        ('<UniqueID Type="14" ID=" "/>|<HotelReservationID ResID_Type="13" ResID_Value="B-1"/>', ("10", "14"),
         ("B-1", "HotelReservationID[13]")),
        ("", ("10",), (None, None)),
    ],
)  # fmt: skip
def test_confirmation_number_prefers_the_configured_types_and_says_which(ids, preferred, expected) -> None:
    unique, _, hotel_ids = ids.partition("|")
    body = RESERVATION.replace('<UniqueID Type="14" ID="CRS-77"/>', unique).replace(
        '<HotelReservationID ResID_Type="10" ResID_Value="H-998"/>', hotel_ids
    )
    record = only(parse(notif(body=body), confirmation_types=preferred))
    assert (record["CONF_NO"], record["CONF_SOURCE"]) == expected


def test_version_time_falls_back_in_order_and_an_invalid_one_is_not_skipped() -> None:
    no_modify = RESERVATION.replace(' LastModifyDateTime="2025-02-02T09:30:00-05:00"', "")
    neither = no_modify.replace(' CreateDateTime="2025-02-01T09:00:00+01:00"', "")
    bad = RESERVATION.replace("2025-02-02T09:30:00-05:00", "2025-02-30T09:30:00")
    got = [only(parse(notif(body=b))) for b in (no_modify, neither, bad)]
    assert [(g["VERSION_TS_FIELD"], g["VERSION_TS"]) for g in got] == [
        ("CreateDateTime", "2025-02-01T09:00:00+01:00"),
        ("TimeStamp", "2025-02-03T00:00:00Z"),
        ("LastModifyDateTime", "2025-02-30T09:30:00"),  # passed on: the Spark side makes it BAD_TIMESTAMP
    ]
    no_time_at_all = notif(body=neither).replace(' TimeStamp="2025-02-03T00:00:00Z"', "")
    assert only(parse(no_time_at_all)).get("VERSION_TS") is None


def test_every_message_type_that_carries_reservations() -> None:
    res_rq = notif(name="OTA_HotelResRQ")
    modified = (
        RESERVATION.replace("<HotelReservation ", "<HotelResModify ")
        .replace("</HotelReservation>", "</HotelResModify>")
        .replace(' ResStatus="Reserved"', "")
    )
    modify = (
        f'<OTA_HotelResModifyNotifRQ xmlns="{OTA}" ResStatus="Modify"><HotelResModifies>{modified}'
        "</HotelResModifies></OTA_HotelResModifyNotifRQ>"
    )
    retrieve = (
        f'<OTA_ResRetrieveRS xmlns="{OTA}"><Success/><ReservationsList>{RESERVATION}</ReservationsList>'
        "</OTA_ResRetrieveRS>"
    )
    cancel = (
        f'<OTA_CancelRQ xmlns="{OTA}" CancelType="Cancel" TimeStamp="2025-03-01T08:00:00+00:00">'
        '<UniqueID Type="14" ID="H-998"/><Verification><PersonName><Surname>Silva</Surname></PersonName>'
        '<ReservationTimeSpan Start="2025-04-01" End="2025-04-03"/>'
        '<TPA_Extensions><BasicPropertyInfo HotelCode="LIS001"/></TPA_Extensions></Verification></OTA_CancelRQ>'
    )
    got = {doc[1:20]: only(parse(doc)) for doc in (res_rq, modify, retrieve, cancel)}
    summary = [(r["message_type"], r["CONF_NO"], r["PROP_CD"], r["RES_STATUS"]) for r in got.values()]
    assert summary == [
        ("OTA_HotelResRQ", "H-998", "LIS001", "Reserved"),
        ("OTA_HotelResModifyNotifRQ", "H-998", "LIS001", "Modify"),
        ("OTA_ResRetrieveRS", "H-998", "LIS001", "Reserved"),
        ("OTA_CancelRQ", "H-998", "LIS001", "Cancel"),
    ]
    cancelled = list(got.values())[-1]
    assert (cancelled["VERSION_TS_FIELD"], cancelled["ARR_DT"], cancelled["DEP_DT"], cancelled["GUEST_LAST_NM"]) == (
        "TimeStamp",
        "2025-04-01",
        "2025-04-03",
        "Silva",
    )


@pytest.mark.parametrize(
    ("card", "expected"),
    [
        (f'<PaymentCard CardCode="VI" CardNumber="{PAN}"/>', ("VI", "1111")),
        (f"<PaymentCard><CardNumber><PlainText>{PAN}</PlainText></CardNumber></PaymentCard>", ("VI", "1111")),
        ('<PaymentCard CardCode="MasterCard" Mask="XXXXXXXXXXXX4444"/>', ("MC", "4444")),
        ('<PaymentCard CardCode="AX"><CardNumber Token="tok_9f8e7d" Mask="xxxx-0005"/></PaymentCard>', ("AX", "0005")),
        ('<PaymentCard CardCode="VI"><CardNumber Token="a1b2c3d4e5f6"/></PaymentCard>', ("VI", None)),
        ('<PaymentCard CardCode="VI"><CardNumber Token="9900000000001881"/></PaymentCard>', ("VI", "1881")),
    ],
)
def test_cards_become_type_and_last_four_and_no_pan_survives(card: str, expected: tuple) -> None:
    body = RESERVATION.replace(f'<PaymentCard CardCode="VI" CardNumber="{PAN}"/>', card)
    record = only(parse(notif(body=body)))
    assert (record["CARD_TYPE"], record["CARD_LAST4"]) == expected
    assert PAN not in repr(record)


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ('<GuestCount AgeQualifyingCode="10" Count="2"/><GuestCount AgeQualifyingCode="8" Count="1"/>', ("2", "1")),
        ('<GuestCount AgeQualifyingCode="11" Count="1"/><GuestCount Count="1"/>', ("2", "0")),  # senior, no code
        ('<GuestCount AgeQualifyingCode="7" Count="1"/><GuestCount AgeQualifyingCode="9" Count="2"/>', ("0", "3")),
        ('<GuestCount AgeQualifyingCode="10" Count="2"/><GuestCount AgeQualifyingCode="12" Count="1"/>', ("2", "0")),
        ('<GuestCount AgeQualifyingCode="10" Count="two"/>', ("two", None)),  # invalid: the Spark side rejects it
    ],
)
def test_guest_counts_by_age_qualifying_code(counts: str, expected: tuple) -> None:
    body = RESERVATION.replace(
        '<GuestCount AgeQualifyingCode="10" Count="2"/><GuestCount AgeQualifyingCode="8" Count="1"/>', counts
    )
    record = only(parse(notif(body=body)))
    assert (record["ADULTS"], record["CHILDREN"]) == expected


def test_missing_optional_data_is_null_not_an_error() -> None:
    body = (
        '<HotelReservation LastModifyDateTime="2025-02-02T09:30:00Z"><UniqueID Type="14" ID="CRS-5"/>'
        '<RoomStays><RoomStay><TimeSpan Start="2025-04-01" End="2025-04-02"/>'
        '<BasicPropertyInfo HotelCode="LIS001"/></RoomStay></RoomStays></HotelReservation>'
    )
    record = only(parse(notif(body=body)))
    assert record.get("malformed") is None
    assert (record["CONF_NO"], record["PROP_CD"], record["ARR_DT"], record["DEP_DT"]) == (
        "CRS-5", "LIS001", "2025-04-01", "2025-04-02")  # fmt: skip
    for absent in ("TOTAL_AMT", "CURRENCY_CD", "GUEST_EMAIL", "GUEST_FIRST_NM", "CARD_TYPE", "CARD_LAST4", "ADULTS"):
        assert record.get(absent) is None, absent
    assert record["ROOM_STAYS"][0]["LINE_NO"] == "1"  # position when neither IndexNumber nor a numeric RPH


VALID = notif().encode("utf-8")


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        pytest.param(
            b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><r>&xxe;</r>',
            "DTD or entity declaration not allowed",
            id="xxe-file",
        ),
        pytest.param(
            b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % e SYSTEM "http://203.0.113.9/x.dtd"> %e;]><r/>',
            "DTD or entity declaration not allowed",
            id="xxe-network-parameter-entity",
        ),
        pytest.param(
            (
                '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
                + "".join(f'<!ENTITY {c} "{("&" + p + ";") * 10}">' for p, c in itertools.pairwise("abcdefghi"))
                + "]><l>&i;</l>"
            ).encode(),
            "DTD or entity declaration not allowed",
            id="billion-laughs",
        ),
        pytest.param(
            '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/hostname">]><r>&x;</r>'
            .encode("utf-16"),
            "DTD or entity declaration not allowed",
            id="utf16-hidden-doctype",
        ),
        pytest.param(
            '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/hostname">]><r>&x;</r>'
            .encode("utf-16-le"),
            "DTD or entity declaration not allowed",
            id="utf16-without-bom-hidden-doctype",
        ),
        pytest.param(VALID[: len(VALID) // 2], "XML syntax error", id="truncated"),
        pytest.param(VALID.replace(b"Silva", b"Mu\xf1oz"), "not valid UTF-8", id="latin1-bytes-in-utf8"),
        pytest.param(gzip.compress(VALID)[:-12], "truncated gzip stream", id="truncated-gzip"),
        pytest.param(gzip.compress(VALID)[:20] + b"\xff" * 40 + gzip.compress(VALID)[60:], "corrupt gzip stream",
                     id="corrupt-gzip"),
        pytest.param(b'<OTA_PingRQ xmlns="http://www.opentravel.org/OTA/2003/05"/>', "no OTA reservation", id="ping"),
        pytest.param(
            b'<OTA_HotelResNotifRS xmlns="http://www.opentravel.org/OTA/2003/05" TimeStamp="2025-03-01T00:00:00Z">'
            b'<Success/><HotelReservations><HotelReservation><UniqueID Type="14" ID="H-998"/></HotelReservation>'
            b"</HotelReservations></OTA_HotelResNotifRS>",
            "no OTA reservation",
            id="acknowledgement-is-not-a-version",
        ),
        pytest.param(notif(body="").encode(), "OTA_HotelResNotifRQ without HotelReservation", id="no-reservation"),
        pytest.param(b"   ", "empty document", id="blank"),
    ],
)  # fmt: skip
def test_hostile_and_broken_documents_are_refused_with_a_reason_and_no_content(doc: bytes, reason: str) -> None:
    record = only(parse(doc))
    assert record["malformed"].startswith(reason), record
    assert set(record) == {"malformed"}
    for secret in ("root:", "Silva", "Mu", "passwd", "aaaa"):
        assert secret not in record["malformed"]


def test_oversized_documents_and_gzip_bombs_are_refused_before_parsing() -> None:
    padded = VALID.replace(b"?>", b"?>", 1).replace(b"<OTA", b"<!-- " + b"x" * 20_000 + b" --><OTA", 1)
    assert only(parse(padded, max_bytes=16_384))["malformed"] == "document larger than 16384 bytes"
    assert only(parse(padded, max_bytes=65_536)).get("malformed") is None
    bomb = gzip.compress(b"<r>" + b" " * 50_000_000 + b"</r>")
    assert len(bomb) < 100_000
    assert only(parse(bomb, max_bytes=1_000_000))["malformed"] == "document larger than 1000000 bytes after gunzip"
    assert only(parse(gzip.compress(VALID))).get("CONF_NO") == "H-998"


def test_room_type_and_rate_plan_fall_back_to_the_first_room_rate_one_by_one() -> None:
    """RoomTypes/RatePlans win; the first RoomRate's codes fill in only what they leave empty."""
    rate = '<RoomRates><RoomRate RoomTypeCode="TWN" RatePlanCode="CORP"/><RoomRate RatePlanCode="NRF"/></RoomRates>'
    plan_missing = RESERVATION.replace('<RatePlans><RatePlan RatePlanCode="BAR"/></RatePlans>', "").replace(
        '<RoomRates><RoomRate><Rates><Rate><Base AmountAfterTax="120.00" CurrencyCode="EUR"/></Rate></Rates>'
        "</RoomRate></RoomRates>",
        rate,
    )
    type_empty = plan_missing.replace('<RoomType RoomTypeCode="KNG"/>', '<RoomType RoomTypeCode=""/>')
    both = RESERVATION.replace("<RoomRates><RoomRate>", '<RoomRates><RoomRate RoomTypeCode="TWN" RatePlanCode="CORP">')
    lines = [only(parse(notif(body=b)))["ROOM_STAYS"][0] for b in (plan_missing, type_empty, both)]
    assert [(r["ROOM_TYPE_CD"], r["RATE_PLAN_CD"]) for r in lines] == [("KNG", "CORP"), ("TWN", "CORP"), ("KNG", "BAR")]


def test_room_stay_parts_stay_with_their_room_stay() -> None:
    """A room stay's TimeSpan, Total, GuestCounts and BasicPropertyInfo are its own; a rate's own Total is not the
    stay's; the room stays' guest counts are used only when the reservation has none of its own."""
    rooms = (
        '<RoomStays><RoomStay IndexNumber="1"><RoomRates><RoomRate RoomTypeCode="KNG" RatePlanCode="BAR"><Rates>'
        '<Rate><Base AmountAfterTax="100.00" CurrencyCode="EUR"/><Total AmountAfterTax="999.99"/></Rate></Rates>'
        '</RoomRate></RoomRates><GuestCounts><GuestCount AgeQualifyingCode="10" Count="2"/></GuestCounts>'
        '<TimeSpan Start="2025-04-01" End="2025-04-03"/><Total AmountAfterTax="200.00" CurrencyCode="EUR"/>'
        '<BasicPropertyInfo HotelCode=" "/><BasicPropertyInfo HotelCode="LIS002"/></RoomStay>'
        '<RoomStay IndexNumber="2"><RoomTypes><RoomType RoomTypeCode=""/><RoomType RoomTypeCode="TWN"/></RoomTypes>'
        '<GuestCounts><GuestCount AgeQualifyingCode="8" Count="1"/></GuestCounts>'
        '<Total AmountBeforeTax="50.50" CurrencyCode="EUR"/></RoomStay></RoomStays>'
    )
    body = (
        '<HotelReservation LastModifyDateTime="2025-02-02T09:30:00Z"><UniqueID Type="14" ID="CRS-9"/>'
        f'{rooms}<ResGlobalInfo><TimeSpan Start="2025-04-01" End="2025-04-05"/>{{counts}}</ResGlobalInfo>'
        "</HotelReservation>"
    )
    without = only(parse(notif(body=body.format(counts=""))))
    assert (without["ADULTS"], without["CHILDREN"]) == ("2", "1")  # both room stays' counts
    assert (without["TOTAL_AMT"], without["CURRENCY_CD"], without["PROP_CD"]) == ("250.50", "EUR", "LIS002")
    assert [(r["LINE_NO"], r["ROOM_TYPE_CD"], r["STAY_START_DT"], r["STAY_END_DT"]) for r in without["ROOM_STAYS"]] == [
        ("1", "KNG", "2025-04-01", "2025-04-03"),  # its own TimeSpan
        ("2", "TWN", "2025-04-01", "2025-04-05"),  # the reservation's; the first non-empty RoomType code
    ]
    own = '<GuestCounts><GuestCount AgeQualifyingCode="10" Count="3"/></GuestCounts>'
    with_own = only(parse(notif(body=body.format(counts=own))))
    assert (with_own["ADULTS"], with_own["CHILDREN"]) == ("3", "0")


def test_the_executor_side_parses_every_document_of_every_batch_a_few_hundred_at_a_time() -> None:
    """``parse_batches`` (what each mapInArrow task runs): every document of every input batch gives its records,
    tagged with its file, whatever the chunk boundaries; each output batch holds at most OUTPUT_DOCUMENTS documents."""
    import pyarrow as pa

    from readers.htng import OUTPUT_DOCUMENTS, parse_batches

    two = notif(body=RESERVATION + RESERVATION.replace("H-998", "H-999")).encode()
    docs = [VALID if i % 7 else (two if i % 2 else b"<broken") for i in range(2 * OUTPUT_DOCUMENTS + 3)]
    expected = {(f"f{i}.xml", n) for i, d in enumerate(docs) for n in range(2 if d is two else 1)}
    batches = [
        pa.RecordBatch.from_pydict({"path": [f"f{i}.xml" for i in range(lo, hi)], "content": docs[lo:hi]})
        for lo, hi in ((0, OUTPUT_DOCUMENTS + 1), (OUTPUT_DOCUMENTS + 1, len(docs)))
    ]
    out = list(parse_batches(4 * 1024 * 1024, ("10", "14"))(batches))
    assert [len(set(b.column("input_file").to_pylist())) for b in out] == [OUTPUT_DOCUMENTS, 1, OUTPUT_DOCUMENTS, 2]
    rows = pa.Table.from_batches(out).to_pylist()
    assert {(r["input_file"], r["res_index"] or 0) for r in rows} == expected
    assert len(rows) == len(expected)
    assert sum(1 for r in rows if r["malformed"]) == sum(1 for d in docs if d == b"<broken")
    assert {r["CONF_NO"] for r in rows if not r["malformed"]} == {"H-998", "H-999"}
