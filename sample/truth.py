"""``ground_truth.json``: the counts the migration must report, derived from how the data was generated (never
by running it)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from sample.htng import BROKEN_RESERVATIONS
from sample.htng_archive import Archive
from sample.options import Options
from sample.vocabulary import BROKEN_LATEST, BROKEN_OLDER, UNKEYED
from transforms.rules import REASON_CODES


def edw_counts(
    per_reservation: np.ndarray, latest_reason: np.ndarray, older_reason: np.ndarray, duplicates: int
) -> dict[str, Any]:
    """The EDW extract's outcome: per reservation its number of versions, the rule its newest and its
    second-newest version break ("" = none); ``duplicates`` rows extracted twice."""
    by_reason = dict.fromkeys(REASON_CODES, 0)
    clean = latest_reason == ""
    unkeyed = np.isin(latest_reason, list(UNKEYED))
    keyed_broken = (~clean) & ~unkeyed
    loaded = int(clean.sum())
    older_broken = int((older_reason != "").sum())
    superseded = int((per_reservation[clean] - 1).sum()) - older_broken
    quarantined = int(per_reservation[~clean].sum()) + older_broken
    for name in BROKEN_LATEST:
        mask = latest_reason == name
        by_reason[name] += int(per_reservation[mask].sum()) if name in UNKEYED else int(mask.sum())
    by_reason["LATEST_VERSION_INVALID"] = int((per_reservation[keyed_broken] - 1).sum())
    for name in BROKEN_OLDER:
        by_reason[name] += int((older_reason == name).sum())
    assert (
        int(per_reservation[unkeyed].sum())
        + int(keyed_broken.sum())
        + by_reason["LATEST_VERSION_INVALID"]
        + older_broken
        == quarantined
    )
    return {
        "input": {"edw": int(per_reservation.sum()) + duplicates, "htng": 0},
        "superseded": {"edw": superseded, "htng": 0},
        "duplicates": {"edw": duplicates, "htng": 0},
        "quarantined": {"edw": quarantined, "htng": 0},
        "quarantined_by_reason": by_reason,
        "loaded": {"edw": loaded, "htng": 0},
        "reservations_loaded": loaded,
        "targets": {t: {"written": loaded, "kept_newer": 0, "failed": 0} for t in ("dynamodb", "aurora")},
    }


def room_stay_counts(attached: int, duplicates: int, orphaned: int) -> dict[str, int]:
    return {
        "input": attached + duplicates + orphaned,
        "duplicates": duplicates,
        "attached": attached,
        "orphaned": orphaned,
        "excluded_by_selection": 0,
    }


def add_htng(counts: dict[str, Any], archive: Archive) -> dict[str, Any]:
    """Add the HTNG archive's outcome to ``counts``; returns the ground truth's ``htng`` section (its
    reservation versions by kind, duplicates, hostile documents and files)."""
    kinds = dict.fromkeys(("newer", "older", "only", "only_second", "broken"), 0)
    reason_of = dict(BROKEN_RESERVATIONS)
    for _, reservation, kind in archive.records:
        kinds[kind] += 1
        if reservation.break_as:
            counts["quarantined_by_reason"][reason_of[reservation.break_as]] += 1
    # a zero-byte file holds no document: Spark lists it but never reads it (the manifest counts it apart)
    empty = [name for name, doc in archive.attacks.items() if not doc]
    malformed = len(archive.attacks) - len(empty)
    counts["quarantined_by_reason"]["MALFORMED_XML"] += malformed
    counts["loaded"]["edw"] -= kinds["newer"]  # the archive's newer version supersedes the EDW's newest
    counts["superseded"]["edw"] += kinds["newer"]
    counts["loaded"]["htng"] = kinds["newer"] + kinds["only"]
    counts["superseded"]["htng"] = kinds["older"] + kinds["only_second"]
    counts["quarantined"]["htng"] = kinds["broken"] + malformed
    counts["duplicates"]["htng"] = archive.duplicates
    counts["input"]["htng"] = len(archive.records) + archive.duplicates + malformed
    counts["reservations_loaded"] += kinds["only"]
    for target in counts["targets"].values():
        target["written"] = counts["reservations_loaded"]
    return {
        **kinds,
        "duplicates": archive.duplicates,
        "attack_documents": sorted(archive.attacks),
        "files": archive.files,
        "empty_files": len(empty),
    }


def write(opts: Options, counts: dict[str, Any], htng: dict[str, Any] | None) -> dict[str, Any]:
    """``DIR/ground_truth.json`` (the counts, the archive's plan when there is one, the options); returns it."""
    truth: dict[str, Any] = {"counts": counts, "room_stays": counts["room_stays"]}
    if htng is not None:
        truth["htng"] = htng
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
