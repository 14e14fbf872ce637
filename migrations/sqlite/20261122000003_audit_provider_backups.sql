-- Who did what, where and when. No foreign key to tenants: entries outlive a purged tenant.
CREATE TABLE audit_entries (
    id            INTEGER PRIMARY KEY,
    workspace_id  INTEGER NOT NULL REFERENCES workspaces(id),
    tenant_id     INTEGER,
    -- The actor (user, token or system) with a display-name snapshot, as JSON.
    actor         TEXT NOT NULL,
    action        TEXT NOT NULL,
    target_kind   TEXT,
    target_id     TEXT,
    details       TEXT NOT NULL DEFAULT '{}',
    created_at    TEXT NOT NULL
);
CREATE INDEX audit_entries_tenant_created ON audit_entries(tenant_id, created_at DESC, id DESC);
CREATE INDEX audit_entries_created ON audit_entries(created_at DESC, id DESC);

-- How TenantPilot reaches a tenant's provider. The secret is write-only for people: never
-- shown again, never logged.
CREATE TABLE provider_connections (
    tenant_id     INTEGER PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    base_url      TEXT NOT NULL,
    token_url     TEXT NOT NULL,
    client_id     TEXT NOT NULL,
    client_secret TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

-- A capture of a tenant's policies (settings and assignments) at one moment.
CREATE TABLE backup_sets (
    id            INTEGER PRIMARY KEY,
    tenant_id     INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    -- The capture run that fills it (runs are pruned, so no foreign key).
    operation_run_id INTEGER,
    item_count    INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL
);
CREATE INDEX backup_sets_tenant ON backup_sets(tenant_id, id DESC);
-- One set per capture run, so a capture that runs again after a lost worker fills the same set.
CREATE UNIQUE INDEX backup_sets_run ON backup_sets(operation_run_id);

CREATE TABLE backup_items (
    id            INTEGER PRIMARY KEY,
    backup_set_id INTEGER NOT NULL REFERENCES backup_sets(id) ON DELETE CASCADE,
    tenant_id     INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    policy_id     TEXT NOT NULL,
    policy_name   TEXT NOT NULL,
    policy_type   TEXT NOT NULL,
    settings      TEXT NOT NULL DEFAULT '{}',
    -- [{groupId, groupName}] as last captured or fetched.
    assignments   TEXT NOT NULL DEFAULT '[]',
    assignments_count INTEGER NOT NULL DEFAULT 0,
    assignments_fetched_at TEXT,
    UNIQUE (backup_set_id, policy_id)
);
CREATE INDEX backup_items_tenant ON backup_items(tenant_id, id);

-- A restore of assignments from a backup set, previewed before it is executed.
CREATE TABLE restore_runs (
    id            INTEGER PRIMARY KEY,
    tenant_id     INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    backup_set_id INTEGER NOT NULL REFERENCES backup_sets(id) ON DELETE CASCADE,
    item_ids      TEXT NOT NULL,
    -- {sourceGroupId: targetGroupId}
    group_mapping TEXT NOT NULL DEFAULT '{}',
    preview       TEXT NOT NULL,
    created_by    INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at    TEXT NOT NULL,
    -- The latest execution.
    operation_run_id INTEGER
);
CREATE INDEX restore_runs_tenant ON restore_runs(tenant_id, id DESC);

-- Monitoring pages through runs newest first by id, per tenant or across all; its chart counts
-- the last day's runs by outcome from the index alone.
DROP INDEX operation_runs_tenant_created;
DROP INDEX operation_runs_created;
CREATE INDEX operation_runs_tenant_id ON operation_runs(tenant_id, id DESC);
CREATE INDEX operation_runs_created_outcome ON operation_runs(created_at, tenant_id, outcome);
