"""The EDW transform chain as two composable steps (used by the job, the benchmark and the tests)."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from transforms.dedupe import with_rank, with_ranked_outcome
from transforms.normalize import CANONICAL_VERSION_COLUMNS, to_canonical_edw
from transforms.parameters import RuleParameters
from transforms.room_stays import RESERVATION_KEY, VERSION_KEY, group_property, with_room_stays_of_ranked
from transforms.rules import with_reasons

# The classified versions: the version key first (the room-stay join's), the other canonical columns, the
# room-stay summary, then what with_reasons and with_outcome add.
CLASSIFIED_COLUMNS: tuple[str, ...] = (
    "group_property", "confirmation_no", "source_seq",
    "source", "input_file", "legacy_property_code", "property_code", "status", "created_at", "last_modified",
    "arrival_date", "departure_date", "nights", "adults", "children", "guest", "card_type", "card_last4",
    "total_amount", "currency", "channel", "cutover_ts", "checks", "raw", "content_hash", "malformed",
    "message_id", "confirmation_source",
    "room_stays", "has_bad_room_date", "has_bad_room_amount", "has_bad_room_currency", "room_stay_rows",
    "room_stay_lines", "has_bad_room_key",
    "reasons", "is_duplicate", "is_latest", "outcome",
)  # fmt: skip


def to_edw_versions(reservations_df: DataFrame, properties_df: DataFrame, *, rules: RuleParameters) -> DataFrame:
    """Canonical EDW versions with their grouping key (``group_property``, ``confirmation_no``)."""
    canonical_df = to_canonical_edw(reservations_df, properties_df, status_codes=rules.edw_status)
    return canonical_df.select(
        *CANONICAL_VERSION_COLUMNS,
        group_property(F.col("property_code"), F.col("legacy_property_code")).alias("group_property"),
    )


def classify_versions(
    versions_df: DataFrame,
    room_stays_grouped_df: DataFrame,
    *,
    rules: RuleParameters,
    htng_versions_df: DataFrame | None = None,
) -> DataFrame:
    """EDW and HTNG versions ranked latest-first (:func:`rank_versions`), the EDW room stays attached, reasons,
    then the outcome of every version (see :func:`transforms.dedupe.with_outcome`).
    Output: :data:`CLASSIFIED_COLUMNS`.

    The wide versions are shuffled once (on the reservation key) and sorted once (for the window); the room
    stays join them in that order, and the outcome's window needs neither again."""
    ranked = rank_versions(versions_df, room_stays_grouped_df, rules=rules, htng_versions_df=htng_versions_df)
    attached = with_room_stays_of_ranked(ranked, room_stays_grouped_df)
    reasons = with_reasons(
        attached, currencies=rules.currencies, timestamp_window=rules.timestamp_window, ranges=rules.ranges
    )
    return with_ranked_outcome(reasons).select(*CLASSIFIED_COLUMNS)


def rank_versions(
    versions_df: DataFrame,
    room_stays_grouped_df: DataFrame,
    *,
    rules: RuleParameters,
    htng_versions_df: DataFrame | None = None,
) -> DataFrame:
    """The EDW versions, with the room-stay summary's columns (null until attached), and the HTNG versions
    (:func:`transforms.htng.to_canonical_htng`), in one latest-wins window (:func:`transforms.dedupe.with_rank`)
    over both sources."""
    summary = [f for f in room_stays_grouped_df.schema.fields if f.name not in VERSION_KEY]
    versions = versions_df.select("*", *[F.lit(None).cast(f.dataType).alias(f.name) for f in summary])
    if htng_versions_df is not None:
        versions = versions.unionByName(htng_versions_df)
    not_after = rules.timestamp_window[1] if rules.timestamp_window else None
    return with_rank(versions.repartition(*RESERVATION_KEY), not_after=not_after)
