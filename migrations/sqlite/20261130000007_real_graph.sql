-- Real Microsoft Graph: a connection's scope override and certificate credential; a backup
-- item's whole policy body, its scope tags and its assignments' whole targets; restores across
-- tenants that map filters and scope tags like groups and recreate deleted policies.

-- The scope asked for instead of `{scheme}://{host}/.default` of the base URL (NULL: the rule).
ALTER TABLE provider_connections ADD COLUMN scope TEXT;
-- 'secret' or 'certificate'; client_secret then holds the secret or the certificate and key (PEM).
ALTER TABLE provider_connections ADD COLUMN credential_kind TEXT NOT NULL DEFAULT 'secret';
-- SHA-1 thumbprint of the certificate, as the Entra admin center shows it.
ALTER TABLE provider_connections ADD COLUMN certificate_thumbprint TEXT;
-- The last "Check connection" (JSON), shown until the connection changes or a check fails.
ALTER TABLE provider_connections ADD COLUMN last_check TEXT;

-- The policy as Graph returned it; `settings` now holds what lives outside it (settings
-- catalog settings, administrative template definition values), `assignments`
-- [{target, groupName, filterName}] with Graph's target objects verbatim.
ALTER TABLE backup_items ADD COLUMN body TEXT NOT NULL DEFAULT '{}';
-- [{id, name}] of the policy's roleScopeTagIds.
ALTER TABLE backup_items ADD COLUMN scope_tags TEXT NOT NULL DEFAULT '[]';

-- The tenant whose backup set is restored (NULL: the restore run's own tenant).
ALTER TABLE restore_runs ADD COLUMN source_tenant_id BIGINT;
-- {sourceId: targetId} for assignment filters and scope tags, like group_mapping.
ALTER TABLE restore_runs ADD COLUMN filter_mapping TEXT NOT NULL DEFAULT '{}';
ALTER TABLE restore_runs ADD COLUMN scope_tag_mapping TEXT NOT NULL DEFAULT '{}';
-- {itemId: newPolicyId} of policies this restore created again, so a second execution
-- assigns them instead of creating them twice.
ALTER TABLE restore_runs ADD COLUMN recreated TEXT NOT NULL DEFAULT '{}';

-- Settings-catalog policies exist only in Graph's beta: a connection saved with a /v1.0 base
-- (allowed until now) could never capture them. It moves to the beta of the same API.
UPDATE provider_connections SET base_url = substr(base_url, 1, length(base_url) - 5) || '/beta'
WHERE base_url LIKE '%/v1.0';
