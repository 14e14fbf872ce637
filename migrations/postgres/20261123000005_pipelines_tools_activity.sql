-- Issue 4: the audit trail becomes the user-action log of the pipeline contract (acting user,
-- a type and an action; personal actions such as sign-in have no workspace), token activity,
-- pipelines with their runs and activity logs, and the tool registry.
ALTER TABLE audit_entries ALTER COLUMN workspace_id DROP NOT NULL;
ALTER TABLE audit_entries DROP CONSTRAINT IF EXISTS audit_entries_workspace_id_fkey;
-- The acting user (for a token, its owner); NULL for the system. E-mail as it was then.
ALTER TABLE audit_entries ADD COLUMN user_id BIGINT;
ALTER TABLE audit_entries ADD COLUMN user_email TEXT;
ALTER TABLE audit_entries ADD COLUMN type TEXT;
UPDATE audit_entries a SET
    user_id = u.id, user_email = u.email
FROM users u WHERE a.actor::jsonb->>'kind' = 'user' AND u.id = (a.actor::jsonb->>'id')::bigint;
UPDATE audit_entries SET
    type = CASE action WHEN 'restore.executed' THEN 'restore_run'
                       WHEN 'provider.connected' THEN 'provider_connection'
                       ELSE 'operation' END,
    action = CASE action WHEN 'operation.started' THEN 'start' WHEN 'operation.reused' THEN 'reuse'
                         WHEN 'operation.cancelled' THEN 'cancel' WHEN 'restore.executed' THEN 'execute'
                         ELSE 'update' END;
ALTER TABLE audit_entries ALTER COLUMN type SET NOT NULL;
ALTER TABLE audit_entries DROP COLUMN target_kind;
CREATE INDEX audit_entries_type_created ON audit_entries(type, created_at DESC, id DESC);
-- One row per request made with a personal access token.
CREATE TABLE token_activity (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_id    BIGINT NOT NULL,
    user_id     BIGINT NOT NULL,
    scope       TEXT NOT NULL,
    target      TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX token_activity_created ON token_activity(created_at DESC, id DESC);
CREATE INDEX token_activity_scope_created ON token_activity(scope, created_at DESC, id DESC);

-- Pipelines: ordered steps (JSON), an access list (JSON), and the state of the current run.
CREATE TABLE pipelines (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id   BIGINT NOT NULL REFERENCES workspaces(id),
    owner_id       BIGINT NOT NULL REFERENCES users(id),
    name           TEXT NOT NULL,
    description    TEXT NOT NULL DEFAULT '',
    steps          TEXT NOT NULL DEFAULT '[]',
    access         TEXT NOT NULL DEFAULT '[]',
    state          TEXT NOT NULL DEFAULT 'idle' CHECK (state IN ('idle', 'running', 'paused', 'stopped')),
    run_count      BIGINT NOT NULL DEFAULT 0,
    -- The run whose data `status` and the pages show until a reset clears it.
    current_run    BIGINT,
    stop_requested BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX pipelines_workspace ON pipelines(workspace_id, id);

-- Run n of a pipeline: the steps as they were when it started (JSON; kept here rather than in
-- the run's context, which every workspace member may read in Monitoring), then the operation
-- run that runs them.
CREATE TABLE pipeline_runs (
    pipeline_id      BIGINT NOT NULL REFERENCES pipelines(id) ON DELETE CASCADE,
    run_count        BIGINT NOT NULL,
    operation_run_id BIGINT,
    steps            TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (pipeline_id, run_count)
);

CREATE TABLE pipeline_logs (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pipeline_id BIGINT NOT NULL REFERENCES pipelines(id) ON DELETE CASCADE,
    run_count   BIGINT NOT NULL,
    step_index  BIGINT,
    step_name   TEXT,
    type        TEXT NOT NULL,
    status      TEXT NOT NULL,
    message     TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX pipeline_logs_pipeline ON pipeline_logs(pipeline_id, id DESC);
CREATE INDEX pipeline_logs_run ON pipeline_logs(pipeline_id, run_count, type, id DESC);

-- The tool registry. Secrets are write-only: used by `tool.http` steps, never returned.
CREATE TABLE tools (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id    BIGINT NOT NULL REFERENCES workspaces(id),
    owner_id        BIGINT NOT NULL REFERENCES users(id),
    name            TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    tool_identifier TEXT NOT NULL,
    active          BOOLEAN NOT NULL DEFAULT TRUE,
    configuration   TEXT NOT NULL DEFAULT '{}',
    secrets         TEXT NOT NULL DEFAULT '{}',
    access          TEXT NOT NULL DEFAULT '[]',
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX tools_workspace ON tools(workspace_id, id);
