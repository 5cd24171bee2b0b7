"""Support tooling for guest PII (needs kms:Decrypt on the run's KMS key; nothing here is used by the job).

    python -m jobs.pii decrypt --env ENV --property H00001 --confirmation 0000012345 [--from dynamodb|aurora]

Reads the stored reservation, asks KMS to decrypt the data key recorded on it (``pii_data_key``), decrypts
the guest fields and prints them as JSON on stdout, with whether ``email_hash`` matches the decrypted email.
Exit codes: 0 printed; 3 no such reservation; 2 bad arguments or config; 1 anything else (KMS refusal ...).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

if __package__ in (None, ""):
    import os

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from jobs.cli import EXIT_FAILED, EXIT_USAGE, base_parser, load, main_guard, setup_logging
from pipeline.config import Config, ConfigError

EXIT_NOT_FOUND = 3
log = logging.getLogger("migration")


def main(argv: Sequence[str] | None = None) -> int:
    parser = base_parser("pii", "Decrypt the guest data of one stored reservation (support tooling).")
    sub = parser.add_subparsers(dest="command", required=True)
    dec = sub.add_parser("decrypt", help="print one reservation's guest data in the clear")
    dec.add_argument("--property", required=True, help="property code")
    dec.add_argument("--confirmation", required=True, help="confirmation number")
    dec.add_argument("--from", dest="source", choices=("dynamodb", "aurora"), default="dynamodb")
    args = parser.parse_args(main_guard(argv))
    setup_logging()
    try:
        cfg, _ = load(args)
        stored = _read(cfg, args.source, args.property, args.confirmation)
    except ConfigError as exc:
        sys.stderr.write(f"pii: error: {exc}\n")
        return EXIT_USAGE
    if stored is None:
        sys.stderr.write(f"pii: no reservation {args.property}/{args.confirmation} in {args.source}\n")
        return EXIT_NOT_FOUND
    try:
        print(json.dumps(decrypt_stored(cfg, stored), indent=2, sort_keys=True))
    except Exception as exc:  # a KMS refusal or a damaged ciphertext: say which, print nothing in the clear
        log.error("decrypt failed: %s", type(exc).__name__)
        return EXIT_FAILED
    return 0


def decrypt_stored(cfg: Config, stored: dict[str, Any], kms: Any = None) -> dict[str, Any]:
    """``stored``: guest (field -> ciphertext or text), email_hash, pii_key_id, pii_data_key."""
    from pipeline.pii_keys import unwrap
    from transforms.pii import decrypt_guest, email_hash

    encrypted = stored.get("pii_data_key")
    data_key = unwrap(encrypted, kms) if encrypted else cfg.pii.data_key_bytes()
    guest = decrypt_guest(stored.get("guest"), data_key)
    expected = email_hash((guest or {}).get("email"), cfg.pii.hmac_key_bytes())
    return {
        "property_code": stored["property_code"],
        "confirmation_no": stored["confirmation_no"],
        "pii_key_id": stored.get("pii_key_id"),
        "guest": guest,
        "email_hash_matches": expected == stored.get("email_hash"),
    }


def _read(cfg: Config, source: str, property_code: str, confirmation: str) -> dict[str, Any] | None:
    if source == "dynamodb":
        import boto3
        from boto3.dynamodb.types import Binary, TypeDeserializer

        client = boto3.client("dynamodb", region_name=cfg.dynamodb.region, endpoint_url=cfg.dynamodb.endpoint_url)
        key = {"pk": {"S": f"RES#{property_code}#{confirmation}"}, "sk": {"S": "ITINERARY"}}
        answer = client.get_item(TableName=cfg.dynamodb.table, Key=key, ConsistentRead=True)
        if "Item" not in answer:
            return None
        des = TypeDeserializer()
        item = {k: des.deserialize(v) for k, v in answer["Item"].items()}

        def plain(value: Any) -> Any:
            return bytes(value) if isinstance(value, Binary) else value

        return {
            "property_code": item["property_code"],
            "confirmation_no": item["confirmation_no"],
            "guest": {k: plain(v) for k, v in (item.get("guest") or {}).items()},
            "email_hash": str(item["gsi1pk"]).removeprefix("GUEST#") if "gsi1pk" in item else None,
            "pii_key_id": item.get("pii_key_id"),
            "pii_data_key": plain(item.get("pii_data_key")),
        }
    import psycopg

    with psycopg.connect(cfg.aurora.conninfo(), application_name="edw-migration-pii") as conn:
        row = conn.execute(
            "SELECT guest_first_name, guest_last_name, guest_email, guest_phone, guest_country, email_hash,"
            " pii_key_id, pii_data_key FROM reservations WHERE property_code = %s AND confirmation_no = %s",
            (property_code, confirmation),
        ).fetchone()
    if row is None:
        return None
    guest = dict(zip(("first_name", "last_name", "email", "phone", "country"), row[:5], strict=True))
    return {
        "property_code": property_code,
        "confirmation_no": confirmation,
        "guest": {k: bytes(v) if isinstance(v, memoryview) else v for k, v in guest.items() if v is not None},
        "email_hash": row[5],
        "pii_key_id": row[6],
        "pii_data_key": bytes(row[7]) if row[7] is not None else None,
    }


if __name__ == "__main__":
    sys.exit(main())
