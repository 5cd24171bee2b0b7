"""Guest PII (#9): nothing in the clear and no key material in any output of a run; support can decrypt."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any

import boto3
import psycopg
import pytest

from bootstrap.local.services import AUDIT_LOG_GROUP, LOCAL_HMAC_VALUE, ensure_audit_log_group, grant_support_reads
from tests.faults import RecordingProxy
from tests.integration.conftest import ReferenceRun
from tests.integration.harness import ROOT, run_migrate
from tests.integration.leaks import folder_bytes, folder_text, generated_secrets, input_rows, leaks, luhn_numbers
from transforms.pii import SEAL_FUNCTION

# One xdist worker runs every test of the shared reference run (it is computed once per worker).
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("reference_run")]
TABLES = ("reservations", "room_stays", "migration_runs", "migration_load_parts", "pii_data_keys")


def _binary_values(value: Any) -> bytes:
    """Every B value of a DynamoDB item, wherever it is nested."""
    if isinstance(value, dict):
        return b"".join(bytes(v) if k == "B" else _binary_values(v) for k, v in value.items())
    if isinstance(value, list):
        return b"".join(_binary_values(v) for v in value)
    return b""


def _text_values(value: Any) -> Any:
    """An item with its B values (ciphertexts, the encrypted data key) replaced by their length."""
    if isinstance(value, dict):
        return {k: f"<{len(v)} bytes>" if k == "B" else _text_values(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_text_values(v) for v in value]
    return value


def test_no_guest_data_and_no_key_material_in_any_output_of_a_run(small_sample, reference_run: ReferenceRun):
    data_dir, _ = small_sample
    result, targets, items = reference_run.result, reference_run.targets, reference_run.items
    assert result.code == 0 and result.manifest is not None and result.run_dir is not None, result.stderr[-3000:]
    secrets = generated_secrets(data_dir)
    assert len(secrets.pans) > 50 and len(secrets.emails) > 300 and len(secrets.names) > 300
    assert len(secrets.phones) > 300

    # the run's data key came from KMS; every item and row names it; both key registries hold it as KMS
    # encrypted it, with the KMS key's ARN, under that name
    pii = result.manifest["pii"]
    assert pii["source"] == "kms" and pii["kms_key_id"].startswith("arn:aws:kms:us-east-1:")
    wrapped, ref = base64.b64decode(pii["encrypted_data_key"]), pii["key_ref"]
    assert ref == hashlib.sha256(wrapped).hexdigest()[:16]
    assert {it["pii_key"]["S"] for it in items} == {ref}
    assert {
        r[-1] for r in targets.sql("SELECT property_code, pii_key FROM reservations WHERE run_id = 'reference'")
    } == {ref}
    # (later tests write to the same targets with their own runs and keys: look for this run's)
    registered = [(bytes(it["encrypted_data_key"]["B"]), it["kms_key_id"]["S"], it["run_id"]["S"])
                  for it in targets.key_items() if it["pk"]["S"] == f"PIIKEY#{ref}"]  # fmt: skip
    assert registered == [(wrapped, pii["kms_key_id"], "reference")]
    assert targets.sql(
        "SELECT encrypted_data_key, kms_key_id, run_id FROM pii_data_keys WHERE key_ref = %s", (ref,)
    ) == [(wrapped, pii["kms_key_id"], "reference")]
    data_key = targets.data_key(ref)
    hmac_key = base64.b64decode(LOCAL_HMAC_VALUE)
    secrets.add_key("data key", data_key)
    secrets.add_key("hmac key", hmac_key)
    secrets.add_key("hmac inner block", bytes(b ^ 0x36 for b in hmac_key.ljust(64, b"\0")))
    secrets.add_key("hmac outer block", bytes(b ^ 0x5C for b in hmac_key.ljust(64, b"\0")))

    event_log = folder_text(reference_run.event_log)
    assert SEAL_FUNCTION in event_log and "BroadcastNestedLoopJoin" in event_log  # the plans are in there
    aurora = "\n".join(  # bytea (ciphertexts, encrypted data keys) as their length
        repr([tuple(f"<{len(v)} bytes>" if isinstance(v, bytes) else v for v in row)
              for row in targets.sql(f"SELECT * FROM {t}")]) for t in TABLES
    )  # fmt: skip
    outputs = {
        "DynamoDB items": repr(_text_values(targets.all_items())),
        "Aurora tables": aurora,
        "run folder (manifest, quarantine, reports)": folder_text(result.run_dir),
        "captured logs": result.stdout + result.stderr,
        "Spark event log (every plan, as explain prints it)": event_log,
    }
    for where, text in outputs.items():
        assert not leaks(text, secrets), where
    for where in ("DynamoDB items", "Aurora tables", "run folder (manifest, quarantine, reports)"):
        assert not luhn_numbers(outputs[where]), where  # no card number at all, not only the generated ones
    raw = folder_bytes(result.run_dir) + folder_bytes(reference_run.event_log) + _binary_values(targets.all_items())
    raw += b"".join(bytes(v) for row in targets.sql("SELECT guest_email FROM reservations")
                    for v in row if v is not None)  # fmt: skip
    assert not [what for what, key in secrets.keys.items() if key in raw]

    # the scan finds what it looks for
    email, pan = sorted(secrets.emails)[0], sorted(secrets.pans)[0]
    assert leaks(f"<{email.upper()}>", secrets) == [f"email: {email[:4]}…"]
    assert luhn_numbers(f'"{pan}",') == [pan] and luhn_numbers(f"card {pan[:-1]}{(int(pan[-1]) + 1) % 10}") == []
    assert luhn_numbers(f"ab{pan}") == []  # inside a hex digest or an identifier: not a number
    assert luhn_numbers(f'"t": 0.{pan}, "u": {pan}.5') == []  # digits of a decimal number
    assert luhn_numbers(f"card {pan}.") == [pan]  # a full stop after it does not hide it


def _expected_guest(row: dict[str, str]) -> dict[str, str]:
    """The normalized guest of an EDW row, written out from the input file: trimmed, email lower-cased,
    country upper-cased."""
    return {
        "first_name": row["GUEST_FIRST_NM"].strip(),
        "last_name": row["GUEST_LAST_NM"].strip(),
        "email": row["GUEST_EMAIL"].strip().lower(),
        "phone": row["GUEST_PHONE"].strip(),
        "country": row["GUEST_COUNTRY"].strip().upper(),
    }


def test_support_decrypts_a_stored_reservation_to_its_normalized_guest(small_sample, reference_run, tmp_path):
    data_dir, _ = small_sample
    assert reference_run.result.manifest is not None
    kms_key_id = reference_run.result.manifest["pii"]["kms_key_id"]
    by_version = {(r["CONF_NO"], r["EDW_SEQ"]): r for r in input_rows(data_dir)}
    complete = [
        (it, by_version[(it["confirmation_no"]["S"], it["source_seq"]["N"])])
        for it in reference_run.items
        if it["source"]["S"] == "EDW" and (it["confirmation_no"]["S"], it["source_seq"]["N"]) in by_version
    ]
    item, row = next(
        (it, r) for it, r in complete
        if all(r[c].strip() and r[c].strip().upper() not in ("NULL", "N/A") for c in (
            "GUEST_FIRST_NM", "GUEST_LAST_NM", "GUEST_EMAIL", "GUEST_PHONE", "GUEST_COUNTRY"))
    )  # fmt: skip
    pc, cn = item["property_code"]["S"], item["confirmation_no"]["S"]
    targets = reference_run.targets
    grant_support_reads(targets.conninfo)  # what the DBA grants the support role
    ensure_audit_log_group(targets.moto.url)
    started = int(time.time() * 1000)
    # every AWS call the tool makes goes through a recorder, checked against the support policy alone; the
    # job's own Aurora password is a secret the support role may not read (it does not exist: asking fails)
    recorder = RecordingProxy(targets.moto.url)
    recorder.record_bodies = True
    job_secret = ("--set", "aurora.password=secret:migration/local/aurora-job-only")
    with recorder.serve() as url:
        aws = {f"AWS_ENDPOINT_URL_{s}": url for s in ("DYNAMODB", "KMS", "SECRETS_MANAGER", "CLOUDWATCH_LOGS")}
        results = {
            source: run_migrate(data_dir, tmp_path, targets, *job_secret, "decrypt", "--property", pc,
                                "--confirmation", cn, "--from", source, job="pii", env=aws)
            for source in ("dynamodb", "aurora")
        }  # fmt: skip
    assert [r.code for r in results.values()] == [0, 0], [r.stderr[-2000:] for r in results.values()]
    policy = json.loads((ROOT / "conf" / "iam" / "support-decrypt-policy.json").read_text())
    allowed = {action for statement in policy["Statement"] for action in statement["Action"]}
    assert recorder.operations <= allowed, sorted(recorder.operations - allowed)
    assert {"kms:Decrypt", "dynamodb:GetItem", "logs:PutLogEvents"} <= recorder.operations
    asked = {body["SecretId"] for op, body in recorder.requests if op == "secretsmanager:GetSecretValue"}
    assert asked == {"migration/local/pii-hmac"}  # the HMAC key only: the support role's password is a literal here
    for source, result in results.items():
        printed = json.loads(result.stdout)
        stored_key = (
            reference_run.targets.dynamodb().get_item(
                TableName=reference_run.targets.table, Key={"pk": item["pk"], "sk": item["sk"]}
            )["Item"]["pii_key"]["S"]
            if source == "dynamodb"
            else reference_run.targets.sql(
                "SELECT pii_key FROM reservations WHERE property_code = %s AND confirmation_no = %s", (pc, cn)
            )[0][0]
        )  # later tests may have rewritten it under their own key
        assert printed == {
            "property_code": pc,
            "confirmation_no": cn,
            "pii_key": stored_key,
            "kms_key_id": kms_key_id,
            "guest": _expected_guest(row),
            "email_hash_matches": True,
        }, source
    # each decrypt appended its audit line: who, which reservation, which keys, from where
    logs = boto3.client("logs", endpoint_url=targets.moto.url, region_name="us-east-1")
    events = logs.filter_log_events(logGroupName=AUDIT_LOG_GROUP, startTime=started)["events"]
    lines = [json.loads(e["message"]) for e in events if f"RES#{pc}#{cn}" in e["message"]]
    assert [(line["source"], line["reservation"], line["kms_key_id"]) for line in lines] == [
        ("dynamodb", f"RES#{pc}#{cn}", kms_key_id), ("aurora", f"RES#{pc}#{cn}", kms_key_id)]  # fmt: skip
    assert all(line["who"].startswith("arn:aws:") and line["pii_key"] and line["env"] == "local" for line in lines)
    # no audit line, no decrypt: nothing printed
    unaudited = run_migrate(data_dir, tmp_path, targets, "--set", "pii_support.audit_log_group=/no/such/group",
                            "decrypt", "--property", pc, "--confirmation", cn, job="pii")  # fmt: skip
    assert unaudited.code == 1 and unaudited.stdout == "" and "audit line could not be written" in unaudited.stderr
    # the support role reads and cannot write
    support = targets.conninfo.replace("user=migration ", "user=migration_support ").replace(
        "password=migration-local", "password=migration-support-local")  # fmt: skip
    with psycopg.connect(support) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("UPDATE reservations SET status = status")
    missing = run_migrate(data_dir, tmp_path, reference_run.targets, "decrypt", "--property", pc,
                          "--confirmation", "0", job="pii")  # fmt: skip
    assert missing.code == 3 and missing.stdout == ""
