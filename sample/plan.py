"""The plan of the EDW extract's versions: how many each reservation has, when each was written, and which
ones are broken and how (decided per reservation, applied per version)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sample.vocabulary import BROKEN_LATEST, BROKEN_OLDER, UNKEYED

# Days with a DST change (spring gap, autumn overlap; both hemispheres): a few versions are stamped near them.
DST_CHANGES = np.array(
    ["2025-03-09", "2025-03-30", "2025-04-06", "2025-10-05", "2025-10-26", "2025-11-02"], dtype="datetime64[D]"
)


@dataclass(frozen=True)
class VersionRows:
    """One row per reservation version: reservations in order, each one's versions oldest first."""

    per_reservation: np.ndarray  # how many versions each reservation has
    reservation: np.ndarray  # row -> its reservation
    number: np.ndarray  # row -> 0 for its reservation's oldest version, 1 for the next one, ...
    first_row: np.ndarray  # row -> the row of its reservation's oldest version

    @classmethod
    def of(cls, per_reservation: np.ndarray) -> VersionRows:
        first_rows = np.cumsum(per_reservation) - per_reservation
        reservation = np.repeat(np.arange(len(per_reservation)), per_reservation)
        first_row = np.repeat(first_rows, per_reservation)
        return cls(per_reservation, reservation, np.arange(len(reservation)) - first_row, first_row)

    @property
    def count(self) -> int:
        return len(self.reservation)

    @property
    def siblings(self) -> np.ndarray:
        """Row -> how many versions its reservation has."""
        return self.per_reservation[self.reservation]

    @property
    def is_latest(self) -> np.ndarray:
        return self.number == self.siblings - 1

    def spread(self, per_reservation: np.ndarray) -> np.ndarray:
        """A per-reservation value on each of its rows."""
        return per_reservation[self.reservation]


@dataclass(frozen=True)
class BrokenPlan:
    """Per reservation, the rule its newest version breaks ("" = none: those of :data:`UNKEYED` break every
    version) and, for reservations with a valid newest version, the rule its second-newest one breaks."""

    latest: np.ndarray
    older: np.ndarray

    @property
    def clean(self) -> np.ndarray:
        return (self.latest == "") & (self.older == "")


def broken_plan(rng: np.random.Generator, per_reservation: np.ndarray, fraction: float) -> BrokenPlan:
    """``fraction`` of the reservations with a broken newest version (each rule of :data:`BROKEN_LATEST` in
    turn), and half as many others with a broken second-newest one (:data:`BROKEN_OLDER` in turn)."""
    n = len(per_reservation)
    n_latest = round(n * fraction)
    chosen = rng.choice(n, size=n_latest, replace=False) if n_latest else np.array([], dtype=int)
    latest = _in_turn(n, chosen, BROKEN_LATEST)
    candidates = np.flatnonzero((per_reservation >= 2) & (latest == ""))
    n_older = min(len(candidates), round(n * fraction / 2))
    chosen_older = rng.choice(candidates, size=n_older, replace=False) if n_older else np.array([], dtype=int)
    return BrokenPlan(latest, _in_turn(n, chosen_older, BROKEN_OLDER))


def _in_turn(n: int, chosen: np.ndarray, reasons: tuple[str, ...]) -> np.ndarray:
    """Per reservation: the ``chosen`` ones get ``reasons`` in turn, the others ""."""
    reason = np.full(n, "", dtype=object)
    reason[chosen] = np.array(reasons, dtype=object)[np.arange(len(chosen)) % len(reasons)]
    return reason


def version_times(
    rng: np.random.Generator, rows: VersionRows, created_per_reservation: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(created, modified) per row: the first version at the reservation's creation, later ones 3 hours to
    ~10 days apart (3 hours at least: their order survives DST changes). A few single-version reservations are
    created and modified near a DST change instead."""
    gaps = (3 * 3600 + np.minimum(rng.exponential(4 * 86400, rows.count), 10 * 86400)).astype("int64")
    gaps[rows.number == 0] = 0
    elapsed = np.cumsum(gaps)
    since_creation = elapsed - elapsed[rows.first_row]
    created = rows.spread(created_per_reservation)
    modified = created + since_creation.astype("timedelta64[s]")
    near_dst = (rows.siblings == 1) & (rng.random(rows.count) < 0.04)
    past_midnight = rng.integers(0, 4 * 3600, rows.count).astype("timedelta64[s]") + np.timedelta64(3600, "s")
    dst_time = DST_CHANGES[rng.integers(0, len(DST_CHANGES), rows.count)].astype("datetime64[s]") + past_midnight
    return np.where(near_dst, dst_time, created), np.where(near_dst, dst_time, modified)


def row_reasons(rows: VersionRows, broken: BrokenPlan) -> np.ndarray:
    """Per row, the rule it breaks: the newest version (every version for the unkeyed reasons) of a broken
    reservation, the second-newest version of one with a broken older version."""
    latest_reason = rows.spread(broken.latest)
    older_reason = rows.spread(broken.older)
    on_latest = (latest_reason != "") & (rows.is_latest | np.isin(latest_reason, list(UNKEYED)))
    on_older = (older_reason != "") & (rows.number == rows.siblings - 2)
    return np.where(on_latest, latest_reason, np.where(on_older, older_reason, ""))
