//! The tool registry page: the tools the viewer may see, and a JSON form for a new one.

use crate::components::{timestamp, ActionError, HintedButton, Loaded};
use crate::functions::{tools, CreateTool};
use leptos::prelude::*;
use leptos_meta::Title;
use tenantpilot_core::tools::Tool;
use tenantpilot_core::tools::TOOL_CREATORS;

/// A new tool as the form starts it: an http tool, its secret write-only.
const NEW_TOOL: &str = r#"{
  "name": "Deploy hooks",
  "description": "",
  "tool_identifier": "http",
  "configuration": { "baseUrl": "https://ci.example.com", "headers": {} },
  "secrets": { "apiToken": "" },
  "access": []
}"#;

/// The tool registry: the tools the viewer may see, and a JSON form for a new one.
#[component]
pub fn RegistryPage() -> impl IntoView {
    let create = ServerAction::<CreateTool>::new();
    let view = Resource::new(|| (), |_| tools());
    view! {
        <Title text="Tool registry" />
        <h1>"Tool registry"</h1>
        <p class="muted">
            "Tools that " <code>"tool.http"</code> " pipeline steps call. Secrets are write-only: "
            "stored and used, never shown again."
        </p>
        <Loaded resource=view let:view>
            {
                view! {
                    {if view.tools.is_empty() {
                        view! { <p class="muted">"No tools you may see yet."</p> }.into_any()
                    } else {
                        view! { <Tools tools=view.tools /> }.into_any()
                    }}
                    <section class="card">
                        <h2>"New tool"</h2>
                        <ActionError action=create />
                        <ActionForm action=create attr:class="stacked-form">
                            <label>
                                "Tool (JSON)" <textarea name="json" rows="10" class="json" spellcheck="false">
                                    {NEW_TOOL}
                                </textarea>
                            </label>
                            <HintedButton
                                allowed=view.can_create
                                hint=TOOL_CREATORS
                                label="Create tool"
                                class="primary"
                            />
                        </ActionForm>
                    </section>
                }
            }
        </Loaded>
    }
}

#[component]
fn Tools(tools: Vec<Tool>) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="tools">
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Kind"</th>
                        <th scope="col">"Address"</th>
                        <th scope="col">"Active"</th>
                        <th scope="col">"Owner"</th>
                        <th scope="col">"Updated"</th>
                    </tr>
                </thead>
                <tbody>
                    {tools
                        .into_iter()
                        .map(|tool| {
                            let address = tool
                                .configuration
                                .get("baseUrl")
                                .and_then(|url| url.as_str())
                                .unwrap_or_default()
                                .to_string();
                            view! {
                                <tr data-tool=tool.id.to_string()>
                                    <td>
                                        <a href=format!("/admin/registry/{}", tool.id)>{tool.name.clone()}</a>
                                    </td>
                                    <td>
                                        <code>{tool.tool_identifier.clone()}</code>
                                    </td>
                                    <td>{address}</td>
                                    <td>{if tool.active { "yes" } else { "no" }}</td>
                                    <td>{tool.owner.clone()}</td>
                                    <td>{timestamp(tool.updated_at)}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}
