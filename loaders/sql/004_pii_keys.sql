-- The data key the guest fields of a row are encrypted under: the KMS key's ARN and the data key as KMS
-- encrypted it (CiphertextBlob). With kms:Decrypt on that key, `python -m jobs.pii decrypt` reads the row.
ALTER TABLE reservations ADD COLUMN IF NOT EXISTS pii_key_id text;
ALTER TABLE reservations ADD COLUMN IF NOT EXISTS pii_data_key bytea;
