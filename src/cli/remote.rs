//! Commands that ask a running server (`tenant move`, `restore --at`): signed internal requests to `--server`,
//! which routes them to the tenant's home region like any request.

use std::time::Duration;

use anyhow::Context as _;
use serde_json::Value;

use crate::clock::Clock;
use crate::config::Config;
use crate::edge::internal::Internal;
use crate::secrets::Secrets;

/// Where a command's server is: `--server`, else `VOXEDGE_PUBLIC_URL`, else the default listen address.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArg {
    /// The server to ask (any region: requests are routed to the tenant's home). Default: --public-url, else
    /// http://127.0.0.1:8080.
    #[arg(long, env = "VOXEDGE_SERVER_URL")]
    pub server: Option<String>,
}

/// POSTs `body` to `path` on the server, signed with the master key, and prints the JSON answer.
pub async fn call(
    config: &Config,
    server: Option<String>,
    path: &str,
    body: Value,
    timeout: Duration,
) -> anyhow::Result<()> {
    let base = server
        .or_else(|| config.public_url.clone())
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let base = crate::config::parse_origin(&base).context("--server")?;
    let secret_key = config.secret_key.as_ref().map(|k| k.expose().as_str());
    let secrets = Secrets::load(secret_key, config.data_dir.root())
        .context("cannot load the server secret key (set VOXEDGE_SECRET_KEY as on the servers)")?;
    let internal = Internal::new(Some(base.clone()), secrets, Clock::new());
    let answer: Value = internal
        .post(None, path, &body, timeout)
        .await
        .with_context(|| format!("{base}{path}"))?;
    println!("{answer}");
    Ok(())
}
