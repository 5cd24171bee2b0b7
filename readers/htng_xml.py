"""OpenTravel / HTNG reservation messages -> flat text records, with lxml and compiled XPath (no Spark here).

One document in, one record per reservation out (or one ``malformed`` record when the document cannot be
used). The values stay text, like the EDW reader's, so one set of Spark expressions parses and validates
both sources; only what XML alone can answer is decided here:

* which element is the payload (SOAP 1.1/1.2 and HTNG envelopes, any OTA namespace or none, prefixes);
* which confirmation number is the hotel's (``HotelReservationID/@ResID_Type`` or ``UniqueID/@Type`` in
  the configured order of preference; ``conf_source`` records which one was taken);
* the version time: the first *present* of ``LastModifyDateTime``, ``CreateDateTime`` and the message's
  ``TimeStamp`` (an invalid one is not skipped: it makes the version BAD_TIMESTAMP downstream, where
  ISO 8601 with an offset is an instant and without one the hotel's wall time, as for the EDW);
* the payment card: reduced to type + last four *here*; a PAN never leaves this module.

Safety: the parser resolves no entities, loads no DTD, never touches the network and keeps libxml2's
size limits (no ``huge_tree``); any document carrying a DOCTYPE is refused before parsing; documents
over ``max_bytes`` (after gunzip, which is capped too) are refused. Reasons name the problem and a
position, never document content.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from lxml import etree

from transforms.functions import CARD_TYPE_ALIASES, PAN_PREFIX_TYPES

DEFAULT_MAX_BYTES = 4 * 1024 * 1024
DEFAULT_CONFIRMATION_TYPES: tuple[str, ...] = ("10", "14")  # OTA UIT: 10 = hotel, 14 = reservation (CRS)

# Messages that carry reservation versions. Acknowledgements (OTA_HotelResNotifRS, OTA_HotelResRS) echo ids
# and a timestamp but no stay: read as versions they would be newer, invalid, and hold the real one back.
RESERVATION_MESSAGES: tuple[str, ...] = (
    "OTA_HotelResNotifRQ",
    "OTA_HotelResRQ",
    "OTA_HotelResModifyNotifRQ",
    "OTA_ResRetrieveRS",
)
CANCEL_MESSAGES: tuple[str, ...] = ("OTA_CancelRQ",)
MESSAGE_TAGS: tuple[str, ...] = tuple(f"{{*}}{m}" for m in RESERVATION_MESSAGES + CANCEL_MESSAGES)

ROOM_FIELDS: tuple[str, ...] = (
    "LINE_NO", "ROOM_TYPE_CD", "RATE_PLAN_CD", "STAY_START_DT", "STAY_END_DT", "NIGHTLY_RATE", "CURRENCY_CD",
)  # fmt: skip
TEXT_FIELDS: tuple[str, ...] = (
    "message_id", "message_type", "malformed", "CONF_NO", "CONF_SOURCE", "PROP_CD", "RES_STATUS", "SEQ",
    "VERSION_TS", "VERSION_TS_FIELD", "CREATE_TS", "ARR_DT", "DEP_DT", "ADULTS", "CHILDREN",
    "GUEST_FIRST_NM", "GUEST_LAST_NM", "GUEST_EMAIL", "GUEST_PHONE", "GUEST_COUNTRY",
    "CARD_TYPE", "CARD_LAST4", "TOTAL_AMT", "CURRENCY_CD", "CHANNEL_CD",
)  # fmt: skip

# Compiled per namespace ({p} = the namespace prefix or nothing). Each reservation costs a handful of
# evaluations: one union per level returns every element of interest, dispatched on its tag.
_PATHS: dict[str, str] = {
    "pos_channel": "{p}POS/{p}Source/{p}BookingChannel",
    "reservations": "{p}HotelReservations/{p}HotelReservation | {p}HotelResModifies/{p}HotelResModify"
    " | {p}ReservationsList/{p}HotelReservation",
    # One union per reservation returns every element of interest (dispatched on its tag in one pass):
    # each XPath call has a fixed cost, so one call with many branches beats many calls.
    "reservation_parts": "{p}UniqueID | {p}RoomStays/{p}RoomStay"
    " | {p}ResGlobalInfo/{p}HotelReservationIDs/{p}HotelReservationID | {p}ResGlobalInfo/{p}BasicPropertyInfo"
    " | {p}ResGlobalInfo/{p}TimeSpan | {p}ResGlobalInfo/{p}Total | {p}ResGlobalInfo/{p}GuestCounts/{p}GuestCount"
    " | {p}ResGlobalInfo/{p}Guarantee/{p}GuaranteesAccepted/{p}GuaranteeAccepted/{p}PaymentCard"
    " | {p}ResGlobalInfo/{p}DepositPayments/{p}GuaranteePayment/{p}AcceptedPayments/{p}AcceptedPayment/{p}PaymentCard"
    " | {c}//* | {p}Verification//* | {p}POS/{p}Source/{p}BookingChannel",
    "room_parts": "{p}RoomTypes/{p}RoomType | {p}RatePlans/{p}RatePlan | {p}RoomRates/{p}RoomRate"
    " | {p}RoomRates/{p}RoomRate/{p}Rates/{p}Rate/{p}Base | {p}TimeSpan | {p}Total | {p}GuestCounts/{p}GuestCount"
    " | {p}BasicPropertyInfo",
    "any_hotel_code": ".//@HotelCode",
}
_CUSTOMER = "{p}ResGuests/{p}ResGuest[1]/{p}Profiles/{p}ProfileInfo/{p}Profile/{p}Customer"
_LOCAL_NAMES: tuple[str, ...] = (
    "UniqueID", "HotelReservationID", "BasicPropertyInfo", "TimeSpan", "ReservationTimeSpan", "Total",
    "GuestCount", "PaymentCard", "RoomStay", "Customer", "Verification", "BookingChannel", "GivenName", "Surname",
    "Email", "Telephone", "TelephoneInfo", "CountryName", "RoomType", "RatePlan", "RoomRate", "Base", "CardNumber",
    "PlainText", "CompanyName",
)  # fmt: skip


class _Tags:
    """Full tag names ('{ns}Local' or 'Local') of one namespace, as attributes."""

    def __init__(self, namespace: str | None) -> None:
        for name in _LOCAL_NAMES:
            setattr(self, name, f"{{{namespace}}}{name}" if namespace else name)

    def __getattr__(self, name: str) -> str:  # for mypy: every attribute is a str
        raise AttributeError(name)


# OTA AgeQualifyingCode: 1 over 21, 2 over 65, 10 adult, 11 senior, 15 free adult; 3 under 2, 4 under 12,
# 5 under 17, 7 infant, 8 child, 9 teenager, 14 free child, 18 under 10, 19 junior. No code means adult;
# other codes (6 under 21, 12/13 additional occupant) say nothing about age and are not counted.
_ADULT_CODES = frozenset({"1", "2", "10", "11", "15"})
_CHILD_CODES = frozenset({"3", "4", "5", "7", "8", "9", "14", "18", "19"})
_DIGITS = re.compile(r"\d")
_PAN_TYPES = tuple((re.compile(p), t) for p, t in PAN_PREFIX_TYPES)
_ENCODING_DECL = re.compile(rb"^\s*<\?xml[^>]*encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")


class _Refused(Exception):
    """A document the parser will not use (reason text is safe to record: no content)."""


@dataclass(frozen=True)
class _Compiled:
    xp: dict[str, etree.XPath]
    tags: _Tags
    kinds: dict[str, str]  # full tag -> its local name, for the tags a reservation pass dispatches on


@dataclass
class ParserSetup:
    """What a batch needs: one lxml parser and the compiled XPath sets per namespace."""

    max_bytes: int = DEFAULT_MAX_BYTES
    confirmation_types: tuple[str, ...] = DEFAULT_CONFIRMATION_TYPES
    parser: etree.XMLParser = field(init=False)
    _compiled: dict[str | None, _Compiled] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
            collect_ids=False,
        )

    def compiled(self, namespace: str | None) -> _Compiled:
        found = self._compiled.get(namespace)
        if found is None:
            prefix, ns = ("o:", {"o": namespace}) if namespace else ("", None)
            customer = _CUSTOMER.format(p=prefix)
            xp = {
                name: etree.XPath(path.format(p=prefix, c=customer), namespaces=ns, smart_strings=False, regexp=False)
                for name, path in _PATHS.items()
            }
            tags = _Tags(namespace)
            kinds = {getattr(tags, name): name for name in _LOCAL_NAMES}
            found = self._compiled[namespace] = _Compiled(xp, tags, kinds)
        return found


def parse_document(setup: ParserSetup, content: bytes) -> list[dict[str, Any]]:
    """Every reservation in one archived document, or one record with ``malformed`` set."""
    try:
        root = _parse(setup, content)
        message = _payload(root)
        if message is None:
            raise _Refused("no OTA reservation message in the document")
        qname = etree.QName(message)
        c = setup.compiled(qname.namespace)
        context = _message_context(root, message, qname.localname, c)
        if qname.localname in CANCEL_MESSAGES:
            elements = [message]
        else:
            elements = c.xp["reservations"](message)
            if not elements:
                raise _Refused(f"{qname.localname} without HotelReservation")
        return [_reservation(setup, c, el, context, i) for i, el in enumerate(elements)]
    except _Refused as exc:
        return [{"malformed": str(exc)}]
    except etree.XMLSyntaxError as exc:
        return [{"malformed": _syntax_reason(exc)}]
    except Exception as exc:  # anything else about one document must not stop the job
        return [{"malformed": f"unreadable document ({type(exc).__name__})"}]


_MESSAGE_NAMES = frozenset(RESERVATION_MESSAGES + CANCEL_MESSAGES)


def _payload(root: etree._Element) -> etree._Element | None:
    """The OTA message: the root, the first element of a SOAP/HTNG Body, else wherever it is nested."""
    if etree.QName(root).localname in _MESSAGE_NAMES:
        return root
    body = root.find("{*}Body")
    if body is not None and len(body) and etree.QName(body[0]).localname in _MESSAGE_NAMES:
        return body[0]
    return next(root.iter(*MESSAGE_TAGS), None)


def _parse(setup: ParserSetup, content: bytes) -> etree._Element:
    if len(content) >= 2 and content[:2] == b"\x1f\x8b":
        content = _gunzip(content, setup.max_bytes)
    if len(content) > setup.max_bytes:
        raise _Refused(f"document larger than {setup.max_bytes} bytes")
    if not content or content.isspace():
        raise _Refused("empty document")
    if b"<!DOCTYPE" in content or b"<!ENTITY" in content:
        raise _Refused("DTD or entity declaration not allowed")
    declared = _ENCODING_DECL.match(content)
    encoding = declared.group(1).decode("ascii").lower() if declared else "utf-8"
    # UTF-16/32 (with or without a BOM) has NUL bytes; such a document is checked after parsing instead
    utf8 = encoding in ("utf-8", "utf8") and b"\x00" not in content
    if utf8:
        try:
            content.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _Refused(f"not valid UTF-8 (byte {exc.start})") from None
    tree = etree.fromstring(content, setup.parser)
    if not utf8:  # a DOCTYPE in another encoding escapes the byte scan above: ask the parsed document
        docinfo = tree.getroottree().docinfo
        if docinfo.doctype or docinfo.internalDTD is not None:
            raise _Refused("DTD or entity declaration not allowed")
    return tree


def _gunzip(content: bytes, max_bytes: int) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(content, max_bytes + 1)
    except zlib.error:
        raise _Refused("corrupt gzip stream") from None
    if len(out) > max_bytes:
        raise _Refused(f"document larger than {max_bytes} bytes after gunzip")
    if not inflater.eof:
        raise _Refused("truncated gzip stream")
    return out


def _syntax_reason(exc: etree.XMLSyntaxError) -> str:
    entry = exc.error_log.last_error if exc.error_log else None
    kind = entry.type_name if entry is not None else "ERR"
    line, column = exc.position if exc.position else (0, 0)
    return f"XML syntax error {kind} at line {line}, column {column}"


@dataclass(slots=True)
class _Context:
    message_type: str
    message_id: str | None
    timestamp: str | None
    status: str | None
    seq: str | None
    channel: str | None


def _message_context(root: etree._Element, message: etree._Element, name: str, c: _Compiled) -> _Context:
    message_id = _first_text(message.get("EchoToken"), message.get("CorrelationID"))
    if message_id is None and root is not message:  # an envelope's header (WS-Addressing / HTNG MessageID)
        header = root.find("{*}Header")
        header_id = next(header.iter("{*}MessageID"), None) if header is not None else None
        message_id = _first_text(header_id.text if header_id is not None else None)
    return _Context(
        message_type=name,
        message_id=message_id,
        timestamp=_clean(message.get("TimeStamp")),
        status=_clean(message.get("ResStatus")) or ("Cancel" if name in CANCEL_MESSAGES else None),
        seq=_clean(message.get("SequenceNmbr")),
        channel=_channel(c.xp["pos_channel"](message), c.tags),
    )


class _ReservationParts:
    """What one union XPath returns for a reservation, sorted by kind in one pass (document order)."""

    __slots__ = ("card", "channel", "counts", "hotel", "hotel_ids", "rooms", "span", "total", "unique_ids")

    def __init__(self) -> None:
        self.hotel_ids: list[etree._Element] = []
        self.unique_ids: list[etree._Element] = []
        self.rooms: list[etree._Element] = []
        self.counts: list[etree._Element] = []
        self.hotel: str | None = None
        self.channel: str | None = None
        self.span: etree._Element | None = None
        self.total: etree._Element | None = None
        self.card: etree._Element | None = None

    def collect(self, c: _Compiled, el: etree._Element, rec: dict[str, Any]) -> None:
        kinds = c.kinds
        for part in c.xp["reservation_parts"](el):
            kind = kinds.get(part.tag)
            if kind == "RoomStay":
                self.rooms.append(part)
            elif kind == "HotelReservationID":
                self.hotel_ids.append(part)
            elif kind == "UniqueID":
                self.unique_ids.append(part)
            elif kind == "GuestCount":
                self.counts.append(part)
            elif kind == "BasicPropertyInfo":
                self.hotel = self.hotel or _clean(part.get("HotelCode"))
            elif kind == "TimeSpan" or kind == "ReservationTimeSpan":
                self.span = part if self.span is None else self.span
            elif kind == "Total":
                self.total = part if self.total is None else self.total
            elif kind == "PaymentCard":
                self.card = part if self.card is None else self.card
            elif kind == "BookingChannel":
                self.channel = self.channel or _channel((part,), c.tags)
            elif kind is not None:
                _guest_part(rec, kind, part)


def _reservation(setup: ParserSetup, c: _Compiled, el: etree._Element, ctx: _Context, index: int) -> dict[str, Any]:
    """Values are passed on as the document has them (the Spark side trims and validates), except
    where the choice itself needs them: confirmation, hotel code, version time, totals, card."""
    rec: dict[str, Any] = {"message_type": ctx.message_type, "message_id": ctx.message_id, "res_index": index}
    parts = _ReservationParts()
    parts.collect(c, el, rec)
    rec["CONF_NO"], rec["CONF_SOURCE"] = _confirmation(parts.hotel_ids, parts.unique_ids, setup.confirmation_types)
    rec["RES_STATUS"] = el.get("ResStatus") or ctx.status
    rec["SEQ"] = ctx.seq
    _version_time(rec, el, ctx)

    rooms: list[dict[str, str | None]] = []
    room_totals: list[etree._Element] = []
    hotel, counts = parts.hotel, parts.counts
    room_counts = None if counts else counts  # the room stays' guest counts only when there are no global ones
    for i, room in enumerate(parts.rooms):
        line, room_hotel = _room_stay(c, room, i, parts.span, room_counts, room_totals)
        rooms.append(line)
        hotel = hotel or room_hotel
    rec["ROOM_STAYS"] = rooms
    if parts.span is not None:
        rec["ARR_DT"] = _date_text(parts.span.get("Start"))
        rec["DEP_DT"] = _date_text(parts.span.get("End"))
    elif rooms:
        rec["ARR_DT"] = min((r["STAY_START_DT"] for r in rooms if r["STAY_START_DT"]), default=None)
        rec["DEP_DT"] = max((r["STAY_END_DT"] for r in rooms if r["STAY_END_DT"]), default=None)
    if counts:
        rec["ADULTS"], rec["CHILDREN"] = _guest_counts(counts)
    rec["PROP_CD"] = hotel or _clean(_first(c.xp["any_hotel_code"](el)))
    if parts.card is not None:
        rec["CARD_TYPE"], rec["CARD_LAST4"] = _card(parts.card, c.tags)
    _total(rec, parts.total, room_totals, rooms)
    rec["CHANNEL_CD"] = parts.channel or ctx.channel
    return rec


def _version_time(rec: dict[str, Any], el: etree._Element, ctx: _Context) -> None:
    """The first *present* of LastModifyDateTime, CreateDateTime, TimeStamp (an invalid one is not skipped)."""
    modified, created = el.get("LastModifyDateTime"), el.get("CreateDateTime")
    rec["CREATE_TS"] = created
    for name, value in (("LastModifyDateTime", modified), ("CreateDateTime", created), ("TimeStamp", ctx.timestamp)):
        if value and value.strip():
            rec["VERSION_TS"], rec["VERSION_TS_FIELD"] = value, name
            return


def _guest_part(rec: dict[str, Any], kind: str, part: etree._Element) -> None:
    """The first of each guest value (the primary guest's profile, or a cancellation's Verification)."""
    if kind == "GivenName":
        rec.setdefault("GUEST_FIRST_NM", part.text)
    elif kind == "Surname":
        rec.setdefault("GUEST_LAST_NM", part.text)
    elif kind == "Email":
        rec.setdefault("GUEST_EMAIL", part.text)
    elif kind == "Telephone" or kind == "TelephoneInfo":
        rec.setdefault("GUEST_PHONE", part.get("PhoneNumber"))
    elif kind == "CountryName":
        rec.setdefault("GUEST_COUNTRY", part.get("Code"))


def _total(
    rec: dict[str, Any],
    total: etree._Element | None,
    room_totals: list[etree._Element],
    rooms: list[dict[str, str | None]],
) -> None:
    """The global Total, else the sum of the room stays' totals; AmountAfterTax else AmountBeforeTax."""
    if total is not None:
        rec["TOTAL_AMT"] = _amount_text(total)
        rec["CURRENCY_CD"] = total.get("CurrencyCode")
    elif room_totals:
        rec["TOTAL_AMT"] = _sum_text([_amount_text(x) for x in room_totals])
        rec["CURRENCY_CD"] = room_totals[0].get("CurrencyCode")
    if not rec.get("CURRENCY_CD"):
        rec["CURRENCY_CD"] = next((r["CURRENCY_CD"] for r in rooms if r["CURRENCY_CD"]), None)


def _confirmation(
    res_ids: Sequence[etree._Element], unique_ids: Sequence[etree._Element], preferred: Sequence[str]
) -> tuple[str | None, str | None]:
    usable = [("HotelReservationID", e.get("ResID_Type"), _clean(e.get("ResID_Value"))) for e in res_ids]
    usable += [("UniqueID", e.get("Type"), _clean(e.get("ID"))) for e in unique_ids]
    usable = [u for u in usable if u[2]]
    for wanted in preferred:
        for kind, id_type, value in usable:
            if id_type == wanted:
                return value, f"{kind}[{id_type}]"
    if usable:
        kind, id_type, value = usable[0]
        return value, f"{kind}[{id_type or ''}]"
    return None, None


def _room_stay(  # noqa: C901 (one dispatch pass over the room stay's parts: the hot loop)
    c: _Compiled,
    room: etree._Element,
    index: int,
    global_span: etree._Element | None,
    counts: list[etree._Element] | None,
    totals: list[etree._Element],
) -> tuple[dict[str, str | None], str | None]:
    """One room stay line and its hotel code; its Total goes to ``totals``, its GuestCounts to ``counts``
    (when given)."""
    span = base = total = room_rate = None
    room_type = rate_plan = hotel = None
    kinds = c.kinds
    for part in c.xp["room_parts"](room):
        kind = kinds.get(part.tag)
        if kind == "TimeSpan":
            span = part if span is None else span
        elif kind == "Base":
            base = part if base is None else base
        elif kind == "Total" and total is None:
            total = part
            totals.append(part)
        elif kind == "RoomType":
            room_type = room_type or part.get("RoomTypeCode")
        elif kind == "RatePlan":
            rate_plan = rate_plan or part.get("RatePlanCode")
        elif kind == "RoomRate":
            room_rate = part if room_rate is None else room_rate
        elif kind == "GuestCount" and counts is not None:
            counts.append(part)
        elif kind == "BasicPropertyInfo":
            hotel = hotel or _clean(part.get("HotelCode"))
    if span is None:
        span = global_span
    currency = base.get("CurrencyCode") if base is not None else None
    if not currency and total is not None:
        currency = total.get("CurrencyCode")
    if room_rate is not None:
        room_type = room_type or room_rate.get("RoomTypeCode")
        rate_plan = rate_plan or room_rate.get("RatePlanCode")
    line = {
        "LINE_NO": _line_number(room, index),
        "ROOM_TYPE_CD": room_type,
        "RATE_PLAN_CD": rate_plan,
        "STAY_START_DT": _date_text(span.get("Start")) if span is not None else None,
        "STAY_END_DT": _date_text(span.get("End")) if span is not None else None,
        "NIGHTLY_RATE": _amount_text(base) if base is not None else None,
        "CURRENCY_CD": currency,
    }
    return line, hotel


def _line_number(room: etree._Element, index: int) -> str:
    """IndexNumber, else a numeric RPH, else the room stay's position (1-based)."""
    for name in ("IndexNumber", "RPH"):
        value = room.get(name)
        if value and value.strip().isdigit():
            return value.strip()
    return str(index + 1)


def _guest_counts(counts: Sequence[etree._Element]) -> tuple[str | None, str | None]:
    adults = children = 0
    for gc in counts:
        count = (gc.get("Count") or "0").strip()
        if not count.isdigit():
            return count, None  # present but invalid: passed on as text, the Spark side rejects it
        code = (gc.get("AgeQualifyingCode") or "10").strip()
        if code in _CHILD_CODES:
            children += int(count)
        elif code in _ADULT_CODES:
            adults += int(count)
    return str(adults), str(children)


def _card(card: etree._Element, t: _Tags) -> tuple[str | None, str | None]:
    """Type + last four from a PAN, a mask or a format-preserving token; nothing else is kept."""
    number_el = card.find(t.CardNumber)
    pan, mask, token = card.get("CardNumber"), card.get("Mask"), card.get("Token")
    if number_el is not None:
        plain_el = number_el.find(t.PlainText)
        pan = pan or (plain_el.text if plain_el is not None else None)
        mask = mask or number_el.get("Mask")
        token = token or number_el.get("Token")
    last4 = None
    for source, whole in ((pan, True), (mask, True), (token, False)):
        if not source:
            continue
        digits = "".join(_DIGITS.findall(source))
        # a token's digits are its own unless it keeps the card's last four at its end
        if len(digits) >= 4 and (whole or source.strip()[-4:].isdigit()):
            last4 = digits[-4:]
            break
    declared = _clean(card.get("CardCode"))
    card_type = CARD_TYPE_ALIASES.get(declared.upper(), declared.upper()) if declared else None
    if card_type is None and pan:
        pan_digits = "".join(_DIGITS.findall(pan))
        card_type = next((code for pattern, code in _PAN_TYPES if pattern.match(pan_digits)), None)
    return card_type, last4


def _channel(found: Sequence[etree._Element], t: _Tags) -> str | None:
    for channel in found:
        company = channel.find(t.CompanyName)
        code = (company.get("Code") if company is not None else None) or channel.get("Type")
        if code:
            return code
    return None


def _amount_text(el: etree._Element) -> str | None:
    return el.get("AmountAfterTax") or el.get("AmountBeforeTax")


def _sum_text(values: Iterable[str | None]) -> str | None:
    present = [v.replace(",", "") for v in values if v]
    if not present:
        return None
    try:
        return str(sum((Decimal(v) for v in present), Decimal(0)))
    except InvalidOperation:
        return next(v for v in present if not _is_decimal(v))


def _is_decimal(text: str) -> bool:
    try:
        Decimal(text)
    except InvalidOperation:
        return False
    return True


def _date_text(value: str | None) -> str | None:
    """OTA dates may carry a time ('2025-03-01T14:00:00'): the date part; anything else as given."""
    if value and len(value) > 10 and value[10] == "T":
        return value[:10]
    return value


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip()
    return text or None


def _first(found: Sequence[Any]) -> Any:
    return found[0] if found else None


def _first_text(*values: str | None) -> str | None:
    for value in values:
        if value and value.strip():
            return value.strip()
    return None


def parse_documents(setup: ParserSetup, documents: Iterable[tuple[str, bytes | None]]) -> Iterator[dict[str, Any]]:
    """(file name, content) -> records with ``input_file`` (the executor side of the Spark reader)."""
    for path, content in documents:
        records = parse_document(setup, content) if content is not None else [{"malformed": "no content"}]
        for rec in records:
            rec["input_file"] = path
            yield rec
