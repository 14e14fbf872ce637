-- Every operation is one run. The row is also the job: workers claim queued rows.
CREATE TABLE operation_runs (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id   BIGINT NOT NULL REFERENCES workspaces(id),
    tenant_id      BIGINT REFERENCES tenants(id),
    kind           TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('queued', 'running', 'completed')),
    outcome        TEXT NOT NULL
                   CHECK (outcome IN ('pending', 'succeeded', 'partially_succeeded', 'failed', 'cancelled')),
    -- Hash of tenant + type + target: starts with the same identity share one active run.
    identity       TEXT NOT NULL,
    target_kind    TEXT,
    target_id      TEXT,
    context        TEXT NOT NULL DEFAULT '{}',
    total          BIGINT NOT NULL DEFAULT 0,
    processed      BIGINT NOT NULL DEFAULT 0,
    failed         BIGINT NOT NULL DEFAULT 0,
    failures       TEXT NOT NULL DEFAULT '[]',
    initiator      TEXT NOT NULL,
    attempt        BIGINT NOT NULL DEFAULT 1,
    created_at     TIMESTAMPTZ NOT NULL,
    started_at     TIMESTAMPTZ,
    completed_at   TIMESTAMPTZ,
    -- Set by a cancel while running; the handler checks it between items.
    cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
    -- The worker that claimed the run, for logs and the reconciler.
    claimed_by     TEXT,
    heartbeat_at   TIMESTAMPTZ
);
-- At most one queued or running run per identity, on both backends, however many start at once.
CREATE UNIQUE INDEX operation_runs_active_identity ON operation_runs(identity)
    WHERE status IN ('queued', 'running');
CREATE INDEX operation_runs_tenant_created ON operation_runs(tenant_id, created_at DESC, id DESC);
CREATE INDEX operation_runs_created ON operation_runs(created_at DESC, id DESC);
CREATE INDEX operation_runs_queued ON operation_runs(status, created_at) WHERE status = 'queued';
