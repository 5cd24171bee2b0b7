"""Column -> Column functions: Spark built-ins only, null in -> null out."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from pyspark.sql import Column
from pyspark.sql import functions as F

# (regex a value must match, Spark datetime pattern). The regex picks the one pattern worth trying:
# a failed parse costs an exception inside Spark, a regex test does not.
TIMESTAMP_FORMATS: tuple[tuple[str, str], ...] = (
    (r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$", "yyyy-MM-dd HH:mm:ss"),
    (r"^\d{2}/\d{2}/\d{4} \d{2}:\d{2}:\d{2}$", "MM/dd/yyyy HH:mm:ss"),
)
DATE_FORMATS: tuple[tuple[str, str], ...] = (
    (r"^\d{8}$", "yyyyMMdd"),
    (r"^\d{4}-\d{2}-\d{2}$", "yyyy-MM-dd"),
)

# First digits of a PAN -> card type code (used when CARD_TYPE is empty).
PAN_PREFIX_TYPES: tuple[tuple[str, str], ...] = (
    ("^4", "VI"),
    ("^(5[1-5]|222[1-9]|22[3-9][0-9]|2[3-6][0-9]{2}|27[01][0-9]|2720)", "MC"),
    ("^3[47]", "AX"),
    ("^(6011|65|64[4-9])", "DS"),
    ("^35(2[89]|[3-8][0-9])", "JC"),
    ("^3(0[0-5]|[68])", "DC"),
)
CARD_TYPE_ALIASES: Mapping[str, str] = {
    "VISA": "VI", "VI": "VI", "VS": "VI",
    "MASTERCARD": "MC", "MC": "MC", "CA": "MC",
    "AMEX": "AX", "AX": "AX", "AMERICAN EXPRESS": "AX",
    "DISCOVER": "DS", "DS": "DS", "DI": "DS",
    "JCB": "JC", "JC": "JC",
    "DINERS": "DC", "DC": "DC",
}  # fmt: skip


NULL_SPELLINGS: tuple[str, ...] = ("", "NULL", "null", "NA", "N/A", "\\N")


def sql_string(value: str) -> str:
    """``value`` as a Spark SQL string literal (quote and backslash escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def literal_strings(values: Sequence[str]) -> Column:
    """An array<string> literal of ``values``, parsed from one SQL expression: a py4j round trip or three, where
    a ``F.lit`` per value takes three each (the driver builds a run's plan out of thousands of such calls)."""
    return F.expr("array(" + ", ".join(sql_string(v) for v in values) + ")")


def blank_as_null(col: Column) -> Column:
    """Trimmed string, or null when empty or one of the EDW's null spellings (:data:`NULL_SPELLINGS`)."""
    trimmed = F.trim(col)
    return F.when(F.array_contains(literal_strings(NULL_SPELLINGS), trimmed), F.lit(None)).otherwise(trimmed)


def code(col: Column) -> Column:
    """Codes carry stray spaces and lower case: trimmed, upper-cased, empty -> null."""
    return F.upper(blank_as_null(col))


def local_timestamp(col: Column, formats: Sequence[tuple[str, str]] = TIMESTAMP_FORMATS) -> Column:
    """Wall-clock timestamp in one of the EDW formats (no zone attached yet); null when none parses."""
    return _parsed(col, formats, "timestamp")


def _iso_text(text: Column, *parts: tuple[int, int] | str) -> Column:
    return F.concat(*[F.lit(p) if isinstance(p, str) else F.substring(text, *p) for p in parts])


# The patterns above, as the (1-based position, length) pieces of a value their regex admitted, put in ISO 8601
# order: a cast of that text parses it with Spark's own date and time parser, which is many times cheaper than
# the java.time formatter behind to_timestamp/to_date (README "Measured"), and rejects the same impossible
# values (month 13, 30 February, hour 24: null). A pattern not listed here goes through the formatter.
_AS_ISO_TEXT: Mapping[str, Callable[[Column], Column]] = {
    "yyyy-MM-dd HH:mm:ss": lambda t: t,
    "MM/dd/yyyy HH:mm:ss": lambda t: _iso_text(t, (7, 4), "-", (1, 2), "-", (4, 2), (11, 9)),
    "yyyyMMdd": lambda t: _iso_text(t, (1, 4), "-", (5, 2), "-", (7, 2)),
    "yyyy-MM-dd": lambda t: t,
}


def _parsed(col: Column, formats: Sequence[tuple[str, str]], kind: str) -> Column:
    text = blank_as_null(col)
    formatter = F.to_timestamp if kind == "timestamp" else F.to_date
    out: Column = F.lit(None)
    for regex, fmt in reversed(formats):
        iso = _AS_ISO_TEXT.get(fmt)
        parsed = iso(text).cast(kind) if iso else formatter(text, fmt)
        out = F.when(text.rlike(regex), parsed).otherwise(out)
    return out


# Spark's to_utc_timestamp resolves a zone that is a column anew for every value (regular expressions
# compiled, zone rules looked up); the job's JVM function (jvm/src/main/java/migration/time/ToUtc.java, the
# same conversion) resolves each zone name once. The run registers it (pipeline/functions.py).
TO_UTC_FUNCTION = "migration_to_utc"


def utc_from_local(local_ts: Column, tz: Column | str) -> Column:
    """Property-local wall time -> UTC, with the property's IANA zone (DST-aware): ``to_utc_timestamp``.

    ``tz``: a zone column (the property's), through :data:`TO_UTC_FUNCTION`; or a zone name, built in."""
    if isinstance(tz, str):
        return F.to_utc_timestamp(local_ts, tz)
    return F.timestamp_micros(F.call_udf(TO_UTC_FUNCTION, F.unix_micros(local_ts), tz))


ISO_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)?$"
ISO_OFFSET = r"(Z|[+-]\d{2}(:?\d{2})?)$"


def iso_timestamp(col: Column, tz: Column | str) -> Column:
    """ISO 8601 date-time -> UTC: with an offset ('Z', '+01:00', '-0500') the instant it names, without
    one the wall time in ``tz`` (the hotel's zone: a column, or a zone name). Null when absent or not ISO 8601."""
    text = F.trim(col)
    wall = text.cast("timestamp")
    return F.when(
        text.rlike(ISO_TIMESTAMP),
        F.when(text.rlike(ISO_OFFSET), wall).otherwise(utc_from_local(wall, tz)),
    )


def parsed_date(col: Column, formats: Sequence[tuple[str, str]] = DATE_FORMATS) -> Column:
    return _parsed(col, formats, "date")


def parsed_amount(col: Column, *, precision: int = 12, scale: int = 2) -> Column:
    """'1,234.50' -> 1234.50 as decimal; null when not a number (or too large for the type)."""
    # (translate: a character map; the regular expression [,\s] it replaces cost a match per value)
    text = F.translate(blank_as_null(col), ", \t\n\u000b\f\r", "")
    is_number = text.rlike(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$")
    return F.when(is_number, text.cast(f"decimal({precision},{scale})"))


def parsed_int(col: Column) -> Column:
    text = blank_as_null(col)
    return F.when(text.rlike(r"^[+-]?[0-9]{1,9}$"), text.cast("int"))


def parsed_long(col: Column) -> Column:
    text = blank_as_null(col)
    return F.when(text.rlike(r"^[+-]?[0-9]{1,18}$"), text.cast("long"))


def card_last4(pan_or_mask: Column) -> Column:
    """Last four digits of a PAN or of a masked number ('XXXX…1234'); null when fewer than four digits."""
    digits = F.regexp_replace(F.coalesce(pan_or_mask, F.lit("")), r"[^0-9]", "")
    return F.when(F.length(digits) >= 4, F.substring(digits, -4, 4))


def card_type(type_col: Column, pan_or_mask: Column) -> Column:
    """Normalized card type code: the EDW's CARD_TYPE when present, else derived from the PAN's prefix."""
    declared = code(type_col)
    mapping = F.create_map(*[F.lit(x) for kv in CARD_TYPE_ALIASES.items() for x in kv])
    digits = F.regexp_replace(F.coalesce(pan_or_mask, F.lit("")), r"[^0-9X*]", "")
    derived: Column = F.lit(None).cast("string")
    for pattern, type_code in reversed(PAN_PREFIX_TYPES):
        derived = F.when(digits.rlike(pattern), F.lit(type_code)).otherwise(derived)
    return F.coalesce(F.element_at(mapping, declared), declared, derived)


def normalized_email(col: Column) -> Column:
    return F.lower(blank_as_null(col))


def mapped(col: Column, mapping: Mapping[str, str]) -> Column:
    """Look a code up in a literal mapping; null when absent."""
    lookup = F.create_map(*[F.lit(x) for kv in mapping.items() for x in kv])
    return F.element_at(lookup, col)
