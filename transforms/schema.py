"""Column names of the EDW layouts (SPEC "Inputs"), shared by readers and transforms."""

from __future__ import annotations

RESERVATION_COLUMNS: tuple[str, ...] = (
    "CONF_NO", "PROP_CD", "RES_STATUS", "CREATE_TS", "LAST_MOD_TS", "EDW_SEQ", "ARR_DT", "DEP_DT",
    "ADULTS", "CHILDREN", "GUEST_FIRST_NM", "GUEST_LAST_NM", "GUEST_EMAIL", "GUEST_PHONE",
    "GUEST_COUNTRY", "CARD_TYPE", "CARD_NO", "TOTAL_AMT", "CURRENCY_CD", "CHANNEL_CD",
)  # fmt: skip
# What the reader hands on: CARD_NO is replaced by CARD_LAST4 in the very first select.
READ_RESERVATION_COLUMNS: tuple[str, ...] = tuple("CARD_LAST4" if c == "CARD_NO" else c for c in RESERVATION_COLUMNS)
ROOM_STAY_COLUMNS: tuple[str, ...] = (
    "CONF_NO", "PROP_CD", "EDW_SEQ", "LINE_NO", "ROOM_TYPE_CD", "RATE_PLAN_CD", "STAY_START_DT",
    "STAY_END_DT", "NIGHTLY_RATE", "CURRENCY_CD",
)  # fmt: skip
PROPERTY_COLUMNS: tuple[str, ...] = (
    "LEGACY_PROP_CD", "PROPERTY_CODE", "PROPERTY_NAME", "COUNTRY", "TIMEZONE", "CUTOVER_TS",
)  # fmt: skip
GUEST_PII_COLUMNS: tuple[str, ...] = ("GUEST_FIRST_NM", "GUEST_LAST_NM", "GUEST_EMAIL", "GUEST_PHONE")
