use crate::error::AppError;
use leptos::prelude::*;

/// Plans a restore of the checked items of a backup set with the group mapping typed as
/// `source = target` lines, then goes to its preview. (A form sends no `item_ids` at all when
/// nothing is checked: that is an empty selection, not "everything".)
#[server(endpoint = "plan_restore")]
pub async fn plan_restore(
    tenant: String,
    backup_set_id: i64,
    item_ids: Option<Vec<i64>>,
    group_mapping: Option<String>,
) -> Result<i64, AppError> {
    use tenantpilot_core::backup::{parse_group_mapping, RestoreRequest};
    use tenantpilot_core::engine::operations;
    use tenantpilot_core::Capability;
    let member = crate::guard::tenant(&tenant, Capability::RestoreExecute).await?;
    let request = RestoreRequest {
        backup_set_id,
        item_ids: Some(item_ids.unwrap_or_default()),
        group_mapping: parse_group_mapping("group_mapping", group_mapping.as_deref().unwrap_or_default())?,
    };
    let state = &member.signed_in.state;
    let actor = member.signed_in.initiator();
    let restore =
        operations::create_restore_run(&state.store, &state.provider, &member.membership, &actor, &request)
            .await?;
    leptos_axum::redirect(&format!("/admin/t/{}/restores/{}", member.membership.tenant.slug, restore.id));
    Ok(restore.id)
}
