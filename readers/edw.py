"""Readers for the EDW extracts and the property reference.

Every column is read as a string (the EDW writes text; Parquet extracts are cast to string) and renamed
to SPEC's canonical source names through ``columns`` (canonical -> source). The payment card number is
reduced to type and last four *here*, in the select that reads it: no later stage ever sees a PAN.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from transforms.functions import card_last4, card_type
from transforms.schema import PROPERTY_COLUMNS, RESERVATION_COLUMNS, ROOM_STAY_COLUMNS


class InputError(ValueError):
    """An input cannot be read as configured (missing path, missing columns): exit 2."""


def read_reservations(
    spark: SparkSession,
    path: str | Sequence[str],
    *,
    fmt: str,
    delimiter: str = "|",
    columns: Mapping[str, str] | None = None,
    base_path: str | None = None,
) -> DataFrame:
    """EDW reservation versions, one row per version, PAN already reduced to CARD_TYPE + CARD_LAST4.
    ``path``: the extract's folder, or some of its partition folders under ``base_path``."""
    raw_df = _read_text_table(spark, path, fmt=fmt, delimiter=delimiter, what="input.reservations", base_path=base_path)
    mapped = _canonical_columns(raw_df, RESERVATION_COLUMNS, columns or {}, what="input.reservations")
    reduced = {
        "CARD_TYPE": card_type(mapped["CARD_TYPE"], mapped["CARD_NO"]).alias("CARD_TYPE"),
        "CARD_NO": card_last4(mapped["CARD_NO"]).alias("CARD_LAST4"),
    }
    return raw_df.select(
        *[reduced.get(c, mapped[c]) for c in RESERVATION_COLUMNS], F.input_file_name().alias("_input_file")
    )


def read_room_stays(
    spark: SparkSession,
    path: str | Sequence[str],
    *,
    fmt: str,
    delimiter: str = "|",
    columns: Mapping[str, str] | None = None,
    base_path: str | None = None,
) -> DataFrame:
    raw_df = _read_text_table(spark, path, fmt=fmt, delimiter=delimiter, what="input.room_stays", base_path=base_path)
    mapped = _canonical_columns(raw_df, ROOM_STAY_COLUMNS, columns or {}, what="input.room_stays")
    return raw_df.select(*[mapped[c] for c in ROOM_STAY_COLUMNS], F.input_file_name().alias("_input_file"))


def read_properties(spark: SparkSession, path: str, *, fmt: str, delimiter: str = "|") -> DataFrame:
    raw_df = _read_text_table(spark, path, fmt=fmt, delimiter=delimiter, what="input.properties")
    mapped = _canonical_columns(raw_df, PROPERTY_COLUMNS, {}, what="input.properties")
    return raw_df.select(*[mapped[c] for c in PROPERTY_COLUMNS])


def _read_text_table(
    spark: SparkSession, path: str | Sequence[str], *, fmt: str, delimiter: str, what: str, base_path: str | None = None
) -> DataFrame:
    if not path:
        raise InputError(f"{what}.path: not set")
    paths = [path] if isinstance(path, str) else list(path)
    reader = spark.read.option("basePath", base_path) if base_path else spark.read
    try:
        if fmt == "parquet":
            df = reader.parquet(*paths)
            return df.select(*[F.col(f"`{c}`").cast("string").alias(c) for c in df.columns])
        return (
            reader.option("header", True)
            .option("sep", delimiter)
            .option("inferSchema", False)
            .option("mode", "PERMISSIVE")
            .option("quote", "\u0000")  # EDW text extracts do not quote; a stray '"' is data
            .csv(paths)
        )
    except Exception as exc:  # AnalysisException: path does not exist, unreadable footer, ...
        if "PATH_NOT_FOUND" in str(exc) or "Path does not exist" in str(exc):
            raise InputError(f"{what}.path: {base_path or paths[0]} does not exist") from None
        raise


def _canonical_columns(
    df: DataFrame, wanted: Sequence[str], mapping: Mapping[str, str], *, what: str
) -> dict[str, Column]:
    present = {c.strip().upper(): c for c in df.columns}
    unknown = sorted(set(mapping) - set(wanted))
    if unknown:
        raise InputError(f"{what}.columns: unknown canonical column {unknown[0]}")
    out: dict[str, Column] = {}
    for name in wanted:
        source = mapping.get(name, name)
        actual = present.get(source.strip().upper())
        if actual is None:
            raise InputError(f"{what}: column {source} missing (found: {', '.join(df.columns[:25])})")
        out[name] = F.col(f"`{actual}`").alias(name)
    return out
