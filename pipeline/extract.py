"""Extract: the property reference, the EDW extracts and the HTNG archive (only the window's folders of
date-partitioned layouts), with the files read and the folders pruned."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from pipeline.config import Config, DatePartitionConfig, SourceConfig
from pipeline.options import RunOptions
from readers.edw import InputError, read_properties, read_reservations, read_room_stays
from readers.fingerprint import archive_fingerprint, files_fingerprint
from readers.htng import read_htng
from readers.partitions import Selection, select_partitions
from transforms import to_canonical_properties

log = logging.getLogger("migration")


@dataclass(frozen=True)
class Extracted:
    properties_df: DataFrame  # canonical property reference, persisted
    reservations_df: DataFrame  # raw EDW versions, every column as text
    room_stays_df: DataFrame  # raw EDW room-stay lines
    htng_df: DataFrame | None  # parsed HTNG records (None: no archive, or no folder in the window)
    input_files: dict[str, Any]
    input_partitions: dict[str, Any]
    fingerprints: dict[str, Any]  # what each input read is (files, sizes, times): a resume must read the same


def extract(spark: SparkSession, cfg: Config, opts: RunOptions) -> Extracted:
    fingerprints: dict[str, Any] = {}
    properties_df = to_canonical_properties(
        read_properties(
            spark,
            cfg.input.properties.path or "",
            fmt=cfg.input.properties.format,
            delimiter=cfg.input.properties.delimiter,
        )
    ).persist(StorageLevel.MEMORY_AND_DISK)
    reservations_df, res_sel = _read_edw(spark, read_reservations, cfg.input.reservations, opts, "input.reservations")
    room_stays_df, rs_sel = _read_edw(spark, read_room_stays, cfg.input.room_stays, opts, "input.room_stays")
    input_files: dict[str, Any] = {
        "edw_reservations": [] if res_sel.empty else sorted(reservations_df.inputFiles()),
        "edw_room_stays": [] if rs_sel.empty else sorted(room_stays_df.inputFiles()),
    }
    partitions = {"edw_reservations": res_sel.summary, "edw_room_stays": rs_sel.summary}
    if not opts.dry_run:  # (a dry run records nothing a resume could need)
        fingerprints["reservations"] = files_fingerprint(spark, [] if res_sel.empty else res_sel.paths)
        fingerprints["room_stays"] = files_fingerprint(spark, [] if rs_sel.empty else rs_sel.paths)
        fingerprints["properties"] = files_fingerprint(spark, [cfg.input.properties.path or ""])
    htng_df = None
    if cfg.input.htng.path:
        htng_cfg = cfg.input.htng
        htng_sel = _partitions(spark, htng_cfg.path, htng_cfg.date_partition, opts, "input.htng")
        partitions["htng"] = htng_sel.summary
        if not htng_sel.empty:
            htng_df = read_htng(
                spark,
                htng_sel.paths,
                max_document_bytes=htng_cfg.max_document_bytes,
                confirmation_types=htng_cfg.confirmation_types,
            )
        if not opts.dry_run:
            fingerprints["htng"] = archive_fingerprint(spark, [] if htng_sel.empty else htng_sel.paths)
        # An archive can hold millions of files: their number and root, not the list.
        files = len(htng_df.inputFiles()) if htng_df is not None else 0
        input_files["htng"] = {"root": htng_cfg.path, "files": files}
    return Extracted(
        properties_df=properties_df,
        reservations_df=reservations_df,
        room_stays_df=room_stays_df,
        htng_df=htng_df,
        input_files=input_files,
        input_partitions={name: s for name, s in partitions.items() if s is not None},
        fingerprints=fingerprints,
    )


def _partitions(
    spark: SparkSession, root: str | None, layout: DatePartitionConfig | None, opts: RunOptions, what: str
) -> Selection:
    """The folders of a date-partitioned input that can hold rows of the window (all of them without one)."""
    if not root:
        raise InputError(f"{what}.path: not set")
    chosen = select_partitions(
        spark,
        root,
        column=layout.column if layout else None,
        slack_days=layout.slack_days if layout else 0,
        date_from=opts.date_from,
        date_to=opts.date_to,
        what=what,
    )
    if chosen.summary:
        s = chosen.summary
        log.info("%s: %d %s folder(s) read for %s..%s, %d skipped", what, s["folders_read"], s["column"],
                 s["dates"][0] or "", s["dates"][1] or "", s["folders_skipped"])  # fmt: skip
    return chosen


def _read_edw(
    spark: SparkSession, reader: Callable[..., DataFrame], src: SourceConfig, opts: RunOptions, what: str
) -> tuple[DataFrame, Selection]:
    chosen = _partitions(spark, src.path, src.date_partition, opts, what)
    df = reader(
        spark, chosen.paths, base_path=chosen.base_path, fmt=src.format, delimiter=src.delimiter, columns=src.columns
    )
    # no folder in the window: the layout's columns (from one file's header), no rows, nothing scanned
    return (df.where(F.lit(False)) if chosen.empty else df), chosen
