-- Keys and indexes of the reservation tables. Idempotent; an initial load drops them while the tables are
-- empty (drop_keys.sql) and applies this file once the data is in, which is much faster than indexing
-- row by row. It builds each table's section (from its `-- table:` line to the next) on a connection of
-- its own, at the same time (loaders.aurora.finish_initial).
-- table: reservations
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'reservations_pkey') THEN
        ALTER TABLE reservations ADD CONSTRAINT reservations_pkey PRIMARY KEY (property_code, confirmation_no);
    END IF;
END $$;
CREATE INDEX IF NOT EXISTS reservations_email_hash_idx ON reservations (email_hash);
CREATE INDEX IF NOT EXISTS reservations_property_arrival_idx ON reservations (property_code, arrival_date);
-- table: room_stays
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'room_stays_pkey') THEN
        ALTER TABLE room_stays ADD CONSTRAINT room_stays_pkey PRIMARY KEY (property_code, confirmation_no, line_no);
    END IF;
END $$;
