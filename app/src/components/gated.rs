//! Submit buttons that stay visible when the viewer may not use them: disabled, with a hint.

use leptos::prelude::*;
use tenantpilot_core::Capability;

/// A submit button that stays visible when the viewer lacks `capability`, disabled, with a hint
/// naming the role that has it.
#[component]
pub fn GatedButton(
    allowed: bool,
    capability: Capability,
    #[prop(into)] label: String,
    #[prop(optional, into)] class: String,
) -> impl IntoView {
    view! { <HintedButton allowed hint=capability.requirement_hint() label class /> }
}

/// A submit button that stays visible when the viewer may not use it, disabled, with `hint`
/// saying who may (on the wrapper: disabled buttons get no hover events).
#[component]
pub fn HintedButton(
    allowed: bool,
    #[prop(into)] hint: String,
    #[prop(into)] label: String,
    #[prop(optional, into)] class: String,
) -> impl IntoView {
    if allowed {
        view! {
            <button type="submit" class=class>
                {label}
            </button>
        }
        .into_any()
    } else {
        let described = format!("{label}: {hint}");
        view! {
            <span class="gated" title=hint tabindex="0" aria-label=described>
                <button type="submit" class=class disabled=true>
                    {label}
                </button>
            </span>
        }
        .into_any()
    }
}
