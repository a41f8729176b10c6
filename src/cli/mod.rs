//! The `voxedge` command line. Every subcommand works on `--data-dir` and may run while a server uses
//! the same directory (SQLite WAL + busy timeouts make that safe). Results go to stdout (JSON where a
//! script would read them); logs go to stderr.

mod billing;
mod data;
mod plan;
mod remote;
mod tenant;
mod user;

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::app::Application;
use crate::config::{Config, ServeArgs};
use crate::state::AppState;
use crate::telemetry::LogFormat;

#[derive(Debug, Parser)]
#[command(
    name = "voxedge",
    version,
    about = "Edge-first platform for voice AI agents"
)]
pub struct Cli {
    /// Directory holding catalog.db and tenants/.
    #[arg(
        long,
        global = true,
        env = "VOXEDGE_DATA_DIR",
        default_value = "./data"
    )]
    pub data_dir: PathBuf,
    /// Log line format on stderr.
    #[arg(long, global = true, env = "VOXEDGE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Json)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API, live calls and the portal.
    Serve(Box<ServeArgs>),
    /// Create and list tenants; their onboarding milestones.
    #[command(subcommand)]
    Tenant(tenant::TenantCommand),
    /// The price book and tenants' plans.
    #[command(subcommand)]
    Plan(plan::PlanCommand),
    /// Check the usage rollups against the ledger; correct the ledger with adjustments.
    #[command(subcommand)]
    Usage(billing::UsageCommand),
    /// Tenants' invoices: list, close months now, mark paid/void/uncollectible, credit notes.
    #[command(subcommand)]
    Invoice(billing::InvoiceCommand),
    /// Portal users: password reset links, for servers that send no email.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Bring the catalog and every tenant database to the current schema.
    Migrate,
    /// Print the GraphQL schema (SDL).
    Schema,
    /// Copy the catalog and tenant databases, consistently, while the server runs.
    Backup {
        /// Directory to write the backup to (must not already hold one).
        #[arg(long)]
        out: PathBuf,
        /// Back up only this tenant (plus the catalog).
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Restore a backup made by `voxedge backup` (`--from DIR`), one tenant to a point in time from the
    /// Litestream replica, online (`--tenant ID --at TIME`), or a whole data directory from the replica
    /// (`--from-replica`).
    Restore(Box<data::RestoreArgs>),
}

/// Parses the command line and runs it.
pub fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        // Only the server exports traces.
        let (otlp, region) = match &cli.command {
            Command::Serve(args) => (
                args.otlp_endpoint
                    .clone()
                    .map(|endpoint| crate::telemetry::OtlpSettings {
                        endpoint,
                        protocol: args.otlp_protocol,
                    }),
                args.region.clone(),
            ),
            _ => (None, None),
        };
        let telemetry = crate::telemetry::init(
            cli.log_format,
            std::io::stderr,
            otlp.as_ref(),
            region.as_deref(),
        )?;
        let result = dispatch(cli).await;
        telemetry.shutdown().await;
        result
    })
}

async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    let data_dir = cli.data_dir;
    match cli.command {
        Command::Serve(args) => serve(Config::from_args(data_dir, *args)).await,
        Command::Schema => {
            print!("{}", crate::graphql::sdl());
            Ok(())
        }
        Command::Tenant(tenant::TenantCommand::Move { tenant, to, server }) => {
            tenant::move_tenant(Config::for_data_dir(data_dir), tenant, to, server).await
        }
        Command::Tenant(command) => tenant::run(open_state(data_dir).await?, command).await,
        Command::Plan(command) => plan::run(open_state(data_dir).await?, command).await,
        Command::Usage(command) => billing::usage(open_state(data_dir).await?, command).await,
        Command::Invoice(command) => billing::invoice(open_state(data_dir).await?, command).await,
        Command::User(command) => user::run(open_state(data_dir).await?, command).await,
        Command::Migrate => data::migrate(open_state(data_dir).await?).await,
        Command::Backup { out, tenant } => {
            data::backup(Config::for_data_dir(data_dir), out, tenant).await
        }
        Command::Restore(args) => data::restore(Config::for_data_dir(data_dir), *args).await,
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    raise_file_limit();
    let app = Application::build(config).await?;
    app.run_until_stopped(crate::shutdown::signal()).await
}

/// Reads a `--tenant` argument.
fn tenant_id(text: &str) -> anyhow::Result<crate::db::TenantId> {
    text.parse()
        .with_context(|| format!("--tenant {text:?} is not a tenant id"))
}

/// Opens the data directory for a one-shot command (default settings; no listener).
async fn open_state(data_dir: PathBuf) -> anyhow::Result<AppState> {
    AppState::open(Config::for_data_dir(data_dir)).await
}

/// Each open tenant holds a few files (database, WAL, shared memory, per connection); raise the soft
/// descriptor limit to the hard limit so a large tenant cache fits.
fn raise_file_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "file descriptor limit"),
        Err(err) => tracing::warn!(error = %err, "cannot raise the file descriptor limit"),
    }
}
