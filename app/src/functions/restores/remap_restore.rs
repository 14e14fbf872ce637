//! Planning a restore run again with the mappings edited in its preview.

use crate::error::AppError;
use leptos::prelude::*;

/// Plans a restore run again with the mappings edited in its preview (`source = destination`
/// lines; a group, filter or scope tag not listed is matched by id or name again).
#[server(endpoint = "remap_restore")]
pub async fn remap_restore(
    tenant: String,
    restore_id: i64,
    group_mapping: Option<String>,
    filter_mapping: Option<String>,
    scope_tag_mapping: Option<String>,
) -> Result<(), AppError> {
    use tenantpilot_core::backups::{parse_mapping, Mappings};
    use tenantpilot_core::engine::operations;
    use tenantpilot_core::Capability;
    let member = crate::guard::tenant(&tenant, Capability::RestoreExecute).await?;
    let lines =
        |field: &str, text: &Option<String>| parse_mapping(field, text.as_deref().unwrap_or_default());
    let mappings = Mappings {
        group_mapping: lines("group_mapping", &group_mapping)?,
        filter_mapping: lines("filter_mapping", &filter_mapping)?,
        scope_tag_mapping: lines("scope_tag_mapping", &scope_tag_mapping)?,
    };
    let state = &member.signed_in.state;
    let actor = member.signed_in.caller.initiator.clone();
    operations::remap_restore_run(
        &state.store,
        &state.provider,
        &member.membership,
        &actor,
        restore_id,
        &mappings,
    )
    .await?;
    Ok(())
}
