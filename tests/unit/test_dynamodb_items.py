from __future__ import annotations

import datetime as dt
from decimal import Decimal

from loaders.dynamodb import build_item, item_size, serialize, write_units
from loaders.dynamodb.items import units_by_index
from loaders.retry import AimdRate, TokenBucket, backoff_delay

ROW = {
    "property_code": "H00001", "confirmation_no": "1001", "status": "CONFIRMED",
    "created_at": dt.datetime(2025, 1, 10, 14, 0, tzinfo=dt.UTC),
    "last_modified": dt.datetime(2025, 1, 12, 14, 0, 5), "source": "EDW", "source_seq": 11,
    "arrival_date": dt.date(2025, 3, 1), "departure_date": dt.date(2025, 3, 4), "nights": 3, "adults": 2,
    "children": None, "guest": {"first_name": b"\x01abc", "last_name": None, "email": b"\x01e", "phone": None,
                                "country": "PRT"},
    "card_type": "VI", "card_last4": "1111", "total_amount": Decimal("1234.50"), "currency": "USD", "channel": "OTA",
    "room_stays": [{"line_no": 1, "room_type": "KNG", "rate_plan": "BAR", "start_date": dt.date(2025, 3, 1),
                    "end_date": dt.date(2025, 3, 4), "nightly_rate": Decimal("411.50"), "currency": "USD"}],
    "email_hash": "ab12", "is_live": False,
}  # fmt: skip


def test_item_keys_and_attributes_follow_the_spec() -> None:
    item = build_item(ROW, "run-1")
    assert item["pk"] == "RES#H00001#1001" and item["sk"] == "ITINERARY"
    assert (item["gsi1pk"], item["gsi1sk"]) == ("GUEST#ab12", "2025-03-01#H00001#1001")
    assert (item["gsi2pk"], item["gsi2sk"]) == ("PROP#H00001#2025-03", "2025-03-01#1001")
    # fixed-width UTC with microseconds (SPEC): text order is time order
    assert item["last_modified"] == "2025-01-12T14:00:05.000000Z"
    assert item["created_at"] == "2025-01-10T14:00:00.000000Z"
    assert item["room_stays"][0]["start_date"] == "2025-03-01"
    assert item["guest"] == {"first_name": b"\x01abc", "email": b"\x01e", "country": "PRT"}  # nulls omitted
    assert "children" not in item and item["run_id"] == "run-1"
    attrs = serialize(item)
    assert attrs["total_amount"] == {"N": "1234.50"}
    assert attrs["guest"]["M"]["first_name"]["B"] == b"\x01abc"


def test_an_item_without_email_skips_the_guest_index() -> None:
    item = build_item({**ROW, "email_hash": None}, "r")
    assert "gsi1pk" not in item and "gsi1sk" not in item


def test_item_size_and_write_units_count_the_gsis() -> None:
    assert item_size({"ab": {"S": "xyz"}}) == 5
    assert item_size({"n": {"N": "1234.50"}}) == 1 + 4  # 5 significant digits -> 3 bytes + 1
    # leading and trailing zeros are trimmed: 400.00 has one significant digit, 5000240 six
    assert item_size({"n": {"N": "400.00"}}) == 1 + 2 and item_size({"n": {"N": "5000240"}}) == 1 + 4
    assert item_size({"n": {"N": "-0.0050"}}) == 1 + 2 and item_size({"n": {"N": "0"}}) == 1 + 2
    small = serialize(build_item(ROW, "r"))
    assert item_size(small) < 1024
    assert write_units(small) == 3.0  # table + gsi1 + gsi2, one unit each
    assert write_units(serialize(build_item({**ROW, "email_hash": None}, "r"))) == 2.0
    big = serialize(build_item({**ROW, "room_stays": ROW["room_stays"] * 40}, "r"))
    # One room stay map, counted by hand: 3 (map) + line_no 7+2+1, room_type 9+3+1, rate_plan 9+3+1,
    # start_date 10+10+1, end_date 8+10+1, nightly_rate 12+3+1 (411.50: 4 significant digits), currency 8+3+1
    # = 107, plus 1 in the list.
    assert item_size(big) - item_size(small) == 39 * 108
    # 5 units on the table; each index entry holds only keys and its few projected attributes: 1 unit each
    # (under the former ALL projection a copy was as large as the item: 15)
    assert 4096 < item_size(big) <= 5120 and write_units(big) == 5.0 + 1.0 + 1.0
    # the same, by where the units are spent (what the dry run's plan reports per item)
    assert units_by_index(small) == {"table": 1.0, "gsi1": 1.0, "gsi2": 1.0}
    assert units_by_index(serialize(build_item({**ROW, "email_hash": None}, "r"))) == {
        "table": 1.0, "gsi1": 0.0, "gsi2": 1.0
    }  # fmt: skip
    assert units_by_index(big) == {"table": 5.0, "gsi1": 1.0, "gsi2": 1.0}


def test_backoff_is_capped_full_jitter() -> None:
    import random

    rng = random.Random(1)
    delays = [backoff_delay(a, base=0.1, cap=1.0, rng=rng) for a in range(1, 200)]
    assert all(0.0 <= d <= 1.0 for d in delays)
    assert max(delays) > 0.8 and min(delays) < 0.05
    assert all(backoff_delay(1, base=0.1, cap=1.0, rng=rng) <= 0.2 for _ in range(100))


def test_token_bucket_meters_units_per_second() -> None:
    now = [0.0]
    bucket = TokenBucket(100.0, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    for _ in range(50):
        bucket.acquire(10.0)
    # 500 units at 100/s with a one-second burst: 4 s of waiting.
    assert 3.99 <= now[0] <= 4.01


def test_token_bucket_holds_little_credit_and_follows_a_new_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(100.0, burst_seconds=0.2, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    now[0] = 60.0  # a long pause earns no more than 0.2 s of credit (20 units)
    for _ in range(12):
        bucket.acquire(10.0)
    # 120 units: 20 from the credit, 100 at 100/s -> 1 s after the pause
    assert 60.99 <= now[0] <= 61.01
    bucket.set_rate(50.0)
    for _ in range(5):
        bucket.acquire(10.0)
    assert 61.99 <= now[0] <= 62.01  # 50 more units at 50/s


def test_aimd_cuts_once_per_hold_and_climbs_back_to_the_ceiling() -> None:
    now = [0.0]
    rate = AimdRate(100.0, decrease=0.5, increase=0.1, hold_seconds=1.0, clock=lambda: now[0])
    assert rate.throttled() == 50.0
    now[0] = 0.5
    assert rate.throttled() == 50.0  # the same congestion event: no second cut
    now[0] = 1.5
    assert rate.throttled() == 25.0
    now[0] = 2.5
    assert rate.succeeded() == 35.0  # + 10 % of the ceiling per second
    now[0] = 20.0
    assert rate.succeeded() == 100.0  # never above the ceiling
    for k in range(30):
        now[0] = 30.0 + 2 * k
        rate.throttled()
    assert rate.rate == 2.0  # the floor: 2 % of the ceiling
