"""Guest PII protection: AES-256-GCM for names, email and phone; HMAC-SHA256 look-up hash of the email.

The plain functions are null-safe and tested without Spark; :func:`with_guest_protected` wraps them
once, batch-wise (``mapInArrow``), so keys travel in the task closure, never in a plan or a log.
Ciphertext layout: ``0x01 | nonce (12 bytes) | ciphertext+tag``; the field name is the associated
data, so a value cannot be moved to another field unnoticed.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable, Iterator

import pyarrow as pa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pyspark.sql import DataFrame
from pyspark.sql import types as T

CIPHER_VERSION = b"\x01"
ENCRYPTED_FIELDS: tuple[str, ...] = ("first_name", "last_name", "email", "phone")

PROTECTED_GUEST_TYPE = T.StructType(
    [T.StructField(name, T.BinaryType()) for name in ENCRYPTED_FIELDS] + [T.StructField("country", T.StringType())]
)


def email_hash(email: str | None, key: bytes) -> str | None:
    """Hex HMAC-SHA256 of the normalized (trimmed, lower-cased) email; None for no email."""
    if email is None:
        return None
    normalized = email.strip().lower()
    if not normalized:
        return None
    return hmac.new(key, normalized.encode("utf-8"), hashlib.sha256).hexdigest()


def encrypt_field(value: str | None, field: str, aead: AESGCM) -> bytes | None:
    if value is None:
        return None
    nonce = os.urandom(12)
    return CIPHER_VERSION + nonce + aead.encrypt(nonce, value.encode("utf-8"), field.encode("ascii"))


def decrypt_field(blob: bytes | None, field: str, key: bytes) -> str | None:
    """Inverse of :func:`encrypt_field` (used by tests and by authorised tooling, never by the job)."""
    if blob is None:
        return None
    if blob[:1] != CIPHER_VERSION:
        raise ValueError("unknown ciphertext version")
    return AESGCM(key).decrypt(blob[1:13], blob[13:], field.encode("ascii")).decode("utf-8")


def protect_guest_batch(batch: pa.RecordBatch, *, data_key: bytes, hmac_key: bytes) -> pa.RecordBatch:
    """Replace the ``guest`` struct column by its protected form and add ``email_hash``."""
    aead = AESGCM(data_key)
    names = batch.schema.names
    guest = batch.column(names.index("guest"))
    assert isinstance(guest, pa.StructArray)
    plain = {f: guest.field(f).to_pylist() for f in (*ENCRYPTED_FIELDS, "country")}
    guest_valid = guest.is_valid().to_pylist()
    encrypted = {f: pa.array([encrypt_field(v, f, aead) for v in plain[f]], type=pa.binary()) for f in ENCRYPTED_FIELDS}
    protected = pa.StructArray.from_arrays(
        [*encrypted.values(), pa.array(plain["country"], type=pa.string())],
        names=[*ENCRYPTED_FIELDS, "country"],
        mask=pa.array([not v for v in guest_valid], type=pa.bool_()),
    )
    hashes = pa.array([email_hash(e, hmac_key) for e in plain["email"]], type=pa.string())
    columns = [protected if n == "guest" else batch.column(i) for i, n in enumerate(names)]
    return pa.RecordBatch.from_arrays([*columns, hashes], names=[*names, "email_hash"])


def with_guest_protected(df: DataFrame, *, data_key: bytes, hmac_key: bytes) -> DataFrame:
    """``guest`` -> encrypted struct (binary fields, country in clear) plus ``email_hash``."""
    fields = [T.StructField("guest", PROTECTED_GUEST_TYPE) if f.name == "guest" else f for f in df.schema.fields]
    out_schema = T.StructType([*fields, T.StructField("email_hash", T.StringType())])

    def protect(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            yield protect_guest_batch(batch, data_key=data_key, hmac_key=hmac_key)

    return df.mapInArrow(protect, out_schema)
