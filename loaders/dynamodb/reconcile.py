"""Reconcile: which loaded keys the table holds, read back by BatchGetItem."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from loaders.dynamodb.items import iso_utc
from loaders.dynamodb.settings import DynamoSettings, make_client
from loaders.outcomes import check_batch
from loaders.retry import backoff_delay


def check_batches(batches: Iterator[pa.RecordBatch], *, settings: DynamoSettings) -> Iterator[pa.RecordBatch]:
    """mapInArrow body of reconcile: which of these loaded keys the table holds, per hotel and arrival month
    (BatchGetItem of 100 keys, only ``last_modified`` read; unprocessed keys and throttles retried). Counts as
    :func:`loaders.aurora.check_batches` does."""
    counts: dict[tuple[str, str], list[int]] = {}  # loaded, present, newer, stale, missing, regressed
    client = make_client(settings)
    for batch in batches:
        rows = batch.to_pylist()
        for start in range(0, len(rows), 100):
            chunk = {f"RES#{r['property_code']}#{r['confirmation_no']}": r for r in rows[start : start + 100]}
            stored = _get_last_modified(client, settings, list(chunk))
            for pk, row in chunk.items():
                c = counts.setdefault((row["property_code"], row["arrival_month"]), [0, 0, 0, 0, 0, 0])
                c[0] += 1
                loaded, found = iso_utc(row["last_modified"]), stored.get(pk)
                earlier = iso_utc(row.get("earlier_last_modified"))
                if found is None:
                    c[4] += 1
                    continue
                if loaded is not None and found < loaded:
                    c[3] += 1
                else:
                    c[1] += 1
                    c[2] += loaded is not None and found > loaded
                c[5] += earlier is not None and found < earlier
    yield check_batch((*key, *c) for key, c in counts.items())


def _get_last_modified(client: Any, settings: DynamoSettings, pks: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    request = {
        settings.table: {
            "Keys": [{"pk": {"S": pk}, "sk": {"S": "ITINERARY"}} for pk in pks],
            "ProjectionExpression": "pk, last_modified",
        }
    }
    attempt = 0
    while request:
        try:
            answer = client.batch_get_item(RequestItems=request)
        except Exception as exc:
            attempt += 1
            if attempt >= settings.max_attempts:
                raise RuntimeError(f"reconcile: DynamoDB BatchGetItem kept failing ({type(exc).__name__})") from None
            time.sleep(backoff_delay(attempt))
            continue
        for item in answer.get("Responses", {}).get(settings.table, []):
            found[item["pk"]["S"]] = item.get("last_modified", {}).get("S", "")
        request = answer.get("UnprocessedKeys") or {}
        if request:
            attempt += 1
            time.sleep(backoff_delay(attempt))
    return found
