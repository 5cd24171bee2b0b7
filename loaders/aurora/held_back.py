"""The held-back registry (``migration_held_back``): reservations a run held back because their newest version
was invalid, with that version's time, so that a later run whose window cannot see it loads no older one.

Read once by the driver (it is as small as the quarantine: a few hundred thousand keys at most); written and
cleared from the executors by binary COPY into a temp table and one statement per task.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from loaders.aurora.connection import adbc_connect
from loaders.aurora.rows import UTC_MICROS

HELD_ARROW = pa.schema([("property_code", pa.string()), ("confirmation_no", pa.string()),
                        ("last_modified", UTC_MICROS), ("source_seq", pa.int64())])  # fmt: skip
_STAGE = ("CREATE TEMP TABLE stage_held (property_code text, confirmation_no text, last_modified timestamptz,"
          " source_seq bigint) ON COMMIT DROP")  # fmt: skip
# A newer held version replaces an older one; NULL (undatable) is newest of all.
_RECORD = """
INSERT INTO migration_held_back AS h (property_code, confirmation_no, last_modified, source_seq, run_id)
SELECT property_code, confirmation_no, last_modified, source_seq, $1 FROM stage_held
ON CONFLICT (property_code, confirmation_no) DO UPDATE
   SET last_modified = EXCLUDED.last_modified, source_seq = EXCLUDED.source_seq, run_id = EXCLUDED.run_id,
       held_at = now()
 WHERE h.last_modified IS NOT NULL AND (EXCLUDED.last_modified IS NULL
    OR (EXCLUDED.last_modified, coalesce(EXCLUDED.source_seq, -1)) > (h.last_modified, coalesce(h.source_seq, -1)))
"""
# A loaded version at least as new as the held one clears the entry.
_CLEAR = """
DELETE FROM migration_held_back h USING stage_held s
 WHERE h.property_code = s.property_code AND h.confirmation_no = s.confirmation_no
   AND h.last_modified IS NOT NULL
   AND (s.last_modified, coalesce(s.source_seq, -1)) >= (h.last_modified, coalesce(h.source_seq, -1))
"""


def read_held_back(conninfo: str) -> pa.Table:
    """Every held-back key with its newest invalid version's time (``HELD_ARROW``)."""
    with adbc_connect(conninfo) as conn, conn.cursor() as cur:
        cur.execute("SELECT property_code, confirmation_no, last_modified, source_seq FROM migration_held_back")
        table = cur.fetch_arrow_table()
    return pa.Table.from_arrays([table.column(i).cast(f.type) for i, f in enumerate(HELD_ARROW)], schema=HELD_ARROW)


def held_back_batches(batches: Iterator[pa.RecordBatch], *, conninfo: str, run_id: str, clear: bool) -> Iterator[Any]:
    """mapInArrow body: record these held-back keys (``clear=False``) or clear the entries these loaded
    versions supersede (``clear=True``); yields one row with the number of keys sent."""
    sent = 0
    conn: Any = None
    cur: Any = None
    try:
        for batch in batches:
            if not batch.num_rows:
                continue
            if conn is None:  # a task without rows opens no connection
                conn = adbc_connect(conninfo)
                cur = conn.cursor()
                cur.execute(_STAGE)
            keys = [batch.column(f.name).cast(f.type) for f in HELD_ARROW]
            cur.adbc_ingest("stage_held", pa.RecordBatch.from_arrays(keys, schema=HELD_ARROW),
                            mode="append", temporary=True)  # fmt: skip
            sent += batch.num_rows
        if conn is not None and cur is not None:
            cur.execute(_CLEAR if clear else _RECORD, () if clear else (run_id,))
            conn.commit()
    finally:
        if cur is not None:
            cur.close()
        if conn is not None:
            conn.close()
    yield pa.RecordBatch.from_pylist([{"keys": sent}], schema=pa.schema([("keys", pa.int64())]))
