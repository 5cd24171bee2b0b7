"""Support tooling for guest PII (nothing here is used by the job).

    python -m jobs.pii decrypt --env ENV --property H00001 --confirmation 0000012345 [--from dynamodb|aurora]

Reads the stored reservation and the data key it names (``pii_key``) from the same target's key registry,
writes an audit line, asks KMS to decrypt that key, decrypts the guest fields and prints them as JSON on
stdout, with the KMS key and whether ``email_hash`` matches the decrypted email.

It needs what ``conf/iam/support-decrypt-policy.json`` grants and nothing of the job's: the config's only
secrets it resolves are ``pii.hmac_key`` and, from Aurora, ``pii_support.aurora_password`` (Aurora is read
through the read-only role ``pii_support.aurora_user``, never the job's). Every decrypt first appends one
JSON line to the CloudWatch Logs group ``pii_support.audit_log_group`` (who: the caller's AWS identity, when,
which reservation, which data key and KMS key, from which target); a decrypt whose audit line cannot be
written is refused. The job role may not write that group.
Exit codes: 0 printed; 3 no such reservation; 2 bad arguments or config; 1 anything else (KMS refusal, no
audit ...).
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
from loaders.aurora.connection import psycopg_connect
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
    secrets = ["pii.hmac_key", "pii.data_key", *(["pii_support.aurora_password"] if args.source == "aurora" else [])]
    try:
        cfg, _ = load(args, secrets=secrets)
        stored = _read(cfg, args.source, args.property, args.confirmation)
    except ConfigError as exc:
        sys.stderr.write(f"pii: error: {exc}\n")
        return EXIT_USAGE
    if stored is None:
        sys.stderr.write(f"pii: no reservation {args.property}/{args.confirmation} in {args.source}\n")
        return EXIT_NOT_FOUND
    try:
        audit(cfg, stored, args.source)
    except Exception as exc:  # no audit line, no decrypt
        log.error("decrypt refused: the audit line could not be written to %s (%s)",
                  cfg.pii_support.audit_log_group, type(exc).__name__)  # fmt: skip
        return EXIT_FAILED
    try:
        print(json.dumps(decrypt_stored(cfg, stored), indent=2, sort_keys=True))
    except Exception as exc:  # a KMS refusal or a damaged ciphertext: say which, print nothing in the clear
        log.error("decrypt failed: %s", type(exc).__name__)
        return EXIT_FAILED
    return 0


def audit(cfg: Config, stored: dict[str, Any], source: str) -> dict[str, Any]:
    """Append the audit line of one decrypt to the audit log group (a stream per day); return the line."""
    from datetime import UTC, datetime

    import boto3

    from transforms.pii import reservation_pk

    now = datetime.now(UTC)
    who = boto3.client("sts", region_name=cfg.dynamodb.region).get_caller_identity()["Arn"]
    line = {
        "event": "pii.decrypt", "who": who, "when": now.isoformat(), "env": cfg.env, "source": source,
        "reservation": reservation_pk(stored["property_code"], stored["confirmation_no"]),
        "pii_key": stored.get("pii_key"), "kms_key_id": stored.get("kms_key_id"),
    }  # fmt: skip
    logs = boto3.client("logs", region_name=cfg.dynamodb.region)
    group, stream = cfg.pii_support.audit_log_group, f"{now:%Y-%m-%d}"
    try:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    except logs.exceptions.ClientError as exc:  # a role that may only append to streams made for it
        if exc.response["Error"]["Code"] not in ("AccessDeniedException", "AccessDenied"):
            raise
    event = {"timestamp": int(now.timestamp() * 1000), "message": json.dumps(line)}
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[event])
    return line


def decrypt_stored(cfg: Config, stored: dict[str, Any], kms: Any = None) -> dict[str, Any]:
    """``stored``: guest (field -> ciphertext or text), email_hash, pii_key, and the registry's kms_key_id and
    encrypted_data_key (None for the development key)."""
    from pipeline.pii_keys import unwrap
    from transforms.pii import decrypt_guest, email_hash, reservation_pk

    encrypted = stored.get("encrypted_data_key")
    data_key = unwrap(encrypted, kms) if encrypted else cfg.pii.data_key_bytes()
    pk = reservation_pk(stored["property_code"], stored["confirmation_no"])
    guest = decrypt_guest(stored.get("guest"), data_key, pk)
    expected = email_hash((guest or {}).get("email"), cfg.pii.hmac_key_bytes())
    return {
        "property_code": stored["property_code"],
        "confirmation_no": stored["confirmation_no"],
        "pii_key": stored.get("pii_key"),
        "kms_key_id": stored.get("kms_key_id"),
        "guest": guest,
        "email_hash_matches": expected == stored.get("email_hash"),
    }


def _read(cfg: Config, source: str, property_code: str, confirmation: str) -> dict[str, Any] | None:
    read, registry = {"dynamodb": (_read_dynamodb, _registry_dynamodb), "aurora": (_read_aurora, _registry_aurora)}[
        source
    ]
    stored = read(cfg, property_code, confirmation)
    if stored is None:
        return None
    if stored.get("pii_key") in (None, "dev"):
        return {**stored, "kms_key_id": None, "encrypted_data_key": None}
    key = registry(cfg, stored["pii_key"])
    if key is None:
        raise ConfigError(f"data key {stored['pii_key']!r} is not in the {source} key registry")
    return {**stored, **key}


def _dynamodb(cfg: Config) -> Any:
    import boto3

    return boto3.client("dynamodb", region_name=cfg.dynamodb.region, endpoint_url=cfg.dynamodb.endpoint_url)


def _read_dynamodb(cfg: Config, property_code: str, confirmation: str) -> dict[str, Any] | None:
    from boto3.dynamodb.types import Binary, TypeDeserializer

    from transforms.pii import reservation_pk

    key = {"pk": {"S": reservation_pk(property_code, confirmation)}, "sk": {"S": "ITINERARY"}}
    answer = _dynamodb(cfg).get_item(TableName=cfg.dynamodb.table, Key=key, ConsistentRead=True)
    if "Item" not in answer:
        return None
    des = TypeDeserializer()
    item = {k: des.deserialize(v) for k, v in answer["Item"].items()}
    return {
        "property_code": item["property_code"],
        "confirmation_no": item["confirmation_no"],
        "guest": {k: bytes(v) if isinstance(v, Binary) else v for k, v in (item.get("guest") or {}).items()},
        "email_hash": str(item["gsi1pk"]).removeprefix("GUEST#") if "gsi1pk" in item else None,
        "pii_key": item.get("pii_key"),
    }


def _registry_dynamodb(cfg: Config, ref: str) -> dict[str, Any] | None:
    from loaders.dynamodb import key_registry_key

    answer = _dynamodb(cfg).get_item(TableName=cfg.dynamodb.table, Key=key_registry_key(ref), ConsistentRead=True)
    if "Item" not in answer:
        return None
    item = answer["Item"]
    return {"kms_key_id": item["kms_key_id"]["S"], "encrypted_data_key": bytes(item["encrypted_data_key"]["B"])}


def _aurora_one(cfg: Config, query: str, params: tuple[str, ...]) -> tuple[Any, ...] | None:
    """One row, read through the support tool's read-only role (never the job's)."""
    support = cfg.pii_support
    with psycopg_connect(cfg.aurora.conninfo(role=(support.aurora_user, support.aurora_password))) as conn:
        conn.read_only = True
        return conn.execute(query, params).fetchone()  # type: ignore[arg-type]


def _read_aurora(cfg: Config, property_code: str, confirmation: str) -> dict[str, Any] | None:
    row = _aurora_one(
        cfg,
        "SELECT guest_first_name, guest_last_name, guest_email, guest_phone, guest_country, email_hash, pii_key"
        " FROM reservations WHERE property_code = %s AND confirmation_no = %s",
        (property_code, confirmation),
    )
    if row is None:
        return None
    guest = dict(zip(("first_name", "last_name", "email", "phone", "country"), row[:5], strict=True))
    return {
        "property_code": property_code,
        "confirmation_no": confirmation,
        "guest": {k: bytes(v) if isinstance(v, memoryview) else v for k, v in guest.items() if v is not None},
        "email_hash": row[5],
        "pii_key": row[6],
    }


def _registry_aurora(cfg: Config, ref: str) -> dict[str, Any] | None:
    row = _aurora_one(cfg, "SELECT kms_key_id, encrypted_data_key FROM pii_data_keys WHERE key_ref = %s", (ref,))
    return None if row is None else {"kms_key_id": row[0], "encrypted_data_key": bytes(row[1])}


if __name__ == "__main__":
    sys.exit(main())
