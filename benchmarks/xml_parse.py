"""HTNG/OTA parser throughput on one core: the pipeline's batch parser vs a DOM (xml.dom.minidom) baseline.

    python benchmarks/xml_parse.py [--messages 30000] [--repeat 3]

Generates one-reservation messages with the sample generator's templates (every namespace, envelope and
message variant in turn; about 2 KB each), then, in this one process and on the same bytes:

* the pipeline parser: ``readers.htng.parse_batches`` over Arrow batches of (path, content), exactly what each
  executor task runs inside ``mapInArrow`` (parse, extract, build the output Arrow batch);
* the baseline: ``xml.dom.minidom`` parsing the same documents and walking the DOM for the same fields.

Prints ``BENCH xml_parser_msgs_per_s_core <n> msg/s`` and ``BENCH xml_parser_vs_dom <ratio> x``
(goals: >= 15,000 msg/s, >= 10 x).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from xml.dom import minidom

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pyarrow as pa

from jobs import htng_sample as hs
from readers.htng import parse_batches

BATCH = 10_000  # spark.sql.execution.arrow.maxRecordsPerBatch's default


def messages(n: int) -> list[bytes]:
    out = []
    for m in range(n):
        r = hs.HtngReservation(
            conf=str(1_000_000_000 + m),
            hotel_code=f"ABC{m % 7500:04d}",
            status_word=hs.status_word("CONFIRMED", m),
            last_modified="2025-03-01T10:15:30+01:00",
            created="2025-02-01T09:00:00Z",
            arrival="2025-04-01",
            departure="2025-04-04",
            adults=2,
            children=m % 2,
            first="Ana",
            last="Silva",
            email=f"ana.silva{m}@example.com",
            phone="+351 21 000 0000",
            country="PT",
            currency="EUR",
            nightly=123.45,
            rooms=1,
            room_type="D",
            card=("mask", "XXXXXXXXXXXX1111"),
            card_code="VI",
            channel="WEB",
        )
        msg = hs.BOOKING_MESSAGES[m % 3]
        out.append(hs.render(msg, [r], variant=m, message_id=f"urn:uuid:{m:032d}", seq=m + 1))
    return out


def run_pipeline(docs: list[bytes]) -> int:
    parse = parse_batches(4 * 1024 * 1024, ("10", "14"))
    batches = [
        pa.RecordBatch.from_pydict(
            {"path": [f"file:/archive/{i}.xml" for i in range(lo, min(lo + BATCH, len(docs)))],
             "content": docs[lo : lo + BATCH]}
        )
        for lo in range(0, len(docs), BATCH)
    ]  # fmt: skip
    rows = sum(b.num_rows for b in parse(batches))
    assert rows == len(docs), rows
    return rows


def _text(el: minidom.Element | None) -> str | None:
    if el is None or el.firstChild is None:
        return None
    return el.firstChild.nodeValue


def _first(node: minidom.Node, name: str) -> minidom.Element | None:
    found = node.getElementsByTagNameNS("*", name)
    return found[0] if found.length else None


def dom_extract(doc: bytes) -> list[dict[str, object]]:
    """The same fields with a DOM walk (getElementsByTagNameNS traverses the subtree each time)."""
    tree = minidom.parseString(doc)
    out = []
    for res in tree.getElementsByTagNameNS("*", "HotelReservation"):
        rec: dict[str, object] = {"RES_STATUS": res.getAttribute("ResStatus") or None}
        ids = {e.getAttribute("ResID_Type"): e.getAttribute("ResID_Value")
               for e in res.getElementsByTagNameNS("*", "HotelReservationID")}  # fmt: skip
        uids = {e.getAttribute("Type"): e.getAttribute("ID") for e in res.getElementsByTagNameNS("*", "UniqueID")}
        rec["CONF_NO"] = ids.get("10") or uids.get("10") or ids.get("14") or uids.get("14")
        bpi = _first(res, "BasicPropertyInfo")
        rec["PROP_CD"] = bpi.getAttribute("HotelCode") if bpi else None
        rec["VERSION_TS"] = res.getAttribute("LastModifyDateTime") or res.getAttribute("CreateDateTime")
        span = _first(res, "TimeSpan")
        rec["ARR_DT"], rec["DEP_DT"] = (span.getAttribute("Start"), span.getAttribute("End")) if span else (None, None)
        customer = _first(res, "Customer")
        if customer:
            rec["GUEST_FIRST_NM"] = _text(_first(customer, "GivenName"))
            rec["GUEST_LAST_NM"] = _text(_first(customer, "Surname"))
            rec["GUEST_EMAIL"] = _text(_first(customer, "Email"))
            phone = _first(customer, "Telephone")
            rec["GUEST_PHONE"] = phone.getAttribute("PhoneNumber") if phone else None
        card = _first(res, "PaymentCard")
        if card:
            rec["CARD_TYPE"] = card.getAttribute("CardCode")
            rec["CARD_LAST4"] = (card.getAttribute("Mask") or card.getAttribute("CardNumber"))[-4:]
        totals = [t for t in res.getElementsByTagNameNS("*", "Total") if t.parentNode.localName == "ResGlobalInfo"]
        if totals:
            rec["TOTAL_AMT"] = totals[0].getAttribute("AmountAfterTax") or totals[0].getAttribute("AmountBeforeTax")
            rec["CURRENCY_CD"] = totals[0].getAttribute("CurrencyCode")
        rooms = []
        for room in res.getElementsByTagNameNS("*", "RoomStay"):
            rt, base, rspan = _first(room, "RoomType"), _first(room, "Base"), _first(room, "TimeSpan")
            rooms.append({"ROOM_TYPE_CD": rt.getAttribute("RoomTypeCode") if rt else None,
                          "NIGHTLY_RATE": base.getAttribute("AmountAfterTax") if base else None,
                          "STAY_START_DT": rspan.getAttribute("Start") if rspan else None})  # fmt: skip
        rec["ROOM_STAYS"] = rooms
        out.append(rec)
    tree.unlink()
    return out


def run_dom(docs: list[bytes]) -> int:
    return sum(len(dom_extract(d)) for d in docs)


def best_rate(fn, docs: list[bytes], repeat: int) -> float:  # type: ignore[no-untyped-def]
    rates = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn(docs)
        rates.append(len(docs) / (time.perf_counter() - started))
    return max(rates)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=30_000)
    parser.add_argument("--dom-messages", type=int, default=3_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    docs = messages(args.messages)
    print(f"# {len(docs):,} messages, mean {statistics.mean(len(d) for d in docs):,.0f} bytes, one core")
    pipeline = best_rate(run_pipeline, docs, args.repeat)
    dom = best_rate(run_dom, docs[: args.dom_messages], args.repeat)
    # sanity: both read the same confirmation numbers
    assert [r["CONF_NO"] for d in docs[:50] for r in dom_extract(d)] == [str(1_000_000_000 + m) for m in range(50)]
    print(f"# best of {args.repeat}: pipeline {pipeline:,.0f} msg/s, minidom {dom:,.0f} msg/s")
    print(f"BENCH xml_parser_msgs_per_s_core {pipeline:.0f} msg/s")
    print(f"BENCH xml_dom_msgs_per_s_core {dom:.0f} msg/s")
    print(f"BENCH xml_parser_vs_dom {pipeline / dom:.1f} x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
