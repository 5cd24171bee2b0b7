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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

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


# What a reservation becomes: (res_index, its text values, its room stay lines), with the values in named tuples
# whose field names are the output's column names. Tuples, not dicts: ``readers.htng.to_arrow`` transposes them
# into Arrow columns in C, with no per-row lookup by name.
class RoomLine(NamedTuple):
    """One room stay: a ``ROOM_STAYS`` struct's fields."""

    LINE_NO: str | None
    ROOM_TYPE_CD: str | None
    RATE_PLAN_CD: str | None
    STAY_START_DT: str | None
    STAY_END_DT: str | None
    NIGHTLY_RATE: str | None
    CURRENCY_CD: str | None


class TextRecord(NamedTuple):
    """A reservation's text columns, or an unusable document's (only ``malformed`` set)."""

    message_id: str | None
    message_type: str | None
    malformed: str | None
    CONF_NO: str | None
    CONF_SOURCE: str | None
    PROP_CD: str | None
    RES_STATUS: str | None
    SEQ: str | None
    VERSION_TS: str | None
    VERSION_TS_FIELD: str | None
    CREATE_TS: str | None
    ARR_DT: str | None
    DEP_DT: str | None
    ADULTS: str | None
    CHILDREN: str | None
    GUEST_FIRST_NM: str | None
    GUEST_LAST_NM: str | None
    GUEST_EMAIL: str | None
    GUEST_PHONE: str | None
    GUEST_COUNTRY: str | None
    CARD_TYPE: str | None
    CARD_LAST4: str | None
    TOTAL_AMT: str | None
    CURRENCY_CD: str | None
    CHANNEL_CD: str | None


ROOM_FIELDS: tuple[str, ...] = RoomLine._fields
TEXT_FIELDS: tuple[str, ...] = TextRecord._fields
Row = tuple[int | None, TextRecord, list[RoomLine]]
FileRow = tuple[str, int | None, TextRecord, list[RoomLine]]  # a Row with its file name first

# Compiled per namespace ({p} = the namespace prefix or nothing). A message costs one XPath call for its
# reservations (and its own booking channel), each reservation one more and each room stay one (two when only
# its RoomRate names its room type or rate plan): a union that returns every element of interest in document
# order. Each call and each branch has a fixed cost, each element returned costs a Python object, so the paths
# are exact, but below the primary guest's Customer and a cancellation's Verification (``descendant::*``:
# there, nearly every element is wanted). The branches are in the OTA schema's element order: libxml2 sorts a
# union's nodes into document order, which costs least when they already are.
_MESSAGE_PATH = (
    "{p}POS/{p}Source/{p}BookingChannel | {p}HotelReservations/{p}HotelReservation"
    " | {p}HotelResModifies/{p}HotelResModify | {p}ReservationsList/{p}HotelReservation"
)
_RESERVATION_PATH = (
    "{p}POS/{p}Source/{p}BookingChannel | {p}UniqueID | {p}RoomStays/{p}RoomStay"
    " | {p}ResGuests/{p}ResGuest[1]/{p}Profiles/{p}ProfileInfo/{p}Profile/{p}Customer/descendant::*"
    " | {p}ResGlobalInfo/{p}GuestCounts/{p}GuestCount | {p}ResGlobalInfo/{p}TimeSpan"
    " | {p}ResGlobalInfo/{p}Guarantee/{p}GuaranteesAccepted/{p}GuaranteeAccepted/{p}PaymentCard"
    " | {p}ResGlobalInfo/{p}DepositPayments/{p}GuaranteePayment/{p}AcceptedPayments/{p}AcceptedPayment/{p}PaymentCard"
    " | {p}ResGlobalInfo/{p}Total | {p}ResGlobalInfo/{p}HotelReservationIDs/{p}HotelReservationID"
    " | {p}ResGlobalInfo/{p}BasicPropertyInfo | {p}Verification/descendant::*"
)
_ROOM_PATH = (
    "{p}RoomTypes/{p}RoomType | {p}RatePlans/{p}RatePlan"
    " | {p}RoomRates/{p}RoomRate/{p}Rates/{p}Rate/{p}Base | {p}GuestCounts/{p}GuestCount | {p}TimeSpan | {p}Total"
    " | {p}BasicPropertyInfo"
)
_ROOM_RATES = "{p}RoomRates/{p}RoomRate"  # only when RoomTypes/RatePlans give no code
_ANY_HOTEL_CODE = ".//@HotelCode"

# The reservation's parts by kind: one list each, filled in one pass (kind 0 takes what is not wanted).
_OTHER, _ROOM, _HOTEL_ID, _UNIQUE_ID, _PROPERTY, _SPAN, _TOTAL, _COUNT, _CARD, _CHANNEL = range(10)
_GIVEN, _SURNAME, _EMAIL, _PHONE, _COUNTRY = range(10, 15)
_KINDS: dict[str, int] = {
    "RoomStay": _ROOM, "HotelReservationID": _HOTEL_ID, "UniqueID": _UNIQUE_ID, "BasicPropertyInfo": _PROPERTY,
    "TimeSpan": _SPAN, "ReservationTimeSpan": _SPAN, "Total": _TOTAL, "GuestCount": _COUNT, "PaymentCard": _CARD,
    "BookingChannel": _CHANNEL, "GivenName": _GIVEN, "Surname": _SURNAME, "Email": _EMAIL, "Telephone": _PHONE,
    "TelephoneInfo": _PHONE, "CountryName": _COUNTRY,
}  # fmt: skip
# A room stay's parts by kind, the same way.
_R_TYPE, _R_PLAN, _R_BASE, _R_SPAN, _R_TOTAL, _R_COUNT, _R_PROPERTY = range(1, 8)
_ROOM_KINDS: dict[str, int] = {
    "RoomType": _R_TYPE, "RatePlan": _R_PLAN, "Base": _R_BASE, "TimeSpan": _R_SPAN,
    "Total": _R_TOTAL, "GuestCount": _R_COUNT, "BasicPropertyInfo": _R_PROPERTY,
}  # fmt: skip
_LOCAL_NAMES: tuple[str, ...] = (*_KINDS, *_ROOM_KINDS, "CardNumber", "PlainText", "CompanyName")


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
_NON_DIGITS = re.compile(r"\D")
_PAN_TYPES = tuple((re.compile(p), t) for p, t in PAN_PREFIX_TYPES)
_UTF8_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>'
_ENCODING_DECL = re.compile(rb"^\s*<\?xml[^>]*encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")


class _Refused(Exception):
    """A document the parser will not use (reason text is safe to record: no content)."""


@dataclass(frozen=True)
class _Compiled:
    message_parts: etree.XPath
    reservation_parts: etree.XPath
    room_parts: etree.XPath
    room_rates: etree.XPath
    any_hotel_code: etree.XPath
    tags: _Tags
    kinds: dict[str, int]  # full tag -> its kind (the list the reservation pass puts it in)
    room_kinds: dict[str, int]


@dataclass
class ParserSetup:
    """What a batch needs: one lxml parser and the compiled XPath sets per namespace."""

    max_bytes: int = DEFAULT_MAX_BYTES
    confirmation_types: tuple[str, ...] = DEFAULT_CONFIRMATION_TYPES
    parser: etree.XMLParser = field(init=False)
    _compiled: dict[str | None, _Compiled] = field(init=False, default_factory=dict)
    _messages: dict[str, _Message | None] = field(init=False, default_factory=dict)

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

    def message_kind(self, tag: Any) -> _Message | None:
        """The message a tag names, or None. Cached: an archive has a handful of distinct root and payload tags
        (other tags are cached up to a bound, as not messages)."""
        try:
            return self._messages[tag]
        except (KeyError, TypeError):
            pass
        found = None
        if isinstance(tag, str):
            namespace, name = (tag[1:].split("}", 1)) if tag[0] == "{" else (None, tag)
            if name in _MESSAGE_NAMES:
                found = _Message(name, self.compiled(namespace), name in CANCEL_MESSAGES)
            if found is not None or len(self._messages) < 64:
                self._messages[tag] = found
        return found

    def compiled(self, namespace: str | None) -> _Compiled:
        found = self._compiled.get(namespace)
        if found is None:
            p, ns = ("o:", {"o": namespace}) if namespace else ("", None)

            def xpath(path: str) -> etree.XPath:
                return etree.XPath(path.format(p=p), namespaces=ns, smart_strings=False, regexp=False)

            tags = _Tags(namespace)
            kinds = {getattr(tags, name): kind for name, kind in _KINDS.items()}
            room_kinds = {getattr(tags, name): kind for name, kind in _ROOM_KINDS.items()}
            found = _Compiled(
                xpath(_MESSAGE_PATH), xpath(_RESERVATION_PATH), xpath(_ROOM_PATH), xpath(_ROOM_RATES),
                xpath(_ANY_HOTEL_CODE), tags,
                kinds, room_kinds,
            )  # fmt: skip
            self._compiled[namespace] = found
        return found


@dataclass(frozen=True, slots=True)
class _Message:
    """A message tag the parser reads: its local name, its namespace's XPath set, whether it cancels."""

    name: str
    compiled: _Compiled
    cancel: bool


class _Context(NamedTuple):
    """What a message says for all of its reservations."""

    message_type: str
    message_id: str | None
    timestamp: str | None  # TimeStamp, trimmed
    status: str | None  # ResStatus, trimmed (a cancellation's is Cancel when it has none)
    seq: str | None  # SequenceNmbr, trimmed
    channel: str | None  # the message's own booking channel


def parse_document(setup: ParserSetup, content: bytes) -> list[dict[str, Any]]:
    """Every reservation in one archived document as a record (a dict by field name), or one record with only
    ``malformed`` set: the rows :func:`parse_documents` gives the executors, readable."""
    records: list[dict[str, Any]] = []
    for _, index, text, lines in parse_documents(setup, [("", content)]):
        if text.malformed is not None:
            return [{"malformed": text.malformed}]
        records.append({**text._asdict(), "res_index": index, "ROOM_STAYS": [line._asdict() for line in lines]})
    return records


def _rows(setup: ParserSetup, content: bytes) -> list[Row]:
    root = _parse(setup, content)
    payload = _payload(setup, root)
    if payload is None:
        raise _Refused("no OTA reservation message in the document")
    message, kind = payload
    c = kind.compiled
    channels: list[etree._Element] = []  # the message's own POS
    if kind.cancel:  # the message is the cancelling version
        elements = [message]
    else:
        elements = []
        for part in c.message_parts(message):
            (channels if c.kinds.get(part.tag) == _CHANNEL else elements).append(part)
        if not elements:
            raise _Refused(f"{kind.name} without HotelReservation")
    get = message.get
    status = _clean(get("ResStatus")) or ("Cancel" if kind.cancel else None)
    context = _Context(
        message_type=kind.name,
        message_id=_message_id(root, message),
        timestamp=_clean(get("TimeStamp")),
        status=status,
        seq=_clean(get("SequenceNmbr")),
        channel=_first_channel(channels, c.tags) if channels else None,
    )
    if len(elements) == 1:  # (most messages: no comprehension's frame)
        return [_reservation(setup, c, elements[0], context, 0)]
    return [_reservation(setup, c, el, context, i) for i, el in enumerate(elements)]


_MESSAGE_NAMES = frozenset(RESERVATION_MESSAGES + CANCEL_MESSAGES)


def _payload(setup: ParserSetup, root: etree._Element) -> tuple[etree._Element, _Message] | None:
    """The OTA message: the root, the first element of a SOAP/HTNG Body, else wherever it is nested."""
    kind = setup.message_kind(root.tag)
    if kind is not None:
        return root, kind
    body = _envelope_child(root, "Body")
    if body is not None and len(body):
        first = body[0]
        kind = setup.message_kind(first.tag)
        if kind is not None:
            return first, kind
    message = next(root.iter(*MESSAGE_TAGS), None)  # (its tag names a message: it has a kind)
    kind = setup.message_kind(message.tag) if message is not None else None
    return (message, kind) if message is not None and kind is not None else None


def _envelope_child(root: etree._Element, name: str) -> etree._Element | None:
    """An envelope's Header or Body (of any SOAP version): one of its two or three children."""
    qualified = "}" + name
    for child in root:
        tag = child.tag
        if isinstance(tag, str) and (tag == name or tag.endswith(qualified)):
            return child
    return None


def _message_id(root: etree._Element, message: etree._Element) -> str | None:
    """EchoToken, else CorrelationID, else an envelope header's (WS-Addressing / HTNG) MessageID."""
    echo = message.get("EchoToken")
    if echo and not echo.isspace():  # nearly every message: one attribute read
        return echo.strip()
    found = _first_text(message.get("CorrelationID"))
    if found is None and root is not message:
        header = _envelope_child(root, "Header")
        header_id = next(header.iter("{*}MessageID"), None) if header is not None else None
        found = _first_text(header_id.text if header_id is not None else None)
    return found


def _parse(setup: ParserSetup, content: bytes) -> etree._Element:
    if content.startswith(b"\x1f\x8b"):
        content = _gunzip(content, setup.max_bytes)
    if len(content) > setup.max_bytes:
        raise _Refused(f"document larger than {setup.max_bytes} bytes")
    if not content or content.isspace():
        raise _Refused("empty document")
    if b"!" in content and (b"<!DOCTYPE" in content or b"<!ENTITY" in content):  # "!": one fast scan
        raise _Refused("DTD or entity declaration not allowed")
    if content.startswith(_UTF8_DECLARATION):  # what nearly every document starts with: no regex
        encoding = "utf-8"
    else:
        declared = _ENCODING_DECL.match(content)
        encoding = declared.group(1).decode("ascii").lower() if declared else "utf-8"
    # UTF-16/32 (with or without a BOM) has NUL bytes; such a document is checked after parsing instead
    utf8 = encoding in ("utf-8", "utf8") and b"\x00" not in content
    if utf8 and not content.isascii():  # (ASCII is UTF-8: no decoding, which also allocates a copy)
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


def _reservation(setup: ParserSetup, c: _Compiled, el: etree._Element, ctx: _Context, index: int) -> Row:
    """Values are passed on as the document has them (the Spark side trims and validates), except
    where the choice itself needs them: confirmation, hotel code, version time, totals, card."""
    found: list[list[etree._Element]] = [[], [], [], [], [], [], [], [], [], [], [], [], [], [], []]  # one per kind
    kind_of = c.kinds.get
    for part in c.reservation_parts(el):  # the hot loop: one list per kind, document order kept
        found[kind_of(part.tag, _OTHER)].append(part)
    rooms, spans, totals, counts, cards = found[_ROOM], found[_SPAN], found[_TOTAL], found[_COUNT], found[_CARD]
    span = spans[0] if spans else None
    room_totals: list[etree._Element] = []
    room_counts: list[etree._Element] | None = None if counts else []  # only used when there are no global ones
    lines: list[RoomLine] = []
    hotel = _first_code(found[_PROPERTY]) if found[_PROPERTY] else None
    for i, room in enumerate(rooms):
        line, room_hotel = _room_stay(c, room, i, span, room_totals, room_counts)
        lines.append(line)
        hotel = hotel or room_hotel
    if span is not None:
        arrival, departure = _date_text(span.get("Start")), _date_text(span.get("End"))
    else:  # the reservation's dates span its room stays
        arrival = min((start for r in lines if (start := r.STAY_START_DT)), default=None)
        departure = max((end for r in lines if (end := r.STAY_END_DT)), default=None)
    guest_counts = counts or room_counts
    adults, children = _guest_counts(guest_counts) if guest_counts else (None, None)
    conf, conf_source = _confirmation(found[_HOTEL_ID], found[_UNIQUE_ID], setup.confirmation_types)
    card_type, last4 = _card(cards[0], c.tags) if cards else (None, None)
    # the global Total, else the sum of the room stays' (AmountAfterTax else AmountBeforeTax); the currency of
    # that total, else of the first room stay that has one
    amount = currency = None
    if totals:
        amount, currency = _amount_text(totals[0]), totals[0].get("CurrencyCode")
    elif room_totals:
        amount, currency = _sum_text([_amount_text(x) for x in room_totals]), room_totals[0].get("CurrencyCode")
    if not currency:
        currency = next((r.CURRENCY_CD for r in lines if r.CURRENCY_CD), None)
    # the version time: the first *present* of LastModifyDateTime, CreateDateTime, TimeStamp (an invalid one
    # is not skipped: the Spark side makes it BAD_TIMESTAMP)
    modified, created = el.get("LastModifyDateTime"), el.get("CreateDateTime")
    if modified and not modified.isspace():
        version, version_field = modified, "LastModifyDateTime"
    elif created and not created.isspace():
        version, version_field = created, "CreateDateTime"
    elif ctx.timestamp:  # already trimmed
        version, version_field = ctx.timestamp, "TimeStamp"
    else:
        version = version_field = None
    # the first of each guest value: the primary guest's profile, or a cancellation's Verification
    given, surname, email, phone, country = found[_GIVEN : _COUNTRY + 1]
    # positional, in field order (keyword arguments would make this per-reservation call slower)
    text = TextRecord(
        ctx.message_id,
        ctx.message_type,
        None,  # malformed
        conf,
        conf_source,
        hotel or _clean(_first(c.any_hotel_code(el))),  # PROP_CD
        el.get("ResStatus") or ctx.status,  # RES_STATUS
        ctx.seq,
        version,
        version_field,
        created,  # CREATE_TS
        arrival,
        departure,
        adults,
        children,
        given[0].text if given else None,
        surname[0].text if surname else None,
        email[0].text if email else None,
        phone[0].get("PhoneNumber") if phone else None,
        country[0].get("Code") if country else None,
        card_type,
        last4,
        amount,
        currency,
        (_first_channel(found[_CHANNEL], c.tags) if found[_CHANNEL] else None) or ctx.channel,  # CHANNEL_CD
    )
    return index, text, lines


def _first_code(properties: list[etree._Element]) -> str | None:
    """The first non-blank BasicPropertyInfo/@HotelCode."""
    for el in properties:
        code = el.get("HotelCode")
        if code and not code.isspace():
            return code.strip()
    return None


def _confirmation(
    res_ids: Sequence[etree._Element], unique_ids: Sequence[etree._Element], preferred: Sequence[str]
) -> tuple[str | None, str | None]:
    """The first non-blank id of the first preferred type (HotelReservationID before UniqueID), else the
    first non-blank id; its source says which element and type it came from."""
    if preferred:  # the usual case first: a HotelReservationID of the first preferred type
        for e in res_ids:
            if e.get("ResID_Type") == preferred[0]:
                value = e.get("ResID_Value")
                if value and not value.isspace():
                    return value.strip(), f"HotelReservationID[{preferred[0]}]"
    ids = [("HotelReservationID", e.get("ResID_Type"), e.get("ResID_Value")) for e in res_ids]
    ids += [("UniqueID", e.get("Type"), e.get("ID")) for e in unique_ids]
    for wanted in preferred:
        for kind, id_type, value in ids:
            if id_type == wanted and value and not value.isspace():
                return value.strip(), f"{kind}[{id_type}]"
    for kind, id_type, value in ids:
        if value and not value.isspace():
            return value.strip(), f"{kind}[{id_type or ''}]"
    return None, None


def _room_stay(
    c: _Compiled,
    room: etree._Element,
    index: int,
    global_span: etree._Element | None,
    totals: list[etree._Element],
    counts: list[etree._Element] | None,
) -> tuple[RoomLine, str | None]:
    """One room stay line and its hotel code; its Total goes to ``totals``, its GuestCounts to ``counts``
    (when given).

    The line: its own TimeSpan else the reservation's, the first Base's amount and currency (else its
    Total's currency), room type and rate plan from RoomType/RatePlan else the RoomRate."""
    found: list[list[etree._Element]] = [[], [], [], [], [], [], [], []]  # one per room kind
    kind_of = c.room_kinds.get
    for part in c.room_parts(room):
        found[kind_of(part.tag, _OTHER)].append(part)
    _, types, plans, bases, spans, own_totals, own_counts, properties = found  # (in _R_* order)
    base = bases[0] if bases else None
    total = own_totals[0] if own_totals else None
    span = spans[0] if spans else global_span
    room_type = _first_value(types, "RoomTypeCode") if types else None
    rate_plan = _first_value(plans, "RatePlanCode") if plans else None
    if not (room_type and rate_plan):  # the first RoomRate's codes, looked up only then
        rates = c.room_rates(room)
        if rates:
            room_type = room_type or rates[0].get("RoomTypeCode")
            rate_plan = rate_plan or rates[0].get("RatePlanCode")
    if total is not None:
        totals.append(total)
    if counts is not None and own_counts:
        counts += own_counts
    currency = base.get("CurrencyCode") if base is not None else None
    if not currency and total is not None:
        currency = total.get("CurrencyCode")
    line = RoomLine(  # positional, in field order (keyword arguments would make this per-room-stay call slower)
        _line_number(room, index),
        room_type,
        rate_plan,
        _date_text(span.get("Start")) if span is not None else None,
        _date_text(span.get("End")) if span is not None else None,
        _amount_text(base) if base is not None else None,
        currency,
    )
    return line, _first_code(properties) if properties else None


def _first_value(elements: list[etree._Element], name: str) -> str | None:
    """The first non-empty attribute ``name`` of ``elements``."""
    for el in elements:
        value = el.get(name)
        if value:
            return value
    return None


def _line_number(room: etree._Element, index: int) -> str:
    """IndexNumber, else a numeric RPH, else the room stay's position (1-based)."""
    number = room.get("IndexNumber")
    if number and number.isdigit():
        return number
    for value in (number, room.get("RPH")):
        if value and value.strip().isdigit():
            return value.strip()
    return str(index + 1)


def _guest_counts(counts: Sequence[etree._Element]) -> tuple[str | None, str | None]:
    adults = children = 0
    for gc in counts:
        count = gc.get("Count") or "0"
        if not count.isdigit():
            count = count.strip()
            if not count.isdigit():
                return count, None  # present but invalid: passed on as text, the Spark side rejects it
        code = gc.get("AgeQualifyingCode") or "10"
        if code in _ADULT_CODES:
            adults += int(count)
        elif code in _CHILD_CODES:
            children += int(count)
        elif (code := code.strip()) in _ADULT_CODES:
            adults += int(count)
        elif code in _CHILD_CODES:
            children += int(count)
    return str(adults), str(children)


def _card(card: etree._Element, t: _Tags) -> tuple[str | None, str | None]:
    """Type + last four from a PAN, a mask or a format-preserving token; nothing else is kept."""
    pan, mask, token = card.get("CardNumber"), card.get("Mask"), card.get("Token")
    number_el = next(card.iterchildren(t.CardNumber), None) if len(card) else None
    if number_el is not None:
        plain_el = next(number_el.iterchildren(t.PlainText), None) if len(number_el) else None
        pan = pan or (plain_el.text if plain_el is not None else None)
        mask = mask or number_el.get("Mask")
        token = token or number_el.get("Token")
    last4 = _last4(pan, True) if pan else None
    if last4 is None and mask:
        last4 = _last4(mask, True)
    if last4 is None and token:
        last4 = _last4(token, False)
    declared = _clean(card.get("CardCode"))
    card_type = CARD_TYPE_ALIASES.get(declared.upper(), declared.upper()) if declared else None
    if card_type is None and pan:
        pan_digits = _NON_DIGITS.sub("", pan)
        card_type = next((code for pattern, code in _PAN_TYPES if pattern.match(pan_digits)), None)
    return card_type, last4


def _last4(source: str, whole: bool) -> str | None:
    """Its last four characters when they are digits, else (a PAN's or a mask's, ``whole``) its last four digits
    wherever they are; a token's other digits are its own."""
    end = source.rstrip()[-4:]
    if len(end) == 4 and end.isdecimal():
        return end
    digits = _NON_DIGITS.sub("", source) if whole else ""
    return digits[-4:] if len(digits) >= 4 else None


def _first_channel(channels: list[etree._Element], t: _Tags) -> str | None:
    """The code of the first BookingChannel that has one."""
    for channel in channels:
        code = _channel(channel, t)
        if code:
            return code
    return None


def _channel(channel: etree._Element, t: _Tags) -> str | None:
    """A BookingChannel's code: its CompanyName/@Code, else its @Type."""
    for child in channel:  # its CompanyName, if any, is its one child
        if child.tag == t.CompanyName:
            code = child.get("Code")
            if code:
                return code
            break
    return channel.get("Type") or None


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


_NO_TEXT = TextRecord._make((None,) * len(TEXT_FIELDS))


def parse_documents(setup: ParserSetup, documents: Iterable[tuple[str, bytes | None]]) -> list[FileRow]:
    """(file name, content) -> (file name, res_index, text values, room stay lines), a row per reservation or
    per unusable document (the executor side of the Spark reader)."""
    out: list[FileRow] = []
    append = out.append
    for path, content in documents:
        try:
            if content is None:
                raise _Refused("no content")
            for index, text, lines in _rows(setup, content):
                append((path, index, text, lines))
            continue
        except _Refused as exc:  # reasons name the problem and a position, never content
            reason = str(exc)
        except etree.XMLSyntaxError as exc:
            reason = _syntax_reason(exc)
        except Exception as exc:  # anything else about one document must not stop the job
            reason = f"unreadable document ({type(exc).__name__})"
        append((path, None, _NO_TEXT._replace(malformed=reason), []))
    return out
