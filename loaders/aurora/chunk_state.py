"""A task's rows chunk after chunk (resume markers, exact transactions), and the load's entry point."""

from __future__ import annotations

import time
from collections.abc import Iterator
from functools import partial
from typing import Any

import pyarrow as pa
from pyspark.sql import DataFrame

from loaders.aurora.rows import copy_frame
from loaders.aurora.settings import AuroraSettings
from loaders.aurora.writer import Loader
from loaders.chunks import CHUNK, Markers, add_counters, pieces
from loaders.outcomes import OUTCOME_SCHEMA, WriteStats, outcome_batch, save_and_summarize
from loaders.progress import ProgressFile, task_part


class _ChunkLoad:
    """One task's rows, chunk after chunk: skips, transactions, completion markers."""

    def __init__(self, settings: AuroraSettings) -> None:
        self.s = settings
        self.loader = Loader(settings)
        self.markers, self.done = Markers(settings.markers_uri), settings.done or {}
        self.recorded: dict[str, Any] = {}  # counters of the chunks an earlier attempt finished
        self.chunk: int | None = None
        self.marked = False  # whether this chunk gets a completion marker (chunked input)
        self.before: dict[str, int] = {}
        self.held: list[pa.RecordBatch] = []
        self.held_rows = self.sub = 0

    def counters(self) -> dict[str, int]:
        loader = self.loader
        return {"written": loader.written, "kept_newer": loader.kept_newer, "failed": len(loader.failures),
                "retries": loader.retries}  # fmt: skip

    def feed(self, chunk: int, marked: bool, piece: pa.RecordBatch) -> None:
        if chunk != self.chunk:
            self.end()
            self.chunk, self.marked, self.before, self.sub = chunk, marked, self.counters(), 0
        if marked and chunk in self.done:
            return
        size = self.s.rows_per_transaction
        while piece.num_rows:  # transactions of exactly `size` rows from the chunk's first row
            take = min(piece.num_rows, size - self.held_rows)
            self.held.append(piece.slice(0, take))
            self.held_rows, piece = self.held_rows + take, piece.slice(take)
            if self.held_rows == size:
                self._commit()

    def end(self) -> None:
        if self.chunk is None:
            return
        if self.marked and self.chunk in self.done:
            add_counters(self.recorded, self.done[self.chunk])
        else:
            if self.held:
                self._commit()
            delta = {k: v - self.before[k] for k, v in self.counters().items()}
            if self.marked and not delta["failed"]:
                self.markers.mark(self.chunk, delta)
        self.chunk = None

    def _commit(self) -> None:
        assert self.chunk is not None
        if self.s.path == "initial":
            self.loader.insert_chunk(self.chunk, self.sub, self.held)
        else:
            self.loader.upsert(self.held)
        self.held, self.held_rows, self.sub = [], 0, self.sub + 1


def load_batches(batches: Iterator[pa.RecordBatch], *, settings: AuroraSettings) -> Iterator[pa.RecordBatch]:
    """mapInArrow body: load this task's rows, then yield its outcome rows.

    Rows arrive sorted by load chunk (``loaders.chunks``), then key. A chunk done by an earlier attempt of
    the run is skipped (its recorded counters count instead); a chunk loaded with nothing failed gets its
    completion marker. The initial path commits a chunk in transactions of exactly ``rows_per_transaction``
    rows counted from the chunk's first row, each with its marker row in ``migration_load_parts``: whatever
    batches the rows come in, a retried or resumed chunk finds the same transactions and skips those that
    committed. (Unchunked input: the task's rows are one chunk, numbered by the task's partition.)"""
    started = time.monotonic()
    part = task_part()
    progress = ProgressFile(settings.progress_uri, part, settings.progress_interval_s, prefix=settings.progress_prefix)
    load = _ChunkLoad(settings)
    loader = load.loader
    try:
        for batch in batches:
            if CHUNK in batch.schema.names:
                for chunk, piece in pieces(iter([batch])):
                    load.feed(chunk, True, piece)
            elif batch.num_rows:
                load.feed(part, False, batch)
            progress.update(**_progress(load.counters()))
        load.end()
    finally:
        loader._close()
    progress.update(force=True, **_progress(load.counters()))
    summary: dict[str, Any] = {**load.counters(), "write_units": 0.0, "throttles": 0}
    add_counters(summary, load.recorded)
    summary["seconds"] = time.monotonic() - started
    yield outcome_batch(summary, loader.failures)


def load_aurora(
    df: DataFrame, *, settings: AuroraSettings, max_connections: int, results_path: str, failed_path: str
) -> WriteStats:
    """Load ``df`` with at most ``max_connections`` concurrent connections; return the summed outcome.

    At most ``max_connections`` partitions (coalesced: no shuffle), each sorted by load chunk and key: a
    retried or resumed chunk sees the same rows in the same order whatever order its input blocks arrive
    in (the initial load's transaction markers rely on it), and the tables and their indexes are written
    in key order.
    """
    flat = copy_frame(df, settings.run_id).coalesce(max_connections)  # no-op when there are fewer partitions
    order = [CHUNK] if CHUNK in flat.columns else []
    parts = flat.sortWithinPartitions(*order, "property_code", "confirmation_no")
    outcomes = parts.mapInArrow(partial(load_batches, settings=settings), OUTCOME_SCHEMA)
    return save_and_summarize(outcomes, results_path=results_path, failed_path=failed_path)


def _progress(counters: dict[str, int]) -> dict[str, Any]:
    """A progress file's counters: items done (written, kept or failed) and each of them."""
    return {"done": counters["written"] + counters["kept_newer"] + counters["failed"], **counters}
