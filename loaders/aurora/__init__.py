"""Aurora PostgreSQL writer, in the executors (``mapInArrow``): Arrow batches -> binary COPY, in C.

The load connections are ADBC's (``adbc_driver_postgresql``, Apache Arrow's libpq driver): it encodes an
Arrow batch straight into PostgreSQL's binary COPY format, so neither the executor formats text nor the
server parses it. Reconcile sends its keys the same way; the schema, the run records
and the key registry go through psycopg.

Two paths, chosen per run (``aurora.load_path``; ``auto`` = initial when both tables are empty):

- **initial**: keys and indexes dropped while the tables are empty, every task COPYs its rows straight into
  the tables in chunks of ``aurora.rows_per_transaction``, each chunk one transaction that also records a
  marker row (``migration_load_parts``): a retried task or attempt skips what is committed. Keys and
  indexes are built once the data is in (``002_keys.sql``), then ``ANALYZE``.
- **backfill**: per transaction (``aurora.rows_per_transaction`` rows): COPY into temp staging tables, one
  ``INSERT … ON CONFLICT … DO UPDATE … WHERE (stored last_modified, source_seq) <= (incoming)``, and the room
  stays of every reservation it wrote replaced by the incoming ones (those unchanged stay as they are); rows
  kept because the stored version is newer are counted.

Transient errors (connection lost, admin shutdown, failover, serialization failure, too many connections)
are retried with backoff from the same data; what still fails goes to ``failed_writes/``.

The run builds one :class:`AuroraSettings` and calls: :func:`ensure_schema`, :func:`choose_path`,
:func:`prepare_initial`/:func:`finish_initial` around an initial load, :func:`load_aurora`,
:func:`register_data_key`, :func:`record_run`, :func:`check_batches` and :func:`record_reconcile`. Modules:
``schema``, ``registry`` (run records, key registry), ``rows`` (what COPY sends), ``writer`` (one task's
connection), ``chunk_state`` (chunks, markers, the load entry point), ``reconcile``.
"""

from __future__ import annotations

from loaders.aurora.chunk_state import load_aurora, load_batches
from loaders.aurora.held_back import HELD_ARROW, held_back_batches, read_held_back
from loaders.aurora.reconcile import check_batches
from loaders.aurora.registry import check_parts, record_reconcile, record_run, register_data_key
from loaders.aurora.rows import (
    RESERVATION_ARROW,
    RESERVATION_COLUMNS,
    ROOM_STAY_ARROW,
    ROOM_STAY_COLUMNS,
    copy_frame,
    reservations_batch,
    room_stays_batch,
)
from loaders.aurora.schema import choose_path, ensure_schema, finish_initial, key_sections, prepare_initial, schema_sql
from loaders.aurora.settings import AuroraSettings

__all__ = [
    "HELD_ARROW",
    "RESERVATION_ARROW",
    "RESERVATION_COLUMNS",
    "ROOM_STAY_ARROW",
    "ROOM_STAY_COLUMNS",
    "AuroraSettings",
    "check_batches",
    "check_parts",
    "choose_path",
    "copy_frame",
    "ensure_schema",
    "finish_initial",
    "held_back_batches",
    "key_sections",
    "load_aurora",
    "load_batches",
    "prepare_initial",
    "read_held_back",
    "record_reconcile",
    "record_run",
    "register_data_key",
    "reservations_batch",
    "room_stays_batch",
    "schema_sql",
]
