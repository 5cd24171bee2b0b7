from __future__ import annotations

import json

import pyarrow as pa
from pyspark.sql import functions as F

from loaders.chunks import CHUNK, Markers, chunked, pieces


def test_partition_i_holds_exactly_chunk_i_and_chunks_do_not_depend_on_the_input_layout(spark) -> None:
    keys = [(f"H{i % 7:05d}", f"{1_000_000 + i}") for i in range(2_000)]
    one = spark.createDataFrame(keys, "property_code string, confirmation_no string").repartition(3)
    other = spark.createDataFrame(list(reversed(keys)), "property_code string, confirmation_no string").repartition(5)
    first = chunked(one, 8).select("*", F.spark_partition_id().alias("pid"))
    second = chunked(other, 8)
    assert first.rdd.getNumPartitions() == 8
    assert first.filter(F.col("pid") != F.col(CHUNK)).count() == 0
    as_chunks = {(r[0], r[1]): r[2] for r in first.select("property_code", "confirmation_no", CHUNK).collect()}
    assert as_chunks == {(r[0], r[1]): r[2] for r in second.select("property_code", "confirmation_no", CHUNK).collect()}
    sizes = first.groupBy(CHUNK).count().collect()
    assert len(sizes) == 8 and all(150 < r["count"] < 350 for r in sizes)  # 2,000 keys over 8 chunks


def test_pieces_cut_batches_where_the_chunk_changes() -> None:
    batches = [
        pa.RecordBatch.from_pydict({CHUNK: [0, 0, 1], "k": ["a", "b", "c"]}),
        pa.RecordBatch.from_pydict({CHUNK: [1, 3, 3], "k": ["d", "e", "f"]}),
        pa.RecordBatch.from_pydict({CHUNK: [], "k": []}, schema=pa.schema([(CHUNK, pa.int64()), ("k", pa.string())])),
    ]
    cut = [(chunk, piece.column("k").to_pylist()) for chunk, piece in pieces(iter(batches))]
    assert cut == [(0, ["a", "b"]), (1, ["c"]), (1, ["d"]), (3, ["e", "f"])]


def test_markers_round_trip_and_clear(tmp_path) -> None:
    markers = Markers(str(tmp_path / "chunks" / "dynamodb"))
    assert markers.done() == {}
    markers.mark(3, {"written": 10, "kept_newer": 1, "write_units": 30.0, "seconds": 9.0})
    markers.mark(12, {"written": 7})
    assert markers.done() == {
        3: {"written": 10, "kept_newer": 1, "failed": 0, "write_units": 30.0, "retries": 0, "throttles": 0},
        12: {"written": 7, "kept_newer": 0, "failed": 0, "write_units": 0, "retries": 0, "throttles": 0},
    }
    assert json.loads((tmp_path / "chunks" / "dynamodb" / "chunk-00003.json").read_text())["written"] == 10
    markers.clear()
    assert markers.done() == {}
