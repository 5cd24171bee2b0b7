"""The run records (``migration_runs``) and the PII key registry (``pii_data_keys``), through psycopg."""

from __future__ import annotations

from base64 import b64decode
from collections.abc import Mapping
from typing import Any

from loaders.aurora.connection import psycopg_connect


def record_run(conninfo: str, row: Mapping[str, Any]) -> None:
    """Insert or update this run's ``migration_runs`` row."""
    from psycopg.types.json import Jsonb

    cols = ("run_id", "env", "status", "code_version", "started_at", "finished_at", "selection", "counts", "timings")
    values = [Jsonb(row[c]) if c in ("selection", "counts", "timings") else row.get(c) for c in cols]
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols[1:])
    with psycopg_connect(conninfo) as conn:
        conn.execute(
            f"INSERT INTO migration_runs ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))}) "  # type: ignore[arg-type]
            f"ON CONFLICT (run_id) DO UPDATE SET {updates}",
            values,
        )


def register_data_key(conninfo: str, key: Mapping[str, Any], run_id: str) -> None:
    """The run's data key in the key registry (before any row that uses it is written)."""
    with psycopg_connect(conninfo, application_name="edw-migration") as conn:
        conn.execute(
            "INSERT INTO pii_data_keys (key_ref, kms_key_id, encrypted_data_key, run_id) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (key_ref) DO NOTHING",
            (key["key_ref"], key["kms_key_id"], b64decode(key["encrypted_data_key"]), run_id),
        )


def record_reconcile(conninfo: str, run_id: str, verdict: Mapping[str, Any]) -> None:
    from psycopg.types.json import Jsonb

    with psycopg_connect(conninfo) as conn:
        conn.execute("UPDATE migration_runs SET reconcile = %s WHERE run_id = %s", (Jsonb(verdict), run_id))


def check_parts(conninfo: str, run_id: str, parts_key: str) -> int:
    """Before a resumed initial load skips the parts an earlier attempt committed: the rows those markers
    count must be in the tables (with the run's id; live hotels' rows, upserted afterwards, may add more).
    None stored (the tables were emptied since): the markers are dropped and everything loads again (the
    count of parts dropped is returned). Some but fewer: ValueError."""
    with psycopg_connect(conninfo) as conn:
        marked = conn.execute(
            "SELECT coalesce(sum(reservations), 0), count(*) FROM migration_load_parts WHERE run_id = %s",
            (parts_key,),
        ).fetchone()
        stored = conn.execute("SELECT count(*) FROM reservations WHERE run_id = %s", (run_id,)).fetchone()
        assert marked is not None and stored is not None
        if int(stored[0]) >= int(marked[0]):
            return 0
        if int(stored[0]) == 0:
            conn.execute("DELETE FROM migration_load_parts WHERE run_id = %s", (parts_key,))
            return int(marked[1])
    raise ValueError(
        f"aurora: the tables hold {stored[0]} rows of run {run_id} where its load markers count {marked[0]}:"
        " empty both tables and run again without --resume"
    )
