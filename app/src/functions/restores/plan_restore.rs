//! Planning a restore of a backup set's items into a tenant, then going to its preview.

use crate::error::AppError;
use leptos::prelude::*;

/// Plans a restore of the checked items of a backup set of `source_tenant` (the page's tenant)
/// into `tenant`, with mappings typed as `source = destination` lines, then goes to its
/// preview. (A form sends no `item_ids` at all when nothing is checked: that is an empty
/// selection, not "everything".)
#[server(endpoint = "plan_restore")]
pub async fn plan_restore(
    tenant: String,
    source_tenant: Option<String>,
    backup_set_id: i64,
    item_ids: Option<Vec<i64>>,
    group_mapping: Option<String>,
    filter_mapping: Option<String>,
    scope_tag_mapping: Option<String>,
) -> Result<i64, AppError> {
    use tenantpilot_core::backups::{parse_mapping, Mappings, RestoreRequest};
    use tenantpilot_core::engine::operations;
    use tenantpilot_core::Capability;
    let member = crate::guard::tenant(&tenant, Capability::RestoreExecute).await?;
    let lines =
        |field: &str, text: &Option<String>| parse_mapping(field, text.as_deref().unwrap_or_default());
    let request = RestoreRequest {
        backup_set_id,
        item_ids: Some(item_ids.unwrap_or_default()),
        source_tenant: source_tenant.filter(|slug| !slug.is_empty()),
        mappings: Mappings {
            group_mapping: lines("group_mapping", &group_mapping)?,
            filter_mapping: lines("filter_mapping", &filter_mapping)?,
            scope_tag_mapping: lines("scope_tag_mapping", &scope_tag_mapping)?,
        },
    };
    let state = &member.signed_in.state;
    let restore = operations::create_restore_run(
        &state.store,
        &state.provider,
        &member.membership,
        &member.signed_in.caller,
        &request,
    )
    .await?;
    leptos_axum::redirect(&format!("/admin/t/{}/restores/{}", member.membership.tenant.slug, restore.id));
    Ok(restore.id)
}
