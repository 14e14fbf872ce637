//! The tool registry. Secrets are stored sealed for `tool.http` steps, and every read but the
//! record's draft masks them.

use super::{json, on_pool, Store, WORKSPACES_OF_USER};
use crate::ids::{ToolId, UserId, WorkspaceId};
use crate::keyring::Purpose;
use crate::tools::{masked, Tool, ToolDraft};
use crate::CoreError;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// A tool with what the access check needs, and its secrets for the one caller that uses them.
#[derive(Debug, Clone)]
pub struct ToolRecord {
    pub tool: Tool,
    pub workspace_id: WorkspaceId,
    pub owner_id: UserId,
    pub draft: ToolDraft,
}

const TOOL_SELECT: &str = "SELECT t.id, t.workspace_id, w.slug AS account, t.owner_id, u.email AS owner, t.name, \
    t.description, t.tool_identifier, t.active, t.configuration, t.secrets, t.access, t.created_at, t.updated_at \
    FROM tools t JOIN workspaces w ON w.id = t.workspace_id JOIN users u ON u.id = t.owner_id";

#[derive(sqlx::FromRow)]
struct ToolRow {
    id: ToolId,
    workspace_id: WorkspaceId,
    account: String,
    owner_id: UserId,
    owner: String,
    name: String,
    description: String,
    tool_identifier: String,
    active: bool,
    configuration: String,
    secrets: String,
    access: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<ToolRow> for ToolRecord {
    type Error = CoreError;
    fn try_from(row: ToolRow) -> Result<Self, CoreError> {
        let bad = |error: serde_json::Error| {
            CoreError::broken(format!("stored tool {} is malformed: {error}", row.id))
        };
        let secrets: BTreeMap<String, String> = serde_json::from_str(&row.secrets).map_err(bad)?;
        let draft = ToolDraft {
            name: row.name,
            description: row.description,
            tool_identifier: row.tool_identifier,
            active: row.active,
            configuration: serde_json::from_str(&row.configuration).map_err(bad)?,
            secrets,
            access: serde_json::from_str(&row.access).map_err(bad)?,
        };
        Ok(ToolRecord {
            tool: Tool {
                id: row.id,
                name: draft.name.clone(),
                description: draft.description.clone(),
                tool_identifier: draft.tool_identifier.clone(),
                active: draft.active,
                configuration: draft.configuration.clone(),
                secrets: masked(&draft.secrets),
                owner: row.owner,
                account: row.account,
                access: draft.access.clone(),
                created_at: row.created_at,
                updated_at: row.updated_at,
            },
            workspace_id: row.workspace_id,
            owner_id: row.owner_id,
            draft,
        })
    }
}

impl Store {
    #[tracing::instrument(skip_all)]
    pub async fn create_tool(
        &self,
        workspace_id: WorkspaceId,
        owner_id: UserId,
        draft: &ToolDraft,
    ) -> Result<ToolId, CoreError> {
        let now = Utc::now();
        Ok(on_pool!(self, pool => sqlx::query_scalar(
            "INSERT INTO tools (workspace_id, owner_id, name, description, tool_identifier, active, configuration, \
             secrets, access, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id")
            .bind(workspace_id).bind(owner_id).bind(&draft.name).bind(&draft.description)
            .bind(&draft.tool_identifier).bind(draft.active).bind(json(&draft.configuration)?)
            .bind(self.sealed_secrets(draft)?).bind(json(&draft.access)?).bind(now).fetch_one(pool).await)?)
    }

    fn sealed_secrets(&self, draft: &ToolDraft) -> Result<String, CoreError> {
        self.seal(Purpose::ToolSecrets, &json(&draft.secrets)?)
    }

    /// A row as a record, its secrets opened.
    fn tool_record(&self, mut row: ToolRow) -> Result<ToolRecord, CoreError> {
        row.secrets = self.open(Purpose::ToolSecrets, &row.secrets)?;
        row.try_into()
    }

    #[tracing::instrument(skip_all)]
    pub async fn update_tool(&self, id: ToolId, draft: &ToolDraft) -> Result<(), CoreError> {
        on_pool!(self, pool => sqlx::query(
            "UPDATE tools SET name = $2, description = $3, tool_identifier = $4, active = $5, configuration = $6, \
             secrets = $7, access = $8, updated_at = $9 WHERE id = $1")
            .bind(id).bind(&draft.name).bind(&draft.description).bind(&draft.tool_identifier).bind(draft.active)
            .bind(json(&draft.configuration)?).bind(self.sealed_secrets(draft)?).bind(json(&draft.access)?)
            .bind(Utc::now()).execute(pool).await.map(drop))?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    pub async fn delete_tool(&self, id: ToolId) -> Result<(), CoreError> {
        on_pool!(self, pool => sqlx::query("DELETE FROM tools WHERE id = $1").bind(id).execute(pool).await.map(drop))?;
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    pub async fn tool(&self, id: ToolId) -> Result<Option<ToolRecord>, CoreError> {
        let sql = format!("{TOOL_SELECT} WHERE t.id = $1");
        let row: Option<ToolRow> =
            on_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)?;
        row.map(|row| self.tool_record(row)).transpose()
    }

    /// Every tool of the workspaces `user_id` belongs to, by name; the caller filters by access.
    #[tracing::instrument(skip_all)]
    pub async fn tools_for(&self, user_id: UserId) -> Result<Vec<ToolRecord>, CoreError> {
        let sql =
            format!("{TOOL_SELECT} WHERE t.workspace_id IN ({WORKSPACES_OF_USER}) ORDER BY t.name, t.id");
        let rows: Vec<ToolRow> =
            on_pool!(self, pool => sqlx::query_as(&sql).bind(user_id).fetch_all(pool).await)?;
        rows.into_iter().map(|row| self.tool_record(row)).collect()
    }
}
