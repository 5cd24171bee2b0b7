-- Initial load only, on empty tables (checked under an exclusive lock first): 002_keys.sql rebuilds these.
ALTER TABLE reservations DROP CONSTRAINT IF EXISTS reservations_pkey;
ALTER TABLE room_stays DROP CONSTRAINT IF EXISTS room_stays_pkey;
DROP INDEX IF EXISTS reservations_email_hash_idx;
DROP INDEX IF EXISTS reservations_property_arrival_idx;
