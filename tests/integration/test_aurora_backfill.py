"""The Aurora backfill against a real PostgreSQL, reservation by reservation: the version guard, the room stays
replaced by the incoming ones (and left in place when they did not change), a failure kept to its own
transaction."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from loaders import aurora
from loaders.outcomes import WriteStats
from tests.integration.harness import Targets, fresh_targets

pytestmark = pytest.mark.integration

_SCHEMA = (
    "property_code string, confirmation_no string, status string, created_at timestamp, last_modified timestamp,"
    " source string, source_seq long, arrival_date date, departure_date date, nights int, adults int,"
    " children int, guest struct<first_name: binary, last_name: binary, email: binary, phone: binary,"
    " country: string>, email_hash string, card_type string, card_last4 string, total_amount decimal(12,2),"
    " currency string, channel string, pii_key string, room_stays array<struct<line_no: int, room_type: string,"
    " rate_plan: string, start_date: date, end_date: date, nightly_rate: decimal(12,2), currency: string>>"
)
OLD, NEW, LIVE = (dt.datetime(2025, m, d, 10, tzinfo=dt.UTC) for m, d in ((3, 1), (3, 2), (6, 1)))


def _stay(line: int, room: str, rate: str) -> tuple[Any, ...]:
    return (line, room, "BAR", dt.date(2025, 4, 1), dt.date(2025, 4, 3), Decimal(rate), "EUR")


def _frame(spark: Any, rows: list[tuple[str, dt.datetime, list[tuple[Any, ...]]]]) -> Any:
    guest = (b"\x01" * 28, b"\x02" * 28, None, None, "PT")
    fixed = ("CONFIRMED", OLD, None, "EDW", 1, dt.date(2025, 4, 1), dt.date(2025, 4, 3), 2, 2, 0, guest, "ab" * 32,
             "VI", "1111", Decimal("200.00"), "EUR", "WEB", "0123abcd4567ef89")  # fmt: skip
    data = [("H00001", cn, *fixed[:2], modified, *fixed[3:], stays) for cn, modified, stays in rows]
    return spark.createDataFrame(data, _SCHEMA)


def _load(spark: Any, targets: Targets, tmp: Path, path: str, rows: list[Any], **kw: Any) -> WriteStats:
    settings = aurora.AuroraSettings(conninfo=targets.conninfo, run_id=f"t-{path}", max_attempts=2, path=path, **kw)
    if path == "initial":
        aurora.prepare_initial(targets.conninfo)
    stats = aurora.load_aurora(
        _frame(spark, rows),
        settings=settings,
        max_connections=2,
        results_path=str(tmp / path / "results"),
        failed_path=str(tmp / path / "failed"),
    )
    if path == "initial":
        aurora.finish_initial(targets.conninfo)
    return stats


def _stays(targets: Targets) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    for row in targets.sql("SELECT confirmation_no, line_no, room_type, nightly_rate FROM room_stays ORDER BY 1, 2"):
        out.setdefault(row[0], []).append(row[1:])
    return out


def test_backfill_guards_versions_and_replaces_only_the_room_stays_that_changed(spark, moto, postgres, tmp_path):
    targets = fresh_targets(moto, postgres, "pg_backfill")
    aurora.ensure_schema(targets.conninfo)
    # GIVEN stored reservations: A and B with two stays, C with one, E newer than any extract (live data)
    stored = [
        ("A", OLD, [_stay(1, "KNG", "100"), _stay(2, "TWN", "80")]),
        ("B", OLD, [_stay(1, "KNG", "100"), _stay(2, "TWN", "80")]),
        ("C", OLD, [_stay(1, "KNG", "100")]),
        ("E", LIVE, [_stay(1, "KNG", "100")]),
    ]
    first = _load(spark, targets, tmp_path, "initial", stored)
    assert (first.written, first.kept_newer, first.failed) == (4, 0, 0)
    places = dict(targets.sql("SELECT confirmation_no || '#' || line_no, ctid::text FROM room_stays"))

    # WHEN a backfill brings A unchanged (same version), B newer without stays, C newer with line 1 changed
    # and a line 3, D new, and E older than what is stored
    incoming = [
        ("A", OLD, [_stay(1, "KNG", "100"), _stay(2, "TWN", "80")]),
        ("B", NEW, []),
        ("C", NEW, [_stay(1, "KNG", "120"), _stay(3, "STE", "300")]),
        ("D", NEW, [_stay(1, "KNG", "90")]),
        ("E", NEW, [_stay(1, "TWN", "50")]),
    ]
    second = _load(spark, targets, tmp_path, "backfill", incoming)

    # THEN the guard keeps E (counted), and every other reservation holds exactly its incoming stays
    assert (second.written, second.kept_newer, second.failed) == (4, 1, 0)
    assert targets.sql("SELECT confirmation_no, last_modified = %s FROM reservations ORDER BY 1", (LIVE,)) == [
        ("A", False), ("B", False), ("C", False), ("D", False), ("E", True),
    ]  # fmt: skip
    assert _stays(targets) == {
        "A": [(1, "KNG", Decimal("100.00")), (2, "TWN", Decimal("80.00"))],
        "C": [(1, "KNG", Decimal("120.00")), (3, "STE", Decimal("300.00"))],
        "D": [(1, "KNG", Decimal("90.00"))],
        "E": [(1, "KNG", Decimal("100.00"))],
    }
    # AND the stays that did not change were not rewritten (A's, and E's: it was not written at all)
    now = dict(targets.sql("SELECT confirmation_no || '#' || line_no, ctid::text FROM room_stays"))
    assert {k: now[k] for k in ("A#1", "A#2", "E#1")} == {k: places[k] for k in ("A#1", "A#2", "E#1")}
    assert now["C#1"] != places["C#1"]


def _failed_lines(folder: Path) -> list[str]:
    return [line for p in folder.glob("*.json") for line in p.read_text().splitlines()]


def test_a_row_that_fails_its_transaction_fails_alone_with_its_condition(spark, moto, postgres, tmp_path):
    targets = fresh_targets(moto, postgres, "pg_backfill_failure")
    aurora.ensure_schema(targets.conninfo)
    _load(spark, targets, tmp_path, "initial", [("A", OLD, [_stay(1, "KNG", "100")])])
    # WHEN one reservation carries two different stays under one line number (a unique violation), in one
    # transaction with two good ones
    incoming = [
        ("A", NEW, [_stay(1, "KNG", "110")]),
        ("F", NEW, [_stay(1, "KNG", "100"), _stay(1, "TWN", "80")]),
        ("G", NEW, [_stay(1, "STE", "300")]),
    ]
    stats = _load(spark, targets, tmp_path, "backfill", incoming)
    # THEN only F fails, not retried (the error is not transient), with its condition's name; the others load
    assert (stats.written, stats.kept_newer, stats.failed, stats.retries) == (2, 0, 1, 0)
    lines = _failed_lines(tmp_path / "backfill" / "failed")
    assert len(lines) == 1 and '"pk":"H00001#F"' in lines[0] and '"error":"UniqueViolation:23505"' in lines[0]
    assert targets.sql("SELECT confirmation_no FROM reservations ORDER BY 1") == [("A",), ("G",)]
    assert _stays(targets) == {"A": [(1, "KNG", Decimal("110.00"))], "G": [(1, "STE", Decimal("300.00"))]}


def test_a_row_that_fails_an_initial_chunk_fails_alone_and_a_retried_chunk_reports_it_again(
    spark, moto, postgres, tmp_path
):
    targets = fresh_targets(moto, postgres, "pg_initial_failure")
    aurora.ensure_schema(targets.conninfo)
    # WHEN one chunk of an initial load holds a room type with a NUL character (text cannot hold it)
    rows = [
        ("A", OLD, [_stay(1, "KNG", "100")]),
        ("B", OLD, [_stay(1, "K\x00NG", "100")]),
        ("C", OLD, [_stay(1, "TWN", "90")]),
        ("D", OLD, [_stay(1, "STE", "300")]),
    ]
    stats = _load(spark, targets, tmp_path, "initial", rows)
    # THEN B alone fails, with its condition (psycopg's word: the chunk is bisected on a psycopg connection,
    # which refuses the value before the server sees it), and the marker counts what the chunk committed
    assert (stats.written, stats.failed, stats.retries) == (3, 1, 0)
    (line,) = _failed_lines(tmp_path / "initial" / "failed")
    assert '"pk":"H00001#B"' in line and '"error":"DataError:"' in line
    assert targets.sql("SELECT confirmation_no FROM reservations ORDER BY 1") == [("A",), ("C",), ("D",)]
    assert targets.sql("SELECT confirmation_no FROM room_stays ORDER BY 1") == [("A",), ("C",), ("D",)]
    assert targets.sql("SELECT sum(reservations), sum(room_stays) FROM migration_load_parts") == [(3, 3)]
    # AND a task retried after the chunk committed skips it and reports the same outcome, not 4 written
    again = aurora.load_aurora(
        _frame(spark, rows),
        settings=aurora.AuroraSettings(conninfo=targets.conninfo, run_id="t-initial", max_attempts=2, path="initial"),
        max_connections=2,
        results_path=str(tmp_path / "again" / "results"),
        failed_path=str(tmp_path / "again" / "failed"),
    )
    assert (again.written, again.failed) == (3, 1)
    assert [x.split('"error":')[1] for x in _failed_lines(tmp_path / "again" / "failed")] == [line.split('"error":')[1]]
    assert targets.sql("SELECT count(*) FROM reservations") == [(3,)]
