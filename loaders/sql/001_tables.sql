-- Tables only; keys and indexes are in 002_keys.sql (an initial load builds them after the data).
-- Reservation copy for further processing. Guest names, email and phone are AES-256-GCM ciphertext.
CREATE TABLE IF NOT EXISTS reservations (
    property_code      text          NOT NULL,
    confirmation_no    text          NOT NULL,
    status             text          NOT NULL,
    created_at         timestamptz,
    last_modified      timestamptz   NOT NULL,
    source             text          NOT NULL,
    source_seq         bigint,
    arrival_date       date          NOT NULL,
    departure_date     date          NOT NULL,
    nights             integer       NOT NULL,
    adults             integer,
    children           integer,
    guest_first_name   bytea,
    guest_last_name    bytea,
    guest_email        bytea,
    guest_phone        bytea,
    guest_country      text,
    email_hash         text,
    card_type          text,
    card_last4         text,
    total_amount       numeric(12,2),
    currency           text,
    channel            text,
    run_id             text          NOT NULL,
    loaded_at          timestamptz   NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS room_stays (
    property_code      text          NOT NULL,
    confirmation_no    text          NOT NULL,
    line_no            integer       NOT NULL,
    room_type          text,
    rate_plan          text,
    start_date         date,
    end_date           date,
    nightly_rate       numeric(12,2),
    currency           text
);

CREATE TABLE IF NOT EXISTS migration_runs (
    run_id             text          PRIMARY KEY,
    env                text          NOT NULL,
    status             text          NOT NULL,
    code_version       text,
    started_at         timestamptz   NOT NULL,
    finished_at        timestamptz,
    selection          jsonb,
    counts             jsonb,
    timings            jsonb
);

-- One row per chunk an initial load committed: a retried Spark task finds its chunks done and skips them.
CREATE TABLE IF NOT EXISTS migration_load_parts (
    run_id             text          NOT NULL,
    part               integer       NOT NULL,
    chunk              integer       NOT NULL,
    reservations       bigint        NOT NULL,
    room_stays         bigint        NOT NULL,
    loaded_at          timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, part, chunk)
);
