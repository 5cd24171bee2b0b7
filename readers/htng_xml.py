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

RESERVATION_MESSAGES: tuple[str, ...] = (
    "OTA_HotelResNotifRQ",
    "OTA_HotelResRQ",
    "OTA_HotelResModifyNotifRQ",
    "OTA_ResRetrieveRS",
    "OTA_HotelResRS",
    "OTA_HotelResNotifRS",
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
    "reservations": "{p}HotelReservations/{p}HotelReservation | {p}HotelResModifies/{p}HotelResModify"
    " | {p}ReservationsList/{p}HotelReservation",
    "pos_channel": "{p}POS/{p}Source/{p}BookingChannel",
    # ResGlobalInfo//* (one C-level scan, dispatched on tags) is cheaper than one branch per wanted path.
    "reservation_parts": "{p}UniqueID | {p}ResGlobalInfo//* | {p}RoomStays/{p}RoomStay"
    " | {p}ResGuests/{p}ResGuest[1]/{p}Profiles/{p}ProfileInfo/{p}Profile/{p}Customer"
    " | {p}Verification | {p}Verification/* | {p}POS/{p}Source/{p}BookingChannel",
    "guest_parts": "{p}PersonName/{p}GivenName | {p}PersonName/{p}Surname | {p}Email | {p}Telephone"
    " | {p}TelephoneInfo | {p}Address/{p}CountryName | {p}AddressInfo/{p}CountryName",
    "room_parts": "{p}RoomTypes/{p}RoomType | {p}RatePlans/{p}RatePlan | {p}RoomRates/{p}RoomRate"
    " | {p}RoomRates/{p}RoomRate/{p}Rates/{p}Rate/{p}Base | {p}TimeSpan | {p}Total | {p}GuestCounts/{p}GuestCount"
    " | {p}BasicPropertyInfo",
    "any_hotel_code": ".//@HotelCode",
}
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


_ADULT_CODES = frozenset({"10"})
_CHILD_CODES = frozenset({"7", "8", "9"})
_DIGITS = re.compile(r"\d")
_PAN_TYPES = tuple((re.compile(p), t) for p, t in PAN_PREFIX_TYPES)
_ENCODING_DECL = re.compile(rb"^\s*<\?xml[^>]*encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")


class _Refused(Exception):
    """A document the parser will not use (reason text is safe to record: no content)."""


@dataclass(frozen=True)
class _Compiled:
    xp: dict[str, etree.XPath]
    tags: _Tags


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
            xp = {
                name: etree.XPath(path.format(p=prefix), namespaces=ns, smart_strings=False)
                for name, path in _PATHS.items()
            }
            found = self._compiled[namespace] = _Compiled(xp, _Tags(namespace))
        return found


def parse_document(setup: ParserSetup, content: bytes) -> list[dict[str, Any]]:
    """Every reservation in one archived document, or one record with ``malformed`` set."""
    try:
        root = _parse(setup, content)
        message = next(root.iter(*MESSAGE_TAGS), None)
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
        header_id = next(root.iter("{*}MessageID"), None)
        message_id = _first_text(header_id.text if header_id is not None else None)
    return _Context(
        message_type=name,
        message_id=message_id,
        timestamp=_clean(message.get("TimeStamp")),
        status=_clean(message.get("ResStatus")) or ("Cancel" if name in CANCEL_MESSAGES else None),
        seq=_clean(message.get("SequenceNmbr")),
        channel=_channel(c.xp["pos_channel"](message), c.tags),
    )


def _by_tag(elements: Iterable[etree._Element]) -> dict[str, list[etree._Element]]:
    out: dict[str, list[etree._Element]] = {}
    for el in elements:
        tag = el.tag
        found = out.get(tag)
        if found is None:
            out[tag] = [el]
        else:
            found.append(el)
    return out


_NONE: tuple[etree._Element, ...] = ()


def _reservation(setup: ParserSetup, c: _Compiled, el: etree._Element, ctx: _Context, index: int) -> dict[str, Any]:
    """Values are passed on as the document has them (the Spark side trims and validates), except
    where the choice itself needs them: confirmation, hotel code, version time, totals, card."""
    t = c.tags
    parts = _by_tag(c.xp["reservation_parts"](el))
    rec: dict[str, Any] = {"message_type": ctx.message_type, "message_id": ctx.message_id, "res_index": index}
    rec["CONF_NO"], rec["CONF_SOURCE"] = _confirmation(
        parts.get(t.HotelReservationID, _NONE), parts.get(t.UniqueID, _NONE), setup.confirmation_types
    )
    rec["RES_STATUS"] = el.get("ResStatus") or ctx.status
    rec["SEQ"] = ctx.seq
    modified, created = el.get("LastModifyDateTime"), el.get("CreateDateTime")
    rec["CREATE_TS"] = created
    for name, value in (("LastModifyDateTime", modified), ("CreateDateTime", created), ("TimeStamp", ctx.timestamp)):
        if value and value.strip():  # the first one present is the version time, valid or not
            rec["VERSION_TS"], rec["VERSION_TS_FIELD"] = value, name
            break

    spans = parts.get(t.TimeSpan) or parts.get(t.ReservationTimeSpan)
    global_span = spans[0] if spans else None
    room_els = parts.get(t.RoomStay, _NONE)
    room_parts = [_by_tag(c.xp["room_parts"](room)) for room in room_els]
    rooms = [_room_stay(t, room_els[i], i, room_parts[i], global_span) for i in range(len(room_els))]
    rec["ROOM_STAYS"] = rooms
    if global_span is not None:
        rec["ARR_DT"] = _date_text(global_span.get("Start"))
        rec["DEP_DT"] = _date_text(global_span.get("End"))
    elif rooms:
        rec["ARR_DT"] = min((r["STAY_START_DT"] for r in rooms if r["STAY_START_DT"]), default=None)
        rec["DEP_DT"] = max((r["STAY_END_DT"] for r in rooms if r["STAY_END_DT"]), default=None)
    counts = parts.get(t.GuestCount) or [gc for p in room_parts for gc in p.get(t.GuestCount, _NONE)]
    if counts:
        rec["ADULTS"], rec["CHILDREN"] = _guest_counts(counts)

    rec["PROP_CD"] = _hotel_code(c, el, parts, room_parts)

    customer = parts.get(t.Customer) or parts.get(t.Verification)
    if customer:
        _guest(rec, c.xp["guest_parts"](customer[0]), t)
    cards = parts.get(t.PaymentCard)
    if cards:
        rec["CARD_TYPE"], rec["CARD_LAST4"] = _card(cards[0], t)

    _total(rec, parts.get(t.Total), [x for p in room_parts for x in p.get(t.Total, _NONE)], rooms)
    rec["CHANNEL_CD"] = _channel(parts.get(t.BookingChannel, _NONE), t) or ctx.channel
    return rec


def _hotel_code(
    c: _Compiled, el: etree._Element, parts: dict[str, list[etree._Element]], room_parts: list[dict[str, Any]]
) -> str | None:
    """ResGlobalInfo's BasicPropertyInfo, else a room stay's, else any @HotelCode in the reservation."""
    tag = c.tags.BasicPropertyInfo
    for bpi in [*parts.get(tag, _NONE), *(b for p in room_parts for b in p.get(tag, _NONE))]:
        hotel = _clean(bpi.get("HotelCode"))
        if hotel:
            return hotel
    return _clean(_first(c.xp["any_hotel_code"](el)))


def _total(
    rec: dict[str, Any],
    totals: list[etree._Element] | None,
    room_totals: list[etree._Element],
    rooms: list[dict[str, str | None]],
) -> None:
    """The global Total, else the sum of the room stays' totals; AmountAfterTax else AmountBeforeTax."""
    if totals:
        rec["TOTAL_AMT"] = _amount_text(totals[0])
        rec["CURRENCY_CD"] = totals[0].get("CurrencyCode")
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


def _room_stay(
    t: _Tags,
    room: etree._Element,
    index: int,
    parts: dict[str, list[etree._Element]],
    global_span: etree._Element | None,
) -> dict[str, str | None]:
    spans = parts.get(t.TimeSpan)
    span = spans[0] if spans else global_span
    bases, totals = parts.get(t.Base), parts.get(t.Total)
    base = bases[0] if bases else None
    currency = base.get("CurrencyCode") if base is not None else None
    if not currency and totals:
        currency = totals[0].get("CurrencyCode")
    rates, types, plans = parts.get(t.RoomRate), parts.get(t.RoomType), parts.get(t.RatePlan)
    room_type = types[0].get("RoomTypeCode") if types else None
    rate_plan = plans[0].get("RatePlanCode") if plans else None
    if rates:
        room_type = room_type or rates[0].get("RoomTypeCode")
        rate_plan = rate_plan or rates[0].get("RatePlanCode")
    return {
        "LINE_NO": _line_number(room, index),
        "ROOM_TYPE_CD": room_type,
        "RATE_PLAN_CD": rate_plan,
        "STAY_START_DT": _date_text(span.get("Start")) if span is not None else None,
        "STAY_END_DT": _date_text(span.get("End")) if span is not None else None,
        "NIGHTLY_RATE": _amount_text(base) if base is not None else None,
        "CURRENCY_CD": currency,
    }


def _line_number(room: etree._Element, index: int) -> str:
    """IndexNumber, else a numeric RPH, else the room stay's position (1-based)."""
    for name in ("IndexNumber", "RPH"):
        value = room.get(name)
        if value and value.strip().isdigit():
            return value.strip()
    return str(index + 1)


def _guest(rec: dict[str, Any], parts: Iterable[etree._Element], t: _Tags) -> None:
    for el in parts:
        tag = el.tag
        if tag == t.GivenName:
            rec.setdefault("GUEST_FIRST_NM", el.text)
        elif tag == t.Surname:
            rec.setdefault("GUEST_LAST_NM", el.text)
        elif tag == t.Email:
            rec.setdefault("GUEST_EMAIL", el.text)
        elif tag == t.Telephone or tag == t.TelephoneInfo:
            rec.setdefault("GUEST_PHONE", el.get("PhoneNumber"))
        elif tag == t.CountryName:
            rec.setdefault("GUEST_COUNTRY", el.get("Code"))


def _guest_counts(counts: Sequence[etree._Element]) -> tuple[str | None, str | None]:
    adults = children = 0
    for gc in counts:
        count = (gc.get("Count") or "0").strip()
        if not count.isdigit():
            return count, None  # present but invalid: passed on as text, the Spark side rejects it
        code = gc.get("AgeQualifyingCode") or "10"
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
