"""Reconcile: which loaded keys Aurora holds, the keys sent by binary COPY into a temp table."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from loaders.aurora.connection import adbc_connect
from loaders.aurora.rows import UTC_MICROS
from loaders.outcomes import check_batch

_CHECK_SQL = """
SELECT k.property_code, k.arrival_month, count(*),
       count(r.property_code), count(*) FILTER (WHERE r.last_modified > k.last_modified),
       count(*) FILTER (WHERE r.last_modified < k.last_modified), count(*) FILTER (WHERE r.property_code IS NULL),
       count(*) FILTER (WHERE r.last_modified < k.earlier_last_modified)
  FROM check_keys k
  LEFT JOIN reservations r USING (property_code, confirmation_no)
 GROUP BY 1, 2
"""


_CHECK_ARROW = pa.schema(
    [("property_code", pa.string()), ("confirmation_no", pa.string()), ("arrival_month", pa.string()),
     ("last_modified", UTC_MICROS), ("earlier_last_modified", UTC_MICROS)]
)  # fmt: skip


def check_batches(batches: Iterator[pa.RecordBatch], *, conninfo: str) -> Iterator[pa.RecordBatch]:
    """mapInArrow body of reconcile: which of these loaded keys Aurora holds, per hotel and arrival month.

    ``present`` = stored with the loaded ``last_modified`` or a newer one (``newer``: live data kept);
    ``stale`` = stored older than what the run loaded; ``missing`` = not stored; ``regressed`` = stored older
    than ``earlier_last_modified`` (the newest version an earlier run loaded; null: none). The keys go in by
    the load's binary COPY (ADBC) into a temp table that the rollback drops.
    """
    with adbc_connect(conninfo) as conn, conn.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE check_keys (property_code text, confirmation_no text, arrival_month text,"
            " last_modified timestamptz, earlier_last_modified timestamptz) ON COMMIT DROP"
        )
        for batch in batches:
            if batch.num_rows:
                keys = [batch.column(f.name).cast(f.type) for f in _CHECK_ARROW]
                cur.adbc_ingest("check_keys", pa.RecordBatch.from_arrays(keys, schema=_CHECK_ARROW),
                                mode="append", temporary=True)  # fmt: skip
        cur.execute(_CHECK_SQL)
        rows = cur.fetchall()
        conn.rollback()
    yield check_batch(rows)
