-- Tenant lifecycle jobs (install, upgrade, disable, purge).

-- The module version a tenant's data is at; NULL until an install job has finished. Tenants
-- made before lifecycle jobs existed hold data of the 0.4.0 shape: an upgrade runs the tenant
-- data steps of later versions on them.
ALTER TABLE tenants ADD COLUMN module_version TEXT;
UPDATE tenants SET module_version = '0.4.0';

-- What a run reported as it went: a lifecycle job's messages, in order.
CREATE TABLE operation_run_messages (
    id         INTEGER PRIMARY KEY,
    run_id     INTEGER NOT NULL REFERENCES operation_runs(id) ON DELETE CASCADE,
    message    TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX operation_run_messages_run ON operation_run_messages(run_id, id);

-- Reference data an install loaded for a tenant (`loadReference`): catalog entries by kind.
CREATE TABLE tenant_reference_data (
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind      TEXT NOT NULL,
    key       TEXT NOT NULL,
    label     TEXT NOT NULL,
    PRIMARY KEY (tenant_id, kind, key)
);
