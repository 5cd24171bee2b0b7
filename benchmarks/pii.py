"""PII overhead: the transform with and without the guest protection step, same input, same process.

    python benchmarks/pii.py [--reservations 500000] [--work DIR]

Times extract -> normalize -> room stays -> rules -> dedupe -> loaded canonical reservations -> Parquet,
once as is and once with ``with_guest_protected`` (AES-256-GCM of four fields, HMAC-SHA256 of the email,
all in the JVM) before the write. Prints `BENCH pii_overhead <fraction> ratio` (goal <= 0.15). For scale,
it also times the same protection done in Python (cryptography's AESGCM, batch-wise in ``mapInArrow``,
the job's previous implementation): `BENCH pii_jvm_vs_python_protect <ratio> x` on the protect step alone.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import shutil
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TZ", "UTC")
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

DATA_KEY = bytes(range(32))
HMAC_KEY = bytes(range(100, 132))


def python_protect(df, data_key: bytes, hmac_key: bytes):  # type: ignore[no-untyped-def]
    """The baseline: per-value AESGCM and hmac in a Python worker, one Arrow batch at a time."""
    import pyarrow as pa
    from pyspark.sql import types as T

    from transforms.pii import ENCRYPTED_FIELDS, PROTECTED_GUEST_TYPE

    fields = [T.StructField("guest", PROTECTED_GUEST_TYPE) if f.name == "guest" else f for f in df.schema.fields]
    schema = T.StructType([*fields, T.StructField("email_hash", T.StringType())])

    def protect(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # imported in the worker

        aead = AESGCM(data_key)
        for batch in batches:
            guest = batch.column(batch.schema.names.index("guest"))

            def enc(values: list[str | None], name: str) -> pa.Array:
                out = []
                for v in values:
                    if v is None:
                        out.append(None)
                    else:
                        nonce = os.urandom(12)
                        out.append(b"\x01" + nonce + aead.encrypt(nonce, v.encode(), name.encode()))
                return pa.array(out, type=pa.binary())

            plain = {f: guest.field(f).to_pylist() for f in (*ENCRYPTED_FIELDS, "country")}
            struct = pa.StructArray.from_arrays(
                [*(enc(plain[f], f) for f in ENCRYPTED_FIELDS), pa.array(plain["country"], pa.string())],
                names=[*ENCRYPTED_FIELDS, "country"],
                mask=pa.array([not v for v in guest.is_valid().to_pylist()]),
            )
            hashes = [
                hmac.new(hmac_key, e.strip(" ").lower().encode(), hashlib.sha256).hexdigest() if e else None
                for e in plain["email"]
            ]
            cols = [struct if n == "guest" else batch.column(i) for i, n in enumerate(batch.schema.names)]
            yield pa.RecordBatch.from_arrays(
                [*cols, pa.array(hashes, pa.string())], [*batch.schema.names, "email_hash"]
            )

    return df.mapInArrow(protect, schema)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reservations", type=int, default=500_000)
    parser.add_argument("--work", default="/tmp/migration-bench-transform")  # shares benchmarks/transform.py's data
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    work = Path(args.work)

    from pyspark.sql import functions as F

    from benchmarks._common import best_seconds, classified_frame, edw_extract, local_spark
    from pipeline.run import CANONICAL_COLUMNS
    from transforms import with_guest_protected

    data = edw_extract(args.work, args.reservations)
    spark = local_spark(shuffle_partitions=8, driver_memory="6g")

    def loaded():  # type: ignore[no-untyped-def]
        return classified_frame(spark, data).filter(F.col("outcome") == "loaded").select(*CANONICAL_COLUMNS)

    def write(df, name: str) -> None:  # type: ignore[no-untyped-def]
        df.write.mode("overwrite").parquet(str(work / f"out-pii-{name}"))

    def plain() -> None:
        write(loaded(), "plain")

    def protected() -> None:
        write(with_guest_protected(loaded(), data_key=DATA_KEY, hmac_key=HMAC_KEY), "protected")

    plain()  # warm-up: JVM, file listing, page cache
    rows = spark.read.parquet(str(work / "out-pii-plain")).count()
    t_plain = best_seconds(plain, args.repeat)
    t_protected = best_seconds(protected, args.repeat)
    # the protect step alone, on the transform's output: JVM built-ins vs the Python baseline
    staged = spark.read.parquet(str(work / "out-pii-plain"))
    t_copy = best_seconds(lambda: write(staged, "copy"), args.repeat)
    t_jvm = best_seconds(
        lambda: write(with_guest_protected(staged, data_key=DATA_KEY, hmac_key=HMAC_KEY), "j"), args.repeat
    )
    t_py = best_seconds(lambda: write(python_protect(staged, DATA_KEY, HMAC_KEY), "p"), args.repeat)
    print(f"# {rows:,} loaded reservations; best of {args.repeat}: transform {t_plain:.1f} s, "
          f"with protection {t_protected:.1f} s; protect step alone (over a {t_copy:.1f} s copy): "
          f"JVM +{t_jvm - t_copy:.1f} s, Python +{t_py - t_copy:.1f} s")  # fmt: skip
    print(f"BENCH pii_protect_rows_per_s {rows / max(t_jvm - t_copy, 1e-9):.0f} rows/s")
    print(f"BENCH pii_overhead {(t_protected - t_plain) / t_plain:.3f} ratio")
    print(f"BENCH pii_jvm_vs_python_protect {(t_py - t_copy) / max(t_jvm - t_copy, 1e-9):.1f} x")
    spark.stop()
    for name in ("plain", "protected", "copy", "j", "p"):
        shutil.rmtree(work / f"out-pii-{name}", ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
