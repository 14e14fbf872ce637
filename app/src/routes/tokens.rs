//! The API tokens page: the viewer's personal access tokens, creating and revoking them.

use crate::components::{timestamp, ActionError, ActionNotice, Loaded};
use crate::functions::{my_tokens, CreateToken, RevokeToken, TokensView};
use leptos::prelude::*;
use leptos_meta::Title;
use tenantpilot_core::tokens::{ApiToken, Scope, DEFAULT_DAYS, MAX_DAYS};

/// The viewer's personal access tokens: create one (its secret shown once), see when each was
/// last used, revoke.
#[component]
pub fn TokensPage() -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let view = Resource::new(|| (), |_| my_tokens());
    view! {
        <Title text="API tokens" />
        <h1>"API tokens"</h1>
        <p class="muted">
            "Scripts use a token as " <code>"Authorization: Bearer …"</code>
            " on the JSON routes. A token does at most what you may do, within its scopes."
        </p>
        <Loaded resource=view let:view>
            {
                view! { <Tokens view create revoke /> }
            }
        </Loaded>
    }
}

#[component]
fn Tokens(
    view: TokensView,
    create: ServerAction<CreateToken>,
    revoke: ServerAction<RevokeToken>,
) -> impl IntoView {
    // A form's post comes back to this page, which shows the secret once (see `fresh_tokens`).
    let now = view.now;
    view! {
        {view
            .fresh
            .map(|token| {
                view! {
                    <section class="notice ok fresh-token" role="status">
                        <p>
                            <strong>"Your new token. Copy it now: it is shown only this once."</strong>
                        </p>
                        <p>
                            <code class="secret">{token}</code>
                        </p>
                    </section>
                }
            })}
        <ActionError action=create />
        <ActionNotice action=revoke done="Token revoked." />
        <section class="card">
            <h2>"Create a token"</h2>
            <ActionForm action=create attr:class="stacked-form">
                <label>
                    "Name" <input name="name" required maxlength="120" placeholder="nightly backup script" />
                </label>
                <fieldset>
                    <legend>"Scopes " <small class="muted">"(API Access is always included)"</small></legend>
                    {Scope::ALL
                        .into_iter()
                        .filter(|scope| *scope != Scope::Api)
                        .enumerate()
                        .map(|(index, scope)| {
                            view! {
                                <label class="check">
                                    <input
                                        type="checkbox"
                                        name=format!("scopes[{index}]")
                                        value=scope.as_str()
                                    />
                                    {scope.label()}
                                </label>
                            }
                        })
                        .collect_view()}
                </fieldset>
                <label>
                    "Expires in (days, 1–" {MAX_DAYS} ")"
                    <input
                        type="number"
                        name="expires_days"
                        min="1"
                        max=MAX_DAYS
                        value=DEFAULT_DAYS
                        required
                    />
                </label>
                <button type="submit" class="primary">
                    "Create token"
                </button>
            </ActionForm>
        </section>
        {if view.tokens.is_empty() {
            view! { <p class="muted">"You have no tokens yet."</p> }.into_any()
        } else {
            view! {
                <div class="table-wrap">
                    <table class="tokens">
                        <thead>
                            <tr>
                                <th scope="col">"Name"</th>
                                <th scope="col">"Token"</th>
                                <th scope="col">"Scopes"</th>
                                <th scope="col">"Expires"</th>
                                <th scope="col">"Last used"</th>
                                <th scope="col">"State"</th>
                                <th scope="col">"Actions"</th>
                            </tr>
                        </thead>
                        <tbody>
                            {view
                                .tokens
                                .into_iter()
                                .map(|token| view! { <TokenRow token now revoke /> })
                                .collect_view()}
                        </tbody>
                    </table>
                </div>
            }
                .into_any()
        }}
    }
}

#[component]
fn TokenRow(
    token: ApiToken,
    now: chrono::DateTime<chrono::Utc>,
    revoke: ServerAction<RevokeToken>,
) -> impl IntoView {
    let state = if token.revoked_at.is_some() {
        "Revoked"
    } else if token.expires_at <= now {
        "Expired"
    } else {
        "Active"
    };
    let scopes = token.scopes.iter().map(|scope| scope.label()).collect::<Vec<_>>().join(", ");
    let usable = token.is_usable(now);
    let name = token.name.clone();
    view! {
        <tr data-token=token.prefix.clone()>
            <td>{token.name.clone()}</td>
            <td>
                <code>{token.prefix.clone()} "…"</code>
            </td>
            <td>{scopes}</td>
            <td>{timestamp(token.expires_at)}</td>
            <td>{token.last_used_at.map(timestamp).unwrap_or_else(|| "never".into())}</td>
            <td>{state}</td>
            <td>
                {usable
                    .then(|| {
                        view! {
                            <details class="confirm">
                                <summary>"Revoke…"</summary>
                                <ActionForm action=revoke>
                                    <input type="hidden" name="id" value=token.id />
                                    <p>"Revoke " {name} "? Scripts using it stop working at once."</p>
                                    <button type="submit" class="danger">
                                        "Confirm revoke"
                                    </button>
                                </ActionForm>
                            </details>
                        }
                    })}
            </td>
        </tr>
    }
}
