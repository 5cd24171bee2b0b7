"""Quarantine: the versions that failed a rule, one partition per reason, and the orphan room-stay lines.

Masked raw record, source, input file, HTNG message id and parser detail, all reasons: no guest data in the
clear and no PAN (it never got this far)."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from storage.runfolder import RunFolder
from transforms.parameters import RuleParameters
from transforms.rules import out_of_range_columns


@dataclass(frozen=True)
class QuarantineFolders:
    versions: str  # Parquet, partitioned by reason
    room_stays: str  # Parquet, orphan lines


def write_quarantine(
    versions_df: DataFrame, orphans_df: DataFrame, folder: RunFolder, *, rules: RuleParameters | None = None
) -> QuarantineFolders:
    """``detail``: the parser's word on a malformed document, else the columns out of range (``rules``: the
    run's, with its plausible time window)."""
    out = QuarantineFolders(folder.sub("quarantine", "versions"), folder.sub("quarantine", "room_stays"))
    detail = F.col("malformed")
    if rules is not None:
        columns = out_of_range_columns(rules.ranges, rules.timestamp_window)
        out_of_range = F.concat(F.lit("out of range: "), F.concat_ws(", ", columns))
        detail = F.coalesce(detail, F.when(F.array_contains("reasons", "OUT_OF_RANGE"), out_of_range))
    quarantined = versions_df.filter(F.col("outcome") == "quarantined").select(
        "source",
        "input_file",
        "message_id",
        detail.alias("detail"),
        F.col("property_code"),
        F.col("confirmation_no"),
        F.col("source_seq"),
        F.col("last_modified"),
        F.col("reasons"),
        F.col("raw").alias("record"),
    )
    # One row per (version, reason), partitioned by reason: reason=BAD_DATE/ holds every version failing that
    # rule, each with all its reasons; a partition's row count is quarantined_by_reason's figure.
    by_reason = quarantined.withColumn("reason", F.explode_outer("reasons"))
    by_reason.write.mode("overwrite").partitionBy("reason").parquet(out.versions)
    orphans_df.select(
        F.lit("EDW").alias("source"),
        F.col("group_property").alias("property_code"),
        "confirmation_no",
        "source_seq",
        F.array(F.lit("ORPHAN_ROOM_STAY")).alias("reasons"),
        "room_stays",
        F.col("room_stay_lines").alias("lines"),
    ).write.mode("overwrite").parquet(out.room_stays)
    return out
