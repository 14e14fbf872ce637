//! The audit page: the user-action log, filtered by day and type, a page at a time.

use crate::components::{timestamp, Loaded};
use crate::functions::{audit_log, AuditView};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use tenantpilot_core::audit::AuditKind;
use tenantpilot_core::encoding::percent_encode;

/// The user-action log for Power Users and Site Admins: filters by day and type (in the URL, so
/// a filtered view can be shared), newest first, a page at a time.
#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let filters = move || {
        let query = query.read();
        let given = |name: &str| query.get(name).filter(|value| !value.trim().is_empty());
        (given("date"), given("type"), given("before").and_then(|before| before.parse::<i64>().ok()))
    };
    let view = Resource::new(filters, |(date, kind, before)| audit_log(date, kind, before));
    view! {
        <Title text="Audit" />
        <h1>"Audit"</h1>
        <p class="muted">
            "Who created, changed, deleted, ran, started, cancelled or signed in, from pages, scripts and the API. "
            "Without a date: the last 7 days."
        </p>
        <form method="get" class="filters">
            <label>
                "Day (UTC)" <input type="date" name="date" value=move || filters().0.unwrap_or_default() />
            </label>
            <label>
                "Type" <select name="type">
                    <option value="">"Any"</option>
                    {AuditKind::ALL
                        .map(AuditKind::as_str)
                        .into_iter()
                        .map(|kind| {
                            view! {
                                <option value=kind selected=move || filters().1.as_deref() == Some(kind)>
                                    {kind}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </label>
            <button type="submit">"Filter"</button>
        </form>
        <Loaded resource=view let:page>
            {
                view! { <Entries page filters=filters() /> }
            }
        </Loaded>
    }
}

#[component]
fn Entries(page: AuditView, filters: (Option<String>, Option<String>, Option<i64>)) -> impl IntoView {
    let (date, kind, _) = filters;
    let next = page.next.map(|before| {
        let mut query = vec![format!("before={before}")];
        if let Some(date) = &date {
            query.push(format!("date={}", percent_encode(date)));
        }
        if let Some(kind) = &kind {
            query.push(format!("type={}", percent_encode(kind)));
        }
        format!("/admin/audit?{}", query.join("&"))
    });
    if page.entries.is_empty() {
        return view! { <p class="muted">"No entries."</p> }.into_any();
    }
    view! {
        <div class="table-wrap">
            <table class="audit">
                <thead>
                    <tr>
                        <th scope="col">"When"</th>
                        <th scope="col">"Who"</th>
                        <th scope="col">"Type"</th>
                        <th scope="col">"Action"</th>
                        <th scope="col">"Target"</th>
                        <th scope="col">"Workspace"</th>
                        <th scope="col">"Details"</th>
                    </tr>
                </thead>
                <tbody>
                    {page
                        .entries
                        .into_iter()
                        .map(|entry| {
                            let details = serde_json::Value::Object(entry.details.clone()).to_string();
                            view! {
                                <tr data-entry=entry.id>
                                    <td>{timestamp(entry.created_at)}</td>
                                    <td>
                                        {entry
                                            .user_email
                                            .clone()
                                            .unwrap_or_else(|| entry.actor.label().to_string())}
                                    </td>
                                    <td>
                                        <code>{entry.kind.clone()}</code>
                                    </td>
                                    <td>{entry.action.clone()}</td>
                                    <td>{entry.target_id.clone()}</td>
                                    <td>{entry.account.clone()}</td>
                                    <td>
                                        <code class="details">{details}</code>
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
        {next
            .map(|href| {
                view! {
                    <p class="pager">
                        <a href=href>"Older entries →"</a>
                    </p>
                }
            })}
    }
    .into_any()
}
