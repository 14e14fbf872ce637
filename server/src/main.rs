//! The `tenantpilot` binary: reads the command line, then serves, works runs or runs a command.

use anyhow::Context;
use clap::Parser;
use std::process::ExitCode;
use tenantpilot_core::engine::{operations, EngineHandle};
use tenantpilot_core::provider::{ClientSettings, ProviderClient};

use tenantpilot_core::keyring::Keyring;
use tenantpilot_core::store::{Reseal, Store};
use tenantpilot_core::{seed, CoreError};
use tenantpilot_server::config::{Cli, Command, EngineArgs, SecretsCommand, ServeArgs};
use tenantpilot_server::sessions::{self, SessionBackend};
use tenantpilot_server::{cli, logging, provider_sim, router};

/// mimalloc rather than glibc's malloc: see the README's long-poll profile.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let args = Cli::parse();
    let telemetry = logging::init(args.log_format);
    let outcome = run(args).await;
    telemetry.shutdown().await;
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // The whole chain on one line: "cannot listen on …: Address already in use".
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Cli) -> anyhow::Result<()> {
    if let Some(Command::ProviderSim { addr, demo }) = args.command {
        let listener =
            tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
        tracing::info!(%addr, demo, "provider simulator listening");
        let fixtures = if demo { provider_sim::Fixtures::Demo } else { provider_sim::Fixtures::Empty };
        return Ok(provider_sim::serve(listener, fixtures, shutdown_signal()).await?);
    }
    let store = Store::connect(&args.database_url).await?;
    store.migrate().await?;
    let from_env = std::env::var("TENANTPILOT_SECRET_KEY").ok();
    let key_file = args.secret_key_path();
    if let Some(Command::Secrets(SecretsCommand::RotateKey)) = &args.command {
        let outcome = cli::rotate_key(store.clone(), from_env.as_deref(), &key_file).await;
        store.close().await;
        return outcome.map_err(described);
    }
    let keyring = Keyring::load(from_env.as_deref(), &key_file).map_err(anyhow::Error::msg)?;
    let store = store.with_keyring(keyring);
    // Secrets an earlier version stored in the clear are sealed now.
    let sealed = store.reseal_secrets(Reseal::Unsealed).await.map_err(described)?;
    if sealed > 0 {
        tracing::info!(sealed, "sealed secrets an earlier version stored in the clear");
    }
    // One client per process, for pages and workers: tokens are cached and request budgets kept
    // per process, and every call goes only where the egress policy allows.
    let provider = ProviderClient::new(ClientSettings {
        egress: args.egress_allow.clone(),
        requests_at_once: args.provider_concurrency as usize,
        ..ClientSettings::default()
    });
    let outcome = match args.command.unwrap_or(Command::Serve) {
        Command::Serve => return serve_http(store, provider, args.serve, args.engine).await,
        Command::Worker => return work(store, provider, args.engine).await,
        Command::Migrate => {
            println!("database is up to date");
            Ok(())
        }
        Command::User(command) => cli::user(&store, command).await,
        Command::Tenant(command) => cli::tenant(&store, &args.egress_allow, command).await,
        Command::Member(command) => cli::member(&store, command).await,
        Command::Token(command) => cli::token(&store, command).await,
        Command::Pipeline(command) => cli::import_pipelines(&store, command).await,
        Command::Tool(command) => cli::import_tools(&store, &args.egress_allow, command).await,
        Command::Schedule(command) => cli::schedule(&store, command).await,
        Command::ProviderSim { .. } => unreachable!("served above, without a database"),
        Command::Secrets(SecretsCommand::RotateKey) => unreachable!("rotated above, with the keys it needs"),
    };
    store.close().await;
    outcome.map_err(described)
}

/// A domain error as the command line reports it: one line that says where it is, and for an
/// internal error (the operator's to mend) what caused it.
fn described(error: CoreError) -> anyhow::Error {
    match error {
        CoreError::Internal { .. } => anyhow::Error::msg(error.detail()),
        other => anyhow::Error::msg(other.describe()),
    }
}

/// The workers of this process; its name tells whose runs are whose in the runs table.
fn start_engine(store: &Store, engine: &EngineArgs, provider: ProviderClient) -> EngineHandle {
    let settings = engine.settings();
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into());
    let name = format!("{host}:{}", std::process::id());
    tracing::info!(workers = settings.workers, %name, "starting the operation engine");
    let operations = operations::all(provider, engine.sample_provider_url.clone());
    EngineHandle::spawn(store.clone(), operations, settings, &name)
}

async fn work(store: Store, provider: ProviderClient, engine: EngineArgs) -> anyhow::Result<()> {
    if engine.workers == 0 {
        anyhow::bail!("`tenantpilot worker` needs at least one worker (TENANTPILOT_WORKERS)");
    }
    let engine = start_engine(&store, &engine, provider);
    shutdown_signal().await;
    engine.shutdown().await;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn serve_http(
    store: Store,
    provider: ProviderClient,
    serve: ServeArgs,
    engine: EngineArgs,
) -> anyhow::Result<()> {
    if serve.demo {
        if let Some(demo) = seed::demo(&store).await.map_err(described)? {
            seed::demo_history(&store, chrono::Utc::now()).await.map_err(described)?;
            println!("\nDemo workspace created. Sign in at http://{}/login with any of:", serve.site_addr);
            for (email, role) in &demo.emails {
                println!("  {email:<22} {role}");
            }
            println!("Password for all of them (shown only now): {}\n", demo.password);
        }
        if let Some(url) = &serve.demo_provider_url {
            let connected = seed::connect_demo_provider(&store, url).await.map_err(described)?;
            if !connected.is_empty() {
                println!("Connected {} to the provider simulator at {url}", connected.join(", "));
            }
        }
    }
    let options = router::leptos_options(&serve);
    let sessions = SessionBackend::open(&store).await?;
    sessions::spawn_housekeeping(&sessions, &store);
    let app = router::build(store.clone(), provider.clone(), sessions, &serve, options);
    let listener = tokio::net::TcpListener::bind(serve.site_addr)
        .await
        .with_context(|| format!("cannot listen on {}", serve.site_addr))?;
    tracing::info!(addr = %serve.site_addr, "listening");
    let engine = start_engine(&store, &engine, provider);
    let served = axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await;
    engine.shutdown().await;
    served?;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// SIGINT or SIGTERM: stop accepting, finish what is in flight, then exit.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
