-- A start that hands its new run straight to an idle worker lane writes it in one statement,
-- which must count the tenant's running runs in the claims' turn: the claims' transaction lock
-- first, then a count that sees every claim committed before it. PL/pgSQL gives each query of a
-- VOLATILE function a fresh snapshot (https://www.postgresql.org/docs/15/xfunc-volatility.html),
-- taken here after the lock; the calling statement's own snapshot predates it.
CREATE FUNCTION running_runs_in_claims_turn(tenant BIGINT, claims_lock BIGINT) RETURNS BIGINT
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(claims_lock);
    RETURN (SELECT COUNT(*) FROM operation_runs WHERE tenant_id = tenant AND status = 'running');
END
$$;
