//! Saving a pipeline from its editor: name, description, access and the rows of steps.

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use tenantpilot_core::ids::PipelineId;

/// One row of the steps editor. Rows are saved in the order of their `order` numbers; a row
/// marked `remove`, or left blank, is dropped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepRow {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub kind: String,
    /// The step's params as a JSON object.
    #[serde(default)]
    pub params: String,
    #[serde(default)]
    pub on_failure: String,
    #[serde(default)]
    pub order: String,
    #[serde(default)]
    pub remove: Option<String>,
}

/// Saves name, description, access (JSON) and the steps editor's rows.
#[server(endpoint = "save_pipeline")]
pub async fn save_pipeline(
    id: PipelineId,
    name: String,
    description: Option<String>,
    access: Option<String>,
    steps: Option<Vec<StepRow>>,
) -> Result<(), AppError> {
    use tenantpilot_core::pipelines::{OnFailure, PipelineInput, Step};
    use tenantpilot_core::CoreError;
    let signed_in = crate::guard::signed_in().await?;
    let mut rows: Vec<(f64, usize, StepRow)> = steps
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .filter(|(_, row)| {
            row.remove.is_none() && !(row.name.trim().is_empty() && row.params.trim().is_empty())
        })
        .map(|(n, row)| (row.order.trim().parse::<f64>().unwrap_or(n as f64 + 1.0), n, row))
        .collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut parsed = Vec::with_capacity(rows.len());
    for (n, (_, _, row)) in rows.into_iter().enumerate() {
        let params = match row.params.trim() {
            "" => serde_json::Map::new(),
            text => match serde_json::from_str::<serde_json::Value>(text) {
                Ok(serde_json::Value::Object(params)) => params,
                _ => {
                    return Err(CoreError::invalid(
                        &format!("steps[{n}].params"),
                        format!("steps[{n}].params: step {} takes its params as a JSON object, like {{\"tenant\": \"contoso\"}}", n + 1),
                    )
                    .into())
                }
            },
        };
        let on_failure = if row.on_failure == "pause" { OnFailure::Pause } else { OnFailure::Stop };
        parsed.push(Step { name: row.name.trim().to_string(), kind: row.kind, params, on_failure });
    }
    let access = match access.as_deref().map(str::trim).filter(|text| !text.is_empty()) {
        None => Vec::new(),
        Some(text) => serde_json::from_str(text).map_err(|error| {
            CoreError::invalid(
                "access",
                format!("A JSON list like [{{\"user\": \"ana@example.com\", \"level\": \"read\"}}]: {error}"),
            )
        })?,
    };
    let input = PipelineInput {
        name,
        description: description.unwrap_or_default(),
        access,
        steps: parsed,
        ..PipelineInput::default()
    };
    tenantpilot_core::pipelines::update(&signed_in.state.store, &signed_in.caller, id, &input)
        .await
        .map_err(|error| match &error {
            // The form shows one message: say where it is.
            CoreError::Invalid { field, .. } => CoreError::invalid(field, error.describe()),
            _ => error,
        })?;
    Ok(())
}
