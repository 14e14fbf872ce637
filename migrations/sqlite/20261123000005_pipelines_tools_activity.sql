-- Issue 4: the audit trail becomes the user-action log of the pipeline contract (acting user,
-- a type and an action; personal actions such as sign-in have no workspace), token activity,
-- pipelines with their runs and activity logs, and the tool registry.
CREATE TABLE audit_entries_v2 (
    id            INTEGER PRIMARY KEY,
    workspace_id  INTEGER,
    tenant_id     INTEGER,
    -- The acting user (for a token, its owner); NULL for the system. E-mail as it was then.
    user_id       INTEGER,
    user_email    TEXT,
    -- The actor (user, token or system) with a display-name snapshot, as JSON.
    actor         TEXT NOT NULL,
    type          TEXT NOT NULL,
    action        TEXT NOT NULL,
    target_id     TEXT,
    details       TEXT NOT NULL DEFAULT '{}',
    created_at    TEXT NOT NULL
);
INSERT INTO audit_entries_v2 (id, workspace_id, tenant_id, user_id, user_email, actor, type, action, target_id,
                              details, created_at)
SELECT a.id, a.workspace_id, a.tenant_id, u.id, u.email, a.actor,
       CASE a.action WHEN 'restore.executed' THEN 'restore_run'
                     WHEN 'provider.connected' THEN 'provider_connection'
                     ELSE 'operation' END,
       CASE a.action WHEN 'operation.started' THEN 'start' WHEN 'operation.reused' THEN 'reuse'
                     WHEN 'operation.cancelled' THEN 'cancel' WHEN 'restore.executed' THEN 'execute'
                     ELSE 'update' END,
       a.target_id, a.details, a.created_at
FROM audit_entries a
LEFT JOIN users u ON u.id = CASE WHEN json_extract(a.actor, '$.kind') = 'user' THEN json_extract(a.actor, '$.id') END;
DROP TABLE audit_entries;
ALTER TABLE audit_entries_v2 RENAME TO audit_entries;
CREATE INDEX audit_entries_created ON audit_entries(created_at DESC, id DESC);
CREATE INDEX audit_entries_tenant_created ON audit_entries(tenant_id, created_at DESC, id DESC);
CREATE INDEX audit_entries_type_created ON audit_entries(type, created_at DESC, id DESC);

-- One row per request made with a personal access token.
CREATE TABLE token_activity (
    id          INTEGER PRIMARY KEY,
    token_id    INTEGER NOT NULL,
    user_id     INTEGER NOT NULL,
    scope       TEXT NOT NULL,
    target      TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX token_activity_created ON token_activity(created_at DESC, id DESC);
CREATE INDEX token_activity_scope_created ON token_activity(scope, created_at DESC, id DESC);

-- Pipelines: ordered steps (JSON), an access list (JSON), and the state of the current run.
CREATE TABLE pipelines (
    id             INTEGER PRIMARY KEY,
    workspace_id   INTEGER NOT NULL REFERENCES workspaces(id),
    owner_id       INTEGER NOT NULL REFERENCES users(id),
    name           TEXT NOT NULL,
    description    TEXT NOT NULL DEFAULT '',
    steps          TEXT NOT NULL DEFAULT '[]',
    access         TEXT NOT NULL DEFAULT '[]',
    state          TEXT NOT NULL DEFAULT 'idle' CHECK (state IN ('idle', 'running', 'paused', 'stopped')),
    run_count      INTEGER NOT NULL DEFAULT 0,
    -- The run whose data `status` and the pages show until a reset clears it.
    current_run    INTEGER,
    stop_requested BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE INDEX pipelines_workspace ON pipelines(workspace_id, id);

-- Run n of a pipeline: the steps as they were when it started (JSON; kept here rather than in
-- the run's context, which every workspace member may read in Monitoring), then the operation
-- run that runs them.
CREATE TABLE pipeline_runs (
    pipeline_id      INTEGER NOT NULL REFERENCES pipelines(id) ON DELETE CASCADE,
    run_count        INTEGER NOT NULL,
    operation_run_id INTEGER,
    steps            TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    PRIMARY KEY (pipeline_id, run_count)
);

CREATE TABLE pipeline_logs (
    id          INTEGER PRIMARY KEY,
    pipeline_id INTEGER NOT NULL REFERENCES pipelines(id) ON DELETE CASCADE,
    run_count   INTEGER NOT NULL,
    step_index  INTEGER,
    step_name   TEXT,
    type        TEXT NOT NULL,
    status      TEXT NOT NULL,
    message     TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX pipeline_logs_pipeline ON pipeline_logs(pipeline_id, id DESC);
CREATE INDEX pipeline_logs_run ON pipeline_logs(pipeline_id, run_count, type, id DESC);

-- The tool registry. Secrets are write-only: used by `tool.http` steps, never returned.
CREATE TABLE tools (
    id              INTEGER PRIMARY KEY,
    workspace_id    INTEGER NOT NULL REFERENCES workspaces(id),
    owner_id        INTEGER NOT NULL REFERENCES users(id),
    name            TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    tool_identifier TEXT NOT NULL,
    active          BOOLEAN NOT NULL DEFAULT TRUE,
    configuration   TEXT NOT NULL DEFAULT '{}',
    secrets         TEXT NOT NULL DEFAULT '{}',
    access          TEXT NOT NULL DEFAULT '[]',
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX tools_workspace ON tools(workspace_id, id);
