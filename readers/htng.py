"""The HTNG / OpenTravel XML archive as a DataFrame: one row per reservation found (or per unusable document).

Files are read as bytes (``binaryFile``: gzip is detected by its magic bytes and inflated with a cap in the
parser, never by Hadoop's codec) and parsed batch-wise in the executors with ``mapInArrow``: one lxml
parser and one set of compiled XPath per partition, no per-row UDF.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from readers.edw import InputError
from readers.htng_xml import ROOM_FIELDS, TEXT_FIELDS, FileRow, ParserSetup, parse_documents

ROOM_STAY_TYPE = T.StructType([T.StructField(f, T.StringType()) for f in ROOM_FIELDS])
HTNG_SCHEMA = T.StructType(
    [
        T.StructField("input_file", T.StringType()),
        T.StructField("res_index", T.IntegerType()),
        *[T.StructField(f, T.StringType()) for f in TEXT_FIELDS],
        T.StructField("ROOM_STAYS", T.ArrayType(ROOM_STAY_TYPE)),
    ]
)
ROOM_STRUCT = pa.struct([pa.field(f, pa.string()) for f in ROOM_FIELDS])
ARROW_SCHEMA = pa.schema(
    [
        pa.field("input_file", pa.string()),
        pa.field("res_index", pa.int32()),
        *[pa.field(f, pa.string()) for f in TEXT_FIELDS],
        pa.field("ROOM_STAYS", pa.list_(ROOM_STRUCT)),
    ]
)
FILE_PATTERN = "*.{xml,XML,xml.gz,XML.gz,xml.GZ}"
OUTPUT_DOCUMENTS = 500  # documents parsed per Arrow batch handed back to Spark


def read_htng(
    spark: SparkSession,
    path: str | Sequence[str],
    *,
    max_document_bytes: int,
    confirmation_types: Sequence[str],
) -> DataFrame:
    """Every ``.xml``/``.xml.gz`` file under ``path`` (any depth; or under each of several folders), parsed;
    see :mod:`readers.htng_xml`."""
    paths = [path] if isinstance(path, str) else list(path)
    try:
        files = (
            spark.read.format("binaryFile")
            .option("recursiveFileLookup", "true")
            .option("pathGlobFilter", FILE_PATTERN)
            .load(paths)
        )
    except Exception as exc:
        if "PATH_NOT_FOUND" in str(exc) or "Path does not exist" in str(exc):
            raise InputError(f"input.htng.path: {paths[0]} does not exist") from None
        raise
    parse = parse_batches(max_document_bytes, tuple(confirmation_types))
    return files.select("path", "content").mapInArrow(parse, HTNG_SCHEMA)


def parse_batches(
    max_document_bytes: int, confirmation_types: tuple[str, ...]
) -> Callable[[Iterable[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    # (The executors' Python workers run with a larger glibc thread cache, spark.executorEnv.GLIBC_TUNABLES in
    # conf/base.yaml: a parsed document's tree is a few hundred small blocks, allocated and freed per document.)
    def parse(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        setup = ParserSetup(max_bytes=max_document_bytes, confirmation_types=confirmation_types)
        for batch in batches:
            # A few hundred documents at a time, from Arrow to Python objects to Arrow: the documents are copied
            # out of the batch just before they are parsed, and their rows are still in the CPU's caches when
            # they become Arrow columns (a whole input batch at a time would have left them by then).
            for lo in range(0, batch.num_rows, OUTPUT_DOCUMENTS):
                chunk = batch.slice(lo, OUTPUT_DOCUMENTS)
                documents = zip(chunk.column("path").to_pylist(), chunk.column("content").to_pylist(), strict=True)
                yield to_arrow(parse_documents(setup, documents))  # every document gives at least one row

    return parse


def to_arrow(rows: list[FileRow]) -> pa.RecordBatch:
    """:func:`readers.htng_xml.parse_documents` rows -> one Arrow batch, column by column (the tuples are
    transposed in C, with no dict built and looked up per row as ``from_pylist`` needs)."""
    if not rows:
        return pa.RecordBatch.from_pylist([], schema=ARROW_SCHEMA)
    files, indexes, texts, stays = zip(*rows, strict=True)
    columns: list[pa.Array] = [pa.array(files, pa.string()), pa.array(indexes, pa.int32())]
    columns += [pa.array(values, pa.string()) for values in zip(*texts, strict=True)]
    offsets = [0]
    lines: list[tuple[str | None, ...]] = []
    for stay_lines in stays:
        lines += stay_lines
        offsets.append(len(lines))
    by_field = zip(*lines, strict=True) if lines else ((),) * len(ROOM_FIELDS)
    flat = pa.StructArray.from_arrays([pa.array(v, pa.string()) for v in by_field], fields=list(ROOM_STRUCT))
    columns.append(pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), flat))
    return pa.RecordBatch.from_arrays(columns, schema=ARROW_SCHEMA)
