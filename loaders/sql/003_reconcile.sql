-- The verdict of `python -m jobs.reconcile` for a run.
ALTER TABLE migration_runs ADD COLUMN IF NOT EXISTS reconcile jsonb;
