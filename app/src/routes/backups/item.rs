//! One backup item's page: the policy as stored, its settings, scope tags and assignments.

use crate::components::{timestamp, Loaded};
use crate::functions::{backup_item_detail, BackupItemView};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use serde_json::Value;
use tenantpilot_core::backups::TargetView;

/// One policy of a backup as stored: its name and family, its settings as a tree that opens
/// and closes (and as raw JSON to copy), its scope tags, and its assignment targets.
#[component]
pub fn BackupItemPage() -> impl IntoView {
    let params = use_params_map();
    let tenant = Signal::derive(move || params.read().get("tenant").unwrap_or_default());
    let id = Signal::derive(move || params.read().get("id").and_then(|id| id.parse::<i64>().ok()));
    let view = Resource::new(
        move || (tenant.get(), id.get()),
        |(tenant, id)| async move {
            match id {
                Some(id) => Some(backup_item_detail(tenant, id).await),
                None => None,
            }
        },
    );
    view! {
        <Title text="Backed-up policy" />
        <Loaded resource=view let:view>
            {
                view! { <Item view /> }
            }
        </Loaded>
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => "—".into(),
        other => other.to_string(),
    }
}

/// A label for an array entry: what a settings-catalog setting or a definition value is about.
fn entry_label(index: usize, value: &Value) -> String {
    let named = value["settingInstance"]["settingDefinitionId"]
        .as_str()
        .or_else(|| value["definition"]["displayName"].as_str())
        .or_else(|| value["displayName"].as_str())
        .or_else(|| value["ruleName"].as_str());
    match named {
        Some(name) => format!("{} · {name}", index + 1),
        None => format!("{}", index + 1),
    }
}

/// `value` as nested lists; objects and arrays open and close, the first levels open.
fn tree(value: &Value, depth: usize) -> AnyView {
    let node = |label: String, value: &Value| -> AnyView {
        match value {
            Value::Object(fields) if !fields.is_empty() => view! {
                <li>
                    <details open=depth < 2>
                        <summary>{label}</summary>
                        {tree(value, depth + 1)}
                    </details>
                </li>
            }
            .into_any(),
            Value::Array(items) if !items.is_empty() => view! {
                <li>
                    <details open=depth < 2>
                        <summary>{label} <small class="muted">" (" {items.len()} ")"</small></summary>
                        {tree(value, depth + 1)}
                    </details>
                </li>
            }
            .into_any(),
            other => view! {
                <li>
                    <span class="key">{label}</span>
                    ": "
                    <code>{scalar(other)}</code>
                </li>
            }
            .into_any(),
        }
    };
    match value {
        Value::Object(fields) => {
            view! { <ul class="tree">{fields.iter().map(|(key, value)| node(key.clone(), value)).collect_view()}</ul> }.into_any()
        }
        Value::Array(items) => view! {
            <ul class="tree">
                {items
                    .iter()
                    .enumerate()
                    .map(|(index, value)| node(entry_label(index, value), value))
                    .collect_view()}
            </ul>
        }
        .into_any(),
        other => view! { <code>{scalar(other)}</code> }.into_any(),
    }
}

#[component]
fn Item(view: BackupItemView) -> impl IntoView {
    let tenant = view.viewer.tenant.clone();
    let slug = tenant.slug.clone();
    let item = view.item.clone();
    let family =
        item.family().map(|family| family.label().to_string()).unwrap_or_else(|| item.policy_type.clone());
    let raw =
        serde_json::to_string_pretty(&serde_json::json!({ "body": item.body, "settings": item.settings }))
            .unwrap_or_default();
    let settings_in_body = item.settings.is_null() || item.settings.as_array().is_some_and(Vec::is_empty);
    view! {
        <Title text=item.policy_name.clone() />
        <nav class="crumbs" aria-label="Breadcrumb">
            <a href="/admin">"Tenants"</a>
            " / "
            <a href=format!("/admin/t/{slug}")>{tenant.name.clone()}</a>
            " / "
            <a href=format!("/admin/t/{slug}/backups#set-{}", view.set.id)>{view.set.name.clone()}</a>
            " / "
            {item.policy_name.clone()}
        </nav>
        <h1>{item.policy_name.clone()}</h1>
        <dl class="facts">
            <dt>"Family"</dt>
            <dd>{family} " " <code>{item.policy_type.clone()}</code></dd>
            <dt>"Graph type"</dt>
            <dd>
                <code>{item.body["@odata.type"].as_str().unwrap_or("—").to_string()}</code>
            </dd>
            <dt>"Policy id"</dt>
            <dd>
                <code>{item.policy_id.clone()}</code>
            </dd>
            <dt>"Scope tags"</dt>
            <dd>
                {if item.scope_tags.is_empty() {
                    "—".to_string()
                } else {
                    item.scope_tags
                        .iter()
                        .map(|tag| match &tag.name {
                            Some(name) => format!("{name} ({})", tag.id),
                            None => tag.id.clone(),
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                }}
            </dd>
            <dt>"Backup"</dt>
            <dd>{view.set.name.clone()} " · " {timestamp(view.set.created_at)}</dd>
            <dt>"Assignments read"</dt>
            <dd>{item.assignments_fetched_at.map(timestamp).unwrap_or_else(|| "—".into())}</dd>
        </dl>
        <section class="card">
            <h2>"Assignments"</h2>
            {if item.assignments.is_empty() {
                view! { <p class="muted">"Not assigned."</p> }.into_any()
            } else {
                view! {
                    <div class="table-wrap">
                        <table class="assignments">
                            <thead>
                                <tr>
                                    <th scope="col">"Target"</th>
                                    <th scope="col">"Group"</th>
                                    <th scope="col">"Filter"</th>
                                </tr>
                            </thead>
                            <tbody>
                                {item
                                    .assignments
                                    .iter()
                                    .map(|assignment| {
                                        let target = TargetView::of(
                                            &assignment.target,
                                            assignment.group_name.clone(),
                                            assignment.filter_name.clone(),
                                        );
                                        let kind = match &target.other_type {
                                            Some(other) => format!("{} ({other})", target.kind.label()),
                                            None => target.kind.label().to_string(),
                                        };
                                        view! {
                                            <tr data-kind=format!("{:?}", target.kind)>
                                                <td>{kind}</td>
                                                <td>
                                                    {target
                                                        .group_id
                                                        .clone()
                                                        .map(|id| {
                                                            view! {
                                                                {target
                                                                    .group_name
                                                                    .clone()
                                                                    .unwrap_or_else(|| "(unknown name)".into())}
                                                                " "
                                                                <code>{id}</code>
                                                            }
                                                        })}
                                                </td>
                                                <td>
                                                    {target
                                                        .filter_id
                                                        .clone()
                                                        .map(|id| {
                                                            view! {
                                                                {target
                                                                    .filter_name
                                                                    .clone()
                                                                    .unwrap_or_else(|| "(unknown name)".into())}
                                                                " "
                                                                <code>{id}</code>
                                                                " · "
                                                                {target.filter_type.clone().unwrap_or_default()}
                                                            }
                                                        })}
                                                </td>
                                            </tr>
                                        }
                                    })
                                    .collect_view()}
                            </tbody>
                        </table>
                    </div>
                }
                    .into_any()
            }}
        </section>
        <section class="card">
            <h2>"Settings"</h2>
            {if settings_in_body {
                view! {
                    <p class="muted">"This family keeps its settings in the policy itself:"</p>
                    {tree(&item.body, 0)}
                }
                    .into_any()
            } else {
                view! {
                    {tree(&item.settings, 0)}
                    <details>
                        <summary>"The policy itself"</summary>
                        {tree(&item.body, 1)}
                    </details>
                }
                    .into_any()
            }}
        </section>
        <details class="card raw">
            <summary>"Raw JSON, as Graph returned it"</summary>
            <textarea readonly rows="16" spellcheck="false" aria-label="Raw JSON">
                {raw}
            </textarea>
        </details>
    }
}
