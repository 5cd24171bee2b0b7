-- The rows of a chunk that failed alone (its transaction bisected, the rest committed): key -> condition.
-- A retried task that skips the chunk reports them again from its own copy of the rows. (Looked up first:
-- ALTER TABLE takes its lock even when the column is there, and would queue behind a running load.)
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_attribute
                    WHERE attrelid = 'migration_load_parts'::regclass AND attname = 'failed' AND NOT attisdropped) THEN
        ALTER TABLE migration_load_parts ADD COLUMN failed jsonb;
    END IF;
END
$$;
