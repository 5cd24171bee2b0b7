-- Reservations held back because their newest version was invalid (LATEST_VERSION_INVALID), with that
-- version's time: a later run whose window cannot see it must not load an older version of the key. A NULL
-- last_modified (an undatable newest version) holds back every version until an operator deletes the row.
CREATE TABLE IF NOT EXISTS migration_held_back (
    property_code      text          NOT NULL,
    confirmation_no    text          NOT NULL,
    last_modified      timestamptz,
    source_seq         bigint,
    run_id             text          NOT NULL,
    held_at            timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (property_code, confirmation_no)
);
