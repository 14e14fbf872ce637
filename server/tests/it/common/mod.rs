//! A server in process, driven over real HTTP requests: what every router suite shares.

pub mod contract;
pub mod pipeline_contract;
pub mod sim;
pub mod world;

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use clap::Parser;
use http_body_util::BodyExt;
use tenantpilot_core::egress::EgressPolicy;
use tenantpilot_core::provider::{ClientSettings, ProviderClient};
use tenantpilot_core::seed;
use tenantpilot_core::store::{Backend, Store};
use tenantpilot_core::testing::TestDatabase;
use tenantpilot_server::config::Cli;
use tenantpilot_server::router;
use tenantpilot_server::sessions::SessionBackend;
use tower::ServiceExt;

pub const ORIGIN: &str = "http://localhost";

/// Where test servers and clients may call: loopback, where the simulator and test tools run.
pub fn loopback() -> EgressPolicy {
    EgressPolicy::parse("127.0.0.1").unwrap()
}

/// A provider client that may call loopback.
pub fn client(settings: ClientSettings) -> ProviderClient {
    ProviderClient::new(ClientSettings { egress: loopback(), ..settings })
}

/// A server's router over `store`, started with these command-line flags.
pub async fn router_over(store: &Store, flags: &[&str]) -> Router {
    let cli = Cli::parse_from(["tenantpilot"].iter().chain(flags));
    let egress = if cli.egress_allow == EgressPolicy::public_only() { loopback() } else { cli.egress_allow };
    let serve = cli.serve;
    let provider = ProviderClient::new(ClientSettings { egress, ..ClientSettings::default() });
    let sessions = SessionBackend::open(store).await.unwrap();
    router::build(store.clone(), provider, sessions, &serve, router::leptos_options(&serve))
}

pub struct TestApp {
    pub router: Router,
    pub db: TestDatabase,
    pub password: String,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn location(&self) -> &str {
        self.headers.get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
    pub fn session_cookie(&self) -> Option<String> {
        self.headers.get_all(header::SET_COOKIE).iter().find_map(|value| {
            let value = value.to_str().ok()?;
            value.strip_prefix(&format!("{}=", router::SESSION_COOKIE)).map(|rest| {
                format!("{}={}", router::SESSION_COOKIE, rest.split(';').next().unwrap_or_default())
            })
        })
    }
}

/// How a request is sent: as a browser form post, as script (JSON answers), or cross-site.
#[derive(Clone, Copy, PartialEq)]
pub enum Sender {
    Browser,
    Script,
    CrossSite,
}

/// A request being described; `send` makes it.
pub struct Call<'a> {
    app: &'a TestApp,
    method: Method,
    path: String,
    form: Option<String>,
    cookie: Option<String>,
    sender: Sender,
    page: String,
}

impl Call<'_> {
    /// A form body (`application/x-www-form-urlencoded`), as a form or a server function sends.
    pub fn form(mut self, form: &str) -> Self {
        self.form = Some(form.to_string());
        self
    }

    /// The `Cookie` header, e.g. a session from `sign_in`.
    pub fn cookie(mut self, cookie: &str) -> Self {
        self.cookie = Some(cookie.to_string());
        self
    }

    /// The page the form is on (the `Referer`; `/login` unless told).
    pub fn on_page(mut self, page: &str) -> Self {
        self.page = page.to_string();
        self
    }

    /// Who sends it: a browser (the default), a script, or another site.
    pub fn by(mut self, sender: Sender) -> Self {
        self.sender = sender;
        self
    }

    pub async fn send(self) -> Reply {
        let mut request =
            Request::builder().method(self.method.clone()).uri(&self.path).header(header::HOST, "localhost");
        if let Some(cookie) = &self.cookie {
            request = request.header(header::COOKIE, cookie);
        }
        if self.method != Method::GET {
            let origin = if self.sender == Sender::CrossSite { "http://evil.example" } else { ORIGIN };
            request = request
                .header(header::ORIGIN, origin)
                .header(header::REFERER, format!("{origin}{}", self.page));
        }
        request = match self.sender {
            Sender::Script => request.header(header::ACCEPT, "application/json"),
            _ => request.header(header::ACCEPT, "text/html"),
        };
        let body = match self.form {
            Some(form) => {
                request = request
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .header(header::CONTENT_LENGTH, form.len());
                Body::from(form)
            }
            None => Body::empty(),
        };
        self.app.reply(request.body(body).unwrap()).await
    }
}

impl TestApp {
    pub async fn new(backend: Backend) -> TestApp {
        TestApp::with_flags(backend, &[]).await
    }

    /// A server started with these extra command-line flags. Without `--egress-allow` it may
    /// call loopback (the simulator and the tools the tests run).
    pub async fn with_flags(backend: Backend, flags: &[&str]) -> TestApp {
        let db = TestDatabase::new(backend).await;
        let demo = seed::demo(&db.store).await.unwrap().expect("fresh database");
        let router = router_over(&db.store, flags).await;
        TestApp { router, db, password: demo.password }
    }

    /// A request to this server, named piece by piece: `app.call(Method::POST, "/api/login")
    /// .form(&form).cookie(&cookie).by(Sender::Script).send()`. A browser's by default.
    pub fn call(&self, method: Method, path: &str) -> Call<'_> {
        Call {
            app: self,
            method,
            path: path.to_string(),
            form: None,
            cookie: None,
            sender: Sender::Browser,
            page: "/login".into(),
        }
    }

    /// A script's request: JSON in and out, same origin.
    pub async fn json(&self, method: Method, path: &str, body: Option<&str>, cookie: Option<&str>) -> Reply {
        let mut request = Request::builder()
            .method(method.clone())
            .uri(path)
            .header(header::HOST, "localhost")
            .header(header::ACCEPT, "application/json");
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        if method != Method::GET {
            request = request.header(header::ORIGIN, ORIGIN);
        }
        let body = match body {
            Some(body) => {
                request = request
                    .header(header::CONTENT_TYPE, "application/json")
                    .header(header::CONTENT_LENGTH, body.len());
                Body::from(body.to_string())
            }
            None => Body::empty(),
        };
        self.reply(request.body(body).unwrap()).await
    }

    pub async fn reply(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Reply { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
    }

    pub async fn get(&self, path: &str, cookie: Option<&str>) -> Reply {
        let call = self.call(Method::GET, path);
        match cookie {
            Some(cookie) => call.cookie(cookie),
            None => call,
        }
        .send()
        .await
    }

    /// A script's request with a bearer token: no cookie, no Origin.
    pub async fn bearer(&self, method: Method, path: &str, token: &str) -> Reply {
        self.bearer_json(method, path, token, None).await
    }

    /// A script's request with a bearer token and, maybe, a JSON body.
    pub async fn bearer_json(&self, method: Method, path: &str, token: &str, body: Option<&str>) -> Reply {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, "localhost")
            .header(header::ACCEPT, "application/json")
            .header(header::AUTHORIZATION, format!("Bearer {token}"));
        let request = match body {
            Some(body) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
            None => request.body(Body::empty()).unwrap(),
        };
        self.reply(request).await
    }

    /// Checks `reply` to `method path` against the served OpenAPI document, if it documents the
    /// path: the status, the media type and the body must be as documented.
    pub fn check_documented(method: &Method, path: &str, reply: &Reply) {
        static SERVED: std::sync::LazyLock<contract::Contract> = std::sync::LazyLock::new(|| {
            contract::Contract::parse(tenantpilot_server::api::openapi::document())
        });
        if SERVED.template_for(path).is_some() {
            let content_type = reply.headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok());
            SERVED.check_reply(method.as_str(), path, reply.status.as_u16(), content_type, &reply.body);
        }
    }

    /// The OpenAPI document the server serves, to check the JSON twins' answers against.
    pub async fn api_document(&self) -> contract::Contract {
        contract::Contract::parse(&self.json(Method::GET, "/api/openapi.json", None, None).await.body)
    }

    /// Signs in as a browser would; returns the session cookie.
    pub async fn sign_in(&self, email: &str) -> String {
        let form = format!("email={email}&password={}&next=", self.password);
        let reply = self.call(Method::POST, "/api/login").form(&form).send().await;
        assert_eq!(reply.status, StatusCode::FOUND, "sign-in of {email}: {}", reply.body);
        assert_eq!(reply.location(), "/admin");
        reply.session_cookie().expect("a session cookie")
    }
}
