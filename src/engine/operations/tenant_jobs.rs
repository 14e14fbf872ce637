//! `tenant.install`, `tenant.upgrade` and `tenant.disable`: the lifecycle jobs of the tenant
//! API. Each records what it does as the run's messages. All are retry-safe: every step either
//! is done in one transaction with the version it reaches, or leaves the same result when
//! done twice.

use super::capture::{capture_policies, Tally};
use super::provider_session;
use crate::audit::{AuditAction, AuditKind, NewAuditEntry};
use crate::capability::{Capability, Role};
use crate::engine::{Operation, RunContext, Stop};
use crate::model::Tenant;
use crate::operations::{OperationKind, RunOutcome};
use crate::provider::{ProviderClient, ReasonCode};
use crate::seed;
use crate::store::{DataChange, ReferenceEntry};
use crate::tenant_jobs::{self, JobPlan, ModuleId, Refusal, TenantAttributes};
use crate::CoreError;
use semver::Version;

/// One of this application's per-version tenant data steps: run by an upgrade (or a
/// re-install) whose tenant's data is older than `version`, in version order.
pub struct DataStep {
    pub version: &'static str,
    pub title: &'static str,
    change: fn() -> DataChange,
}

pub const DATA_STEPS: [DataStep; 2] = [
    DataStep {
        version: "0.4.0",
        title: "Sync the tenant's reference data with this version's catalog",
        change: || DataChange::SyncReference(reference_catalog()),
    },
    DataStep {
        version: "0.5.0",
        title: "Check stored policy settings and recount assignments",
        change: || DataChange::CheckBackupItems,
    },
];

/// The steps that take data at `from` to `to`.
pub fn data_steps(from: &Version, to: &Version) -> Vec<&'static DataStep> {
    DATA_STEPS
        .iter()
        .filter(|step| Version::parse(step.version).is_ok_and(|version| &version > from && &version <= to))
        .collect()
}

/// The reference data `loadReference` loads: roles, capabilities, operation types and
/// reason codes, with the words people see for them.
pub fn reference_catalog() -> Vec<ReferenceEntry> {
    let roles = Role::ALL.iter().map(|role| ReferenceEntry {
        kind: "role",
        key: role.as_str().into(),
        label: role.label().into(),
    });
    let capabilities = Capability::ALL.iter().map(|capability| ReferenceEntry {
        kind: "capability",
        key: capability.as_str().into(),
        label: capability.requirement_hint(),
    });
    let types = OperationKind::ALL.iter().map(|kind| ReferenceEntry {
        kind: "operation_type",
        key: kind.as_str().into(),
        label: kind.label().into(),
    });
    let reasons = ReasonCode::ALL.iter().map(|reason| ReferenceEntry {
        kind: "reason_code",
        key: reason.as_str().into(),
        label: reason.summary().into(),
    });
    roles.chain(capabilities).chain(types).chain(reasons).collect()
}

/// Installs and upgrades: both bring the tenant's data to `module_to` and enable it.
pub(super) struct Install {
    pub kind: OperationKind,
    pub client: ProviderClient,
    /// Where `loadSample` gets sample policies: a provider simulator started with `--demo`.
    pub sample_provider: Option<String>,
}

#[async_trait::async_trait]
impl Operation for Install {
    fn kind(&self) -> OperationKind {
        self.kind
    }

    fn retry_safe(&self) -> bool {
        true
    }

    async fn execute(&self, run: &mut RunContext) -> Result<RunOutcome, Stop> {
        let result = self.install(run).await;
        log_failure(run, &result).await;
        result
    }
}

impl Install {
    async fn install(&self, run: &mut RunContext) -> Result<RunOutcome, Stop> {
        let (tenant, plan) = job_of(run).await?;
        let (expected_from, to, options) = match plan {
            JobPlan::Install { to, options } => (None, to, options),
            JobPlan::Upgrade { from, to, options } => (Some(from), to, options),
            JobPlan::Disable { .. } => {
                return Err(Stop::failed("tenant.job", "invalid_state", "This is not an install."))
            }
        };
        let current = tenant.installed_version();
        if let Some(expected) = &expected_from {
            if current.as_ref() != Some(expected) {
                let at = current.map_or_else(|| "not installed".into(), |version| format!("at {version}"));
                return Err(Stop::failed(
                    "tenant.version_changed",
                    "invalid_state",
                    format!(
                        "Tenant {} is {at}, not at {expected}: it changed after the job was asked for.",
                        tenant.slug
                    ),
                ));
            }
        }
        // A fresh tenant has no data of an older shape: only data already stored needs the steps.
        let steps: Vec<&DataStep> = current.as_ref().map(|from| data_steps(from, &to)).unwrap_or_default();
        let extras = i64::from(options.load_reference) + i64::from(options.load_sample);
        run.set_total(steps.len() as i64 + 1 + extras);
        for step in steps {
            run.checkpoint().await?;
            run.log(format!("Data step {}: {}", step.version, step.title)).await?;
            match run.store.apply_data_change(tenant.id, step.version, &(step.change)()).await {
                Ok(rows) => {
                    run.log(format!("Tenant data is at {} ({rows} rows checked)", step.version)).await?
                }
                Err(CoreError::Conflict { message }) => {
                    return Err(Stop::failed(
                        "tenant.data_step",
                        "invalid_state",
                        format!(
                            "Data step {} failed; the tenant's data stays at the last good version. {message}",
                            step.version
                        ),
                    ));
                }
                Err(other) => return Err(other.into()),
            }
            run.item_succeeded();
        }
        if options.load_reference {
            run.checkpoint().await?;
            let loaded = run.store.load_reference_data(tenant.id, &reference_catalog()).await?;
            run.log(format!("Loaded {loaded} reference data entries")).await?;
            run.item_succeeded();
        }
        if options.load_sample {
            run.checkpoint().await?;
            self.load_sample(run, &tenant).await?;
            run.item_succeeded();
        }
        let module = ModuleId::tenantpilot(to);
        run.store.enable_tenant(tenant.id, &module.version.to_string()).await?;
        run.log(format!("Tenant {} is enabled at {module}", tenant.slug)).await?;
        run.item_succeeded();
        Ok(RunOutcome::Succeeded)
    }

    /// Connects the tenant to the sample provider (unless it is already) and captures the
    /// sample policies there into a backup set. A tenant connected to another provider keeps
    /// it: sample data must never mix with a real tenant's.
    async fn load_sample(&self, run: &mut RunContext, tenant: &Tenant) -> Result<(), Stop> {
        let sample = self.sample_provider.as_deref().ok_or_else(|| {
            Stop::failed(
                "tenant.sample",
                "invalid_state",
                "loadSample needs a sample provider: start the workers with --sample-provider-url \
                 (TENANTPILOT_SAMPLE_PROVIDER_URL) naming a provider simulator.",
            )
        })?;
        let root = sample.trim_end_matches('/');
        match run.store.provider_connection_info(tenant.id).await? {
            None => {
                seed::connect_to_simulator(&run.store, &run.run.initiator, tenant, root).await?;
                run.log(format!("Connected tenant {} to the sample provider at {root}", tenant.slug)).await?;
            }
            Some(connection) if connection.token_url.starts_with(&format!("{root}/")) => {}
            Some(connection) => {
                return Err(Stop::failed(
                    "tenant.sample",
                    "invalid_state",
                    format!(
                        "Tenant {} is connected to the provider at {} (token URL {}): sample data is loaded \
                         only into tenants without a provider of their own.",
                        tenant.slug, connection.base_url, connection.token_url
                    ),
                ));
            }
        }
        let session = provider_session(run, &self.client).await?;
        let captured = capture_policies(run, &session, "Sample policies", Tally::Nothing).await?;
        if let Some(failure) = captured.failures.first() {
            return Err(Stop::failed(
                "tenant.sample",
                &failure.reason_code,
                format!("Sample policies could not all be loaded: {}", failure.message),
            ));
        }
        run.log(format!("Loaded {} sample policies into backup set #{}", captured.stored, captured.set_id))
            .await?;
        Ok(())
    }
}

/// Disables the tenant and, with `purge`, deletes its data.
pub(super) struct Disable;

#[async_trait::async_trait]
impl Operation for Disable {
    fn kind(&self) -> OperationKind {
        OperationKind::TenantDisable
    }

    fn retry_safe(&self) -> bool {
        true
    }

    async fn execute(&self, run: &mut RunContext) -> Result<RunOutcome, Stop> {
        let result = disable(run).await;
        log_failure(run, &result).await;
        result
    }
}

async fn disable(run: &mut RunContext) -> Result<RunOutcome, Stop> {
    let (tenant, plan) = job_of(run).await?;
    let JobPlan::Disable { purge, .. } = plan else {
        return Err(Stop::failed("tenant.job", "invalid_state", "This is not a disable."));
    };
    run.set_total(1 + i64::from(purge));
    if tenant.enabled {
        let cancelled = run.store.disable_tenant(tenant.id).await?;
        audit(run, &tenant, AuditAction::Disable, serde_json::json!({ "cancelledRuns": cancelled })).await?;
        run.log(format!("Disabled tenant {}; cancelled {cancelled} active operations", tenant.slug)).await?;
    } else {
        run.log(format!("Tenant {} was disabled already", tenant.slug)).await?;
    }
    run.item_succeeded();
    if purge {
        let counts = run.store.purge_tenant(tenant.id).await?;
        let details: serde_json::Map<String, serde_json::Value> =
            counts.iter().map(|(table, rows)| ((*table).to_string(), (*rows).into())).collect();
        audit(run, &tenant, AuditAction::Purge, serde_json::Value::Object(details)).await?;
        let deleted: Vec<String> = counts.iter().map(|(table, rows)| format!("{rows} {table}")).collect();
        run.log(format!("Purged tenant {}: deleted {}", tenant.slug, deleted.join(", "))).await?;
        run.item_succeeded();
    }
    Ok(RunOutcome::Succeeded)
}

/// The job's tenant and what it was asked to do, checked again against this build: a job
/// queued by a newer replica is refused by an older one rather than half done.
async fn job_of(run: &RunContext) -> Result<(Tenant, JobPlan), Stop> {
    let slug = run.run.target.as_ref().map(|target| target.id.clone()).unwrap_or_default();
    let attributes: TenantAttributes = run
        .run
        .context
        .get("tenantAttributes")
        .and_then(|value| serde_json::from_value(value.clone()).ok())
        .ok_or_else(|| Stop::failed("tenant.job", "invalid_state", "This job does not say what to do."))?;
    let body = serde_json::to_vec(&attributes).map_err(CoreError::internal)?;
    let plan = match tenant_jobs::parse_request(&body) {
        Ok((_, plan)) => plan,
        Err(Refusal::Invalid(errors)) => {
            let reasons: Vec<String> = errors.errors.into_iter().map(|error| error.message).collect();
            return Err(Stop::failed("tenant.job", "invalid_state", reasons.join("; ")));
        }
        Err(Refusal::Malformed(message)) => return Err(Stop::failed("tenant.job", "invalid_state", message)),
    };
    let tenant = run.store.tenant_by_slug(&slug).await?.ok_or_else(|| {
        Stop::failed("tenant.missing", "invalid_state", format!("Tenant {slug} no longer exists."))
    })?;
    Ok((tenant, plan))
}

/// A failure is also the last message, so the messages alone tell the whole story.
async fn log_failure(run: &RunContext, result: &Result<RunOutcome, Stop>) {
    if let Err(Stop::Failed(failure)) = result {
        if let Err(error) = run.store.add_run_message(run.run.id, &failure.message).await {
            tracing::warn!(error = %error.detail(), run = %run.run.id, "cannot record a job's failure as a message");
        }
    }
}

async fn audit(
    run: &RunContext,
    tenant: &Tenant,
    verb: AuditAction,
    details: serde_json::Value,
) -> Result<(), CoreError> {
    let mut details = details.as_object().cloned().unwrap_or_default();
    details.insert("slug".into(), tenant.slug.clone().into());
    run.store
        .record_audit(&NewAuditEntry {
            workspace_id: Some(tenant.workspace_id),
            tenant_id: Some(tenant.id),
            actor: run.run.initiator.clone(),
            kind: AuditKind::Tenant,
            action: verb,
            target_id: tenant.id.to_string(),
            details,
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_run_after_the_stored_version_up_to_the_target() {
        let versions = |from: &str, to: &str| {
            data_steps(&Version::parse(from).unwrap(), &Version::parse(to).unwrap())
                .into_iter()
                .map(|step| step.version)
                .collect::<Vec<_>>()
        };
        assert_eq!(versions("0.3.0", "0.5.0"), ["0.4.0", "0.5.0"]);
        assert_eq!(versions("0.4.0", "0.5.0"), ["0.5.0"]);
        assert_eq!(versions("0.3.0", "0.4.0"), ["0.4.0"]);
        assert!(versions("0.5.0", "0.5.0").is_empty());
    }

    #[test]
    fn every_step_is_at_most_this_version_and_in_order() {
        let versions: Vec<Version> =
            DATA_STEPS.iter().map(|step| Version::parse(step.version).unwrap()).collect();
        assert!(versions.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(versions.iter().all(|version| *version <= tenant_jobs::running_version()));
    }
}
