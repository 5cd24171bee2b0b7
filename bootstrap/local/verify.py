"""After `make run`: the newest run's manifest against the generator's ground truth and the local targets.

    python -m bootstrap.local.verify --truth DIR/ground_truth.json --output-root ROOT

Exit 0 when the manifest's counts equal the ground truth and DynamoDB's item count and Aurora's
reservation count both equal the manifest's loaded count; 1 otherwise (each mismatch printed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

COUNT_KEYS = (
    "input",
    "superseded",
    "duplicates",
    "quarantined",
    "quarantined_by_reason",
    "loaded",
    "reservations_loaded",
    "room_stays",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="verify")
    parser.add_argument("--truth", required=True)
    parser.add_argument("--output-root", required=True)
    parser.add_argument("--table", default="reservations")
    args = parser.parse_args(argv)
    truth = json.loads(Path(args.truth).read_text())["counts"]
    manifests = sorted(Path(args.output_root).glob("runs/*/manifest.json"), key=lambda p: p.stat().st_mtime)
    if not manifests:
        print("verify: no run found", file=sys.stderr)
        return 1
    manifest = json.loads(manifests[-1].read_text())
    counts = manifest["counts"]
    problems = [
        f"{k}: manifest {counts.get(k)} != ground truth {truth[k]}" for k in COUNT_KEYS if counts.get(k) != truth[k]
    ]
    loaded = counts["reservations_loaded"]
    stored = _stored_counts(args.table, (manifest.get("pii") or {}).get("key_ref"))
    problems += [f"{name}: {n:,} stored != {loaded:,} loaded" for name, n in stored.items() if n != loaded]
    print(
        f"verify {manifest['run_id']}: "
        + ", ".join(f"{k} {v:,}" for k, v in stored.items())
        + f"; manifest loaded {loaded:,}"
    )
    for p in problems:
        print(f"  MISMATCH {p}")
    print("verify: counts equal the ground truth and both targets" if not problems else "verify: FAILED")
    return 1 if problems else 0


def _stored_counts(table: str, key_ref: str | None) -> dict[str, int]:
    import boto3
    import psycopg

    from bootstrap.local.services import Postgres

    client = boto3.client("dynamodb", endpoint_url=os.environ["AWS_ENDPOINT_URL_DYNAMODB"], region_name="us-east-1")
    # moto keeps ItemCount exact (AWS refreshes it every few hours); a full scan of 1 M items in moto
    # takes longer than the load itself.
    items = int(client.describe_table(TableName=table)["Table"]["ItemCount"])
    if key_ref:  # the table also holds the run's data key (loaders.dynamodb.register_data_key)
        from loaders.dynamodb import key_registry_key

        items -= "Item" in client.get_item(TableName=table, Key=key_registry_key(key_ref))
    pg = Postgres(Path(".local/pg"), int(os.environ["MIGRATION_PG_PORT"]))
    with psycopg.connect(pg.conninfo) as conn:
        row = conn.execute("SELECT count(*) FROM reservations").fetchone()
    return {"dynamodb_items": items, "aurora_reservations": int(row[0]) if row else 0}


if __name__ == "__main__":
    sys.exit(main())
