//! Settings: environment variables, each overridable by a `--flag`.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;

#[derive(Parser, Debug)]
#[command(name = "tenantpilot", version, about = "TenantPilot: operations control plane for many tenants")]
pub struct Cli {
    /// `sqlite://path` (created when missing) or `postgres://…`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/tenantpilot.db", global = true)]
    pub database_url: String,

    #[arg(long, env = "TENANTPILOT_LOG_FORMAT", value_enum, default_value = "text", global = true)]
    pub log_format: LogFormat,

    #[command(flatten)]
    pub serve: ServeArgs,

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
    /// Migrate the database and serve the web app (the default).
    Serve,
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
}
