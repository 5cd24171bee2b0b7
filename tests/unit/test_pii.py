from __future__ import annotations

import base64

import pyarrow as pa
import pytest
from cryptography.exceptions import InvalidTag

from transforms.pii import decrypt_field, email_hash, encrypt_field, protect_guest_batch

KEY = bytes(range(32))


def test_email_hash_is_hmac_sha256_of_the_normalized_email() -> None:
    # RFC 4231 test case 2: HMAC-SHA256(key="Jefe", "what do ya want for nothing?").
    assert email_hash("what do ya want for nothing?", b"Jefe") == (
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )
    assert email_hash("  Ana@Example.COM ", KEY) == email_hash("ana@example.com", KEY)
    assert email_hash(None, KEY) is None and email_hash("   ", KEY) is None


def test_encryption_round_trips_is_randomised_and_bound_to_the_field() -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aead = AESGCM(KEY)
    a, b = encrypt_field("Silva", "last_name", aead), encrypt_field("Silva", "last_name", aead)
    assert a != b and a is not None and b"Silva" not in a
    assert decrypt_field(a, "last_name", KEY) == "Silva"
    with pytest.raises(InvalidTag):
        decrypt_field(a, "first_name", KEY)
    assert encrypt_field(None, "email", aead) is None and decrypt_field(None, "email", KEY) is None


def test_protect_guest_batch_encrypts_every_pii_field_and_keeps_nulls() -> None:
    guest_type = pa.struct([(n, pa.string()) for n in ("first_name", "last_name", "email", "phone", "country")])
    guests = pa.array(
        [
            {
                "first_name": "Ana",
                "last_name": "Silva",
                "email": "ana@example.com",
                "phone": "+1 555",
                "country": "PRT",
            },
            {"first_name": None, "last_name": "Kim", "email": None, "phone": None, "country": None},
            None,
        ],
        type=guest_type,
    )
    batch = pa.RecordBatch.from_arrays([pa.array(["1", "2", "3"]), guests], names=["confirmation_no", "guest"])
    out = protect_guest_batch(batch, data_key=KEY, hmac_key=b"k" * 32).to_pylist()
    assert [r["confirmation_no"] for r in out] == ["1", "2", "3"]
    first, second, third = (r["guest"] for r in out)
    assert decrypt_field(first["first_name"], "first_name", KEY) == "Ana"
    assert decrypt_field(first["email"], "email", KEY) == "ana@example.com"
    assert first["country"] == "PRT"
    assert out[0]["email_hash"] == email_hash("ana@example.com", b"k" * 32)
    assert second["first_name"] is None and second["email"] is None
    assert decrypt_field(second["last_name"], "last_name", KEY) == "Kim"
    assert out[1]["email_hash"] is None
    assert third is None and out[2]["email_hash"] is None
    flat = repr(out).encode() + b"".join(v for g in (first, second) for v in g.values() if isinstance(v, bytes))
    for clear in (b"Ana", b"Silva", b"ana@example.com", b"+1 555", base64.b64encode(b"Silva")):
        assert clear not in flat
