-- A schedule starts a capture of one tenant, a capture of every enabled tenant of a workspace,
-- or a pipeline run, at the fire times of a cron expression read in an IANA time zone.
CREATE TABLE schedules (
    id             INTEGER PRIMARY KEY,
    workspace_id   INTEGER NOT NULL REFERENCES workspaces(id),
    name           TEXT NOT NULL,
    cron           TEXT NOT NULL,
    time_zone      TEXT NOT NULL,
    target_kind    TEXT NOT NULL CHECK (target_kind IN ('tenant_capture', 'workspace_capture', 'pipeline')),
    -- The tenant, the workspace or the pipeline, as target_kind says.
    target_id      INTEGER NOT NULL,
    jitter_minutes INTEGER NOT NULL DEFAULT 0,
    missed         TEXT NOT NULL DEFAULT 'catch_up' CHECK (missed IN ('catch_up', 'skip')),
    paused         BOOLEAN NOT NULL DEFAULT FALSE,
    owner_id       INTEGER NOT NULL REFERENCES users(id),
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE INDEX schedules_workspace ON schedules(workspace_id);
-- One row per fire time (slot) and part (a fan-out's tenant; 0 otherwise): the first process
-- to insert it runs it, so each runs once however many processes watch the schedules.
CREATE TABLE schedule_slots (
    schedule_id    INTEGER NOT NULL REFERENCES schedules(id) ON DELETE CASCADE,
    slot_at        TEXT NOT NULL,
    part           INTEGER NOT NULL,
    outcome        TEXT NOT NULL CHECK (outcome IN ('claimed', 'started', 'skipped')),
    run_id         INTEGER REFERENCES operation_runs(id) ON DELETE SET NULL,
    reason         TEXT,
    created_at     TEXT NOT NULL,
    PRIMARY KEY (schedule_id, slot_at, part)
);
