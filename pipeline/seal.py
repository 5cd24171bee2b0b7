"""The session side of guest protection: the job's JVM seal function and the one-row key relation.

:func:`transforms.pii.with_guest_protected` is pure: it calls :data:`transforms.pii.SEAL_FUNCTION` and reads
the keys from a one-row DataFrame it is handed. This module makes both exist in a session: it registers the
function from the job's jar (``jobs.jars``; ``spark.jars`` locally, ``--jars`` on EMR) and builds the key
relation in the driver's JVM, so that the key material appears in no plan, ``explain()`` or event log.

    register_seal(spark)  # once per session, before the run's long work (a missing jar fails here)
    keys_df = key_relation(spark, data_key, hmac_key)
    protected_df = with_guest_protected(clean_df, keys_df=keys_df, key_ref=key_ref)
"""

from __future__ import annotations

import hashlib

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from transforms.pii import KEYS_SCHEMA, SEAL_FUNCTION

SEAL_CLASS = "migration.pii.Seal"
DATA_KEY_BYTES = 32  # AES-256
HMAC_BLOCK_BYTES = 64  # SHA-256's block size (RFC 2104's B)


class SealUnavailableError(RuntimeError):
    """The job's jar is not on the classpath (a deployment mistake, named in one line)."""


def register_seal(spark: SparkSession) -> None:
    """Make :data:`transforms.pii.SEAL_FUNCTION` callable in this session (idempotent). The class comes from
    the job's jar (``jobs.jars``): ``spark.jars`` locally, ``--jars`` on EMR."""
    try:
        spark.udf.registerJavaFunction(SEAL_FUNCTION, SEAL_CLASS, T.BinaryType())
    except Exception as exc:  # AnalysisException / Py4JJavaError: class not found
        if SEAL_CLASS in str(exc) or "ClassNotFound" in str(exc):
            raise SealUnavailableError(
                f"{SEAL_CLASS} is not on the classpath: ship the job's jar (jobs.jars) with --jars / spark.jars"
            ) from None
        raise


def key_relation(spark: SparkSession, data_key: bytes, hmac_key: bytes) -> DataFrame:
    """One row of key material (:data:`transforms.pii.KEYS_SCHEMA`): the AES-256 data key and the HMAC key's
    inner and outer padded blocks (RFC 2104, precomputed so the executors hash with ``sha2`` alone).

    Built in the driver's JVM as a ``LocalRelation``: plans print its columns, never its data, and there is
    no temporary file as ``createDataFrame`` from Python would write.
    """
    if len(data_key) != DATA_KEY_BYTES:
        raise ValueError("the data key must be 32 bytes (AES-256)")
    block = hashlib.sha256(hmac_key).digest() if len(hmac_key) > HMAC_BLOCK_BYTES else hmac_key
    block = block.ljust(HMAC_BLOCK_BYTES, b"\0")
    values = (data_key, bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block))
    jvm = spark.sparkContext._jvm
    gateway = spark.sparkContext._gateway
    assert jvm is not None and gateway is not None
    cells = gateway.new_array(jvm.java.lang.Object, len(values))
    for i, value in enumerate(values):
        cells[i] = bytearray(value)
    rows = jvm.java.util.ArrayList()
    rows.add(jvm.org.apache.spark.sql.RowFactory.create(cells))
    jschema = spark._jsparkSession.parseDataType(KEYS_SCHEMA.json())
    return DataFrame(spark._jsparkSession.createDataFrame(rows, jschema), spark)
