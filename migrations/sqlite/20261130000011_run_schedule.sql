-- The schedule that started a run, if one did: Monitoring filters by it.
ALTER TABLE operation_runs ADD COLUMN schedule_id INTEGER;
CREATE INDEX operation_runs_schedule ON operation_runs(schedule_id, id DESC) WHERE schedule_id IS NOT NULL;
