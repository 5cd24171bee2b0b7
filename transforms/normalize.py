"""EDW rows -> canonical reservation versions (SPEC "Canonical reservation")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from transforms.functions import (
    blank_as_null,
    code,
    iso_timestamp,
    local_timestamp,
    mapped,
    normalized_email,
    parsed_amount,
    parsed_date,
    parsed_int,
    parsed_long,
    utc_from_local,
)
from transforms.schema import GUEST_PII_COLUMNS, READ_RESERVATION_COLUMNS

# The columns of a canonical version, alike for both sources (to_canonical_edw, transforms.htng), in order.
CANONICAL_VERSION_COLUMNS: tuple[str, ...] = (
    "source", "input_file", "legacy_property_code", "property_code", "confirmation_no", "status", "created_at",
    "last_modified", "source_seq", "arrival_date", "departure_date", "nights", "adults", "children", "guest",
    "card_type", "card_last4", "total_amount", "currency", "channel", "cutover_ts", "checks", "raw",
    "content_hash", "malformed", "message_id", "confirmation_source",
)  # fmt: skip
CUTOVER_FORMATS: tuple[tuple[str, str], ...] = ((r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$", "yyyy-MM-dd HH:mm:ss"),)
PROPERTY_FIELDS: tuple[str, ...] = ("property_code", "property_tz", "cutover_ts")


def cutover_instant(text: Column) -> Column:
    """A property's CUTOVER_TS as an instant (UTC): ``yyyy-MM-dd HH:mm:ss`` in UTC, or ISO 8601 (with an
    offset, ``Z`` or none: UTC). Null when blank or not one of these."""
    return F.coalesce(local_timestamp(text, CUTOVER_FORMATS), iso_timestamp(text, "UTC"))


def to_canonical_properties(properties_df: DataFrame) -> DataFrame:
    """Property reference: legacy code -> new code, IANA zone, cutover instant (UTC); one row per legacy code.

    The select is the output; ``dropDuplicates`` after it drops rows only."""
    return properties_df.select(
        code(F.col("LEGACY_PROP_CD")).alias("legacy_property_code"),
        code(F.col("PROPERTY_CODE")).alias("property_code"),
        blank_as_null(F.col("PROPERTY_NAME")).alias("property_name"),
        code(F.col("COUNTRY")).alias("property_country"),
        blank_as_null(F.col("TIMEZONE")).alias("property_tz"),
        cutover_instant(F.col("CUTOVER_TS")).alias("cutover_ts"),
    ).dropDuplicates(["legacy_property_code"])


def filter_unsafe_properties(properties_df: DataFrame) -> DataFrame:
    """The property reference's rows a run cannot decide on, one per legacy code with ``problem``: a
    CUTOVER_TS that does not parse (it would silently mean "not live"), or rows for one legacy code that
    disagree on the new code, the zone or the cutover (which one wins would be chance)."""
    legacy = code(F.col("LEGACY_PROP_CD"))
    unparsed = blank_as_null(F.col("CUTOVER_TS")).isNotNull() & cutover_instant(F.col("CUTOVER_TS")).isNull()
    rows = properties_df.select(
        legacy.alias("legacy_property_code"),
        F.struct(
            code(F.col("PROPERTY_CODE")).alias("property_code"),
            blank_as_null(F.col("TIMEZONE")).alias("property_tz"),
            cutover_instant(F.col("CUTOVER_TS")).alias("cutover_ts"),
        ).alias("decision"),
        unparsed.alias("is_unparsed"),
    )
    per_code = rows.groupBy("legacy_property_code").agg(
        F.max(F.col("is_unparsed").cast("int")).alias("unparsed"),
        F.count_distinct(F.col("decision")).alias("decisions"),
    )
    problem = F.when(F.col("unparsed") == 1, F.lit("CUTOVER_TS does not parse")).when(
        F.col("decisions") > 1, F.lit("rows disagree on PROPERTY_CODE, TIMEZONE or CUTOVER_TS")
    )
    return per_code.select("legacy_property_code", problem.alias("problem")).filter(F.col("problem").isNotNull())


def to_canonical_edw(
    reservations_df: DataFrame, properties_df: DataFrame, *, status_codes: Mapping[str, str]
) -> DataFrame:
    """Canonical columns of each EDW version (:data:`CANONICAL_VERSION_COLUMNS`), keeping what the rules and
    the quarantine need.

    ``properties_df`` is the output of :func:`to_canonical_properties` (small: broadcast).
    The raw text columns stay beside the canonical ones (as ``raw``) so the rules can tell
    "absent" from "present but invalid" and the quarantine can show the masked record.
    """
    props = F.broadcast(properties_df)
    # Parse each value once; the select below refers to the parsed columns several times.
    res = reservations_df.select(
        "*",
        code(F.col("PROP_CD")).alias("_legacy_prop"),
        local_timestamp(F.col("LAST_MOD_TS")).alias("_local_modified"),
        local_timestamp(F.col("CREATE_TS")).alias("_local_created"),
        parsed_date(F.col("ARR_DT")).alias("_arrival"),
        parsed_date(F.col("DEP_DT")).alias("_departure"),
    )
    joined = res.join(props, res["_legacy_prop"] == props["legacy_property_code"], "left")
    local_modified, local_created = F.col("_local_modified"), F.col("_local_created")
    arrival, departure = F.col("_arrival"), F.col("_departure")
    return joined.select(
        F.lit("EDW").alias("source"),
        F.col("_input_file").alias("input_file"),
        F.col("_legacy_prop").alias("legacy_property_code"),
        F.col("property_code"),
        code(F.col("CONF_NO")).alias("confirmation_no"),
        mapped(code(F.col("RES_STATUS")), status_codes).alias("status"),
        utc_from_local(local_created, F.col("property_tz")).alias("created_at"),
        utc_from_local(local_modified, F.col("property_tz")).alias("last_modified"),
        parsed_long(F.col("EDW_SEQ")).alias("source_seq"),
        *stay_and_guest_columns(arrival, departure),
        F.col("CARD_TYPE").alias("card_type"),
        *payment_columns(),
        F.col("cutover_ts"),
        F.struct(
            local_modified.isNotNull().alias("last_modified_ok"),
            local_created.isNotNull().alias("created_ok"),
            _has_value(F.col("CREATE_TS")).alias("has_created"),
            _has_value(F.col("TOTAL_AMT")).alias("has_amount"),
            F.col("property_tz").isNotNull().alias("has_tz"),
        ).alias("checks"),
        masked_raw_record().alias("raw"),
        content_hash().alias("content_hash"),
        F.lit(None).cast("string").alias("malformed"),
        F.lit(None).cast("string").alias("message_id"),
        F.lit(None).cast("string").alias("confirmation_source"),
    )


def stay_and_guest_columns(arrival: Column, departure: Column) -> list[Column]:
    """Dates, nights, party and guest: computed alike for every source from the same source column names."""
    return [
        arrival.alias("arrival_date"),
        departure.alias("departure_date"),
        F.datediff(departure, arrival).alias("nights"),
        parsed_int(F.col("ADULTS")).alias("adults"),
        parsed_int(F.col("CHILDREN")).alias("children"),
        F.struct(
            blank_as_null(F.col("GUEST_FIRST_NM")).alias("first_name"),
            blank_as_null(F.col("GUEST_LAST_NM")).alias("last_name"),
            normalized_email(F.col("GUEST_EMAIL")).alias("email"),
            blank_as_null(F.col("GUEST_PHONE")).alias("phone"),
            code(F.col("GUEST_COUNTRY")).alias("country"),
        ).alias("guest"),
    ]


def payment_columns() -> list[Column]:
    """Card last four, amount, currency and channel: alike for every source."""
    return [
        F.col("CARD_LAST4").alias("card_last4"),
        parsed_amount(F.col("TOTAL_AMT")).alias("total_amount"),
        code(F.col("CURRENCY_CD")).alias("currency"),
        code(F.col("CHANNEL_CD")).alias("channel"),
    ]


def masked_raw_record(renamed: Mapping[str, str] | None = None) -> Column:
    """The source row as text, guest PII replaced by '***' (the PAN is already gone: last four only).

    ``renamed`` maps a field of the record to the column that holds it when the names differ (HTNG).
    """
    names = renamed or {}
    return F.struct(*[_masked(names.get(c, c)).alias(c) for c in READ_RESERVATION_COLUMNS])


def content_hash(renamed: Mapping[str, str] | None = None, extra: Sequence[Column] = ()) -> Column:
    """SHA-256 over the whole source row as read (PAN already reduced): identity of re-extracted copies."""
    names = renamed or {}
    parts = [F.coalesce(F.col(names.get(c, c)), F.lit("\u0000")) for c in READ_RESERVATION_COLUMNS]
    parts += [F.coalesce(x, F.lit("\u0000")) for x in extra]
    return F.sha2(F.concat_ws("\u0001", *parts), 256)


def _masked(name: str) -> Column:
    col = F.col(name)
    if name in GUEST_PII_COLUMNS:
        return F.when(col.isNotNull(), F.lit("***"))
    return col


def _has_value(col: Column) -> Column:
    return blank_as_null(col).isNotNull()
