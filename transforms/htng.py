"""Parsed HTNG / OpenTravel reservations -> canonical versions, the same columns as the EDW versions.

The parser (:mod:`readers.htng_xml`) hands on text; everything is parsed and validated here with the same
column functions as the EDW, so a value means the same whichever source it came from. The result has the
columns of :func:`transforms.classify.to_edw_versions` plus attached room stays, ready to be unioned
with the EDW versions before the rules and the latest-wins window.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from transforms.functions import (
    ISO_OFFSET,
    blank_as_null,
    code,
    iso_timestamp,
    mapped,
    parsed_date,
    parsed_int,
    parsed_long,
)
from transforms.normalize import (
    CANONICAL_VERSION_COLUMNS,
    content_hash,
    masked_raw_record,
    payment_columns,
    stay_and_guest_columns,
)
from transforms.parameters import RuleParameters
from transforms.room_stays import (
    bad_line_numbers,
    group_property,
    line_has_bad_amount,
    line_has_bad_date,
    room_line,
    unknown_currency,
)


def to_canonical_htng(parsed_df: DataFrame, properties_df: DataFrame, *, rules: RuleParameters) -> DataFrame:
    """Canonical HTNG versions with ``group_property``, ``room_stays`` and the room-stay flags.

    Output: :data:`transforms.normalize.CANONICAL_VERSION_COLUMNS`, ``group_property``, then the room-stay
    columns in the order of the final select (not the order of :func:`transforms.room_stays.group_room_stays`'s;
    :func:`transforms.classify.classify_versions` unions by name).
    """
    props = properties_df.select("legacy_property_code", "property_code", "property_tz", "cutover_ts")
    by_legacy = F.broadcast(props.select(*[F.col(c).alias(f"l_{c}") for c in props.columns]))
    by_new = F.broadcast(props.select(*[F.col(c).alias(f"n_{c}") for c in props.columns]))
    res = parsed_df.withColumn("_hotel", code(F.col("PROP_CD")))
    joined = res.join(by_legacy, res["_hotel"] == by_legacy["l_legacy_property_code"], "left").join(
        by_new, res["_hotel"] == by_new["n_property_code"], "left"
    )
    tz = F.coalesce(F.col("l_property_tz"), F.col("n_property_tz"))
    arrival, departure = parsed_date(F.col("ARR_DT")), parsed_date(F.col("DEP_DT"))
    word = F.coalesce(blank_as_null(F.col("RES_STATUS")), F.lit(rules.htng_default_status))
    status_key = F.regexp_replace(F.upper(word), "[^A-Z]", "")
    canonical = joined.select(
        F.lit("HTNG").alias("source"),
        "input_file",
        F.col("_hotel").alias("legacy_property_code"),
        F.coalesce(F.col("l_property_code"), F.col("n_property_code")).alias("property_code"),
        code(F.col("CONF_NO")).alias("confirmation_no"),
        mapped(status_key, rules.htng_status).alias("status"),
        iso_timestamp(F.col("CREATE_TS"), tz).alias("created_at"),
        iso_timestamp(F.col("VERSION_TS"), tz).alias("last_modified"),
        F.coalesce(parsed_long(F.col("SEQ")), F.lit(0).cast("long")).alias("source_seq"),
        *stay_and_guest_columns(arrival, departure),
        code(F.col("CARD_TYPE")).alias("card_type"),
        *payment_columns(),
        F.coalesce(F.col("l_cutover_ts"), F.col("n_cutover_ts")).alias("cutover_ts"),
        F.struct(
            iso_timestamp(F.col("VERSION_TS"), "UTC").isNotNull().alias("last_modified_ok"),
            iso_timestamp(F.col("CREATE_TS"), "UTC").isNotNull().alias("created_ok"),
            blank_as_null(F.col("CREATE_TS")).isNotNull().alias("has_created"),
            blank_as_null(F.col("TOTAL_AMT")).isNotNull().alias("has_amount"),
            (tz.isNotNull() | _has_offset(F.col("VERSION_TS"))).alias("has_tz"),
        ).alias("checks"),
        _raw_record().alias("raw"),
        F.when(F.col("malformed").isNotNull(), F.sha2(F.concat_ws("\u0001", "input_file", "malformed"), 256))
        .otherwise(_htng_content_hash())
        .alias("content_hash"),
        F.col("malformed"),
        F.col("message_id"),
        F.col("CONF_SOURCE").alias("confirmation_source"),
        F.col("ROOM_STAYS").alias("_room_stays_text"),
    )
    room_stays_text = F.coalesce(F.col("_room_stays_text"), F.array())
    return canonical.select(
        *CANONICAL_VERSION_COLUMNS,
        group_property(F.col("property_code"), F.col("legacy_property_code")).alias("group_property"),
        *_room_stay_columns(room_stays_text, currencies=rules.currencies),
    )


def _raw_record() -> Column:
    """The same masked record shape as the EDW's (source names), from the values the message carried."""
    renamed = {"LAST_MOD_TS": "VERSION_TS", "EDW_SEQ": "SEQ"}
    return masked_raw_record(renamed)


def _htng_content_hash() -> Column:
    """A re-archived copy of a message is a duplicate: hash of every value taken from it, room stays included."""
    return content_hash(
        {"LAST_MOD_TS": "VERSION_TS", "EDW_SEQ": "SEQ"},
        extra=[F.col("message_type"), F.col("VERSION_TS_FIELD"), F.to_json(F.col("ROOM_STAYS"))],
    )


def _has_offset(text: Column) -> Column:
    return F.coalesce(F.trim(text).rlike(ISO_OFFSET), F.lit(False))


def _room_stay_columns(text: Column, *, currencies: frozenset[str]) -> list[Column]:
    """The message's room stays (``text``: its array of room-stay structs) as the EDW ``room_stays`` array,
    with the same line rules and flags."""

    def has(rule: Callable[[Callable[[str], Column]], Column]) -> Column:
        return F.exists(text, lambda x: rule(lambda name: x[name]))

    numbers = F.transform(text, lambda x: parsed_int(x["LINE_NO"]))
    bad_currency = has(lambda field: unknown_currency(code(field("CURRENCY_CD")), currencies))
    return [
        F.array_sort(F.transform(text, lambda x: room_line(lambda n: x[n]))).alias("room_stays"),
        has(line_has_bad_date).alias("has_bad_room_date"),
        has(line_has_bad_amount).alias("has_bad_room_amount"),
        bad_currency.alias("has_bad_room_currency"),
        bad_line_numbers(numbers).alias("has_bad_room_key"),
        F.size(text).alias("room_stay_lines"),
        F.size(text).alias("room_stay_rows"),
    ]
