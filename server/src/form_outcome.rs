//! A form (every form is a plain form) comes back to its page by server_fn's redirect to the
//! page it was sent from. This says in that address how the post went, so the page shows
//! "Member saved.": `__done=<server function path>` on success, and for the few functions whose
//! answer is a run id or a count (`ANSWERS_IN_ADDRESS`, nothing secret) the answer itself as
//! `__out`. A failure already comes back as `__path` + `__err` (server_fn's own). The outcome
//! of an earlier post in the address goes, so a page shows only its latest.

use crate::router::accepts_html;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use tenantpilot_app::functions::ANSWERS_IN_ADDRESS;

/// The parameters that tell a form's outcome.
const OUTCOME_KEYS: [&str; 4] = ["__done", "__out", "__path", "__err"];
/// A run id, a count or a short message: more than this is not an answer for an address.
const MAX_ANSWER_BYTES: usize = 512;

pub async fn form_outcome(request: Request, next: Next) -> Response {
    let function = request.uri().path().to_owned();
    let from_a_form =
        request.method() == Method::POST && function.starts_with("/api/") && accepts_html(request.headers());
    let referer =
        request.headers().get(header::REFERER).and_then(|referer| referer.to_str().ok()).map(str::to_owned);
    let response = next.run(request).await;
    let (Some(referer), true, StatusCode::FOUND) = (referer, from_a_form, response.status()) else {
        return response;
    };
    let Some(location) = response.headers().get(header::LOCATION).and_then(|l| l.to_str().ok()) else {
        return response;
    };
    let location = Address::parse(location);
    let failed = location.has("__err");
    // A function that sent the browser elsewhere (a new pipeline's page, sign-in) has said enough.
    if !failed && location.without_outcome() != Address::parse(&referer).without_outcome() {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let mut outcome = Vec::new();
    if failed {
        outcome.extend(location.last("__path"));
        outcome.extend(location.last("__err"));
    } else {
        outcome.push(("__done".to_owned(), function.clone()));
        if ANSWERS_IN_ADDRESS.contains(&function.as_str()) {
            let answer = axum::body::to_bytes(body, MAX_ANSWER_BYTES).await.ok();
            let answer = answer.as_deref().and_then(|bytes| std::str::from_utf8(bytes).ok());
            outcome.extend(answer.map(|answer| ("__out".to_owned(), answer.to_owned())));
        }
    }
    let address = location.without_outcome().with(&outcome);
    if let Ok(value) = HeaderValue::from_str(&address) {
        parts.headers.insert(header::LOCATION, value);
    }
    // The answer was read for the address (or is a failure's, already in it): a redirect's
    // body is for no one.
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_TYPE);
    Response::from_parts(parts, axum::body::Body::empty())
}

/// An address split into the part before its query and the query's pairs, decoded.
#[derive(Debug, PartialEq)]
struct Address {
    base: String,
    query: Vec<(String, String)>,
}

impl Address {
    fn parse(address: &str) -> Address {
        let address = address.split('#').next().unwrap_or_default();
        let (base, query) = address.split_once('?').unwrap_or((address, ""));
        Address { base: base.to_owned(), query: serde_urlencoded::from_str(query).unwrap_or_default() }
    }

    fn has(&self, key: &str) -> bool {
        self.query.iter().any(|(name, _)| name == key)
    }

    fn last(&self, key: &str) -> Option<(String, String)> {
        self.query.iter().rfind(|(name, _)| name == key).cloned()
    }

    fn without_outcome(&self) -> Address {
        let query =
            self.query.iter().filter(|(key, _)| !OUTCOME_KEYS.contains(&key.as_str())).cloned().collect();
        Address { base: self.base.clone(), query }
    }

    fn with(mut self, pairs: &[(String, String)]) -> String {
        self.query.extend_from_slice(pairs);
        match serde_urlencoded::to_string(&self.query) {
            Ok(query) if !query.is_empty() => format!("{}?{query}", self.base),
            _ => self.base,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_keeps_its_own_query_and_drops_earlier_outcomes() {
        let page = Address::parse("http://h/admin/monitoring?tenant=contoso&__done=%2Fapi%2Fx&__out=3#top");
        assert_eq!(page.base, "http://h/admin/monitoring");
        assert!(page.has("__done"));
        let again = page.without_outcome().with(&[("__done".into(), "/api/bulk_runs".into())]);
        assert_eq!(again, "http://h/admin/monitoring?tenant=contoso&__done=%2Fapi%2Fbulk_runs");
        assert_eq!(Address::parse("/admin").without_outcome().with(&[]), "/admin");
    }

    #[test]
    fn of_two_failures_in_an_address_the_last_is_kept() {
        let failed = Address::parse("/p?__path=%2Fapi%2Fa&__err=one&__path=%2Fapi%2Fb&__err=two");
        assert_eq!(failed.last("__path"), Some(("__path".into(), "/api/b".into())));
        assert_eq!(failed.last("__err"), Some(("__err".into(), "two".into())));
    }
}
