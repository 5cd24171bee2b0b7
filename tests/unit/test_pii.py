from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import io

import pytest
from chispa import assert_df_equality
from chispa.schema_comparer import assert_schema_equality
from cryptography.exceptions import InvalidTag
from pyspark.sql import types as T

from pipeline.seal import key_relation, register_seal
from tests.unit.schemas import STRING, struct
from transforms.pii import (
    SEAL_FUNCTION,
    decrypt_field,
    decrypt_guest,
    email_hash,
    encrypt_field,
    guest_aad,
    with_guest_protected,
)

KEY = bytes(range(32))


def test_email_hash_is_hmac_sha256_of_the_normalized_email() -> None:
    # RFC 4231 test case 2: HMAC-SHA256(key="Jefe", "what do ya want for nothing?").
    assert email_hash("what do ya want for nothing?", b"Jefe") == (
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )
    assert email_hash("  Ana@Example.COM ", KEY) == email_hash("ana@example.com", KEY)
    assert email_hash(None, KEY) is None and email_hash("   ", KEY) is None


PK = "RES#H00001#0000012345"


def test_encryption_round_trips_is_randomised_and_bound_to_the_reservation_and_field() -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aead = AESGCM(KEY)
    a, b = encrypt_field("Silva", "last_name", aead, PK), encrypt_field("Silva", "last_name", aead, PK)
    assert a != b and a is not None and b"Silva" not in a
    assert decrypt_field(a, "last_name", KEY, PK) == "Silva"
    with pytest.raises(InvalidTag):  # another field of the same reservation
        decrypt_field(a, "first_name", KEY, PK)
    with pytest.raises(InvalidTag):  # the same field of another reservation
        decrypt_field(a, "last_name", KEY, "RES#H00001#0000012346")
    with pytest.raises(ValueError):  # a field name never holds the separator: the last '|' splits the two
        guest_aad("RES#A", "B|c")
    assert guest_aad("RES#A|B", "c") == b"RES#A|B|c"
    assert encrypt_field(None, "email", aead, PK) is None and decrypt_field(None, "email", KEY, PK) is None


GUEST_DDL = ("id string, property_code string, confirmation_no string, "
             "guest struct<first_name:string,last_name:string,email:string,phone:string,country:string>")
HMAC_KEY = b"k" * 32


def _protected(spark, df, *, hmac_key: bytes = HMAC_KEY, key_ref: str = "dev"):
    """What the job does: the seal function registered, the run's keys as the one-row relation."""
    register_seal(spark)
    return with_guest_protected(df, keys_df=key_relation(spark, KEY, hmac_key), key_ref=key_ref)


def test_jvm_protection_encrypts_every_pii_field_keeps_nulls_and_records_the_key(spark) -> None:
    df = spark.createDataFrame(
        [
            ("1", "H00001", "C1", ("Ana", "Silva", "  Ana@Example.COM ", "+1 555", "PRT")),
            ("2", "H00001", "C2", (None, "Kim", None, None, None)),
            ("3", "H00002", "C1", None),
            ("4", "H00002", "C2", ("Li", "Wu", " ", None, "CHN")),
        ],
        GUEST_DDL,
    )
    out = _protected(spark, df, key_ref="0123abcd")
    assert out.columns == ["id", "property_code", "confirmation_no", "guest", "email_hash", "pii_key"]
    rows = {r["id"]: r.asDict(recursive=True) for r in out.collect()}
    first, second, third, fourth = (rows[i] for i in "1234")
    # the Python reference implementation (cryptography's AESGCM, hmac) reads what the JVM wrote
    assert decrypt_guest(first["guest"], KEY, "RES#H00001#C1") == {
        "first_name": "Ana", "last_name": "Silva", "email": "  Ana@Example.COM ", "phone": "+1 555", "country": "PRT"
    }  # fmt: skip
    assert first["email_hash"] == hmac.new(HMAC_KEY, b"ana@example.com", hashlib.sha256).hexdigest()
    assert first["guest"]["first_name"][:1] == b"\x02" and len(first["guest"]["first_name"]) == 1 + 12 + 3 + 16
    assert decrypt_guest(second["guest"], KEY, "RES#H00001#C2") == {
        "first_name": None, "last_name": "Kim", "email": None, "phone": None, "country": None
    }  # fmt: skip
    assert second["email_hash"] is None and fourth["email_hash"] is None  # no email, or a blank one
    assert third["guest"] is None and third["email_hash"] is None
    assert {r["pii_key"] for r in rows.values()} == {"0123abcd"}
    with pytest.raises(InvalidTag):  # bound to its field: a value moved to another field does not decrypt
        decrypt_field(first["guest"]["last_name"], "first_name", KEY, "RES#H00001#C1")
    with pytest.raises(InvalidTag):  # and to its reservation: copied onto another one, it does not either
        decrypt_field(first["guest"]["last_name"], "last_name", KEY, "RES#H00001#C2")
    again = {r["id"]: r["guest"] for r in out.collect()}  # a fresh nonce per value
    assert again["1"]["first_name"] != first["guest"]["first_name"]


@pytest.mark.parametrize(
    ("hmac_key", "email", "expected"),
    [  # RFC 4231 case 2 (a short key); a key longer than SHA-256's block is hashed first (RFC 2104)
        (b"Jefe", "What do ya want for nothing? ", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        (b"\xaa" * 131, "a@b.c", hmac.new(b"\xaa" * 131, b"a@b.c", hashlib.sha256).hexdigest()),
    ],
)
def test_jvm_email_hash_is_hmac_sha256_of_the_normalized_email(spark, hmac_key: bytes, email: str, expected: str):
    df = spark.createDataFrame([("1", "H1", "C1", ("A", "B", email, None, None))], GUEST_DDL)
    (row,) = _protected(spark, df, hmac_key=hmac_key).collect()
    assert row["email_hash"] == expected == email_hash(email, hmac_key)


def test_keys_appear_in_no_plan(spark) -> None:
    df = spark.createDataFrame([("1", "H1", "C1", ("Ana", "Silva", "ana@example.com", "+1 555", "PRT"))], GUEST_DDL)
    out = _protected(spark, df)
    plans = ""
    for mode in ("simple", "extended", "codegen", "cost", "formatted"):
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            out.explain(mode=mode)
        plans += buffer.getvalue()
    assert SEAL_FUNCTION in plans and "sha2" in plans  # the plan is really there
    inner = bytes(b ^ 0x36 for b in HMAC_KEY.ljust(64, b"\0"))
    for material in (KEY, HMAC_KEY, inner):
        for form in (material.hex(), material.hex().upper(), base64.b64encode(material).decode()):
            assert form not in plans
    assert "Silva" not in plans


def test_protected_output_schema_hashes_and_decrypted_values(spark) -> None:
    guest_clear = struct(first_name=STRING, last_name=STRING, email=STRING, phone=STRING, country=STRING)
    guests = spark.createDataFrame(
        [
            ("1", "H1", "C1", 7, ("Ana", "Silva", " Ana@Example.COM", "+1 555", "PRT")),
            ("2", "H1", "C2", None, (None, None, None, None, None)),
            ("3", "H2", "C1", 9, None),
        ],
        struct(id=STRING, property_code=STRING, confirmation_no=STRING, nights=T.IntegerType(), guest=guest_clear),
    )
    out = _protected(spark, guests, key_ref="0123abcd")

    binary = T.BinaryType()
    guest_sealed = struct(first_name=binary, last_name=binary, email=binary, phone=binary, country=STRING)
    expected_schema = struct(id=STRING, property_code=STRING, confirmation_no=STRING, nights=T.IntegerType(),
                             guest=guest_sealed, email_hash=STRING, pii_key=STRING)  # fmt: skip
    assert_schema_equality(out.schema, expected_schema, ignore_nullable=True)
    # everything but the ciphertexts (random nonces) compared as a whole
    expected = spark.createDataFrame(
        [
            ("1", "H1", "C1", 7, hmac.new(HMAC_KEY, b"ana@example.com", hashlib.sha256).hexdigest(), "0123abcd"),
            ("2", "H1", "C2", None, None, "0123abcd"),
            ("3", "H2", "C1", 9, None, "0123abcd"),
        ],
        struct(id=STRING, property_code=STRING, confirmation_no=STRING, nights=T.IntegerType(), email_hash=STRING,
               pii_key=STRING),
    )
    assert_df_equality(out.drop("guest"), expected, ignore_row_order=True, ignore_nullable=True)
    # the ciphertexts, read with the Python reference implementation
    clear = {
        r["id"]: decrypt_guest(r["guest"].asDict() if r["guest"] else None, KEY,
                               f"RES#{r['property_code']}#{r['confirmation_no']}")
        for r in out.collect()
    }  # fmt: skip
    assert clear == {
        "1": {"first_name": "Ana", "last_name": "Silva", "email": " Ana@Example.COM", "phone": "+1 555",
              "country": "PRT"},
        "2": {"first_name": None, "last_name": None, "email": None, "phone": None, "country": None},
        "3": None,
    }  # fmt: skip
