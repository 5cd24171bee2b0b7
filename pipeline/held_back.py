"""The held-back registry across runs (``migration_held_back`` in Aurora): read before classifying, so that a
window cannot bring back an older version of a reservation an earlier run held back; written once the gate
has passed (this run's held-back keys) and cleared once the loads have written a version at least as new."""

from __future__ import annotations

import logging
from functools import partial

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from loaders import aurora as aurora_loader
from storage.runfolder import RunFolder, read_text
from transforms.held_back import filter_held_back_latest

log = logging.getLogger("migration")
SCHEMA = "property_code string, confirmation_no string, last_modified timestamp, source_seq long"


def registry(
    spark: SparkSession, conninfo: str, folder: RunFolder, *, required: bool, resume: bool
) -> DataFrame | None:
    """The registry as a (small) DataFrame, kept in the run folder (``held_back_registry/``) so that a resumed
    attempt classifies against the same one; None when Aurora is not configured or cannot be read and is not
    a target of the run (a warning says so)."""
    snapshot = folder.sub("held_back_registry")
    if resume and read_text(folder.sub("held_back_registry", "_SUCCESS")) is not None:
        return spark.read.schema(SCHEMA).parquet(snapshot)
    try:
        if not conninfo:
            raise ValueError("aurora is not configured")
        table = aurora_loader.read_held_back(conninfo)
    except Exception as exc:
        if required:
            raise
        log.warning("held-back registry not read (%s): Aurora is not written by this run", type(exc).__name__)
        return None
    log.info("held-back registry: %d reservation(s) held back by earlier runs", table.num_rows)
    df = spark.createDataFrame(table.to_pylist(), SCHEMA)  # small: as many rows as reservations held back
    df.write.mode("overwrite").parquet(snapshot)
    return spark.read.schema(SCHEMA).parquet(snapshot)


def record(versions_df: DataFrame, conninfo: str, run_id: str, *, connections: int) -> int:
    """This run's held-back keys into the registry (a newer held version replaces an older one)."""
    return _send(filter_held_back_latest(versions_df), conninfo, run_id, clear=False, connections=connections)


def clear(loaded_df: DataFrame, registry_df: DataFrame, conninfo: str, run_id: str, *, connections: int) -> int:
    """Entries whose key this run loaded at a version at least as new (only keys the registry held)."""
    keys = ["property_code", "confirmation_no"]
    sent = loaded_df.select(*keys, "last_modified", "source_seq").join(F.broadcast(registry_df.select(*keys)), keys)
    return _send(sent, conninfo, run_id, clear=True, connections=connections)


def _send(df: DataFrame, conninfo: str, run_id: str, *, clear: bool, connections: int) -> int:
    body = partial(aurora_loader.held_back_batches, conninfo=conninfo, run_id=run_id, clear=clear)
    row = df.coalesce(connections).mapInArrow(body, "keys long").agg(F.coalesce(F.sum("keys"), F.lit(0))).first()
    return int(row[0]) if row is not None else 0
