//! One tool's page: its JSON, edited as the registry's `update` merges it, and deleting it.

use crate::components::{timestamp, ActionNotice, Loaded};
use crate::functions::{tool_detail, DeleteTool, ToolView, UpdateTool};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use tenantpilot_core::ids::ToolId;

/// One tool as JSON, edited as the registry's `update` merges it: root properties given replace
/// those stored; a secret left as `********` keeps its value; `null` removes one.
#[component]
pub fn ToolPage() -> impl IntoView {
    let params = use_params_map();
    let id = Signal::derive(move || params.read().get("id").and_then(|id| id.parse::<ToolId>().ok()));
    let update = ServerAction::<UpdateTool>::new();
    let delete = ServerAction::<DeleteTool>::new();
    let view = Resource::new(
        move || id.get(),
        |id| async move {
            match id {
                Some(id) => Some(tool_detail(id).await),
                None => None,
            }
        },
    );
    view! {
        <Loaded resource=view let:view>
            {
                view! { <Tool view update delete /> }
            }
        </Loaded>
    }
}

#[component]
fn Tool(view: ToolView, update: ServerAction<UpdateTool>, delete: ServerAction<DeleteTool>) -> impl IntoView {
    let tool = view.tool;
    let json = serde_json::to_string_pretty(&tool).unwrap_or_default();
    let id = tool.id;
    view! {
        <Title text=tool.name.clone() />
        <p class="crumbs">
            <a href="/admin/registry">"Tool registry"</a>
        </p>
        <h1>{tool.name.clone()}</h1>
        <dl class="facts">
            <dt>"Owner"</dt>
            <dd>{tool.owner.clone()}</dd>
            <dt>"Workspace"</dt>
            <dd>{tool.account.clone()}</dd>
            <dt>"Updated"</dt>
            <dd>{timestamp(tool.updated_at)}</dd>
        </dl>
        {move || {
            update
                .value()
                .get()
                .map(|result| match result {
                    Ok(dropped) if dropped.is_empty() => {
                        view! {
                            <p class="notice ok" role="status">
                                "Saved."
                            </p>
                        }
                            .into_any()
                    }
                    Ok(dropped) => {
                        view! {
                            <p class="notice error" role="status">
                                "Saved. The address moved to another origin, so these secrets were dropped; enter them again: "
                                <strong>{dropped.join(", ")}</strong>
                            </p>
                        }
                            .into_any()
                    }
                    Err(error) => {
                        view! {
                            <p class="notice error" role="alert">
                                {error.to_string()}
                            </p>
                        }
                            .into_any()
                    }
                })
        }}
        {if view.can_write {
            view! {
                <section class="card">
                    <ActionForm action=update attr:class="stacked-form">
                        <input type="hidden" name="id" value=id.to_string() />
                        <label>
                            "Tool (JSON)" <textarea name="json" rows="18" class="json" spellcheck="false">
                                {json}
                            </textarea>
                        </label>
                        <p class="muted">
                            "Secrets show as ******** and keep their value unless you type a new one; null removes one. "
                            <code>"_id"</code> ", " <code>"createdAt"</code> " and " <code>"updatedAt"</code>
                            " are ignored."
                        </p>
                        <button type="submit" class="primary">
                            "Save tool"
                        </button>
                    </ActionForm>
                </section>
                <details class="confirm">
                    <summary>"Delete tool…"</summary>
                    <ActionForm action=delete>
                        <input type="hidden" name="id" value=id.to_string() />
                        <p>"Delete " {tool.name.clone()} "? Pipeline steps calling it will fail."</p>
                        <button type="submit" class="danger">
                            "Confirm delete"
                        </button>
                    </ActionForm>
                </details>
                <ActionNotice action=delete done="Deleted." />
            }
                .into_any()
        } else {
            view! { <pre class="json">{json}</pre> }.into_any()
        }}
    }
}
