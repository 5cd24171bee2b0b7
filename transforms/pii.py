"""Guest PII protection: AES-256-GCM for names, email and phone; HMAC-SHA256 look-up hash of the email.

All of it runs in the JVM, no Python worker: AES-GCM in the job's own JVM function (``migration.pii.Seal``,
one ``Cipher`` per thread instead of Spark's ``aes_encrypt`` building one per value), HMAC with ``sha2``.
The keys reach the executors as a one-row relation (:data:`KEYS_SCHEMA`, built in the driver's JVM by
the seal stage's ``key_relation``) that is broadcast-joined, never as literals, so they appear in no plan,
``explain()`` or event log; the seal stage's ``register_seal`` makes :data:`SEAL_FUNCTION` callable. The
transform itself touches no session. Ciphertext layout:
``0x02 | nonce (12 bytes) | ciphertext | tag (16 bytes)`` (the IV-first layout of ``aes_encrypt``
behind a version byte). The associated data binds each ciphertext to its reservation and field,
``RES#<property_code>#<confirmation_no>|<field>`` (:func:`guest_aad`: the DynamoDB item's ``pk``, then the
field name), so a value moved to another field or copied onto another reservation does not decrypt. The
plain functions below are the reference implementation (tests, the decrypt tool).
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

CIPHER_VERSION = b"\x02"  # 0x02: reservation and field as associated data (0x01 bound the field alone)
# AES-GCM of one value in the JVM, one Cipher per thread and key (jvm/src/main/java/migration/pii/Seal.java),
# registered in the session by the seal stage's register_seal. Not Spark's aes_encrypt: it builds a Cipher
# (provider look-up, key schedule) for every value.
SEAL_FUNCTION = "migration_pii_seal"
ENCRYPTED_FIELDS: tuple[str, ...] = ("first_name", "last_name", "email", "phone")

PROTECTED_GUEST_TYPE = T.StructType(
    [T.StructField(name, T.BinaryType()) for name in ENCRYPTED_FIELDS] + [T.StructField("country", T.StringType())]
)

# The one-row key relation with_guest_protected cross-joins (the seal stage's key_relation builds it): the data
# key and the HMAC key's inner and outer padded blocks (RFC 2104).
KEYS_SCHEMA = T.StructType(
    [T.StructField(name, T.BinaryType(), False) for name in ("_pii_data_key", "_pii_hmac_inner", "_pii_hmac_outer")]
)


def normalized_email(email: str | None) -> str | None:
    """Trimmed (spaces, as Spark's ``trim``) and lower-cased; None for no email."""
    if email is None:
        return None
    return email.strip(" ").lower() or None


def email_hash(email: str | None, key: bytes) -> str | None:
    """Hex HMAC-SHA256 of the normalized email; None for no email."""
    normalized = normalized_email(email)
    if normalized is None:
        return None
    return hmac.new(key, normalized.encode("utf-8"), hashlib.sha256).hexdigest()


def reservation_pk(property_code: str, confirmation_no: str) -> str:
    """The reservation's identity in both targets: the DynamoDB item's ``pk``."""
    return f"RES#{property_code}#{confirmation_no}"


def guest_aad(pk: str, field: str) -> bytes:
    """The associated data of one guest field of one reservation (the field name has no ``|``: the last
    ``|`` separates the two, whatever the key holds)."""
    if "|" in field:
        raise ValueError(f"field name {field!r} holds the separator '|'")
    return f"{pk}|{field}".encode()


def encrypt_field(value: str | None, field: str, aead: AESGCM, pk: str) -> bytes | None:
    if value is None:
        return None
    nonce = os.urandom(12)
    return CIPHER_VERSION + nonce + aead.encrypt(nonce, value.encode("utf-8"), guest_aad(pk, field))


def decrypt_field(blob: bytes | None, field: str, key: bytes, pk: str) -> str | None:
    """Inverse of :func:`encrypt_field` (used by tests and by authorised tooling, never by the job): ``pk``
    and ``field`` must be those the value was sealed for."""
    if blob is None:
        return None
    if blob[:1] != CIPHER_VERSION:
        raise ValueError("unknown ciphertext version")
    return AESGCM(key).decrypt(blob[1:13], blob[13:], guest_aad(pk, field)).decode("utf-8")


def with_guest_protected(df: DataFrame, *, keys_df: DataFrame, key_ref: str) -> DataFrame:
    """``guest`` -> encrypted struct (binary fields, country in clear), plus ``email_hash`` and ``pii_key``:
    the reference of the data key in the targets' key registry (the run's data-key stage, ``pii_keys``).

    ``keys_df`` is the one-row key relation (:data:`KEYS_SCHEMA`, the seal stage's ``key_relation``),
    cross-joined broadcast; :data:`SEAL_FUNCTION` must be registered in the session
    (the seal stage's ``register_seal``). Output: the input's columns in order, ``guest`` replaced, then
    ``email_hash`` and ``pii_key``.
    """
    guest = F.col("guest")
    protected = F.when(guest.isNotNull(), F.struct(
        *[_encrypt(guest[name], name).alias(name) for name in ENCRYPTED_FIELDS],
        guest["country"].alias("country"),
    ))  # fmt: skip
    email = F.lower(F.trim(guest["email"]))
    outputs = [protected.alias("guest") if name == "guest" else F.col(name) for name in df.columns]
    return df.crossJoin(F.broadcast(keys_df)).select(
        *outputs,
        F.when(email != "", _hmac_sha256_hex(email.cast("binary"))).alias("email_hash"),
        F.lit(key_ref).alias("pii_key"),
    )


def _encrypt(value: Column, field: str) -> Column:
    """``0x02 | nonce | ciphertext+tag``; null stays null (a random 12-byte nonce per value); the row's
    reservation and the field as associated data (:func:`guest_aad`)."""
    key = [F.coalesce(F.col(c), F.lit("")) for c in ("property_code", "confirmation_no")]
    aad = F.concat(F.lit("RES#"), key[0], F.lit("#"), key[1], F.lit(f"|{field}"))
    return F.call_udf(SEAL_FUNCTION, value.cast("binary"), F.col("_pii_data_key"), aad.cast("binary"))


def _hmac_sha256_hex(message: Column) -> Column:
    """RFC 2104 with two SHA-256 passes over the padded key's inner and outer forms (precomputed)."""
    inner = F.unhex(F.sha2(F.concat(F.col("_pii_hmac_inner"), message), 256))
    return F.sha2(F.concat(F.col("_pii_hmac_outer"), inner), 256)


def decrypt_guest(guest: dict[str, bytes | str | None] | None, data_key: bytes,
                  pk: str) -> dict[str, str | None] | None:  # fmt: skip
    """A stored guest struct/map of reservation ``pk`` back in the clear (binary fields decrypted, country as
    stored)."""
    if guest is None:
        return None
    return {
        name: decrypt_field(bytes(value), name, data_key, pk) if isinstance(value, bytes | bytearray | memoryview)
        else value
        for name, value in guest.items()
    }  # fmt: skip
