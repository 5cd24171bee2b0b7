"""The sample's fixed vocabulary: its time frame, property zones, guest names, channel and status spellings,
and the rules its broken reservations break."""

from __future__ import annotations

import numpy as np

from transforms.rules import REASON_CODES

N_PROPERTIES = 7500
EXTRACT_TIME = np.datetime64("2026-11-20T00:00:00")
HISTORY_START = np.datetime64("2024-11-20T00:00:00")
# (IANA zone, country, currency, weight): real zones, several with DST in both hemispheres.
ZONES: tuple[tuple[str, str, str, float], ...] = (
    ("America/New_York", "US", "USD", 14), ("America/Chicago", "US", "USD", 8), ("America/Denver", "US", "USD", 3),
    ("America/Los_Angeles", "US", "USD", 8), ("America/Phoenix", "US", "USD", 2), ("Pacific/Honolulu", "US", "USD", 1),
    ("America/Toronto", "CA", "CAD", 3), ("America/Vancouver", "CA", "CAD", 1), ("America/Mexico_City", "MX", "MXN", 2),
    ("America/Sao_Paulo", "BR", "BRL", 2), ("America/Argentina/Buenos_Aires", "AR", "ARS", 1),
    ("Europe/London", "GB", "GBP", 6), ("Europe/Lisbon", "PT", "EUR", 3), ("Europe/Paris", "FR", "EUR", 5),
    ("Europe/Berlin", "DE", "EUR", 5), ("Europe/Madrid", "ES", "EUR", 4), ("Europe/Rome", "IT", "EUR", 3),
    ("Europe/Amsterdam", "NL", "EUR", 2), ("Europe/Zurich", "CH", "CHF", 1), ("Europe/Istanbul", "TR", "TRY", 1),
    ("Asia/Dubai", "AE", "AED", 2), ("Asia/Kolkata", "IN", "INR", 2), ("Asia/Singapore", "SG", "SGD", 2),
    ("Asia/Shanghai", "CN", "CNY", 4), ("Asia/Tokyo", "JP", "JPY", 3), ("Asia/Seoul", "KR", "KRW", 1),
    ("Australia/Sydney", "AU", "AUD", 2), ("Australia/Perth", "AU", "AUD", 1), ("Pacific/Auckland", "NZ", "NZD", 1),
    ("Africa/Johannesburg", "ZA", "ZAR", 1), ("Africa/Cairo", "EG", "EGP", 1),
)  # fmt: skip
# One broken reservation per row rule, in turn (the rules that EDW text can break).
BROKEN_LATEST = tuple(
    r
    for r in REASON_CODES
    if r not in ("MALFORMED_XML", "ORPHAN_ROOM_STAY", "ITEM_TOO_LARGE", "LATEST_VERSION_INVALID")
)
BROKEN_OLDER = ("BAD_DATE", "BAD_AMOUNT", "BAD_CURRENCY", "BAD_STATUS", "DEPARTURE_NOT_AFTER_ARRIVAL")
# Reasons that leave a row without its key: every version of such a reservation is broken, not only its newest.
UNKEYED = frozenset({"MISSING_KEY", "UNKNOWN_PROPERTY"})
FIRST_NAMES = ("Ana", "João", "Maria", "James", "Olivia", "Liam", "Emma", "Noah", "Sofia", "Lukas", "Mia", "Hiro",
               "Yuki", "Wei", "Priya", "Arjun", "Fatima", "Omar", "Chloé", "Zoë", "Seán", "Siobhán", "Björn", "Ingrid",
               "Mateo", "Valentina", "Kwame", "Amara", "Chen", "Aiko")  # fmt: skip
LAST_NAMES = ("Silva", "Santos", "Smith", "Johnson", "García", "Müller", "Rossi", "Dubois", "Tanaka", "Kim", "Patel",
              "O'Brien", "Nguyen", "Kowalski", "Andersson", "Costa", "Haddad", "Okafor", "van der Berg", "López",
              "Schmidt", "Martin", "Wang", "Sato", "Brown", "Ferreira", "Novak", "Ivanova", "Cohen",
              "Singh")  # fmt: skip
DOMAINS = ("example.com", "mail.example.org", "example.net", "corp.example.com")
# The real dataset's distribution channel -> the EDW's CHANNEL_CD spelling.
CHANNELS = {"TA/TO": "ota", "Direct": "DIRECT", "Corporate": "corp ", "GDS": "GDS", "Undefined": ""}
STATUS_TEXT = {
    "CONFIRMED": ("RES", "CNF", "res", " CNF"),
    "CANCELLED": ("CXL", "cxl"),
    "NO_SHOW": ("NS",),
    "IN_HOUSE": ("INH",),
    "CHECKED_OUT": ("CO", "co"),
    "WAITLISTED": ("WL",),
}
