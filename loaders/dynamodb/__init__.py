"""DynamoDB loader: runs in the executors, one boto3 client per task, metered, retried, never silent.

The run builds one :class:`DynamoSettings` from the config and calls one entry point per action:
:func:`load` (the metered writers), :func:`import_into_table` (``dynamodb.mode=import``),
:func:`register_data_key` (the key registry item) and :func:`check_batches` (reconcile). Modules: ``settings``
(settings, client, table definition), ``items`` (item building and sizing), ``writer`` (the task's writer),
``budget``, ``table_import``, ``reconcile``.
"""

from __future__ import annotations

from loaders.dynamodb.budget import resolve_budget
from loaders.dynamodb.items import (
    build_item,
    iso_utc,
    item_size,
    key_registry_key,
    register_data_key,
    serialize,
    table_units,
    write_units,
)
from loaders.dynamodb.reconcile import check_batches
from loaders.dynamodb.settings import (
    DynamoSettings,
    control_client,
    create_table_if_missing,
    holds_reservations,
    make_client,
    table_definition,
    table_exists,
)
from loaders.dynamodb.table_import import check_staging, import_into_table, parse_s3_uri
from loaders.dynamodb.writer import load_dynamodb, measure_write_units, spread

load = load_dynamodb

__all__ = [
    "DynamoSettings",
    "build_item",
    "check_batches",
    "check_staging",
    "control_client",
    "create_table_if_missing",
    "holds_reservations",
    "import_into_table",
    "iso_utc",
    "item_size",
    "key_registry_key",
    "load",
    "load_dynamodb",
    "make_client",
    "measure_write_units",
    "parse_s3_uri",
    "register_data_key",
    "resolve_budget",
    "serialize",
    "spread",
    "table_definition",
    "table_exists",
    "table_units",
    "write_units",
]
