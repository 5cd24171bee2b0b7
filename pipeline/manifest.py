"""Manifest counts: the SPEC shape and the nothing-lost equations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from transforms.rules import REASON_CODES

SOURCES: tuple[str, ...] = ("edw", "htng")
BUCKETS: tuple[str, ...] = ("superseded", "duplicates", "quarantined", "loaded")


def empty_counts(targets: Sequence[str]) -> dict[str, Any]:
    counts: dict[str, Any] = {"input": dict.fromkeys(SOURCES, 0)}
    for bucket in BUCKETS:
        counts[bucket] = dict.fromkeys(SOURCES, 0)
    counts["quarantined_by_reason"] = dict.fromkeys(REASON_CODES, 0)
    counts["reservations_loaded"] = 0
    counts["targets"] = {t: {"written": 0, "kept_newer": 0, "failed": 0} for t in targets}
    return counts


def count_problems(counts: Mapping[str, Any], *, targets: Sequence[str], sent: bool) -> list[str]:
    """Every equation of SPEC that does not hold, as text (empty when all hold).

    ``sent``: the clean reservations went on to the targets (or to the dry-run plan), so
    ``reservations_loaded`` must equal the loaded versions; a gate-failed run sent nothing.
    """
    problems = []
    for source in SOURCES:
        parts = sum(counts[b][source] for b in BUCKETS)
        if counts["input"][source] != parts:
            problems.append(
                f"{source}: input {counts['input'][source]} != superseded+duplicates+quarantined+loaded {parts}"
            )
    loaded = sum(counts["loaded"].values())
    if sent and counts["reservations_loaded"] != loaded:
        problems.append(f"reservations_loaded {counts['reservations_loaded']} != loaded versions {loaded}")
    for target in targets:
        t = counts["targets"][target]
        if t["written"] + t["kept_newer"] + t["failed"] != counts["reservations_loaded"]:
            problems.append(
                f"{target}: written+kept_newer+failed {t['written'] + t['kept_newer'] + t['failed']} "
                f"!= reservations_loaded {counts['reservations_loaded']}"
            )
    rooms = counts.get("room_stays")
    if rooms:
        parts = rooms["duplicates"] + rooms["attached"] + rooms["orphaned"] + rooms.get("excluded_by_selection", 0)
        if rooms["input"] != parts or rooms.get("excluded_by_selection", 0) < 0:
            problems.append(f"room_stays: input {rooms['input']} != duplicates+attached+orphaned {parts}")
    return problems
