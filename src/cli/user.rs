//! `voxedge user reset-link`: a password reset link an operator hands to a user, for servers that send no email
//! (and for users whose mail does not arrive).

use clap::Subcommand;
use serde_json::json;

use crate::state::AppState;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Print a single-use password reset link for EMAIL's account (valid for --password-reset-ttl-secs,
    /// default 1 hour). Prints {"link", "expires_at"}; deliver it to the user yourself.
    ResetLink {
        /// The account's email address.
        #[arg(long)]
        email: String,
        /// The portal's origin, e.g. https://voxedge.fly.dev (the server's --public-url).
        #[arg(long, env = "VOXEDGE_PUBLIC_URL", value_parser = crate::config::parse_origin)]
        public_url: String,
        /// Seconds the link works.
        #[arg(long, env = "VOXEDGE_PASSWORD_RESET_TTL_SECS", default_value_t = 3600)]
        ttl_secs: u64,
    },
}

pub async fn run(state: AppState, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::ResetLink {
            email,
            public_url,
            ttl_secs,
        } => {
            let ttl = std::time::Duration::from_secs(ttl_secs);
            let (link, expires_at) = state
                .identity
                .operator_reset_link(&email, &public_url, ttl)
                .await?;
            println!(
                "{}",
                json!({ "link": link.expose(), "expires_at": crate::clock::datetime(expires_at) })
            );
        }
    }
    Ok(())
}
