//! Settings: environment variables, each overridable by a `--flag`.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::time::Duration;
use tenantpilot_app::client_address::TrustedProxies;
use tenantpilot_core::egress::EgressPolicy;
use tenantpilot_core::engine::EngineSettings;

#[derive(Parser, Debug)]
#[command(name = "tenantpilot", version, about = "TenantPilot: operations control plane for many tenants")]
pub struct Cli {
    /// `sqlite://path` (created when missing) or `postgres://…`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/tenantpilot.db", global = true)]
    pub database_url: String,

    #[arg(long, env = "TENANTPILOT_LOG_FORMAT", value_enum, default_value = "text", global = true)]
    pub log_format: LogFormat,

    /// Hosts, host:port entries and networks (CIDR) TenantPilot may call although they are not
    /// public addresses, comma-separated (e.g. the provider simulator: 127.0.0.1).
    #[arg(long, env = "TENANTPILOT_EGRESS_ALLOW", default_value = "", global = true, value_parser = EgressPolicy::parse)]
    pub egress_allow: EgressPolicy,
    /// Requests one run keeps in flight to its tenant's provider (a capture reads several
    /// policies at once), within the tenant's request budget.
    #[arg(long, env = "TENANTPILOT_PROVIDER_CONCURRENCY", default_value_t = 4, global = true,
          value_parser = clap::value_parser!(u64).range(1..=64))]
    pub provider_concurrency: u64,

    /// The file holding the keys that seal stored secrets (created, mode 0600, when missing);
    /// by default `secret.key` beside the SQLite database, else `data/secret.key`. The
    /// environment's `TENANTPILOT_SECRET_KEY` (base64; comma-separated while rotating, current
    /// first) takes its place when set.
    #[arg(long, env = "TENANTPILOT_SECRET_KEY_FILE", global = true)]
    pub secret_key_file: Option<std::path::PathBuf>,

    #[command(flatten)]
    pub serve: ServeArgs,

    #[command(flatten)]
    pub engine: EngineArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Migrate the database and serve the web app (the default), with its workers.
    Serve,
    /// Run operation workers only, without HTTP (scale work apart from the web app).
    Worker,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage user accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage tenant memberships.
    #[command(subcommand)]
    Member(MemberCommand),
    /// Manage personal access tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage pipelines.
    #[command(subcommand)]
    Pipeline(ImportCommand),
    /// Manage the tool registry.
    #[command(subcommand)]
    Tool(ImportCommand),
    /// Manage schedules (captures and pipeline runs at fire times of a cron expression).
    #[command(subcommand)]
    Schedule(ScheduleCommand),
    /// Manage the keys that seal stored secrets.
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Serve the provider simulator (for demos and tests): a Graph-style API with fault settings.
    ProviderSim {
        /// Address to listen on; keep it on loopback.
        #[arg(long, default_value = "127.0.0.1:3100")]
        addr: SocketAddr,
        /// Create unknown tenants with sample policies and groups on their first sign-in.
        #[arg(long)]
        demo: bool,
    },
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, global = true, env = "LEPTOS_SITE_ADDR", default_value = "127.0.0.1:3000")]
    pub site_addr: SocketAddr,
    /// The URL users reach the app at. With https, cookies are marked Secure; state-changing
    /// requests must come from this origin.
    #[arg(long, global = true, env = "TENANTPILOT_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// On an empty database, create the demo workspace and print its sign-in details.
    #[arg(long, global = true, env = "TENANTPILOT_DEMO")]
    pub demo: bool,
    /// Sign out after this many minutes without a request.
    #[arg(long, global = true, env = "TENANTPILOT_SESSION_IDLE_MINUTES", default_value_t = 120)]
    pub session_idle_minutes: i64,
    /// Sign out this many hours after sign-in, however active.
    #[arg(long, global = true, env = "TENANTPILOT_SESSION_MAX_HOURS", default_value_t = 12)]
    pub session_max_hours: i64,
    /// With --demo: connect the demo tenants to the provider simulator at this URL.
    #[arg(long, global = true, env = "TENANTPILOT_DEMO_PROVIDER_URL")]
    pub demo_provider_url: Option<String>,
    /// Proxies (comma-separated addresses and networks) whose `Forwarded` / `X-Forwarded-For`
    /// headers name the client; anyone else's are ignored.
    #[arg(long, global = true, env = "TENANTPILOT_TRUSTED_PROXIES", default_value = "", value_parser = TrustedProxies::parse)]
    pub trusted_proxies: TrustedProxies,
    /// Serve `GET /metrics` without credentials to requests from the loopback address (a
    /// Prometheus beside the server); otherwise it takes a platform admin's session or token.
    #[arg(long, global = true, env = "TENANTPILOT_METRICS_LOOPBACK")]
    pub metrics_loopback: bool,
    /// How often a live stream (`/admin/monitoring/events`) re-checks its session or token and
    /// what its person may see, in seconds.
    #[arg(long, global = true, env = "TENANTPILOT_LIVE_RECHECK_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub live_recheck_secs: u64,
    /// Live streams one person may hold open in this process; opening another closes the oldest.
    #[arg(long, global = true, env = "TENANTPILOT_LIVE_STREAMS_PER_USER", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub live_streams_per_user: u64,
    /// The longest a `GET /_/tenant/{id}?wait=` request is held, in milliseconds.
    #[arg(long, global = true, env = "TENANTPILOT_TENANT_JOB_MAX_WAIT_MS", default_value_t = 60_000)]
    pub tenant_job_max_wait_ms: u64,
}

/// The operation engine of this process.
#[derive(Args, Debug, Clone)]
pub struct EngineArgs {
    /// Runs this process executes at once (each a task, so many are cheap); 0 leaves the work
    /// to other processes.
    #[arg(long, global = true, env = "TENANTPILOT_WORKERS", default_value_t = 64)]
    pub workers: usize,
    /// Operations of one tenant running at once, across all processes.
    #[arg(long, global = true, env = "TENANTPILOT_TENANT_CONCURRENCY", default_value_t = 2,
          value_parser = clap::value_parser!(i64).range(1..))]
    pub tenant_concurrency: i64,
    /// Pipeline runs of one workspace running at once, across all processes.
    #[arg(long, global = true, env = "TENANTPILOT_PIPELINES_PER_WORKSPACE", default_value_t = 2,
          value_parser = clap::value_parser!(i64).range(1..))]
    pub pipelines_per_workspace: i64,
    /// Minutes a pipeline run may run before it is cancelled.
    #[arg(long, global = true, env = "TENANTPILOT_PIPELINE_MAX_MINUTES", default_value_t = 360,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub pipeline_max_minutes: u64,
    /// Seconds without a heartbeat after which a running operation's worker counts as dead.
    #[arg(long, global = true, env = "TENANTPILOT_STALE_AFTER_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(5..))]
    pub stale_after_secs: u64,
    /// Days completed operations are kept; 0 keeps them forever.
    #[arg(long, global = true, env = "TENANTPILOT_RUN_RETENTION_DAYS", default_value_t = 90)]
    pub run_retention_days: u32,
    /// Milliseconds between this process's looks for due schedule slots.
    #[arg(long, global = true, env = "TENANTPILOT_SCHEDULE_TICK_MS", default_value_t = 15_000,
          value_parser = clap::value_parser!(u64).range(10..))]
    pub schedule_tick_ms: u64,
    /// For tests and rehearsals only: the scheduler reads time as running RATE times faster
    /// from ORIGIN (`2026-11-30T20:00:00Z*240`), alike in every process given it.
    #[arg(long, global = true, env = "TENANTPILOT_SCHEDULER_CLOCK")]
    pub scheduler_clock: Option<tenantpilot_core::engine::SchedulerClock>,
    /// The provider simulator (started with --demo) that installs with `loadSample=true` connect
    /// tenants to and capture sample policies from.
    #[arg(long, global = true, env = "TENANTPILOT_SAMPLE_PROVIDER_URL")]
    pub sample_provider_url: Option<String>,
}

impl EngineArgs {
    pub fn settings(&self) -> EngineSettings {
        let defaults = EngineSettings::default();
        let stale_after = Duration::from_secs(self.stale_after_secs);
        EngineSettings {
            workers: self.workers,
            per_tenant_limit: self.tenant_concurrency,
            pipelines_per_workspace: self.pipelines_per_workspace,
            pipeline_max_duration: Duration::from_secs(self.pipeline_max_minutes.saturating_mul(60)),
            stale_after,
            heartbeat: defaults.heartbeat.min(stale_after / 4),
            retention: (self.run_retention_days > 0)
                .then(|| chrono::Duration::days(i64::from(self.run_retention_days))),
            schedule_tick: Duration::from_millis(self.schedule_tick_ms),
            scheduler_clock: self.scheduler_clock.unwrap_or_default(),
            ..defaults
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user; the password is read from standard input.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: Option<String>,
        /// Read the password from standard input (the only way: never on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
        #[arg(long)]
        platform_admin: bool,
    },
    /// List users.
    List,
    /// Set a user's account role: site-admin, power-user or user.
    Role {
        #[arg(long)]
        email: String,
        #[arg(long)]
        role: tenantpilot_core::tokens::AccountRole,
    },
}

#[derive(Subcommand, Debug)]
pub enum ScheduleCommand {
    /// Create a schedule that captures a tenant, every enabled tenant of a workspace, or runs a
    /// pipeline, at the fire times of a five-field cron expression read in an IANA time zone.
    /// The owner's rights decide whether it may, now and at every firing. Prints the new id last.
    #[command(group(clap::ArgGroup::new("target").required(true).args(["tenant", "workspace", "pipeline"])))]
    Create {
        #[arg(long)]
        name: String,
        /// Five fields: minute hour day-of-month month day-of-week, e.g. '0 2 * * *'.
        #[arg(long)]
        cron: String,
        /// An IANA time zone, e.g. Europe/Berlin.
        #[arg(long = "tz")]
        time_zone: String,
        /// A tenant's slug: capture it.
        #[arg(long)]
        tenant: Option<String>,
        /// A workspace's slug: capture every enabled tenant of it.
        #[arg(long)]
        workspace: Option<String>,
        /// A pipeline's id: run it.
        #[arg(long)]
        pipeline: Option<i64>,
        /// Spread a workspace's captures over this many minutes after each fire time.
        #[arg(long, default_value_t = 0)]
        jitter_minutes: i64,
        /// Record a fire time missed while nothing ran as skipped, instead of running it late.
        #[arg(long)]
        skip_missed: bool,
        /// The e-mail of the person whose rights the schedule uses.
        #[arg(long)]
        owner: String,
    },
    /// List every schedule: id, name, cron, time zone, what it starts, state, next fire time.
    List,
    /// Stop firing schedule ID until resumed.
    Pause { id: i64 },
    /// Fire schedule ID again, from its next fire time.
    Resume { id: i64 },
    /// Delete schedule ID (the runs it started stay).
    Delete { id: i64 },
}

#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// Create items from a JSON file (`-` for standard input) holding one object shaped as the
    /// API's `summary` answers, or an array of them; prints each new id. `owner` (an e-mail)
    /// and `account` (a workspace slug) say whose and where.
    Import { file: String },
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create a personal access token for a user and print it (shown only now).
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// Comma-separated: api, pipeline, pipeline_logs, tool_registry, security_logs,
        /// operations, tenant_admin (api is needed for any call).
        #[arg(long)]
        scopes: String,
        /// Days until it expires (default 30, at most 365).
        #[arg(long)]
        expires_days: Option<i64>,
    },
}

#[derive(Subcommand, Debug)]
pub enum TenantCommand {
    /// Create a tenant (and its workspace if new). Does nothing if it exists already.
    Create {
        #[arg(long)]
        slug: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = tenantpilot_core::tenancy::DEFAULT_WORKSPACE)]
        workspace: String,
        #[arg(long)]
        external_id: Option<String>,
    },
    /// Set how TenantPilot reaches the tenant's provider (Microsoft Graph through an Entra app
    /// registration). The credential is a client secret read from standard input, or a
    /// certificate with its private key read from a PEM file; neither is shown again.
    #[command(group(clap::ArgGroup::new("credential").required(true).args(["client_secret_stdin", "client_certificate_file"])))]
    Connect {
        #[arg(long)]
        tenant: String,
        /// The API root; settings-catalog policies need Graph's beta.
        #[arg(long, default_value = tenantpilot_core::provider::DEFAULT_BASE_URL)]
        base_url: String,
        /// The token endpoint, https://login.microsoftonline.com/{tenant-id}/oauth2/v2.0/token
        #[arg(long)]
        token_url: String,
        /// The app registration's application (client) id.
        #[arg(long)]
        client_id: String,
        /// The scope to ask for instead of {scheme}://{host}/.default of the base URL.
        #[arg(long)]
        scope: Option<String>,
        /// Read the client secret from standard input (the only way: never on the command line).
        #[arg(long)]
        client_secret_stdin: bool,
        /// A PEM file with the app's certificate and its private key.
        #[arg(long)]
        client_certificate_file: Option<std::path::PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum SecretsCommand {
    /// Seal every stored secret under a new key. With a key file: a new key is added first (the
    /// old ones stay readable until every secret is sealed again), then the old ones are removed.
    /// With TENANTPILOT_SECRET_KEY: everything is sealed under its first key; then remove the others.
    RotateKey,
}

#[derive(Subcommand, Debug)]
pub enum MemberCommand {
    /// Add a user to a tenant, or set their role there.
    Add {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        role: tenantpilot_core::Role,
    },
}

impl Cli {
    /// Where the secret keys live when the environment does not give them.
    pub fn secret_key_path(&self) -> std::path::PathBuf {
        if let Some(file) = &self.secret_key_file {
            return file.clone();
        }
        let sqlite =
            self.database_url.strip_prefix("sqlite://").or_else(|| self.database_url.strip_prefix("sqlite:"));
        match sqlite.map(|path| path.split('?').next().unwrap_or_default()) {
            Some(path) => {
                std::path::Path::new(path).parent().unwrap_or(std::path::Path::new("")).join("secret.key")
            }
            None => std::path::PathBuf::from("data/secret.key"),
        }
    }
}

impl ServeArgs {
    /// The origin (`scheme://host[:port]`) of the public URL, if one is set.
    pub fn public_origin(&self) -> Option<String> {
        let url = self.public_url.as_deref()?.trim_end_matches('/');
        let (scheme, rest) = url.split_once("://")?;
        let host = rest.split('/').next()?;
        Some(format!("{}://{}", scheme.to_ascii_lowercase(), host.to_ascii_lowercase()))
    }

    pub fn secure_cookies(&self) -> bool {
        self.public_url.as_deref().is_some_and(|url| url.to_ascii_lowercase().starts_with("https://"))
    }

    pub fn live_settings(&self) -> crate::api::operations::LiveSettings {
        crate::api::operations::LiveSettings {
            recheck: Duration::from_secs(self.live_recheck_secs),
            per_user: usize::try_from(self.live_streams_per_user).unwrap_or(usize::MAX),
        }
    }
}
