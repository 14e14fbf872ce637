-- Every operation is one run. The row is also the job: workers claim queued rows.
CREATE TABLE operation_runs (
    id             INTEGER PRIMARY KEY,
    workspace_id   INTEGER NOT NULL REFERENCES workspaces(id),
    tenant_id      INTEGER REFERENCES tenants(id),
    kind           TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('queued', 'running', 'completed')),
    outcome        TEXT NOT NULL
                   CHECK (outcome IN ('pending', 'succeeded', 'partially_succeeded', 'failed', 'cancelled')),
    -- Hash of tenant + type + target: starts with the same identity share one active run.
    identity       TEXT NOT NULL,
    target_kind    TEXT,
    target_id      TEXT,
    context        TEXT NOT NULL DEFAULT '{}',
    total          INTEGER NOT NULL DEFAULT 0,
    processed      INTEGER NOT NULL DEFAULT 0,
    failed         INTEGER NOT NULL DEFAULT 0,
    failures       TEXT NOT NULL DEFAULT '[]',
    initiator      TEXT NOT NULL,
    attempt        INTEGER NOT NULL DEFAULT 1,
    created_at     TEXT NOT NULL,
    started_at     TEXT,
    completed_at   TEXT,
    -- Set by a cancel while running; the handler checks it between items.
    cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
    -- The worker that claimed the run, for logs and the reconciler.
    claimed_by     TEXT,
    heartbeat_at   TEXT
);
-- At most one queued or running run per identity, on both backends, however many start at once.
CREATE UNIQUE INDEX operation_runs_active_identity ON operation_runs(identity)
    WHERE status IN ('queued', 'running');
CREATE INDEX operation_runs_tenant_created ON operation_runs(tenant_id, created_at DESC, id DESC);
CREATE INDEX operation_runs_created ON operation_runs(created_at DESC, id DESC);
CREATE INDEX operation_runs_queued ON operation_runs(status, created_at) WHERE status = 'queued';
