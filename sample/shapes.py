"""Distributions from the real hotel-booking dataset: each generated reservation copies a random real
booking's lead time, nights, party, country, rate, channel, room type and cancellation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sample.vocabulary import CHANNELS, FIRST_NAMES, HISTORY_START, LAST_NAMES, N_PROPERTIES

BOOKING_COLUMNS: tuple[str, ...] = (
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
)


def bookings(path: Path) -> pd.DataFrame:
    """The real dataset's :data:`BOOKING_COLUMNS` (text as written: ``NULL``, ``NA``), or when ``path`` is not
    a file a small synthetic table with similar marginals."""
    if path.is_file():
        return pd.read_csv(
            path, usecols=list(BOOKING_COLUMNS), keep_default_na=False, dtype={"children": str, "country": str}
        )
    return _synthetic_bookings()


def _synthetic_bookings() -> pd.DataFrame:
    draw = np.random.default_rng(0)  # its own generator: the sample's draws are the same either way
    n = 10_000
    return pd.DataFrame(
        {
            "is_canceled": (draw.random(n) < 0.37).astype(int),
            "lead_time": draw.gamma(1.0, 100, n).astype(int),
            "stays_in_weekend_nights": draw.integers(0, 3, n),
            "stays_in_week_nights": draw.integers(0, 6, n),
            "adults": draw.integers(1, 4, n),
            "children": np.where(draw.random(n) < 0.9, "0", "1"),
            "country": draw.choice(["PRT", "GBR", "FRA", "ESP", "DEU", "NULL"], n),
            "adr": draw.gamma(4, 25, n),
            "distribution_channel": draw.choice(list(CHANNELS), n),
            "reserved_room_type": draw.choice(list("ADEFG"), n),
            "meal": draw.choice(["BB", "HB", "SC"], n),
        }
    )


def reservations(rng: np.random.Generator, n: int, shapes: pd.DataFrame) -> pd.DataFrame:
    """One row per reservation: its property (a few are busy, most are quiet), confirmation number, creation
    time, stay and the real booking it copies; ``versions`` is how many versions the EDW holds, ``lines`` its
    room stays, ``first``/``last`` index the guest names."""
    pick = shapes.iloc[rng.integers(0, len(shapes), n)].reset_index(drop=True)
    rank = np.arange(1, N_PROPERTIES + 1, dtype=float)
    busyness = 1.0 / rank**0.6
    prop = rng.permutation(N_PROPERTIES)[rng.choice(N_PROPERTIES, n, p=busyness / busyness.sum())]
    nights = np.clip(pick["stays_in_weekend_nights"].to_numpy() + pick["stays_in_week_nights"].to_numpy(), 1, 30)
    span = int((np.datetime64("2026-10-01") - HISTORY_START) / np.timedelta64(1, "s"))
    created = HISTORY_START + rng.integers(0, span, n).astype("timedelta64[s]")
    lead = np.clip(pick["lead_time"].to_numpy(), 0, 300).astype("timedelta64[D]")
    arrival = created.astype("datetime64[D]") + lead
    adr = np.abs(pd.to_numeric(pick["adr"], errors="coerce").fillna(0).to_numpy())
    children = pd.to_numeric(pick["children"], errors="coerce").fillna(0).astype(int).to_numpy()
    ordinal = np.arange(n, dtype=np.int64)
    return pd.DataFrame(
        {
            "prop": prop,
            "conf": (1_000_000_000 + (ordinal * 387_420_489 + 12_345) % 1_000_000_000).astype(str),
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
            "versions": rng.choice([1, 2, 3, 4], n, p=[0.55, 0.25, 0.12, 0.08]),
            "lines": rng.choice([1, 2, 3], n, p=[0.8, 0.15, 0.05]),
        }
    )
