"""What one generation is asked for (the command line's options, see :mod:`sample.cli`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# The folder column of date-partitioned extracts: edw/<table>/LAST_MOD_DT=<date>/.
PARTITION_COLUMN = "LAST_MOD_DT"
ROOT = Path(__file__).resolve().parent.parent
# The real hotel-booking dataset beside the checkout (the generator falls back to synthetic shapes without it).
DEFAULT_BOOKINGS = ROOT.parent / "shared" / "data" / "hotel_bookings" / "hotels.csv.gz"


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
    bookings: Path = DEFAULT_BOOKINGS  # the real dataset's shapes; synthetic ones when the file is absent
