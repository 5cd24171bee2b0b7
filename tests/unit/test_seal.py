"""pipeline.seal: the session side of guest protection (the job's seal function, the one-row key relation)."""

from __future__ import annotations

import hashlib

import pytest
from chispa import assert_df_equality
from pyspark.sql import types as T

from pipeline.seal import SealUnavailableError, key_relation, register_seal
from transforms.pii import SEAL_FUNCTION

DATA_KEY = bytes(range(32))
KEYS = T.StructType(
    [T.StructField(name, T.BinaryType(), False) for name in ("_pii_data_key", "_pii_hmac_inner", "_pii_hmac_outer")]
)


def _padded(key: bytes, pad: int) -> bytes:
    """RFC 2104: the key zero-padded to SHA-256's 64-byte block, XOR ``pad`` (0x36 inner, 0x5C outer)."""
    return bytes(b ^ pad for b in key.ljust(64, b"\0"))


@pytest.mark.parametrize(
    ("hmac_key", "block"),
    [
        (b"Jefe", b"Jefe"),  # a short key is padded as it is
        (b"\xaa" * 131, hashlib.sha256(b"\xaa" * 131).digest()),  # a key longer than the block is hashed first
    ],
)
def test_key_relation_is_one_row_of_the_data_key_and_the_hmac_pads(spark, hmac_key: bytes, block: bytes) -> None:
    expected = spark.createDataFrame(
        [(bytearray(DATA_KEY), bytearray(_padded(block, 0x36)), bytearray(_padded(block, 0x5C)))], KEYS
    )
    assert_df_equality(key_relation(spark, DATA_KEY, hmac_key), expected)


def test_key_relation_refuses_a_data_key_that_is_not_aes_256(spark) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        key_relation(spark, bytes(16), b"k" * 32)


def test_registering_the_seal_is_idempotent(spark) -> None:
    register_seal(spark)
    register_seal(spark)
    assert spark.catalog.functionExists(SEAL_FUNCTION)


class _Session:
    """Just enough of a SparkSession for ``register_seal``: registering the Java function raises ``error``."""

    def __init__(self, error: Exception) -> None:
        self.udf = self
        self.error = error

    def registerJavaFunction(self, name: str, java_class: str, return_type: object) -> None:
        raise self.error


def test_a_missing_jar_is_named_in_one_line() -> None:
    session = _Session(RuntimeError("java.lang.ClassNotFoundException: migration.pii.Seal"))
    with pytest.raises(SealUnavailableError, match="not on the classpath: ship the job's jar"):
        register_seal(session)  # type: ignore[arg-type]


def test_other_registration_errors_are_not_mistaken_for_a_missing_jar() -> None:
    with pytest.raises(RuntimeError, match="session stopped"):
        register_seal(_Session(RuntimeError("session stopped")))  # type: ignore[arg-type]
