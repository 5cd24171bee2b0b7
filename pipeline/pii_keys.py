"""The run's data key: envelope encryption under KMS.

Once per run (per attempt, for a resumed one) the driver asks KMS for a fresh AES-256 data key
(``GenerateDataKey``); the plaintext key encrypts guest fields and is never written anywhere. The encrypted
key (``CiphertextBlob``) and the KMS key's ARN are registered under a short reference, ``ref`` (16 hex
digits of the blob's SHA-256), in the manifest and in each target's key registry (DynamoDB item
``PIIKEY#<ref>``, Aurora table ``pii_data_keys``) before anything is written; every item and row carries
``pii_key = ref``. Whoever may call ``kms:Decrypt`` on the key reads them back (``python -m jobs.pii
decrypt``). The reference rather than the ~190-byte blob on each item: the blob would push a typical item
over the 1 KB write-unit step, for the table and each GSI (README has the figure). Every
data key is bound to :data:`ENCRYPTION_CONTEXT` (CloudTrail shows it on each use). Without KMS (the local
env's ``pii.data_key``) the key is a plain development key, registered nowhere, and rows say ``dev``.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any

from pipeline.config import PiiConfig

ENCRYPTION_CONTEXT = {"purpose": "guest-pii", "application": "reservation-migration"}
DEV_KEY_ID = "dev"


@dataclass(frozen=True)
class DataKey:
    plaintext: bytes = field(repr=False)
    key_id: str  # the KMS key's ARN, or "dev"
    encrypted: bytes | None  # KMS CiphertextBlob; None for a development key

    @property
    def ref(self) -> str:
        return hashlib.sha256(self.encrypted).hexdigest()[:16] if self.encrypted else DEV_KEY_ID

    def manifest_entry(self) -> dict[str, Any]:
        """What the manifest records (no key material: the encrypted key is useless without KMS)."""
        return {
            "key_ref": self.ref,
            "source": "dev" if self.encrypted is None else "kms",
            "kms_key_id": self.key_id,
            "encrypted_data_key": base64.b64encode(self.encrypted).decode("ascii") if self.encrypted else None,
            "encryption_context": ENCRYPTION_CONTEXT if self.encrypted else None,
            "cipher": "AES-256-GCM, 0x02 | 12-byte nonce | ciphertext | tag, "
            "'RES#<property_code>#<confirmation_no>|<field>' as AAD",
        }


def run_data_key(cfg: PiiConfig, kms: Any = None) -> DataKey:
    """A fresh data key from KMS (``pii.kms_key_id``), else the development key."""
    if cfg.kms_key_id:
        kms = kms or _kms_client()
        answer = kms.generate_data_key(KeyId=cfg.kms_key_id, KeySpec="AES_256", EncryptionContext=ENCRYPTION_CONTEXT)
        return DataKey(bytes(answer["Plaintext"]), str(answer["KeyId"]), bytes(answer["CiphertextBlob"]))
    return DataKey(cfg.data_key_bytes(), DEV_KEY_ID, None)


def unwrap(encrypted: bytes, kms: Any = None) -> bytes:
    """The plaintext data key of an item or row (``kms:Decrypt``; the blob names its KMS key)."""
    kms = kms or _kms_client()
    return bytes(kms.decrypt(CiphertextBlob=encrypted, EncryptionContext=ENCRYPTION_CONTEXT)["Plaintext"])


def _kms_client() -> Any:
    import boto3

    return boto3.client("kms")
