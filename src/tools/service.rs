//! The tool registry's use cases behind the pages, the contract's `registry` routes and the CLI.

use super::{Tool, ToolDraft, TOOL_CREATORS};
use crate::audit::{AuditAction, AuditKind, NewAuditEntry};
use crate::egress::{EgressPolicy, Schemes};
use crate::ids::ToolId;
use crate::item_access::{self, Item, Level};
use crate::model::Caller;
use crate::model::User;
use crate::operations::Initiator;
use crate::store::{Store, ToolRecord};
use crate::CoreError;
use serde_json::{Map, Value};

fn item(record: &ToolRecord) -> Item<'_> {
    Item { workspace_id: record.workspace_id, owner_id: record.owner_id, rules: &record.tool.access }
}

/// Tool `id` if `user` has `needed` on it; not found when they may not see it.
pub async fn visible(store: &Store, user: &User, id: ToolId, needed: Level) -> Result<ToolRecord, CoreError> {
    Ok(visible_with_level(store, user, id, needed).await?.0)
}

/// `visible`, and the level the user has (a page shows what they may do).
pub async fn visible_with_level(
    store: &Store,
    user: &User,
    id: ToolId,
    needed: Level,
) -> Result<(ToolRecord, Level), CoreError> {
    let record = store.tool(id).await?.ok_or(CoreError::NotFound)?;
    let workspaces = store.workspaces_of(user.id).await?;
    let level = item_access::require(user, &workspaces, &item(&record), needed)?;
    Ok((record, level))
}

/// Every tool `user` may see, by name.
pub async fn list(store: &Store, user: &User) -> Result<Vec<Tool>, CoreError> {
    let workspaces = store.workspaces_of(user.id).await?;
    Ok(store
        .tools_for(user.id)
        .await?
        .into_iter()
        .filter(|record| item_access::level(user, &workspaces, &item(record)).is_some())
        .map(|record| record.tool)
        .collect())
}

async fn audit(
    store: &Store,
    actor: &Initiator,
    record: &ToolRecord,
    verb: AuditAction,
) -> Result<(), CoreError> {
    let mut details = Map::new();
    details.insert("name".into(), record.tool.name.clone().into());
    store
        .record_audit(&NewAuditEntry {
            workspace_id: Some(record.workspace_id),
            tenant_id: None,
            actor: actor.clone(),
            kind: AuditKind::Tool,
            action: verb,
            target_id: record.tool.id.to_string(),
            details,
        })
        .await
}

/// A tool's `baseUrl` must be one TenantPilot may call (`egress`).
fn check_base_url(egress: &EgressPolicy, draft: &ToolDraft) -> Result<(), CoreError> {
    match draft.configuration.get("baseUrl").and_then(Value::as_str) {
        Some(base) => egress.check_saved("tool.configuration.baseUrl", base, Schemes::HttpOrHttps),
        None => Ok(()),
    }
}

/// Creates a tool from a JSON object shaped like `summary`'s answer. `creator` None: an import
/// from the command line, which names `owner` and `account`.
pub async fn create(
    store: &Store,
    egress: &EgressPolicy,
    creator: Option<&Caller>,
    body: &Map<String, Value>,
) -> Result<Tool, CoreError> {
    let actor = &Caller::initiator_of(creator);
    let creator = creator.map(|caller| &caller.user);
    if creator.is_some_and(|creator| !creator.account_role.is_power_user()) {
        return Err(CoreError::Forbidden { hint: TOOL_CREATORS.into() });
    }
    let text = |key: &str| body.get(key).and_then(Value::as_str);
    let (workspace_id, owner) =
        item_access::placement(store, creator, text("account"), text("owner")).await?;
    let draft = ToolDraft::new(body)?;
    check_base_url(egress, &draft)?;
    let id = store.create_tool(workspace_id, owner.id, &draft).await?;
    let record = store.tool(id).await?.ok_or_else(|| CoreError::broken(format!("tool {id} is missing")))?;
    audit(store, actor, &record, AuditAction::Create).await?;
    Ok(record.tool)
}

/// A tool after an update, and the secrets dropped because its address moved to another
/// origin (they are sent nowhere new unless given again).
#[derive(Debug, Clone, PartialEq)]
pub struct Updated {
    pub tool: Tool,
    pub dropped_secrets: Vec<String>,
}

/// The contract's `update`: merges `patch`'s root properties into the tool and returns it.
pub async fn update(
    store: &Store,
    egress: &EgressPolicy,
    caller: &Caller,
    id: ToolId,
    patch: &Map<String, Value>,
) -> Result<Updated, CoreError> {
    let (user, actor) = (&caller.user, &caller.initiator);
    let record = visible(store, user, id, Level::Write).await?;
    let mut draft = record.draft.clone();
    let merged = draft.merge(patch, Some(&record.tool))?;
    check_base_url(egress, &draft)?;
    if merged.access_changed && !item_access::may_share(user, &item(&record)) {
        return Err(CoreError::Forbidden {
            hint: "Only the owner or a Site Admin changes who has access.".into(),
        });
    }
    store.update_tool(id, &draft).await?;
    audit(store, actor, &record, AuditAction::Update).await?;
    let tool = store.tool(id).await?.ok_or(CoreError::NotFound)?.tool;
    Ok(Updated { tool, dropped_secrets: merged.dropped_secrets })
}

pub async fn delete(store: &Store, caller: &Caller, id: ToolId) -> Result<(), CoreError> {
    let (user, actor) = (&caller.user, &caller.initiator);
    let record = visible(store, user, id, Level::Write).await?;
    store.delete_tool(id).await?;
    audit(store, actor, &record, AuditAction::Delete).await
}
