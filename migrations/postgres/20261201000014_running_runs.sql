-- A claim counts the running runs of each candidate's tenant (and of pipelines): a few rows,
-- however many runs a tenant's history holds.
CREATE INDEX operation_runs_running ON operation_runs(tenant_id, kind, workspace_id) WHERE status = 'running';
