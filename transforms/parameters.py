"""Parameters of the row rules, handed in from the configuration (``quality.rules`` in conf/base.yaml)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True)
class ValueRanges:
    """Plausible values (the quality suite checks the clean set against the same ones): a version outside
    them is OUT_OF_RANGE."""

    arrival: tuple[date, date]
    nights: tuple[int, int]
    max_adults: int
    max_children: int


@dataclass(frozen=True)
class RuleParameters:
    """What the row rules accept; the values live in conf/, never in code."""

    currencies: frozenset[str]
    edw_status: Mapping[str, str]  # EDW RES_STATUS code -> canonical status
    htng_status: Mapping[str, str]  # OTA ResStatus word (upper case, letters only) -> canonical status
    htng_default_status: str  # the word assumed when a reservation message carries none
    # plausible (last_modified, created_at), UTC: a time outside [floor, run start + skew] is BAD_TIMESTAMP
    timestamp_window: tuple[datetime, datetime] | None = None
    ranges: ValueRanges | None = None  # None: no OUT_OF_RANGE rule
