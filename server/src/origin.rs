//! The same-origin check in front of every state-changing request (server functions, forms,
//! JSON POST/DELETE). Browsers name the page a request comes from in `Origin` (or at least
//! `Referer`); a request whose origin is not ours, or that names none, changes nothing.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tenantpilot_app::error::AppError;
use tenantpilot_core::tokens::TOKEN_PREFIX;
use tenantpilot_core::CoreError;

const SEC_FETCH_SITE: header::HeaderName = header::HeaderName::from_static("sec-fetch-site");

/// Our origin: the public URL's, or else whatever host the request was addressed to.
#[derive(Clone, Debug)]
pub struct OriginPolicy {
    pub public_origin: Option<String>,
}

pub async fn same_origin(State(policy): State<OriginPolicy>, request: Request, next: Next) -> Response {
    let safe = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    // Scripts send a personal access token themselves; a browser never attaches one to a
    // cross-site request, so such a request cannot be forged from another site (the guard ignores
    // the session cookie when a token is present). Any other Authorization header (Basic, which a
    // browser may attach by itself; a bearer of another kind) proves nothing about where a request
    // came from, and exempts nothing from a browser. A request with no mark of a browser at all
    // (no Origin, Referer or Sec-Fetch-Site: browsers send one of them on every POST) is a
    // script's: the guard answers its Authorization header (401 for anything but a valid token)
    // and never uses a session for it.
    let headers = request.headers();
    let authorization = headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok());
    let token = authorization
        .and_then(|value| value.strip_prefix("Bearer "))
        .is_some_and(|token| token.starts_with(TOKEN_PREFIX));
    let from_browser =
        [header::ORIGIN, header::REFERER, SEC_FETCH_SITE].iter().any(|name| headers.contains_key(name));
    let bearer = token || (authorization.is_some() && !from_browser);
    if safe || bearer || policy.allows(request.headers()) {
        return next.run(request).await;
    }
    tracing::warn!(method = %request.method(), path = request.uri().path(), "cross-site request refused");
    AppError(CoreError::Forbidden {
        hint: "Cross-site requests are refused; submit the form from TenantPilot itself.".into(),
    })
    .into_response()
}

impl OriginPolicy {
    fn allows(&self, headers: &HeaderMap) -> bool {
        let header = |name| headers.get(name).and_then(|value: &header::HeaderValue| value.to_str().ok());
        // Browsers that send Fetch Metadata say outright whether the request is cross-site.
        if let Some(site) = header(SEC_FETCH_SITE) {
            if !matches!(site, "same-origin" | "none") {
                return false;
            }
        }
        let claimed = match (header(header::ORIGIN), header(header::REFERER)) {
            (Some(origin), _) => origin_of(origin),
            (None, Some(referer)) => origin_of(referer),
            (None, None) => None,
        };
        let Some(claimed) = claimed else {
            return false;
        };
        match &self.public_origin {
            Some(ours) => claimed == *ours,
            // Without a configured public URL, the request's own Host is ours.
            None => header(header::HOST).is_some_and(|host| {
                claimed.split_once("://").is_some_and(|(_, authority)| authority == host.to_ascii_lowercase())
            }),
        }
    }
}

/// `scheme://host[:port]` of a URL, lower-cased; `None` for `null` or anything unparsable.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.is_empty() || !matches!(scheme, "http" | "https") {
        return None;
    }
    Some(format!("{scheme}://{}", authority.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn decides_by_origin_then_referer() {
        let by_host = OriginPolicy { public_origin: None };
        let host = ("host", "127.0.0.1:3000");
        assert!(by_host.allows(&headers(&[host, ("origin", "http://127.0.0.1:3000")])));
        assert!(by_host.allows(&headers(&[host, ("referer", "http://127.0.0.1:3000/login?next=/admin")])));
        assert!(!by_host.allows(&headers(&[host, ("origin", "http://evil.example")])));
        assert!(!by_host.allows(&headers(&[host, ("origin", "null")])));
        assert!(!by_host.allows(&headers(&[host])), "no origin at all");
        assert!(!by_host.allows(&headers(&[
            host,
            ("origin", "http://127.0.0.1:3000"),
            ("sec-fetch-site", "cross-site")
        ])));
        let public = OriginPolicy { public_origin: Some("https://ops.example.com".into()) };
        assert!(public.allows(&headers(&[("origin", "https://OPS.example.com")])));
        assert!(!public.allows(&headers(&[("origin", "http://ops.example.com")])), "scheme matters");
    }
}
