from __future__ import annotations

import pyarrow as pa

from loaders.aurora import bytea_text


def test_ciphertexts_become_bytea_hex_input_with_nulls_kept() -> None:
    values = pa.array([b"\x01\xab", None, b"", b"\xff\x00\x10", bytes(range(16))], pa.binary())
    assert bytea_text(values).to_pylist() == [
        "\\x01ab",
        None,
        "\\x",
        "\\xff0010",
        "\\x000102030405060708090a0b0c0d0e0f",
    ]
    # a slice (Arrow batches often are) starts at its own offset
    assert bytea_text(values.slice(2, 2)).to_pylist() == ["\\x", "\\xff0010"]
    assert bytea_text(pa.array([None, None], pa.binary())).to_pylist() == [None, None]
    assert bytea_text(pa.array(["text"], pa.string())).to_pylist() == ["text"]  # not binary: as it is
