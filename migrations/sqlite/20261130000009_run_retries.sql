-- A retry is a new run linked to the run it retries; `retried by` is read back through the index.
ALTER TABLE operation_runs ADD COLUMN retry_of INTEGER REFERENCES operation_runs(id) ON DELETE SET NULL;
CREATE INDEX operation_runs_retry_of ON operation_runs(retry_of) WHERE retry_of IS NOT NULL;
