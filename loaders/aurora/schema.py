"""The versioned schema, the initial load's key drop and rebuild, and the choice of load path."""

from __future__ import annotations

import re
import time
from importlib import resources

from loaders.aurora.connection import psycopg_connect

_VERSIONED = re.compile(r"^\d{3}_[a-z0-9_]+\.sql$")


def _sql_file(name: str) -> str:
    return (resources.files("loaders") / "sql" / name).read_text(encoding="utf-8")


def schema_sql() -> list[str]:
    """The versioned schema files (NNN_name.sql), in order."""
    folder = resources.files("loaders") / "sql"
    return [_sql_file(n) for n in sorted(p.name for p in folder.iterdir() if _VERSIONED.match(p.name))]


def ensure_schema(conninfo: str) -> None:
    """Apply the schema idempotently (advisory lock: concurrent runs do not race)."""
    with psycopg_connect(conninfo, autocommit=False) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(727274)")
        for sql in schema_sql():
            conn.execute(sql)  # type: ignore[arg-type]
        conn.commit()


def choose_path(conninfo: str, requested: str) -> str:
    """``initial`` when asked for (the tables must be empty) or, for ``auto``, when both tables are empty."""
    with psycopg_connect(conninfo) as conn:
        row = conn.execute(
            "SELECT NOT EXISTS (SELECT 1 FROM reservations) AND NOT EXISTS (SELECT 1 FROM room_stays)"
        ).fetchone()
    empty = bool(row and row[0])
    if requested == "initial" and not empty:
        raise ValueError("aurora.load_path: initial needs empty reservations and room_stays tables")
    return "initial" if requested == "initial" or (requested == "auto" and empty) else "backfill"


def prepare_initial(conninfo: str) -> None:
    """Drop keys and indexes, under an exclusive lock and only while both tables are still empty."""
    with psycopg_connect(conninfo, autocommit=False) as conn:
        conn.execute("LOCK TABLE reservations, room_stays IN ACCESS EXCLUSIVE MODE")
        row = conn.execute("SELECT EXISTS (SELECT 1 FROM reservations) OR EXISTS (SELECT 1 FROM room_stays)").fetchone()
        if row and row[0]:
            raise RuntimeError("initial load: the tables are no longer empty")
        conn.execute(_sql_file("drop_keys.sql"))  # type: ignore[arg-type]
        conn.commit()


def key_sections() -> dict[str, str]:
    """``002_keys.sql`` cut at its ``-- table: NAME`` lines: each table's keys and indexes."""
    parts = re.split(r"^-- table: (\w+)\n", _sql_file("002_keys.sql"), flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def finish_initial(conninfo: str) -> dict[str, float]:
    """Build the keys and indexes on the loaded data, then ANALYZE: each table on a connection of its own,
    both at the same time. Returns the seconds until every index was built, and those of the rest."""
    from concurrent.futures import ThreadPoolExecutor


    started = time.monotonic()

    def build(table: str, sql: str) -> float:
        with psycopg_connect(conninfo, autocommit=True) as conn:
            conn.execute("SET maintenance_work_mem = '1GB'")
            conn.execute(sql)  # type: ignore[arg-type]
            indexed = time.monotonic()
            conn.execute(f"ANALYZE {table}")  # type: ignore[arg-type]
        return indexed

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(build, table, sql) for table, sql in key_sections().items()]
        indexed = max(f.result() for f in futures)  # the first failure is raised, once both have ended
    return {"index_seconds": round(indexed - started, 3), "analyze_seconds": round(time.monotonic() - indexed, 3)}
