"""Row rules: every reason code that applies to a version, as ``reasons`` (array<string>, empty = valid)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from functools import reduce

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from transforms.parameters import ValueRanges
from transforms.room_stays import unknown_currency

# DynamoDB's item limit is 400 KB. The estimate below is an upper bound of loaders.dynamodb's item from the
# version's content: attribute names, fixed-width values (dates, times, numbers, keys' prefixes, the run id
# and data key reference) and map overheads are covered by the fixed allowances (about 620 bytes per item
# and 111 per room stay as DynamoDB counts them), every text value by its UTF-8 length (the keys four
# times: pk, the index keys and their own attributes), every guest field by its ciphertext's length.
MAX_ITEM_BYTES = 400 * 1024
ITEM_BASE_BYTES = 2048
ROOM_STAY_BYTES = 160
CIPHERTEXT_OVERHEAD_BYTES = 29  # transforms.pii: version byte, 12-byte nonce and 16-byte tag around the plaintext
_ITEM_TEXT = ("status", "currency", "channel", "card_type", "card_last4", "source")
_ROOM_STAY_TEXT = ("room_type", "rate_plan", "currency")
_GUEST_FIELDS = ("first_name", "last_name", "email", "phone", "country")

REASON_CODES: tuple[str, ...] = (
    "MISSING_KEY",
    "UNKNOWN_PROPERTY",
    "BAD_TIMESTAMP",
    "BAD_DATE",
    "DEPARTURE_NOT_AFTER_ARRIVAL",
    "BAD_AMOUNT",
    "BAD_CURRENCY",
    "BAD_STATUS",
    "OUT_OF_RANGE",
    "MALFORMED_XML",
    "ORPHAN_ROOM_STAY",
    "ITEM_TOO_LARGE",
    "LATEST_VERSION_INVALID",
)


def with_reasons(
    versions_df: DataFrame,
    *,
    currencies: frozenset[str],
    timestamp_window: tuple[datetime, datetime] | None = None,
    ranges: ValueRanges | None = None,
) -> DataFrame:
    """Add ``reasons``: the codes of every EDW row rule the version fails, in REASON_CODES order.

    Expects the canonical columns of :func:`transforms.normalize.to_canonical_edw` with room stays
    attached (:func:`transforms.room_stays.with_room_stays_attached`), or the HTNG versions. It adds one
    column to whichever versions it is given, so it ends with ``withColumn`` rather than a select of a fixed
    list: the output is the input's columns, then ``reasons``. ``timestamp_window`` (UTC): a
    ``last_modified`` or ``created_at`` outside it is implausible (BAD_TIMESTAMP), so that a year-9999 time
    neither wins the latest-wins window nor blocks every later write through the targets' guards.
    """
    checks = F.col("checks")
    dates_ok = F.col("arrival_date").isNotNull() & F.col("departure_date").isNotNull()
    room_flag = lambda name: F.coalesce(F.col(name), F.lit(False))  # noqa: E731
    rules: list[tuple[str, Column]] = [
        (
            "MISSING_KEY",
            F.col("confirmation_no").isNull() | F.col("legacy_property_code").isNull() | room_flag("has_bad_room_key"),
        ),
        ("UNKNOWN_PROPERTY", F.col("legacy_property_code").isNotNull() & F.col("property_code").isNull()),
        (
            "BAD_TIMESTAMP",
            ~checks["last_modified_ok"]
            | (checks["has_created"] & ~checks["created_ok"])
            | (F.col("property_code").isNotNull() & ~checks["has_tz"]),
        ),
        ("BAD_DATE", ~dates_ok | room_flag("has_bad_room_date")),
        ("DEPARTURE_NOT_AFTER_ARRIVAL", dates_ok & (F.col("departure_date") <= F.col("arrival_date"))),
        (
            "BAD_AMOUNT",
            (checks["has_amount"] & F.col("total_amount").isNull())
            | (F.col("total_amount") < 0)
            | room_flag("has_bad_room_amount"),
        ),
        (
            "BAD_CURRENCY",
            unknown_currency(F.col("currency"), currencies)
            | (F.col("currency").isNull() & F.col("total_amount").isNotNull())
            | room_flag("has_bad_room_currency"),
        ),
        ("BAD_STATUS", F.col("status").isNull()),
        ("OUT_OF_RANGE", _any(out for _, out in _range_checks(ranges, timestamp_window))),
        ("ITEM_TOO_LARGE", estimated_item_bytes(versions_df.columns) > MAX_ITEM_BYTES),
    ]
    reasons = names_that_hold(rules)
    if "malformed" in versions_df.columns:  # an unusable XML document is that and nothing else
        reasons = F.when(F.col("malformed").isNotNull(), F.array(F.lit("MALFORMED_XML"))).otherwise(reasons)
    return versions_df.withColumn("reasons", reasons)


def out_of_range_columns(
    ranges: ValueRanges | None, timestamp_window: tuple[datetime, datetime] | None = None
) -> Column:
    """The columns of a version whose (parsed) value is implausible: a version time outside
    ``timestamp_window`` (UTC), a value outside ``ranges``; in column order (array<string>)."""
    return names_that_hold(_range_checks(ranges, timestamp_window))


def names_that_hold(checks: Iterable[tuple[str, Column]]) -> Column:
    """The names whose condition is true (a null condition is not), in the given order (array<string>).

    A concatenation of one- or no-element arrays: Spark generates code for it, where ``array_compact`` is a
    higher-order function (a filter with a lambda) that Spark evaluates value by value through the interpreter,
    with every expression under it (README "Measured")."""
    none = F.array().cast("array<string>")
    return F.concat(
        *[F.when(F.coalesce(cond, F.lit(False)), F.array(F.lit(name))).otherwise(none) for name, cond in checks]
    )


def _any(conditions: Iterable[Column]) -> Column:
    """True when one condition is true (a null one counts as false)."""
    return reduce(lambda a, b: a | b, (F.coalesce(c, F.lit(False)) for c in conditions))


def _range_checks(
    ranges: ValueRanges | None, timestamp_window: tuple[datetime, datetime] | None
) -> list[tuple[str, Column]]:
    arrival, nights = F.col("arrival_date"), F.col("nights")
    checks: list[tuple[str, Column]] = [
        ("created_at", _implausible(F.col("created_at"), timestamp_window)),
        ("last_modified", _implausible(F.col("last_modified"), timestamp_window)),
    ]
    if ranges is None:
        return checks
    return [
        *checks,
        ("arrival_date", (arrival < F.lit(ranges.arrival[0])) | (arrival > F.lit(ranges.arrival[1]))),
        # (no nights at all is DEPARTURE_NOT_AFTER_ARRIVAL's)
        ("nights", (nights > 0) & ((nights < F.lit(ranges.nights[0])) | (nights > F.lit(ranges.nights[1])))),
        ("adults", (F.col("adults") < 0) | (F.col("adults") > F.lit(ranges.max_adults))),
        ("children", (F.col("children") < 0) | (F.col("children") > F.lit(ranges.max_children))),
    ]


def _implausible(ts: Column, window: tuple[datetime, datetime] | None) -> Column:
    if window is None:
        return F.lit(False)
    return ts.isNotNull() & ((ts < F.lit(window[0])) | (ts > F.lit(window[1])))


def estimated_item_bytes(columns: Collection[str]) -> Column:
    """Upper estimate of the DynamoDB item size of a version (bytes), from its content (see MAX_ITEM_BYTES),
    of those of its text columns that are among ``columns``."""
    text = lambda c: F.coalesce(F.octet_length(c), F.lit(0))  # noqa: E731
    keys = (text(F.col("property_code")) + text(F.col("confirmation_no"))) * F.lit(4)
    values = sum((text(F.col(c)) for c in _ITEM_TEXT if c in columns), F.lit(0))
    guest = sum(
        (text(F.col("guest")[f]) + F.lit(CIPHERTEXT_OVERHEAD_BYTES) for f in _GUEST_FIELDS if "guest" in columns),
        F.lit(0),
    )
    # Per room stay its allowance and the bytes of its text fields: a field of every element (an array of that
    # field, nulls skipped by concat_ws), not an aggregate with a lambda, which Spark would interpret value by value.
    room_stays = F.col("room_stays")
    stays_text = sum((F.octet_length(F.concat_ws("", room_stays[f])) for f in _ROOM_STAY_TEXT), F.lit(0))
    stays = F.when(room_stays.isNotNull(), F.size(room_stays) * F.lit(ROOM_STAY_BYTES) + stays_text).otherwise(0)
    return F.lit(ITEM_BASE_BYTES) + keys + values + guest + stays
