//! One builder for what a suite runs against: a server (its router and a fresh database with the
//! demo seed), and, when asked, the provider simulator and an engine working the runs.
//! `World::builder(backend).simulator().engine().build().await`.

use super::sim::Sim;
use super::TestApp;
use tenantpilot_core::engine::{operations, EngineHandle, EngineSettings};
use tenantpilot_core::provider::{ClientSettings, ProviderClient};
use tenantpilot_core::store::Backend;

pub struct World {
    pub app: TestApp,
    pub sim: Option<Sim>,
    pub engine: Option<EngineHandle>,
    /// The provider client the engine uses, for tests that call the provider themselves.
    pub client: ProviderClient,
}

pub struct WorldBuilder {
    backend: Backend,
    simulator: bool,
    engine: Option<EngineSettings>,
    client: ClientSettings,
    simulator_for_samples: bool,
}

impl World {
    pub fn builder(backend: Backend) -> WorldBuilder {
        WorldBuilder {
            backend,
            simulator: false,
            engine: None,
            client: ClientSettings::default(),
            simulator_for_samples: false,
        }
    }
}

impl WorldBuilder {
    /// The provider simulator on a loopback port (no tenants until a test connects one).
    pub fn simulator(mut self) -> Self {
        self.simulator = true;
        self
    }

    /// An engine with `EngineSettings::for_tests()`, running every operation.
    pub fn engine(self) -> Self {
        self.engine_with(EngineSettings::for_tests())
    }

    pub fn engine_with(mut self, settings: EngineSettings) -> Self {
        self.engine = Some(settings);
        self
    }

    /// The provider client's settings (it may always call loopback).
    pub fn client(mut self, settings: ClientSettings) -> Self {
        self.client = settings;
        self
    }

    /// A `--demo` simulator instead, where installs asked for sample data get it.
    pub fn sample_simulator(mut self) -> Self {
        self.simulator_for_samples = true;
        self.simulator()
    }

    pub async fn build(self) -> World {
        let app = TestApp::new(self.backend).await;
        let sim = match (self.simulator, self.simulator_for_samples) {
            (true, true) => Some(Sim::start_demo().await),
            (true, false) => Some(Sim::start().await),
            (false, _) => None,
        };
        let samples = sim.as_ref().filter(|_| self.simulator_for_samples).map(|sim| sim.url.clone());
        let client = super::client(self.client);
        let engine = self.engine.map(|settings| {
            EngineHandle::spawn(
                app.db.store.clone(),
                operations::all(client.clone(), samples),
                settings,
                "test",
            )
        });
        World { app, sim, engine, client }
    }
}
