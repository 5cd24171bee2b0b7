"""python -m jobs.generate_sample --out DIR --reservations N --seed S [--format csv|parquet]

Deterministic synthetic EDW extract (reservations, room stays, property reference) shaped on the real
hotel-booking dataset in shared/data, with the messiness real extracts have, and ``ground_truth.json``:
the counts the migration must report, derived from how the data was generated (never by running it).

Vectorised with numpy/pandas: 1 M reservations in well under a few minutes on 2 cores.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import itertools

from jobs import htng_sample as hs
from jobs.cli import OneLineParser
from transforms.rules import REASON_CODES

N_PROPERTIES = 7500
EXTRACT_TIME = np.datetime64("2026-11-20T00:00:00")
HISTORY_START = np.datetime64("2024-11-20T00:00:00")
# (IANA zone, country, currency, weight): real zones, several with DST in both hemispheres.
ZONES: tuple[tuple[str, str, str, float], ...] = (
    ("America/New_York", "US", "USD", 14), ("America/Chicago", "US", "USD", 8), ("America/Denver", "US", "USD", 3),
    ("America/Los_Angeles", "US", "USD", 8), ("America/Phoenix", "US", "USD", 2), ("Pacific/Honolulu", "US", "USD", 1),
    ("America/Toronto", "CA", "CAD", 3), ("America/Vancouver", "CA", "CAD", 1), ("America/Mexico_City", "MX", "MXN", 2),
    ("America/Sao_Paulo", "BR", "BRL", 2), ("America/Argentina/Buenos_Aires", "AR", "ARS", 1),
    ("Europe/London", "GB", "GBP", 6), ("Europe/Lisbon", "PT", "EUR", 3), ("Europe/Paris", "FR", "EUR", 5),
    ("Europe/Berlin", "DE", "EUR", 5), ("Europe/Madrid", "ES", "EUR", 4), ("Europe/Rome", "IT", "EUR", 3),
    ("Europe/Amsterdam", "NL", "EUR", 2), ("Europe/Zurich", "CH", "CHF", 1), ("Europe/Istanbul", "TR", "TRY", 1),
    ("Asia/Dubai", "AE", "AED", 2), ("Asia/Kolkata", "IN", "INR", 2), ("Asia/Singapore", "SG", "SGD", 2),
    ("Asia/Shanghai", "CN", "CNY", 4), ("Asia/Tokyo", "JP", "JPY", 3), ("Asia/Seoul", "KR", "KRW", 1),
    ("Australia/Sydney", "AU", "AUD", 2), ("Australia/Perth", "AU", "AUD", 1), ("Pacific/Auckland", "NZ", "NZD", 1),
    ("Africa/Johannesburg", "ZA", "ZAR", 1), ("Africa/Cairo", "EG", "EGP", 1),
)  # fmt: skip
# One broken reservation per row rule, in turn (the rules that EDW text can break).
BROKEN_LATEST = tuple(
    r
    for r in REASON_CODES
    if r not in ("MALFORMED_XML", "ORPHAN_ROOM_STAY", "ITEM_TOO_LARGE", "LATEST_VERSION_INVALID")
)
BROKEN_OLDER = ("BAD_DATE", "BAD_AMOUNT", "BAD_CURRENCY", "BAD_STATUS", "DEPARTURE_NOT_AFTER_ARRIVAL")
UNKEYED = frozenset({"MISSING_KEY", "UNKNOWN_PROPERTY"})
FIRST_NAMES = ("Ana", "João", "Maria", "James", "Olivia", "Liam", "Emma", "Noah", "Sofia", "Lukas", "Mia", "Hiro",
               "Yuki", "Wei", "Priya", "Arjun", "Fatima", "Omar", "Chloé", "Zoë", "Seán", "Siobhán", "Björn", "Ingrid",
               "Mateo", "Valentina", "Kwame", "Amara", "Chen", "Aiko")  # fmt: skip
LAST_NAMES = ("Silva", "Santos", "Smith", "Johnson", "García", "Müller", "Rossi", "Dubois", "Tanaka", "Kim", "Patel",
              "O'Brien", "Nguyen", "Kowalski", "Andersson", "Costa", "Haddad", "Okafor", "van der Berg", "López",
              "Schmidt", "Martin", "Wang", "Sato", "Brown", "Ferreira", "Novak", "Ivanova", "Cohen",
              "Singh")  # fmt: skip
DOMAINS = ("example.com", "mail.example.org", "example.net", "corp.example.com")
CHANNELS = {"TA/TO": "ota", "Direct": "DIRECT", "Corporate": "corp ", "GDS": "GDS", "Undefined": ""}
STATUS_TEXT = {
    "CONFIRMED": ("RES", "CNF", "res", " CNF"),
    "CANCELLED": ("CXL", "cxl"),
    "NO_SHOW": ("NS",),
    "IN_HOUSE": ("INH",),
    "CHECKED_OUT": ("CO", "co"),
    "WAITLISTED": ("WL",),
}


@dataclass(frozen=True)
class Options:
    out: Path
    reservations: int
    seed: int
    fmt: str
    broken_fraction: float
    duplicate_fraction: float
    files: int
    htng_fraction: float = 0.02
    partition_by: str = "none"  # day | month: EDW extracts in LAST_MOD_DT=<date> folders


PARTITION_COLUMN = "LAST_MOD_DT"


def main(argv: Sequence[str] | None = None) -> int:
    parser = OneLineParser(prog="generate_sample", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", required=True)
    parser.add_argument("--reservations", type=int, required=True)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--format", dest="fmt", choices=("csv", "parquet"), default="csv")
    parser.add_argument(
        "--broken-fraction",
        type=float,
        default=0.001,
        help="share of reservations made invalid (default keeps the quarantine under the gate)",
    )
    parser.add_argument("--duplicate-fraction", type=float, default=0.03, help="share of rows re-extracted twice")
    parser.add_argument("--files", type=int, default=0, help="files per extract (default: about 250k rows each)")
    parser.add_argument(
        "--htng-fraction",
        type=float,
        default=0.02,
        help="share of reservations also in the HTNG archive (half newer, half older than the EDW), plus half"
        " as many archive-only reservations; 0 = no archive",
    )
    parser.add_argument(
        "--partition-by",
        choices=("none", "day", "month"),
        default="none",
        help=f"write the EDW extracts in {PARTITION_COLUMN}=<date> folders (the local date of each version's"
        " LAST_MOD_TS; its room-stay lines in the same folder), as date-partitioned extracts land",
    )
    args = parser.parse_args(argv)
    if args.reservations < 1:
        parser.error("--reservations: must be at least 1")
    if not all(0 <= x <= 0.5 for x in (args.broken_fraction, args.duplicate_fraction, args.htng_fraction)):
        parser.error("--broken-fraction, --duplicate-fraction and --htng-fraction must be within [0, 0.5]")
    opts = Options(
        Path(args.out),
        args.reservations,
        args.seed,
        args.fmt,
        args.broken_fraction,
        args.duplicate_fraction,
        args.files,
        args.htng_fraction,
        args.partition_by,
    )
    truth = generate(opts)
    print(
        json.dumps(
            {
                "out": str(opts.out),
                **truth["counts"]["input"],
                "reservations_loaded": truth["counts"]["reservations_loaded"],
            }
        )
    )
    return 0


def generate(opts: Options) -> dict[str, Any]:
    rng = np.random.default_rng(opts.seed)
    props = _properties(rng)
    res = _reservations(rng, opts.reservations, props)
    versions, truth = _versions(rng, res, props, opts)
    rooms, room_truth = _room_stays(rng, versions, res, opts)
    truth["room_stays"] = room_truth
    truth["counts"]["room_stays"] = room_truth
    latest_info = truth.pop("_latest")
    if opts.htng_fraction > 0:
        truth["htng"] = _htng_archive(rng, res, props, latest_info, truth["counts"], opts)
    _write(opts, "reference/properties", props.drop(columns=["currency"]), 1)
    n_files = opts.files or max(1, round(len(versions) / 250_000))
    _write(opts, "edw/reservations", versions, n_files)
    _write(opts, "edw/room_stays", rooms, n_files)
    truth.update(
        {
            "reservations": opts.reservations,
            "seed": opts.seed,
            "format": opts.fmt,
            "broken_fraction": opts.broken_fraction,
            "duplicate_fraction": opts.duplicate_fraction,
            "htng_fraction": opts.htng_fraction,
            "partition_by": opts.partition_by,
        }
    )
    (opts.out / "ground_truth.json").write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    return truth


def _properties(rng: np.random.Generator) -> pd.DataFrame:
    weights = np.array([z[3] for z in ZONES], dtype=float)
    zone = rng.choice(len(ZONES), N_PROPERTIES, p=weights / weights.sum())
    letters = np.array(list("ABCDEFGHJKLMNPQRSTUVWXYZ"))
    prefix = ["".join(t) for t in letters[rng.integers(0, len(letters), (N_PROPERTIES, 3))]]
    idx = np.arange(N_PROPERTIES)
    cut = rng.random(N_PROPERTIES)
    past = np.array([f"2026-0{1 + i % 9}-15 04:00:00" for i in idx])
    cutover = np.where(cut < 0.10, past, np.where(cut < 0.13, "2027-03-01 04:00:00", ""))
    return pd.DataFrame(
        {
            "LEGACY_PROP_CD": [f"{p}{i:04d}" for p, i in zip(prefix, idx, strict=False)],
            "PROPERTY_CODE": [f"H{i + 1:05d}" for i in idx],
            "PROPERTY_NAME": [f"Hotel {p.title()} {i + 1}" for p, i in zip(prefix, idx, strict=False)],
            "COUNTRY": [ZONES[z][1] for z in zone],
            "TIMEZONE": [ZONES[z][0] for z in zone],
            "CUTOVER_TS": cutover,
            "currency": [ZONES[z][2] for z in zone],
        }
    )


def _bookings() -> pd.DataFrame:
    """Shapes from the real dataset (lead time, nights, party, country, rate, channel, room, cancellation)."""
    here = Path(__file__).resolve().parent.parent
    candidates = [
        os.environ.get("MIGRATION_BOOKINGS_CSV", ""),
        str(here.parent / "shared" / "data" / "hotel_bookings" / "hotels.csv.gz"),
    ]
    for path in candidates:
        if path and Path(path).is_file():
            df = pd.read_csv(
                path,
                usecols=[
                    "is_canceled",
                    "lead_time",
                    "stays_in_weekend_nights",
                    "stays_in_week_nights",
                    "adults",
                    "children",
                    "country",
                    "adr",
                    "distribution_channel",
                    "reserved_room_type",
                    "meal",
                ],
                keep_default_na=False,
                dtype={"children": str, "country": str},
            )
            return df
    # Fallback when shared/ is absent: a small synthetic table with similar marginals.
    r = np.random.default_rng(0)
    n = 10_000
    return pd.DataFrame(
        {
            "is_canceled": (r.random(n) < 0.37).astype(int),
            "lead_time": r.gamma(1.0, 100, n).astype(int),
            "stays_in_weekend_nights": r.integers(0, 3, n),
            "stays_in_week_nights": r.integers(0, 6, n),
            "adults": r.integers(1, 4, n),
            "children": np.where(r.random(n) < 0.9, "0", "1"),
            "country": r.choice(["PRT", "GBR", "FRA", "ESP", "DEU", "NULL"], n),
            "adr": r.gamma(4, 25, n),
            "distribution_channel": r.choice(list(CHANNELS), n),
            "reserved_room_type": r.choice(list("ADEFG"), n),
            "meal": r.choice(["BB", "HB", "SC"], n),
        }
    )


def _reservations(rng: np.random.Generator, n: int, props: pd.DataFrame) -> pd.DataFrame:
    book = _bookings()
    b = rng.integers(0, len(book), n)
    pick = book.iloc[b].reset_index(drop=True)
    rank = np.arange(1, N_PROPERTIES + 1, dtype=float)
    pweights = 1.0 / rank**0.6
    prop = rng.permutation(N_PROPERTIES)[rng.choice(N_PROPERTIES, n, p=pweights / pweights.sum())]
    nights = np.clip(pick["stays_in_weekend_nights"].to_numpy() + pick["stays_in_week_nights"].to_numpy(), 1, 30)
    span = int((np.datetime64("2026-10-01") - HISTORY_START) / np.timedelta64(1, "s"))
    created = HISTORY_START + rng.integers(0, span, n).astype("timedelta64[s]")
    lead = np.clip(pick["lead_time"].to_numpy(), 0, 300).astype("timedelta64[D]")
    arrival = created.astype("datetime64[D]") + lead
    adr = np.abs(pd.to_numeric(pick["adr"], errors="coerce").fillna(0).to_numpy())
    children = pd.to_numeric(pick["children"], errors="coerce").fillna(0).astype(int).to_numpy()
    i = np.arange(n, dtype=np.int64)
    return pd.DataFrame(
        {
            "prop": prop,
            "conf": (1_000_000_000 + (i * 387_420_489 + 12_345) % 1_000_000_000).astype(str),
            "created": created,
            "arrival": arrival,
            "departure": arrival + nights.astype("timedelta64[D]"),
            "nights": nights,
            "adults": np.maximum(pick["adults"].to_numpy(), 1),
            "children": children,
            "country": pick["country"].replace({"NULL": "", "NA": ""}).to_numpy(),
            "adr": np.round(adr, 2),
            "canceled": pick["is_canceled"].to_numpy() == 1,
            "channel": pick["distribution_channel"].map(CHANNELS).fillna("").to_numpy(),
            "room_type": pick["reserved_room_type"].to_numpy(),
            "meal": pick["meal"].to_numpy(),
            "first": rng.integers(0, len(FIRST_NAMES), n),
            "last": rng.integers(0, len(LAST_NAMES), n),
            "k": rng.choice([1, 2, 3, 4], n, p=[0.55, 0.25, 0.12, 0.08]),
            "lines": rng.choice([1, 2, 3], n, p=[0.8, 0.15, 0.05]),
        }
    )


def _fmt_ts(ts: np.ndarray, alt: np.ndarray) -> np.ndarray:
    s = pd.Series(ts.astype("datetime64[s]"))
    iso = s.dt.strftime("%Y-%m-%d %H:%M:%S").to_numpy()
    us = s.dt.strftime("%m/%d/%Y %H:%M:%S").to_numpy()
    return np.where(alt, us, iso)


def _fmt_date(d: np.ndarray, alt: np.ndarray) -> np.ndarray:
    s = pd.Series(d.astype("datetime64[D]"))
    return np.where(alt, s.dt.strftime("%Y%m%d").to_numpy(), s.dt.strftime("%Y-%m-%d").to_numpy())


def _fmt_amount(x: np.ndarray, thousands: np.ndarray) -> np.ndarray:
    plain = np.char.mod("%.2f", x)
    grouped = np.array([f"{v:,.2f}" for v in x]) if len(x) else plain
    return np.where(thousands & (x >= 1000), grouped, plain)


def _luhn_pans(rng: np.random.Generator, n: int, kinds: np.ndarray) -> np.ndarray:
    """Valid-looking PANs (Luhn check digit) per card kind 0=VI, 1=MC, 2=AX."""
    prefixes = np.array(["4", "51", "37"])[kinds]
    lengths = np.array([16, 16, 15])[kinds]
    body = rng.integers(0, 10, (n, 15)).astype(str)
    out = []
    for p, ln, digits in zip(prefixes, lengths, body, strict=False):
        partial = p + "".join(digits[: ln - 1 - len(p)])
        total = 0
        for j, ch in enumerate(reversed(partial)):
            d = int(ch)
            if j % 2 == 0:
                d = d * 2 - 9 if d * 2 > 9 else d * 2
            total += d
        out.append(partial + str((10 - total % 10) % 10))
    return np.array(out)


def _versions(
    rng: np.random.Generator, res: pd.DataFrame, props: pd.DataFrame, opts: Options
) -> tuple[pd.DataFrame, dict[str, Any]]:
    n = len(res)
    k = res["k"].to_numpy()
    total = int(k.sum())
    r = np.repeat(np.arange(n), k)
    starts = np.repeat(np.cumsum(k) - k, k)
    v = np.arange(total) - starts
    latest = v == (k[r] - 1)

    # --- which reservations are broken, and how (decided per reservation, applied per version)
    n_broken = round(n * opts.broken_fraction)
    chosen = rng.choice(n, size=n_broken, replace=False) if n_broken else np.array([], dtype=int)
    broken_reason = np.full(n, "", dtype=object)
    broken_reason[chosen] = np.array(BROKEN_LATEST, dtype=object)[np.arange(n_broken) % len(BROKEN_LATEST)]
    multi = np.flatnonzero((k >= 2) & (broken_reason == ""))
    n_older = min(len(multi), round(n * opts.broken_fraction / 2))
    older_pick = rng.choice(multi, size=n_older, replace=False) if n_older else np.array([], dtype=int)
    older_reason = np.full(n, "", dtype=object)
    older_reason[older_pick] = np.array(BROKEN_OLDER, dtype=object)[np.arange(n_older) % len(BROKEN_OLDER)]

    # --- version times: first version at creation, later ones >= 3 hours apart (order survives DST)
    gaps = (3 * 3600 + np.minimum(rng.exponential(4 * 86400, total), 10 * 86400)).astype("int64")
    gaps[v == 0] = 0
    cumulative = np.cumsum(gaps)
    offs = cumulative - np.repeat(cumulative[np.cumsum(k) - k], k)
    created = res["created"].to_numpy()[r]
    modified = created + offs.astype("timedelta64[s]")
    # Single-version reservations near DST changes (spring gap / autumn overlap, both hemispheres).
    dst_days = np.array(
        ["2025-03-09", "2025-03-30", "2025-04-06", "2025-10-05", "2025-10-26", "2025-11-02"], dtype="datetime64[D]"
    )
    near_dst = (k[r] == 1) & (rng.random(total) < 0.04)
    hours = rng.integers(0, 4 * 3600, total).astype("timedelta64[s]") + np.timedelta64(3600, "s")
    dst_ts = dst_days[rng.integers(0, len(dst_days), total)].astype("datetime64[s]") + hours
    modified = np.where(near_dst, dst_ts, modified)
    created = np.where(near_dst, dst_ts, created)

    prop = res["prop"].to_numpy()[r]
    legacy = props["LEGACY_PROP_CD"].to_numpy()[prop]
    currency = props["currency"].to_numpy()[prop]
    arrival = res["arrival"].to_numpy()[r]
    departure = res["departure"].to_numpy()[r]
    nights = res["nights"].to_numpy()[r]
    adr = res["adr"].to_numpy()[r] * np.where(v == 0, 1.0, 1.0 + 0.05 * (v % 3))  # price changes by version
    amount = np.round(adr * nights, 2)
    status, canonical_status = _statuses(rng, res, r, latest, arrival, departure)
    messy = rng.random((total, 6))
    first = np.array(FIRST_NAMES, dtype=object)[res["first"].to_numpy()[r]]
    last = np.array(LAST_NAMES, dtype=object)[res["last"].to_numpy()[r]]
    email_local = [f"{f}.{la}".lower().replace(" ", "").replace("'", "") for f, la in zip(first, last, strict=False)]
    email = np.char.add(
        np.char.add(np.array(email_local, dtype=str), "@"), np.array(DOMAINS)[rng.integers(0, len(DOMAINS), total)]
    )
    email = np.where(messy[:, 5] < 0.1, np.char.upper(email), email)
    email = np.where(messy[:, 5] > 0.97, "", email)
    phone = np.char.add("+1 555 ", np.char.zfill(rng.integers(0, 10**7, total).astype(str), 7))
    phone = np.where(messy[:, 4] < 0.05, "NULL", phone)
    kinds = rng.choice(3, total, p=[0.55, 0.35, 0.10])
    pans = _luhn_pans(rng, total, kinds)
    card_no = np.where(messy[:, 3] < 0.3, pans, np.char.add("XXXXXXXXXXXX", np.array([p[-4:] for p in pans])))
    card_type = np.where(messy[:, 3] < 0.1, "", np.array(["VI", "MC", "AX"])[kinds])
    card_type = np.where((messy[:, 3] > 0.95) & (card_type != ""), np.char.lower(card_type.astype(str)), card_type)

    df = pd.DataFrame(
        {
            "CONF_NO": np.where(
                messy[:, 0] < 0.05, np.char.add(" ", res["conf"].to_numpy()[r].astype(str)), res["conf"].to_numpy()[r]
            ),
            "PROP_CD": np.where(messy[:, 0] > 0.9, np.char.add(np.char.lower(legacy.astype(str)), "  "), legacy),
            "RES_STATUS": status,
            "CREATE_TS": _fmt_ts(created, messy[:, 1] < 0.3),
            "LAST_MOD_TS": _fmt_ts(modified, messy[:, 1] < 0.3),
            "EDW_SEQ": (5_000_000 + np.arange(total)).astype(str),
            "ARR_DT": _fmt_date(arrival, messy[:, 2] < 0.5),
            "DEP_DT": _fmt_date(departure, messy[:, 2] < 0.5),
            "ADULTS": res["adults"].to_numpy()[r].astype(str),
            "CHILDREN": res["children"].to_numpy()[r].astype(str),
            "GUEST_FIRST_NM": first,
            "GUEST_LAST_NM": last,
            "GUEST_EMAIL": email,
            "GUEST_PHONE": phone,
            "GUEST_COUNTRY": res["country"].to_numpy()[r],
            "CARD_TYPE": card_type,
            "CARD_NO": card_no,
            "TOTAL_AMT": _fmt_amount(amount, messy[:, 2] > 0.5),
            "CURRENCY_CD": np.where(messy[:, 4] > 0.93, np.char.lower(currency.astype(str)), currency),
            "CHANNEL_CD": res["channel"].to_numpy()[r],
        }
    ).astype(object)

    # --- breakage: the latest version (keyed reasons) or every version (key reasons)
    reason_of_res = broken_reason[r]
    apply_latest = (reason_of_res != "") & (latest | np.isin(reason_of_res, list(UNKEYED)))
    older_rows = np.zeros(total, dtype=bool)
    if n_older:
        # the second-newest version of each chosen reservation
        older_rows = (older_reason[r] != "") & (v == k[r] - 2)
    reason_of_row = np.where(apply_latest, reason_of_res, np.where(older_rows, older_reason[r], ""))
    _break_rows(df, reason_of_row, arrival)

    # --- ground truth from the generation plan
    counts = _expected_counts(k, broken_reason, older_reason)
    dup = rng.random(total) < opts.duplicate_fraction
    counts["duplicates"]["edw"] = int(dup.sum())
    counts["input"]["edw"] = total + int(dup.sum())
    df["_version_row"] = np.arange(total)
    unit = "datetime64[M]" if opts.partition_by == "month" else "datetime64[D]"
    df["_part"] = np.datetime_as_string(modified.astype(unit))  # the local date the version was extracted
    df["_res"] = r
    df["_has_rooms"] = reason_of_row != "MISSING_KEY"
    df["_dup"] = dup
    out = pd.concat([df, df[dup]], ignore_index=True)
    out = out.iloc[rng.permutation(len(out))].reset_index(drop=True)
    # What the HTNG archive builds on, per reservation: the EDW's newest and oldest wall times, final state.
    latest_info = pd.DataFrame(
        {
            "latest_modified": modified[latest],
            "first_created": created[v == 0],
            "status": canonical_status[latest],
            "clean": (broken_reason == "") & (older_reason == ""),
            "first": first[latest],
            "last": last[latest],
            "email": email[latest],
            "phone": np.where(phone[latest] == "NULL", "+1 555 0000000", phone[latest]),
            "currency": currency[latest],
        }
    )
    return out, {"counts": counts, "_latest": latest_info}


def _statuses(
    rng: np.random.Generator,
    res: pd.DataFrame,
    r: np.ndarray,
    latest: np.ndarray,
    arrival: np.ndarray,
    departure: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    today = EXTRACT_TIME.astype("datetime64[D]")
    final = np.where(
        res["canceled"].to_numpy()[r],
        "CANCELLED",
        np.where(departure <= today, "CHECKED_OUT", np.where(arrival <= today, "IN_HOUSE", "CONFIRMED")),
    )
    roll = rng.random(len(r))
    final = np.where((final == "CHECKED_OUT") & (roll < 0.02), "NO_SHOW", final)
    final = np.where((final == "CONFIRMED") & (roll < 0.01), "WAITLISTED", final)
    status = np.where(latest, final, "CONFIRMED")
    pick = rng.integers(0, 4, len(r))
    out = np.empty(len(r), dtype=object)
    for name, spellings in STATUS_TEXT.items():
        mask = status == name
        out[mask] = np.array(spellings, dtype=object)[pick[mask] % len(spellings)]
    return out, status


def _break_rows(df: pd.DataFrame, reason: np.ndarray, arrival: np.ndarray) -> None:
    """Make exactly the named rule fail on each row (and no other rule)."""

    def rows(name: str) -> np.ndarray:
        return np.flatnonzero(reason == name)

    df.loc[rows("MISSING_KEY"), "CONF_NO"] = ""
    df.loc[rows("UNKNOWN_PROPERTY"), "PROP_CD"] = "ZZZ9999"
    df.loc[rows("BAD_TIMESTAMP"), "LAST_MOD_TS"] = "2025-13-45 25:61:00"
    df.loc[rows("BAD_DATE"), "ARR_DT"] = "2025-02-30"
    same = rows("DEPARTURE_NOT_AFTER_ARRIVAL")
    df.loc[same, "DEP_DT"] = df.loc[same, "ARR_DT"].to_numpy()
    df.loc[rows("BAD_AMOUNT"), "TOTAL_AMT"] = "12,3x.00"
    df.loc[rows("BAD_CURRENCY"), "CURRENCY_CD"] = "EURO"
    df.loc[rows("BAD_STATUS"), "RES_STATUS"] = "ZZ"
    df["_reason"] = reason


def _expected_counts(k: np.ndarray, broken: np.ndarray, older: np.ndarray) -> dict[str, Any]:
    by_reason = dict.fromkeys(REASON_CODES, 0)
    clean = broken == ""
    keyed_broken = (~clean) & ~np.isin(broken, list(UNKEYED))
    unkeyed = np.isin(broken, list(UNKEYED))
    loaded = int(clean.sum())
    older_broken = int((older != "").sum())
    superseded = int((k[clean] - 1).sum()) - older_broken
    quarantined = int(k[~clean].sum()) + older_broken
    for name in BROKEN_LATEST:
        mask = broken == name
        by_reason[name] += int(k[mask].sum()) if name in UNKEYED else int(mask.sum())
    by_reason["LATEST_VERSION_INVALID"] = int((k[keyed_broken] - 1).sum())
    for name in BROKEN_OLDER:
        by_reason[name] += int((older == name).sum())
    assert (
        int(k[unkeyed].sum()) + int(keyed_broken.sum()) + by_reason["LATEST_VERSION_INVALID"] + older_broken
        == quarantined
    )
    return {
        "input": {"edw": 0, "htng": 0},
        "superseded": {"edw": superseded, "htng": 0},
        "duplicates": {"edw": 0, "htng": 0},
        "quarantined": {"edw": quarantined, "htng": 0},
        "quarantined_by_reason": by_reason,
        "loaded": {"edw": loaded, "htng": 0},
        "reservations_loaded": loaded,
        "targets": {t: {"written": loaded, "kept_newer": 0, "failed": 0} for t in ("dynamodb", "aurora")},
    }


def _room_stays(
    rng: np.random.Generator, versions: pd.DataFrame, res: pd.DataFrame, opts: Options
) -> tuple[pd.DataFrame, dict[str, int]]:
    base = versions.drop_duplicates("_version_row")
    base = base[base["_has_rooms"].to_numpy()]
    r = base["_res"].to_numpy()
    lines = res["lines"].to_numpy()[r]
    idx = np.repeat(np.arange(len(base)), lines)
    line_no = np.arange(len(idx)) - np.repeat(np.cumsum(lines) - lines, lines) + 1
    rr = r[idx]
    alt = rng.random(len(idx)) < 0.5
    rate = res["adr"].to_numpy()[rr]
    plans = np.array(["BAR", "CORP", "PKG", "AAA", "ADV"])
    rooms = pd.DataFrame(
        {
            "CONF_NO": base["CONF_NO"].to_numpy()[idx],
            "PROP_CD": base["PROP_CD"].to_numpy()[idx],
            "EDW_SEQ": base["EDW_SEQ"].to_numpy()[idx],
            "LINE_NO": line_no.astype(str),
            "ROOM_TYPE_CD": np.char.add(
                res["room_type"].to_numpy()[rr].astype(str), np.array(["K", "Q", "T"])[line_no % 3]
            ),
            "RATE_PLAN_CD": plans[rng.integers(0, len(plans), len(idx))],
            "STAY_START_DT": _fmt_date(res["arrival"].to_numpy()[rr], alt),
            "STAY_END_DT": _fmt_date(res["departure"].to_numpy()[rr], alt),
            "NIGHTLY_RATE": _fmt_amount(rate, rng.random(len(idx)) < 0.5),
            "CURRENCY_CD": base["CURRENCY_CD"].to_numpy()[idx],
            "_part": base["_part"].to_numpy()[idx],  # a line lands with its version (orphans: their copy's)
        }
    )
    dup = base["_dup"].to_numpy()[idx]
    n_orphans = round(len(res) * opts.broken_fraction / 2)
    orphan_src = rng.choice(len(rooms), size=min(n_orphans, len(rooms)), replace=False) if n_orphans else []
    orphans = rooms.iloc[orphan_src].copy()
    orphans["EDW_SEQ"] = (9_000_000_000 + np.arange(len(orphans))).astype(str)
    out = pd.concat([rooms, rooms[dup], orphans], ignore_index=True)
    out = out.iloc[rng.permutation(len(out))].reset_index(drop=True)
    truth = {
        "input": len(out),
        "duplicates": int(dup.sum()),
        "attached": len(rooms),
        "orphaned": len(orphans),
        "excluded_by_selection": 0,
    }
    return out, truth


def _htng_archive(
    rng: np.random.Generator,
    res: pd.DataFrame,
    props: pd.DataFrame,
    latest: pd.DataFrame,
    counts: dict[str, Any],
    opts: Options,
) -> dict[str, Any]:
    """Write DIR/htng/ and add its outcome to ``counts``; returns what was planned, by kind.

    Overlap with the EDW: for some clean reservations a version 2 days newer than the EDW's newest (it wins:
    the EDW's newest becomes superseded) or 2 days older than its oldest (superseded). The 2-day margin
    exceeds any UTC offset, so the order holds however the time is written (Z, +hh:mm, -hhmm, none = hotel
    wall time). Archive-only reservations have one or two versions (the second a modification or an
    OTA_CancelRQ). Some messages are archived twice (duplicates); broken reservations and hostile
    documents are added when the sample has broken data.
    """
    records = _htng_plan(rng, res, props, latest, opts)
    duplicates, files, attacks = _write_htng(rng, records, opts)
    kinds = dict.fromkeys(("newer", "older", "only", "only_second", "broken"), 0)
    for _, rec, kind in records:
        kinds[kind] += 1
        if rec.break_as:
            counts["quarantined_by_reason"][dict(hs.BROKEN_RESERVATIONS)[rec.break_as]] += 1
    # a zero-byte file holds no document: Spark lists it but never reads it (the manifest counts it apart)
    empty = [name for name, doc in attacks.items() if not doc]
    malformed = len(attacks) - len(empty)
    counts["quarantined_by_reason"]["MALFORMED_XML"] += malformed
    counts["loaded"]["edw"] -= kinds["newer"]
    counts["superseded"]["edw"] += kinds["newer"]
    counts["loaded"]["htng"] = kinds["newer"] + kinds["only"]
    counts["superseded"]["htng"] = kinds["older"] + kinds["only_second"]
    counts["quarantined"]["htng"] = kinds["broken"] + malformed
    counts["duplicates"]["htng"] = duplicates
    counts["input"]["htng"] = len(records) + duplicates + malformed
    counts["reservations_loaded"] += kinds["only"]
    for target in counts["targets"].values():
        target["written"] = counts["reservations_loaded"]
    return {
        **kinds,
        "duplicates": duplicates,
        "attack_documents": sorted(attacks),
        "files": files,
        "empty_files": len(empty),
    }


_HtngRecord = tuple[str, hs.HtngReservation, str]  # (message type, reservation, kind)


def _htng_plan(
    rng: np.random.Generator, res: pd.DataFrame, props: pd.DataFrame, latest: pd.DataFrame, opts: Options
) -> list[_HtngRecord]:
    n = len(res)
    clean = np.flatnonzero(latest["clean"].to_numpy())
    n_overlap = min(len(clean), max(4, round(n * opts.htng_fraction)))
    overlap = rng.choice(clean, size=n_overlap, replace=False)
    newer, older = overlap[: n_overlap // 2], overlap[n_overlap // 2 :]
    base = rng.choice(n, size=max(4, round(n * opts.htng_fraction / 2)), replace=False)
    breaks = [b for b, _ in hs.BROKEN_RESERVATIONS] if opts.broken_fraction > 0 else []
    two_days = np.timedelta64(2 * 86400, "s")
    at_most = len(newer) + len(older) + 2 * len(base)  # every base reservation has at most two versions
    pans = iter(_luhn_pans(rng, at_most, np.arange(at_most) % 3))  # one card number per version

    def record(i: int, conf: str, when: np.datetime64, made: np.datetime64, status: str, j: int, **kw: Any):
        return _htng_reservation(res, props, latest, i, conf, when, made, status, j, next(pans), **kw)

    records: list[_HtngRecord] = []
    for j, i in enumerate(newer):
        when = latest["latest_modified"].iat[i] + two_days
        msg = hs.BOOKING_MESSAGES[j % 3] if j % 4 else "OTA_HotelResModifyNotifRQ"
        status = latest["status"].iat[i]
        records.append((msg, record(i, res["conf"].iat[i], when, latest["first_created"].iat[i], status, j), "newer"))
    for j, i in enumerate(older):
        made = latest["first_created"].iat[i] - two_days
        records.append((hs.BOOKING_MESSAGES[j % 3], record(i, res["conf"].iat[i], made, made, "CONFIRMED", j + 1),
                        "older"))  # fmt: skip
    for j, i in enumerate(base):
        conf = str(2_000_000_000 + j)
        made = latest["first_created"].iat[i] + np.timedelta64(3600, "s")
        if j < len(breaks):
            broken = _broken_htng(record(i, conf, made, made, "CONFIRMED", j, break_as=breaks[j]))
            records.append(("OTA_HotelResNotifRQ", broken, "broken"))
            continue
        records.append((hs.BOOKING_MESSAGES[j % 3], record(i, conf, made, made, "CONFIRMED", j + 2), "only"))
        if j % 3 == 0:
            cancel = j % 2 == 0
            second = record(i, conf, made + two_days, made, "CANCELLED" if cancel else "CONFIRMED", j + 3)
            records.append(("OTA_CancelRQ" if cancel else "OTA_HotelResModifyNotifRQ", second, "only_second"))
    return records


def _htng_reservation(
    res: pd.DataFrame,
    props: pd.DataFrame,
    latest: pd.DataFrame,
    i: int,
    conf: str,
    when: np.datetime64,
    made: np.datetime64,
    status: str,
    j: int,
    pan: str,
    **overrides: Any,
) -> hs.HtngReservation:
    """Reservation ``i``'s data as message ``j`` writes it (``j`` picks every variant in turn)."""
    prop = int(res["prop"].iat[i])
    hotel = props["PROPERTY_CODE"].iat[prop] if j % 5 == 0 else props["LEGACY_PROP_CD"].iat[prop]
    cards = (("pan", pan), ("plain", pan), ("mask", "XXXXXXXXXXXX" + pan[-4:]), ("token", f"tok_{j:08d}"), ("", ""))
    arrival = str(res["arrival"].iat[i])[:10]
    fields: dict[str, Any] = {
        "conf": conf,
        "hotel_code": hotel,
        "status_word": hs.status_word(status, j),
        "last_modified": _iso(when, j),
        "created": _iso(made, j),
        "arrival": arrival if j % 4 else arrival + "T15:00:00",
        "departure": str(res["departure"].iat[i])[:10],
        "adults": int(res["adults"].iat[i]),
        "children": int(res["children"].iat[i]),
        "first": latest["first"].iat[i],
        "last": latest["last"].iat[i],
        "email": latest["email"].iat[i],
        "phone": latest["phone"].iat[i],
        "country": res["country"].iat[i] or "PT",
        "currency": latest["currency"].iat[i],
        "nightly": float(res["adr"].iat[i]) + 1.0,
        "rooms": 1 + j % 2,
        "room_type": res["room_type"].iat[i],
        "card": cards[j % 5],
        "card_code": ("VI", "MC", "AX")[j % 3],
        "channel": ("WEB", "GDS", "OTA", "")[j % 4],
    }
    fields.update(overrides)
    return hs.HtngReservation(**fields)


def _write_htng(
    rng: np.random.Generator, records: list[_HtngRecord], opts: Options
) -> tuple[int, int, dict[str, bytes]]:
    """Booking messages carry 1-3 reservations of one kind, the others one each; ~5 % are archived twice.
    Returns (duplicated reservations, files written, hostile documents)."""
    out_dir = opts.out / "htng"
    if out_dir.exists():
        shutil.rmtree(out_dir)
    messages: list[tuple[str, list[hs.HtngReservation], str]] = []
    for msg, rec, kind in records:
        last = messages[-1] if messages else None
        groupable = msg in hs.BOOKING_MESSAGES and kind in ("newer", "older", "only")
        if last and groupable and last[0] == msg and last[2] == kind and len(last[1]) < 1 + len(messages) % 3:
            last[1].append(rec)
        else:
            messages.append((msg, [rec], kind))
    resend = rng.random(len(messages)) < 0.05
    duplicates, first_doc = 0, b""
    for m, (msg, recs, kind) in enumerate(messages):
        doc = hs.render(msg, recs, variant=m, message_id=f"urn:uuid:00000000-0000-4000-8000-{m:012d}", seq=m + 1)
        first_doc = first_doc or doc
        _write_doc(out_dir / f"{2024 + m % 3}/{1 + m % 12:02d}/msg-{m:07d}.xml", doc, gz=m % 3 == 2)
        if resend[m] and kind != "broken":
            _write_doc(out_dir / "resent" / f"msg-{m:07d}-copy.xml", doc, gz=False)
            duplicates += len(recs)
    attacks = hs.attack_documents(first_doc) if opts.broken_fraction > 0 and first_doc else {}
    for name, doc in attacks.items():
        _write_doc(out_dir / "rejected-by-channel" / name, doc, gz=False)
    return duplicates, sum(1 for p in out_dir.rglob("*") if p.is_file()), attacks


def _broken_htng(rec: hs.HtngReservation) -> hs.HtngReservation:
    if rec.break_as == "bad_iso_time":
        return dataclasses.replace(rec, last_modified="2025-02-30T10:00:00Z")
    if rec.break_as == "initiate_status":
        return dataclasses.replace(rec, status_word="Initiate")
    if rec.break_as == "same_day":
        return dataclasses.replace(rec, departure=rec.arrival[:10])
    return rec  # no_time, bad_amount: rendered by the template


def _iso(when: np.datetime64, j: int) -> str:
    """Every ISO 8601 spelling the archive uses, in turn: Z, +hh:mm, -hhmm, none (hotel time), fraction + Z."""
    ts = pd.Timestamp(when)
    style = j % 5
    if style == 1:
        return (ts + pd.Timedelta(hours=5, minutes=30)).strftime("%Y-%m-%dT%H:%M:%S") + "+05:30"
    if style == 2:
        return (ts - pd.Timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%S") + "-0500"
    if style == 3:
        return ts.strftime("%Y-%m-%dT%H:%M:%S")
    if style == 4:
        return ts.strftime("%Y-%m-%dT%H:%M:%S") + ".250Z"
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def _write_doc(path: Path, doc: bytes, *, gz: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(doc, mtime=0))
    else:
        path.write_bytes(doc)


def _write(opts: Options, rel: str, df: pd.DataFrame, files: int) -> None:
    folder = opts.out / rel
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    if opts.partition_by != "none" and "_part" in df.columns:
        for i, (value, group) in enumerate(df.groupby("_part", sort=True)):
            _write_files(opts, folder / f"{PARTITION_COLUMN}={value}", group, 1, first=i)
        return
    _write_files(opts, folder, df, files)


def _write_files(opts: Options, folder: Path, df: pd.DataFrame, files: int, first: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    data = df[[c for c in df.columns if not c.startswith("_")]]
    table = pa.Table.from_pandas(data.astype(str).replace({"nan": ""}), preserve_index=False)
    table = table.cast(pa.schema([pa.field(c, pa.string()) for c in table.column_names]))
    bounds = np.linspace(0, table.num_rows, files + 1).astype(int)
    for part, (lo, hi) in enumerate(itertools.pairwise(bounds), start=first):
        chunk = table.slice(lo, hi - lo)
        if opts.fmt == "parquet":
            pq.write_table(chunk, folder / f"part-{part:05d}.parquet")
            continue
        # Every other file gzip: real EDW drops mix both.
        name = folder / (f"part-{part:05d}.csv.gz" if part % 2 else f"part-{part:05d}.csv")
        stream = pa.CompressedOutputStream(str(name), "gzip") if part % 2 else pa.OSFile(str(name), "wb")
        with stream:
            stream.write(("|".join(chunk.column_names) + "\n").encode("utf-8"))
            pacsv.write_csv(
                chunk, stream, pacsv.WriteOptions(delimiter="|", quoting_style="none", include_header=False)
            )


if __name__ == "__main__":
    sys.exit(main())
