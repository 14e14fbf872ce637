-- A tenant's backups page and a pipeline's page read the schedules of their target.
CREATE INDEX schedules_target ON schedules(target_kind, target_id);
