"""The EDW extract: the property reference, the reservation versions (spelled the several ways real extracts
mix, some broken on purpose) and their room-stay lines.

Vectorised with numpy/pandas. Every draw comes from the one generator, in a fixed order: moving a draw
changes every value drawn after it, so the same arguments give the same bytes only while the order holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sample import plan, spelling, truth
from sample.options import Options
from sample.vocabulary import (
    DOMAINS,
    EXTRACT_TIME,
    FIRST_NAMES,
    LAST_NAMES,
    N_PROPERTIES,
    STATUS_TEXT,
    ZONES,
)

RATE_PLANS = np.array(["BAR", "CORP", "PKG", "AAA", "ADV"])
CARD_TYPES = np.array(["VI", "MC", "AX"])


def properties(rng: np.random.Generator) -> pd.DataFrame:
    """The property reference (``currency`` is the generator's: the extract has no such column)."""
    weights = np.array([zone[3] for zone in ZONES], dtype=float)
    zone_of = rng.choice(len(ZONES), N_PROPERTIES, p=weights / weights.sum())
    letters = np.array(list("ABCDEFGHJKLMNPQRSTUVWXYZ"))
    prefixes = ["".join(t) for t in letters[rng.integers(0, len(letters), (N_PROPERTIES, 3))]]
    number = np.arange(N_PROPERTIES)
    cutover_draw = rng.random(N_PROPERTIES)
    past = np.array([f"2026-0{1 + i % 9}-15 04:00:00" for i in number])
    cutover = np.where(cutover_draw < 0.10, past, np.where(cutover_draw < 0.13, "2027-03-01 04:00:00", ""))
    return pd.DataFrame(
        {
            "LEGACY_PROP_CD": [f"{p}{i:04d}" for p, i in zip(prefixes, number, strict=False)],
            "PROPERTY_CODE": [f"H{i + 1:05d}" for i in number],
            "PROPERTY_NAME": [f"Hotel {p.title()} {i + 1}" for p, i in zip(prefixes, number, strict=False)],
            "COUNTRY": [ZONES[z][1] for z in zone_of],
            "TIMEZONE": [ZONES[z][0] for z in zone_of],
            "CUTOVER_TS": cutover,
            "currency": [ZONES[z][2] for z in zone_of],
        }
    )


@dataclass(frozen=True)
class EdwExtract:
    rows: pd.DataFrame  # the versions, re-extracted ones twice, shuffled; "_" columns are the plan, not written
    counts: dict[str, Any]  # the ground truth's counts
    latest: pd.DataFrame  # per reservation, what the HTNG archive builds on (see _latest_state)


@dataclass(frozen=True)
class SpellingDraw:
    """One uniform draw per row and field group: which spelling each field gets (thresholds where used)."""

    keys: np.ndarray  # CONF_NO with a leading space, PROP_CD in lower case with trailing spaces
    timestamps: np.ndarray  # CREATE_TS / LAST_MOD_TS in US order
    dates_and_amounts: np.ndarray  # compact dates; TOTAL_AMT with thousands separators
    cards: np.ndarray  # full PAN or mask; card type missing or in lower case
    phone_and_currency: np.ndarray  # phone "NULL"; currency in lower case
    emails: np.ndarray  # upper case or missing

    @classmethod
    def draw(cls, rng: np.random.Generator, rows: int) -> SpellingDraw:
        uniform = rng.random((rows, 6))
        return cls(*(uniform[:, column] for column in range(6)))


@dataclass(frozen=True)
class Guests:
    first: np.ndarray
    last: np.ndarray
    email: np.ndarray
    phone: np.ndarray


def versions(
    rng: np.random.Generator, reservations: pd.DataFrame, properties: pd.DataFrame, opts: Options
) -> EdwExtract:
    """The reservations' versions as the EDW extract holds them (see :mod:`sample.plan`): spelled every way in
    turn, the broken ones broken, ``duplicate_fraction`` of them extracted twice, shuffled."""
    rows = plan.VersionRows.of(reservations["versions"].to_numpy())
    broken = plan.broken_plan(rng, rows.per_reservation, opts.broken_fraction)
    created, modified = plan.version_times(rng, rows, reservations["created"].to_numpy())
    arrival = rows.spread(reservations["arrival"].to_numpy())
    departure = rows.spread(reservations["departure"].to_numpy())
    canceled = rows.spread(reservations["canceled"].to_numpy())
    status, canonical_status = _statuses(rng, canceled, rows.is_latest, arrival, departure)
    draw = SpellingDraw.draw(rng, rows.count)
    guests = _guests(
        rng, rows.spread(reservations["first"].to_numpy()), rows.spread(reservations["last"].to_numpy()), draw
    )
    card_no, card_type = _cards(rng, rows.count, draw.cards)
    prop = rows.spread(reservations["prop"].to_numpy())
    legacy = properties["LEGACY_PROP_CD"].to_numpy()[prop]
    currency = properties["currency"].to_numpy()[prop]
    conf = rows.spread(reservations["conf"].to_numpy())
    frame = pd.DataFrame(
        {
            "CONF_NO": np.where(draw.keys < 0.05, np.char.add(" ", conf.astype(str)), conf),
            "PROP_CD": np.where(draw.keys > 0.9, np.char.add(np.char.lower(legacy.astype(str)), "  "), legacy),
            "RES_STATUS": status,
            "CREATE_TS": spelling.timestamps(created, draw.timestamps < 0.3),
            "LAST_MOD_TS": spelling.timestamps(modified, draw.timestamps < 0.3),
            "EDW_SEQ": (5_000_000 + np.arange(rows.count)).astype(str),
            "ARR_DT": spelling.dates(arrival, draw.dates_and_amounts < 0.5),
            "DEP_DT": spelling.dates(departure, draw.dates_and_amounts < 0.5),
            "ADULTS": rows.spread(reservations["adults"].to_numpy()).astype(str),
            "CHILDREN": rows.spread(reservations["children"].to_numpy()).astype(str),
            "GUEST_FIRST_NM": guests.first,
            "GUEST_LAST_NM": guests.last,
            "GUEST_EMAIL": guests.email,
            "GUEST_PHONE": guests.phone,
            "GUEST_COUNTRY": rows.spread(reservations["country"].to_numpy()),
            "CARD_TYPE": card_type,
            "CARD_NO": card_no,
            "TOTAL_AMT": spelling.amounts(_total_amounts(rows, reservations), draw.dates_and_amounts > 0.5),
            "CURRENCY_CD": np.where(draw.phone_and_currency > 0.93, np.char.lower(currency.astype(str)), currency),
            "CHANNEL_CD": rows.spread(reservations["channel"].to_numpy()),
        }
    ).astype(object)
    reasons = plan.row_reasons(rows, broken)
    _break_rows(frame, reasons)

    duplicated = rng.random(rows.count) < opts.duplicate_fraction
    counts = truth.edw_counts(rows.per_reservation, broken.latest, broken.older, int(duplicated.sum()))
    frame["_version_row"] = np.arange(rows.count)
    unit = "datetime64[M]" if opts.partition_by == "month" else "datetime64[D]"
    frame["_part"] = np.datetime_as_string(modified.astype(unit))  # the local date the version was extracted
    frame["_res"] = rows.reservation
    frame["_has_rooms"] = reasons != "MISSING_KEY"
    frame["_dup"] = duplicated
    extract = pd.concat([frame, frame[duplicated]], ignore_index=True)
    extract = extract.iloc[rng.permutation(len(extract))].reset_index(drop=True)
    latest = _latest_state(rows, created, modified, canonical_status, broken, guests, currency)
    return EdwExtract(extract, counts, latest)


def _total_amounts(rows: plan.VersionRows, reservations: pd.DataFrame) -> np.ndarray:
    """The stay's price, changing from version to version."""
    change = np.where(rows.number == 0, 1.0, 1.0 + 0.05 * (rows.number % 3))
    nightly = rows.spread(reservations["adr"].to_numpy()) * change
    return np.round(nightly * rows.spread(reservations["nights"].to_numpy()), 2)


def _statuses(
    rng: np.random.Generator, canceled: np.ndarray, is_latest: np.ndarray, arrival: np.ndarray, departure: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(as the EDW spells it, canonical) per row: older versions are confirmed, the newest one has the final
    state as of the extract."""
    today = EXTRACT_TIME.astype("datetime64[D]")
    final = np.where(
        canceled,
        "CANCELLED",
        np.where(departure <= today, "CHECKED_OUT", np.where(arrival <= today, "IN_HOUSE", "CONFIRMED")),
    )
    roll = rng.random(len(canceled))
    final = np.where((final == "CHECKED_OUT") & (roll < 0.02), "NO_SHOW", final)
    final = np.where((final == "CONFIRMED") & (roll < 0.01), "WAITLISTED", final)
    status = np.where(is_latest, final, "CONFIRMED")
    pick = rng.integers(0, 4, len(canceled))
    spelled = np.empty(len(canceled), dtype=object)
    for name, spellings in STATUS_TEXT.items():
        mask = status == name
        spelled[mask] = np.array(spellings, dtype=object)[pick[mask] % len(spellings)]
    return spelled, status


def _guests(rng: np.random.Generator, first_index: np.ndarray, last_index: np.ndarray, draw: SpellingDraw) -> Guests:
    first = np.array(FIRST_NAMES, dtype=object)[first_index]
    last = np.array(LAST_NAMES, dtype=object)[last_index]
    local_parts = [f"{f}.{la}".lower().replace(" ", "").replace("'", "") for f, la in zip(first, last, strict=False)]
    domains = np.array(DOMAINS)[rng.integers(0, len(DOMAINS), len(first))]
    email = np.char.add(np.char.add(np.array(local_parts, dtype=str), "@"), domains)
    email = np.where(draw.emails < 0.1, np.char.upper(email), email)
    email = np.where(draw.emails > 0.97, "", email)
    phone = np.char.add("+1 555 ", np.char.zfill(rng.integers(0, 10**7, len(first)).astype(str), 7))
    phone = np.where(draw.phone_and_currency < 0.05, "NULL", phone)
    return Guests(first, last, email, phone)


def _cards(rng: np.random.Generator, count: int, card_draw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(CARD_NO, CARD_TYPE) per row: a full PAN or its mask, the type sometimes missing or in lower case."""
    kinds = rng.choice(3, count, p=[0.55, 0.35, 0.10])
    pans = spelling.luhn_pans(rng, count, kinds)
    card_no = np.where(card_draw < 0.3, pans, np.char.add("XXXXXXXXXXXX", np.array([pan[-4:] for pan in pans])))
    card_type = np.where(card_draw < 0.1, "", CARD_TYPES[kinds])
    card_type = np.where((card_draw > 0.95) & (card_type != ""), np.char.lower(card_type.astype(str)), card_type)
    return card_no, card_type


def _break_rows(frame: pd.DataFrame, reason: np.ndarray) -> None:
    """Make exactly the named rule fail on each row (and no other rule)."""

    def rows(name: str) -> np.ndarray:
        return np.flatnonzero(reason == name)

    frame.loc[rows("MISSING_KEY"), "CONF_NO"] = ""
    frame.loc[rows("UNKNOWN_PROPERTY"), "PROP_CD"] = "ZZZ9999"
    frame.loc[rows("BAD_TIMESTAMP"), "LAST_MOD_TS"] = "2025-13-45 25:61:00"
    frame.loc[rows("BAD_DATE"), "ARR_DT"] = "2025-02-30"
    same = rows("DEPARTURE_NOT_AFTER_ARRIVAL")
    frame.loc[same, "DEP_DT"] = frame.loc[same, "ARR_DT"].to_numpy()
    frame.loc[rows("BAD_AMOUNT"), "TOTAL_AMT"] = "12,3x.00"
    frame.loc[rows("BAD_CURRENCY"), "CURRENCY_CD"] = "EURO"
    frame.loc[rows("BAD_STATUS"), "RES_STATUS"] = "ZZ"
    frame.loc[rows("OUT_OF_RANGE"), "ADULTS"] = "120"  # over quality.rules.max_adults
    frame["_reason"] = reason


def _latest_state(
    rows: plan.VersionRows,
    created: np.ndarray,
    modified: np.ndarray,
    status: np.ndarray,
    broken: plan.BrokenPlan,
    guests: Guests,
    currency: np.ndarray,
) -> pd.DataFrame:
    """Per reservation: the EDW's newest and oldest wall times, its final state and whether it is clean."""
    latest = rows.is_latest
    phone = guests.phone[latest]
    return pd.DataFrame(
        {
            "latest_modified": modified[latest],
            "first_created": created[rows.number == 0],
            "status": status[latest],
            "clean": broken.clean,
            "first": guests.first[latest],
            "last": guests.last[latest],
            "email": guests.email[latest],
            "phone": np.where(phone == "NULL", "+1 555 0000000", phone),
            "currency": currency[latest],
        }
    )


def room_stays(
    rng: np.random.Generator, extract: pd.DataFrame, reservations: pd.DataFrame, opts: Options
) -> tuple[pd.DataFrame, dict[str, int]]:
    """1-3 lines per version that has a key (re-extracted with it), plus orphans: copies of lines under a
    version number the extract does not hold (half as many as broken reservations). Returns them shuffled,
    with their counts for the ground truth."""
    versions = extract.drop_duplicates("_version_row")
    versions = versions[versions["_has_rooms"].to_numpy()]
    reservation = versions["_res"].to_numpy()
    lines = reservations["lines"].to_numpy()[reservation]
    version_of_line = np.repeat(np.arange(len(versions)), lines)
    line_no = np.arange(len(version_of_line)) - np.repeat(np.cumsum(lines) - lines, lines) + 1
    reservation_of_line = reservation[version_of_line]
    compact_dates = rng.random(len(version_of_line)) < 0.5

    def of_version(column: str) -> np.ndarray:
        return versions[column].to_numpy()[version_of_line]

    def of_reservation(column: str) -> np.ndarray:
        return reservations[column].to_numpy()[reservation_of_line]

    rooms = pd.DataFrame(
        {
            "CONF_NO": of_version("CONF_NO"),
            "PROP_CD": of_version("PROP_CD"),
            "EDW_SEQ": of_version("EDW_SEQ"),
            "LINE_NO": line_no.astype(str),
            "ROOM_TYPE_CD": np.char.add(
                of_reservation("room_type").astype(str), np.array(["K", "Q", "T"])[line_no % 3]
            ),
            "RATE_PLAN_CD": RATE_PLANS[rng.integers(0, len(RATE_PLANS), len(version_of_line))],
            "STAY_START_DT": spelling.dates(of_reservation("arrival"), compact_dates),
            "STAY_END_DT": spelling.dates(of_reservation("departure"), compact_dates),
            "NIGHTLY_RATE": spelling.amounts(of_reservation("adr"), rng.random(len(version_of_line)) < 0.5),
            "CURRENCY_CD": of_version("CURRENCY_CD"),
            "_part": of_version("_part"),  # a line lands with its version (orphans: their copy's)
        }
    )
    duplicated = of_version("_dup")
    n_orphans = round(len(reservations) * opts.broken_fraction / 2)
    orphan_source = (
        rng.choice(len(rooms), size=min(n_orphans, len(rooms)), replace=False) if n_orphans else np.array([], dtype=int)
    )
    orphans = rooms.iloc[orphan_source].copy()
    orphans["EDW_SEQ"] = (9_000_000_000 + np.arange(len(orphans))).astype(str)
    out = pd.concat([rooms, rooms[duplicated], orphans], ignore_index=True)
    out = out.iloc[rng.permutation(len(out))].reset_index(drop=True)
    return out, truth.room_stay_counts(len(rooms), int(duplicated.sum()), len(orphans))
