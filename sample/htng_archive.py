"""The sample's HTNG archive (``DIR/htng/``): which reservation versions it holds and how they are grouped
into documents and files (:mod:`sample.htng` renders the documents).

Overlap with the EDW: for some clean reservations a version 2 days newer than the EDW's newest (it wins: the
EDW's newest becomes superseded) or 2 days older than its oldest (superseded). The 2-day margin exceeds any UTC
offset, so the order holds however the time is written (Z, +hh:mm, -hhmm, none = hotel wall time).
Archive-only reservations have one or two versions (the second a modification or an OTA_CancelRQ). Some
messages are archived twice (duplicates); broken reservations and hostile documents are added when the sample
has broken data.
"""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sample import htng
from sample.files import write_document
from sample.options import Options
from sample.spelling import luhn_pans

HtngRecord = tuple[str, htng.HtngReservation, str]  # (message type, reservation version, kind)
TWO_DAYS = np.timedelta64(2 * 86400, "s")


@dataclass(frozen=True)
class Archive:
    records: list[HtngRecord]  # every reservation version archived, in order
    duplicates: int  # reservation versions archived twice
    files: int  # files written
    attacks: dict[str, bytes]  # hostile documents by file name


def write_archive(
    rng: np.random.Generator, reservations: pd.DataFrame, properties: pd.DataFrame, latest: pd.DataFrame, opts: Options
) -> Archive:
    """Plan and write ``DIR/htng/`` (``latest``: per reservation, the EDW's state, see :mod:`sample.edw`)."""
    records = _plan(rng, reservations, properties, latest, opts)
    duplicates, files, attacks = _write(rng, records, opts)
    return Archive(records, duplicates, files, attacks)


def _plan(
    rng: np.random.Generator, reservations: pd.DataFrame, properties: pd.DataFrame, latest: pd.DataFrame, opts: Options
) -> list[HtngRecord]:
    n = len(reservations)
    clean = np.flatnonzero(latest["clean"].to_numpy())
    n_overlap = min(len(clean), max(4, round(n * opts.htng_fraction)))
    overlap = rng.choice(clean, size=n_overlap, replace=False)
    newer, older = overlap[: n_overlap // 2], overlap[n_overlap // 2 :]
    archive_only = rng.choice(n, size=max(4, round(n * opts.htng_fraction / 2)), replace=False)
    breakages = [b for b, _ in htng.BROKEN_RESERVATIONS] if opts.broken_fraction > 0 else []
    at_most = len(newer) + len(older) + 2 * len(archive_only)  # an archive-only reservation has 1 or 2 versions
    pans = iter(luhn_pans(rng, at_most, np.arange(at_most) % 3))  # one card number per version

    def version(
        row: int, conf: str, when: np.datetime64, made: np.datetime64, status: str, variant: int, **overrides: Any
    ) -> htng.HtngReservation:
        return _reservation(
            reservations, properties, latest, row, conf, when, made, status, variant, next(pans), **overrides
        )

    records: list[HtngRecord] = []
    for variant, row in enumerate(newer):
        when = latest["latest_modified"].iat[row] + TWO_DAYS
        message = htng.BOOKING_MESSAGES[variant % 3] if variant % 4 else "OTA_HotelResModifyNotifRQ"
        status = latest["status"].iat[row]
        made = latest["first_created"].iat[row]
        records.append((message, version(row, reservations["conf"].iat[row], when, made, status, variant), "newer"))
    for variant, row in enumerate(older):
        made = latest["first_created"].iat[row] - TWO_DAYS
        stale = version(row, reservations["conf"].iat[row], made, made, "CONFIRMED", variant + 1)
        records.append((htng.BOOKING_MESSAGES[variant % 3], stale, "older"))
    for variant, row in enumerate(archive_only):
        conf = str(2_000_000_000 + variant)
        made = latest["first_created"].iat[row] + np.timedelta64(3600, "s")
        if variant < len(breakages):
            broken = _broken(version(row, conf, made, made, "CONFIRMED", variant, break_as=breakages[variant]))
            records.append(("OTA_HotelResNotifRQ", broken, "broken"))
            continue
        first = version(row, conf, made, made, "CONFIRMED", variant + 2)
        records.append((htng.BOOKING_MESSAGES[variant % 3], first, "only"))
        if variant % 3 == 0:
            cancel = variant % 2 == 0
            second = version(row, conf, made + TWO_DAYS, made, "CANCELLED" if cancel else "CONFIRMED", variant + 3)
            records.append(("OTA_CancelRQ" if cancel else "OTA_HotelResModifyNotifRQ", second, "only_second"))
    return records


def _reservation(
    reservations: pd.DataFrame,
    properties: pd.DataFrame,
    latest: pd.DataFrame,
    row: int,
    conf: str,
    when: np.datetime64,
    made: np.datetime64,
    status: str,
    variant: int,
    pan: str,
    **overrides: Any,
) -> htng.HtngReservation:
    """Reservation ``row``'s data as message ``variant`` writes it (``variant`` picks every spelling in turn)."""
    prop = int(reservations["prop"].iat[row])
    hotel = properties["PROPERTY_CODE"].iat[prop] if variant % 5 == 0 else properties["LEGACY_PROP_CD"].iat[prop]
    cards = (
        ("pan", pan),
        ("plain", pan),
        ("mask", "XXXXXXXXXXXX" + pan[-4:]),
        ("token", f"tok_{variant:08d}"),
        ("", ""),
    )
    arrival = str(reservations["arrival"].iat[row])[:10]
    fields: dict[str, Any] = {
        "conf": conf,
        "hotel_code": hotel,
        "status_word": htng.status_word(status, variant),
        "last_modified": _iso(when, variant),
        "created": _iso(made, variant),
        "arrival": arrival if variant % 4 else arrival + "T15:00:00",
        "departure": str(reservations["departure"].iat[row])[:10],
        "adults": int(reservations["adults"].iat[row]),
        "children": int(reservations["children"].iat[row]),
        "first": latest["first"].iat[row],
        "last": latest["last"].iat[row],
        "email": latest["email"].iat[row],
        "phone": latest["phone"].iat[row],
        "country": reservations["country"].iat[row] or "PT",
        "currency": latest["currency"].iat[row],
        "nightly": float(reservations["adr"].iat[row]) + 1.0,
        "rooms": 1 + variant % 2,
        "room_type": reservations["room_type"].iat[row],
        "card": cards[variant % 5],
        "card_code": ("VI", "MC", "AX")[variant % 3],
        "channel": ("WEB", "GDS", "OTA", "")[variant % 4],
    }
    fields.update(overrides)
    return htng.HtngReservation(**fields)


def _broken(reservation: htng.HtngReservation) -> htng.HtngReservation:
    if reservation.break_as == "bad_iso_time":
        return dataclasses.replace(reservation, last_modified="2025-02-30T10:00:00Z")
    if reservation.break_as == "initiate_status":
        return dataclasses.replace(reservation, status_word="Initiate")
    if reservation.break_as == "same_day":
        return dataclasses.replace(reservation, departure=reservation.arrival[:10])
    return reservation  # no_time, bad_amount: rendered by the template


def _iso(when: np.datetime64, variant: int) -> str:
    """Every ISO 8601 spelling the archive uses, in turn: Z, +hh:mm, -hhmm, none (hotel time), fraction + Z."""
    ts = pd.Timestamp(when)
    style = variant % 5
    if style == 1:
        return (ts + pd.Timedelta(hours=5, minutes=30)).strftime("%Y-%m-%dT%H:%M:%S") + "+05:30"
    if style == 2:
        return (ts - pd.Timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%S") + "-0500"
    if style == 3:
        return ts.strftime("%Y-%m-%dT%H:%M:%S")
    if style == 4:
        return ts.strftime("%Y-%m-%dT%H:%M:%S") + ".250Z"
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def _write(rng: np.random.Generator, records: list[HtngRecord], opts: Options) -> tuple[int, int, dict[str, bytes]]:
    """Booking messages carry 1-3 reservations of one kind, the others one each; ~5 % are archived twice.
    Returns (duplicated reservations, files written, hostile documents)."""
    out_dir = opts.out / "htng"
    if out_dir.exists():
        shutil.rmtree(out_dir)
    messages: list[tuple[str, list[htng.HtngReservation], str]] = []
    for message_type, reservation, kind in records:
        last = messages[-1] if messages else None
        groupable = message_type in htng.BOOKING_MESSAGES and kind in ("newer", "older", "only")
        if last and groupable and last[0] == message_type and last[2] == kind and len(last[1]) < 1 + len(messages) % 3:
            last[1].append(reservation)
        else:
            messages.append((message_type, [reservation], kind))
    resend = rng.random(len(messages)) < 0.05
    duplicates, first_doc = 0, b""
    for m, (message_type, reservations, kind) in enumerate(messages):
        doc = htng.render(
            message_type, reservations, variant=m, message_id=f"urn:uuid:00000000-0000-4000-8000-{m:012d}", seq=m + 1
        )
        first_doc = first_doc or doc
        write_document(out_dir / f"{2024 + m % 3}/{1 + m % 12:02d}/msg-{m:07d}.xml", doc, gz=m % 3 == 2)
        if resend[m] and kind != "broken":
            write_document(out_dir / "resent" / f"msg-{m:07d}-copy.xml", doc, gz=False)
            duplicates += len(reservations)
    attacks = htng.attack_documents(first_doc) if opts.broken_fraction > 0 and first_doc else {}
    for name, doc in attacks.items():
        write_document(out_dir / "rejected-by-channel" / name, doc, gz=False)
    return duplicates, sum(1 for p in out_dir.rglob("*") if p.is_file()), attacks
