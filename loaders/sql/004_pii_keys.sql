-- Envelope encryption of guest fields: each row names its data key (pii_key); the key registry holds that
-- key as KMS encrypted it and the KMS key's ARN. With kms:Decrypt on that key, `python -m jobs.pii decrypt`
-- reads the row.
ALTER TABLE reservations ADD COLUMN IF NOT EXISTS pii_key text;
CREATE TABLE IF NOT EXISTS pii_data_keys (
    key_ref             text          PRIMARY KEY,
    kms_key_id          text          NOT NULL,
    encrypted_data_key  bytea         NOT NULL,
    run_id              text          NOT NULL,
    registered_at       timestamptz   NOT NULL DEFAULT now()
);
