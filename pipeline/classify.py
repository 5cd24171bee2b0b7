"""Classify: every version normalized, validated and given its outcome (one latest-wins window over both
sources), counted per source, outcome and reason; orphan room-stay lines found and counted."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from pipeline.config import Config
from pipeline.extract import Extracted
from pipeline.manifest import BUCKETS, SOURCES
from pipeline.options import RunOptions
from transforms import (
    REASON_CODES,
    classify_versions,
    filter_orphan_room_stays,
    group_room_stays,
    to_canonical_htng,
    to_edw_versions,
    to_room_stay_lines,
)
from transforms.held_back import with_held_back

log = logging.getLogger("migration")


@dataclass(frozen=True)
class VersionCounts:
    """The manifest's version counts: per source for ``input`` and each outcome bucket, per reason."""

    by_bucket: dict[str, dict[str, int]]  # input, superseded, duplicates, quarantined, loaded -> source -> n
    by_reason: dict[str, int]
    excluded_by_selection: int | None  # versions read but outside the window or the hotels (None: no selection)
    room_stays: dict[str, int]


@dataclass(frozen=True)
class Classified:
    versions_df: DataFrame  # every selected version with outcome and reasons, persisted
    orphans_df: DataFrame  # room-stay lines of no version at all
    counts: VersionCounts
    htng_files_read: int | None  # archive files that held a document (None: no archive)


def classify(
    extracted: Extracted, cfg: Config, opts: RunOptions, *, started_at: datetime, held_df: DataFrame | None
) -> Classified:
    """``started_at``: the run's start (a version time after it, plus the configured skew, is implausible);
    ``held_df``: the held-back registry of earlier runs (None: not read)."""
    rules = cfg.quality.rules.parameters(started_at)
    props = extracted.properties_df
    edw_versions = to_edw_versions(extracted.reservations_df, props, rules=rules)
    lines = to_room_stay_lines(extracted.room_stays_df, props)
    grouped = group_room_stays(lines, currencies=rules.currencies).persist(StorageLevel.MEMORY_AND_DISK)
    htng_versions = to_canonical_htng(extracted.htng_df, props, rules=rules) if extracted.htng_df is not None else None
    if htng_versions is not None and opts.selecting:  # counted twice below: parse the archive once
        htng_versions = htng_versions.persist(StorageLevel.MEMORY_AND_DISK)
    versions = classify_versions(
        _selected(edw_versions, opts),
        grouped,
        rules=rules,
        htng_versions_df=_selected(htng_versions, opts) if htng_versions is not None else None,
    )
    if held_df is not None:
        versions = with_held_back(versions, held_df)
    versions = versions.persist(StorageLevel.MEMORY_AND_DISK)
    by_bucket, by_reason = _count_versions(versions)
    htng_files_read = None
    if htng_versions is not None:
        read_from = htng_versions if opts.selecting else versions.filter(F.col("source") == "HTNG")
        htng_files_read = int(read_from.agg(F.countDistinct("input_file")).first()[0])  # type: ignore[index]
        htng_files = extracted.input_files["htng"]
        if htng_files["files"] > htng_files_read:  # Spark skips zero-byte files: they hold no document
            log.warning("htng: %d empty file(s) under %s hold no document",
                        htng_files["files"] - htng_files_read, htng_files["root"])  # fmt: skip
    excluded = None
    if opts.selecting:
        everything = edw_versions.count() + (htng_versions.count() if htng_versions is not None else 0)
        excluded = everything - sum(by_bucket["input"].values())
        if htng_versions is not None:
            htng_versions.unpersist()  # the versions (persisted, counted) hold what is still needed
        known = edw_versions
    else:
        known = versions.filter(F.col("source") == "EDW")
    room_stays = _count_room_stays(grouped, versions.filter(F.col("source") == "EDW"), known)
    return Classified(
        versions_df=versions,
        orphans_df=filter_orphan_room_stays(grouped, known),
        counts=VersionCounts(by_bucket, by_reason, excluded, room_stays),
        htng_files_read=htng_files_read,
    )


def _selected(versions: DataFrame, opts: RunOptions) -> DataFrame:
    out = versions
    if opts.date_from:
        out = out.filter(F.to_date("last_modified") >= F.lit(opts.date_from))
    if opts.date_to:
        out = out.filter(F.to_date("last_modified") <= F.lit(opts.date_to))
    if opts.properties:
        out = out.filter(F.col("property_code").isin(list(opts.properties)))
    return out


def _count_versions(versions: DataFrame) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """Per source and outcome, and per reason (aggregates only: a few dozen rows reach the driver)."""
    by_bucket = {bucket: dict.fromkeys(SOURCES, 0) for bucket in ("input", *BUCKETS)}
    for row in versions.groupBy("source", "outcome").count().collect():
        bucket = {"duplicate": "duplicates"}.get(row["outcome"], row["outcome"])
        source = row["source"].lower()
        by_bucket["input"][source] += row["count"]
        by_bucket[bucket][source] += row["count"]
    by_reason = dict.fromkeys(REASON_CODES, 0)
    reasons = (
        versions.filter(F.col("outcome") == "quarantined")
        .select(F.explode("reasons").alias("reason"))
        .groupBy("reason")
        .count()
        .collect()
    )
    for row in reasons:
        by_reason[row["reason"]] = row["count"]
    return by_bucket, by_reason


def _count_room_stays(grouped: DataFrame, selected: DataFrame, known: DataFrame) -> dict[str, int]:
    """Room-stay rows and lines in one aggregation: attached to a selected version, or to no version at all."""
    key = ["group_property", "confirmation_no", "source_seq"]
    flagged = grouped.join(selected.select(*key, F.lit(True).alias("_selected")).dropDuplicates(key), key, "left")
    flagged = flagged.join(known.select(*key, F.lit(True).alias("_known")).dropDuplicates(key), key, "left")
    lines = F.col("room_stay_lines")
    total: Any = flagged.agg(
        F.coalesce(F.sum("room_stay_rows"), F.lit(0)).alias("rows"),
        F.coalesce(F.sum(lines), F.lit(0)).alias("lines"),
        F.coalesce(F.sum(F.when(F.col("_selected"), lines)), F.lit(0)).alias("attached"),
        F.coalesce(F.sum(F.when(F.col("_known").isNull(), lines)), F.lit(0)).alias("orphaned"),
    ).first()
    out = {
        "input": int(total["rows"]),
        "duplicates": int(total["rows"] - total["lines"]),
        "attached": int(total["attached"]),
        "orphaned": int(total["orphaned"]),
    }
    out["excluded_by_selection"] = out["input"] - out["duplicates"] - out["attached"] - out["orphaned"]
    return out
