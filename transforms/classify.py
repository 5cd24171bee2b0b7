"""The EDW transform chain as two composable steps (used by the job, the benchmark and the tests)."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from transforms.dedupe import with_outcome
from transforms.normalize import to_canonical_edw
from transforms.parameters import RuleParameters
from transforms.room_stays import group_property, with_room_stays_attached
from transforms.rules import with_reasons


def to_edw_versions(reservations_df: DataFrame, properties_df: DataFrame, *, rules: RuleParameters) -> DataFrame:
    """Canonical EDW versions with their grouping key (``group_property``, ``confirmation_no``)."""
    return to_canonical_edw(reservations_df, properties_df, status_codes=rules.edw_status).withColumn(
        "group_property", group_property(F.col("property_code"), F.col("legacy_property_code"))
    )


def classify_versions(
    versions_df: DataFrame,
    room_stays_grouped_df: DataFrame,
    *,
    rules: RuleParameters,
    htng_versions_df: DataFrame | None = None,
) -> DataFrame:
    """EDW room stays attached, HTNG versions (:func:`transforms.htng.to_canonical_htng`) added, reasons,
    then the outcome of every version (see :func:`with_outcome`): one latest-wins window over both sources."""
    versions = with_room_stays_attached(versions_df, room_stays_grouped_df)
    if htng_versions_df is not None:
        versions = versions.unionByName(htng_versions_df)
    return versions.transform(lambda df: with_reasons(df, currencies=rules.currencies)).transform(with_outcome)
