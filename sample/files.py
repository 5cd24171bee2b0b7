"""Writing the sample: extracts as pipe-delimited text (every other file gzipped) or Parquet, optionally in
date folders, and archive documents."""

from __future__ import annotations

import gzip
import itertools
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from sample.options import PARTITION_COLUMN, Options


def write_extract(opts: Options, rel: str, frame: pd.DataFrame, files: int) -> None:
    """``DIR/rel/`` afresh: ``frame``'s columns as text, without the plan's ``_`` columns, in ``files`` files
    (one per date folder when partitioned by ``_part``)."""
    folder = opts.out / rel
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    if opts.partition_by != "none" and "_part" in frame.columns:
        for i, (value, group) in enumerate(frame.groupby("_part", sort=True)):
            _write_files(opts, folder / f"{PARTITION_COLUMN}={value}", group, 1, first=i)
        return
    _write_files(opts, folder, frame, files)


def _write_files(opts: Options, folder: Path, frame: pd.DataFrame, files: int, first: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    data = frame[[c for c in frame.columns if not c.startswith("_")]]
    table = pa.Table.from_pandas(data.astype(str).replace({"nan": ""}), preserve_index=False)
    table = table.cast(pa.schema([pa.field(c, pa.string()) for c in table.column_names]))
    bounds = np.linspace(0, table.num_rows, files + 1).astype(int)
    for part, (lo, hi) in enumerate(itertools.pairwise(bounds), start=first):
        chunk = table.slice(lo, hi - lo)
        if opts.fmt == "parquet":
            pq.write_table(chunk, folder / f"part-{part:05d}.parquet")
            continue
        # Every other file gzip: real EDW drops mix both.
        name = folder / (f"part-{part:05d}.csv.gz" if part % 2 else f"part-{part:05d}.csv")
        stream = pa.CompressedOutputStream(str(name), "gzip") if part % 2 else pa.OSFile(str(name), "wb")
        with stream:
            stream.write(("|".join(chunk.column_names) + "\n").encode("utf-8"))
            pacsv.write_csv(
                chunk, stream, pacsv.WriteOptions(delimiter="|", quoting_style="none", include_header=False)
            )


def write_document(path: Path, doc: bytes, *, gz: bool) -> None:
    """``path``, or ``path.gz`` gzipped (without a timestamp: the same document gives the same bytes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(doc, mtime=0))
    else:
        path.write_bytes(doc)
