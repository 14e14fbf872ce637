//! The provider simulator on a loopback port of its own, and helpers to set its tenants up.

use tenantpilot_core::operations::Initiator;
use tenantpilot_core::provider::{
    self, Credential, NewConnection, NewCredential, ProviderConnection, Secret,
};
use tenantpilot_core::store::Store;
use tenantpilot_server::provider_sim::{self, Fault, Fixtures, SimTenant};
use tokio::task::JoinHandle;

pub const CLIENT_ID: &str = "tenantpilot-test";
pub const SECRET: &str = "s3cret-value-never-logged";

pub struct Sim {
    pub url: String,
    http: reqwest::Client,
    task: JoinHandle<()>,
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Sim {
    pub async fn start() -> Sim {
        Sim::serve(Fixtures::Empty).await
    }

    /// A `--demo` simulator: an unknown tenant gets the sample data on its first sign-in.
    pub async fn start_demo() -> Sim {
        Sim::serve(Fixtures::Demo).await
    }

    async fn serve(fixtures: Fixtures) -> Sim {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            provider_sim::serve(listener, fixtures, std::future::pending()).await.unwrap();
        });
        Sim { url, http: reqwest::Client::new(), task }
    }

    /// A tenant with the sample policies and groups, `page_size` items a page.
    pub async fn sample(&self, slug: &str, page_size: usize) -> SimTenant {
        let tenant = SimTenant { page_size, ..provider_sim::sample_tenant(CLIENT_ID, SECRET) };
        self.put_tenant(slug, &tenant).await;
        tenant
    }

    pub async fn put_tenant(&self, slug: &str, tenant: &SimTenant) {
        let reply =
            self.http.put(format!("{}/_sim/tenants/{slug}", self.url)).json(tenant).send().await.unwrap();
        assert_eq!(reply.status(), 204, "{}", reply.text().await.unwrap());
    }

    pub async fn tenant(&self, slug: &str) -> SimTenant {
        self.http.get(format!("{}/_sim/tenants/{slug}", self.url)).send().await.unwrap().json().await.unwrap()
    }

    pub async fn faults(&self, slug: &str, faults: &[Fault]) {
        let reply = self
            .http
            .put(format!("{}/_sim/tenants/{slug}/faults", self.url))
            .json(faults)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 204);
    }

    /// As with Graph: one API base for every tenant (`/beta`), the tenant in the token URL.
    pub fn connection(&self, slug: &str, secret: &str) -> ProviderConnection {
        ProviderConnection {
            base_url: format!("{}/beta", self.url),
            token_url: format!("{}/{slug}/oauth2/v2.0/token", self.url),
            client_id: CLIENT_ID.into(),
            scope: None,
            credential: Credential::Secret(Secret::new(secret.into())),
        }
    }

    /// Gives tenant `slug` of `store` the sample data here and connects it.
    pub async fn connect(&self, store: &Store, slug: &str, page_size: usize) -> SimTenant {
        let sample = self.sample(slug, page_size).await;
        self.connect_only(store, slug).await;
        sample
    }

    /// Connects tenant `slug` of `store` to the simulated tenant of that name, as it is.
    pub async fn connect_only(&self, store: &Store, slug: &str) {
        let tenant = store.tenant_by_slug(slug).await.unwrap().unwrap();
        let connection = self.connection(slug, SECRET);
        let new = NewConnection {
            base_url: &connection.base_url,
            token_url: &connection.token_url,
            client_id: CLIENT_ID,
            scope: "",
            credential: NewCredential::Secret(SECRET),
        };
        provider::connect(store, &super::loopback(), &Initiator::System, &tenant, new).await.unwrap();
    }
}
