"""Deterministic load chunks and their completion markers (what ``--resume RUN_ID`` skips).

The clean set is split into ``n`` chunks by a hash of the reservation key, and partitioned so that Spark
partition ``i`` holds exactly chunk ``i`` (``repartition(n, xxhash64(key))`` places a row in partition
``pmod(murmur3(xxhash64(key)), n)``, and ``F.hash`` is that murmur3, seed 42). The same input gives the same
chunks whatever the cluster, as long as ``n`` is the same: a resumed run takes ``n`` from the run's record.

A writer that finishes a chunk with nothing failed writes ``<folder>/chunk-NNNNN.json`` holding the chunk's
counters; a resumed run does not write those chunks again and adds their recorded counters instead, so its
manifest counts are those of an uninterrupted run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pyarrow as pa
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from loaders.outcomes import COUNTERS
from storage.runfolder import list_names, read_text, remove_tree, write_text

CHUNK = "_chunk"


def _key_hash() -> Column:
    return F.xxhash64(F.col("property_code"), F.col("confirmation_no"))


def chunk_of_key(n: int) -> Column:
    """The chunk of a row: the partition ``repartition(n, xxhash64(key))`` puts it in."""
    return F.pmod(F.hash(_key_hash()), F.lit(n))


def chunked(df: DataFrame, n: int) -> DataFrame:
    """``n`` partitions, partition ``i`` holding exactly the rows of chunk ``i`` (column ``_chunk``)."""
    return df.repartition(n, _key_hash()).withColumn(CHUNK, chunk_of_key(n))


def pieces(batches: Iterator[pa.RecordBatch]) -> Iterator[tuple[int, pa.RecordBatch]]:
    """Each batch cut where ``_chunk`` changes (rows arrive sorted by chunk): ``(chunk, slice)``."""
    for batch in batches:
        if not batch.num_rows:
            continue
        chunks = batch.column(batch.schema.get_field_index(CHUNK)).to_numpy(zero_copy_only=False)
        starts = [0, *(np.flatnonzero(np.diff(chunks)) + 1).tolist()]
        for start, end in zip(starts, [*starts[1:], batch.num_rows], strict=True):
            yield int(chunks[start]), batch.slice(start, end - start)


class Markers:
    """``<folder>/chunk-NNNNN.json`` (local path or s3:// URI), one per chunk a writer finished cleanly."""

    def __init__(self, folder: str | None) -> None:
        self.folder = folder.rstrip("/") if folder else None

    def mark(self, chunk: int, counters: Mapping[str, Any]) -> None:
        if self.folder is None:
            return
        write_text(f"{self.folder}/chunk-{chunk:05d}.json", json.dumps({k: counters.get(k, 0) for k in COUNTERS}))

    def clear(self) -> None:
        """Forget every marker (a fresh run that reuses a run id must not inherit them)."""
        if self.folder is None:
            return
        remove_tree(self.folder)

    def done(self) -> dict[int, dict[str, Any]]:
        """Chunk -> its recorded counters (driver side, once per load)."""
        if self.folder is None:
            return {}
        out = {}
        for name in list_names(self.folder):
            if name.startswith("chunk-") and name.endswith(".json"):
                text = read_text(f"{self.folder}/{name}")
                if text:
                    out[int(name[len("chunk-") : -len(".json")])] = json.loads(text)
        return out


def add_counters(total: dict[str, Any], more: Mapping[str, Any]) -> None:
    for k in COUNTERS:
        total[k] = total.get(k, 0) + more.get(k, 0)
