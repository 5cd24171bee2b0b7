"""What the Aurora loader sends (Arrow typed as the tables' columns) and how it names what went wrong."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import adbc_driver_manager as adbc
import pyarrow as pa

from loaders.aurora import (
    RESERVATION_ARROW,
    ROOM_STAY_ARROW,
    key_sections,
    reservations_batch,
    room_stays_batch,
)
from loaders.aurora.writer import _error_name, _is_transient

_STAY = pa.struct([
    ("line_no", pa.int32()), ("room_type", pa.string()), ("rate_plan", pa.string()), ("start_date", pa.date32()),
    ("end_date", pa.date32()), ("nightly_rate", pa.decimal128(12, 2)), ("currency", pa.string()),
])  # fmt: skip


def _stay(line: int, room: str, rate: str) -> dict[str, object]:
    return {"line_no": line, "room_type": room, "rate_plan": "BAR", "start_date": dt.date(2026, 3, 1),
            "end_date": dt.date(2026, 3, 4), "nightly_rate": Decimal(rate), "currency": "EUR"}  # fmt: skip


def _batch() -> pa.RecordBatch:
    """Three reservations as Spark hands them over: with 2, 0 and 1 room stays, a chunk column, and
    integers wider than the table's columns."""
    n = 3
    columns: dict[str, pa.Array] = {}
    for field in RESERVATION_ARROW:
        if pa.types.is_int32(field.type):
            columns[field.name] = pa.array([2, 1, 3], pa.int64())  # cast down to integer columns
        elif field.name == "property_code":
            columns[field.name] = pa.array(["H00001", "H00001", "H00002"])
        elif field.name == "confirmation_no":
            columns[field.name] = pa.array(["100", "101", "200"])
        else:
            columns[field.name] = pa.nulls(n, field.type)
    columns["room_stays"] = pa.array(
        [[_stay(1, "KNG", "100.50"), _stay(2, "TWN", "80.00")], [], [_stay(1, "STE", "300.00")]],
        pa.list_(_STAY),
    )
    columns["_chunk"] = pa.array([0, 0, 0], pa.int32())
    return pa.RecordBatch.from_pydict(columns)


def test_reservations_are_typed_as_the_table_and_lose_the_extra_columns() -> None:
    out = reservations_batch(_batch())
    assert out.schema == RESERVATION_ARROW
    assert out.column("nights").to_pylist() == [2, 1, 3]
    assert out.column("confirmation_no").to_pylist() == ["100", "101", "200"]


def test_room_stays_are_one_row_each_keyed_by_their_reservation() -> None:
    out = room_stays_batch(_batch())
    assert out.schema == ROOM_STAY_ARROW
    assert [(r["property_code"], r["confirmation_no"], r["line_no"], r["room_type"], r["nightly_rate"])
            for r in out.to_pylist()] == [
        ("H00001", "100", 1, "KNG", Decimal("100.50")),
        ("H00001", "100", 2, "TWN", Decimal("80.00")),
        ("H00002", "200", 1, "STE", Decimal("300.00")),
    ]  # fmt: skip
    # a slice (Arrow batches often are) keys its stays by its own rows
    assert [(r["confirmation_no"], r["line_no"]) for r in room_stays_batch(_batch().slice(1, 2)).to_pylist()] == [
        ("200", 1)
    ]


# What ADBC raised in this repository's tests when pg_terminate_backend ended a loading connection.
_KILLED = (
    "IO: [libpq] Failed to execute query 'INSERT INTO migration_load_parts (run_id, part, chunk, reservations,"
    " room_stays) VALUES ($1, $2, $3, $4, $5)': FATAL:  terminating connection due to administrator command\n"
    "server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally\n"
)


def test_errors_are_named_by_their_condition_and_classified() -> None:
    io, internal = adbc.AdbcStatusCode.IO, adbc.AdbcStatusCode.INTERNAL
    killed = adbc.OperationalError(_KILLED, status_code=io)
    assert _error_name(killed) == "AdminShutdown:57P01" and _is_transient(killed)
    dropped = adbc.OperationalError(
        "IO: [libpq] Failed to begin transaction: no connection to the server", status_code=io
    )
    assert _error_name(dropped) == "OperationalError:" and _is_transient(dropped)
    full = adbc.OperationalError(
        "IO: [libpq] Failed to connect: FATAL:  sorry, too many clients already", status_code=io
    )
    assert _error_name(full) == "TooManyConnections:53300" and _is_transient(full)
    serialization = adbc.InternalError("INTERNAL: could not serialize access", status_code=internal, sqlstate="40001")
    assert _error_name(serialization) == "SerializationFailure:40001" and _is_transient(serialization)
    wrong_type = adbc.DataError(
        "INVALID_DATA: incorrect binary data format", status_code=adbc.AdbcStatusCode.INVALID_DATA, sqlstate="22P03"
    )
    assert _error_name(wrong_type) == "InvalidBinaryRepresentation:22P03" and not _is_transient(wrong_type)
    duplicate = adbc.IntegrityError(
        "INTEGRITY: duplicate key value", status_code=adbc.AdbcStatusCode.INTEGRITY, sqlstate="23505"
    )
    assert _error_name(duplicate) == "UniqueViolation:23505" and not _is_transient(duplicate)
    # a FATAL message that is not one of a connection the server ended: no guess
    other = adbc.ProgrammingError(
        "UNAUTHENTICATED: FATAL:  password authentication failed", status_code=adbc.AdbcStatusCode.UNAUTHENTICATED
    )
    assert _error_name(other) == "ProgrammingError:" and not _is_transient(other)


def test_each_table_section_of_the_keys_file_builds_only_that_table() -> None:
    sections = key_sections()
    assert list(sections) == ["reservations", "room_stays"]
    assert "reservations_pkey" in sections["reservations"] and "room_stays" not in sections["reservations"]
    assert "room_stays_pkey" in sections["room_stays"] and "ON reservations" not in sections["room_stays"]
    assert sections["reservations"].count("CREATE INDEX") == 2
