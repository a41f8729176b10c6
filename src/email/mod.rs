//! Email: what voxedge mails to people (verification links, password resets, invitations, billing notices),
//! written to an outbox in the catalog and sent by a background [`Mailer`] task over SMTP.
//!
//! - [`templates`]: every email, in plain text and HTML.
//! - [`Mailer`]: queues emails (sealed with the server key: they hold single-use links) and sends them,
//!   retrying with backoff; queued emails survive a restart. Without `--smtp-url` an email is "sent" to the log
//!   instead — kind and redacted recipient only, never its links — and the API shows the link to whoever
//!   asked for it where that is safe (see the identity flows).

mod sender;
pub mod templates;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, Tokio1Executor};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::db::{Database, StorageError};
use crate::redact::Secret;
use crate::repo;
use crate::secrets::Secrets;

/// How email is sent (see the `--smtp-url`, `--email-*` settings).
#[derive(Debug, Clone)]
pub struct EmailSettings {
    /// `smtp://`, `smtps://` (TLS) or `smtp://...?tls=required` (STARTTLS), with credentials if the server
    /// needs them. `None`: emails go to the log.
    pub smtp_url: Option<Secret<String>>,
    /// The `From:` address, e.g. `voxedge <no-reply@example.com>`.
    pub from: String,
    /// Attempts per email before it is given up.
    pub max_attempts: u32,
    /// Delay before the first retry; each later one waits three times longer (at most an hour).
    pub retry_base: Duration,
}

impl Default for EmailSettings {
    fn default() -> Self {
        Self {
            smtp_url: None,
            from: "voxedge <no-reply@localhost>".into(),
            max_attempts: 8,
            retry_base: Duration::from_secs(30),
        }
    }
}

impl EmailSettings {
    /// Delay after the `attempts`-th failure: base × 3^(attempts−1), at most an hour.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let factor = 3u32.saturating_pow(attempts.saturating_sub(1));
        self.retry_base
            .saturating_mul(factor)
            .min(Duration::from_secs(3600))
    }
}

/// One email, rendered.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email {
    /// What it is (`verify_email`, `reset_password`, `invite`, `billing_...`): metrics and logs.
    pub kind: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Bodies hold links that act for the recipient: never printed.
impl std::fmt::Debug for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Email")
            .field("kind", &self.kind)
            .field("to", &crate::redact::email(&self.to))
            .finish_non_exhaustive()
    }
}

/// Queues and sends email. Cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    inner: Arc<Inner>,
}

struct Inner {
    settings: EmailSettings,
    /// Holds the outbox.
    catalog: Database,
    /// Seals queued messages.
    secrets: Secrets,
    from: Mailbox,
    /// `None`: no SMTP server configured; emails are logged.
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    wake: Notify,
}

impl Mailer {
    /// Checks the settings (the SMTP URL and the from address) without connecting anywhere.
    pub fn new(
        settings: EmailSettings,
        catalog: Database,
        secrets: Secrets,
    ) -> anyhow::Result<Self> {
        let from: Mailbox = settings
            .from
            .parse()
            .with_context(|| format!("--email-from {:?} is not an email address", settings.from))?;
        let transport = match &settings.smtp_url {
            Some(url) => {
                crate::brain::install_crypto_provider();
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
                    // Never echo the URL: it may hold the SMTP password.
                    .context("--smtp-url is not a usable SMTP URL")?
                    .timeout(Some(Duration::from_secs(30)))
                    .build();
                Some(transport)
            }
            None => None,
        };
        Ok(Self {
            inner: Arc::new(Inner {
                settings,
                catalog,
                secrets,
                from,
                transport,
                wake: Notify::new(),
            }),
        })
    }

    /// Whether emails really leave the server (an SMTP server is configured). When not, they are logged and
    /// flows show their links to the person who asked, where that is safe.
    pub fn delivers(&self) -> bool {
        self.inner.transport.is_some()
    }

    /// Queues `email` in the caller's catalog transaction (so it is sent if and only if the change that
    /// asked for it commits); call [`Mailer::wake`] once committed. Returns the email's id. The outbox keeps
    /// the system's time (when to send is about the real world, not the identity clock tests move).
    pub fn queue_in(&self, conn: &Connection, email: &Email) -> Result<String, StorageError> {
        let now = crate::clock::now_ms();
        let id = crate::db::new_id();
        let plain = serde_json::to_vec(email)?;
        let sealed = self.inner.secrets.encrypt(&plain, &seal_context(&id));
        repo::email::enqueue(conn, &id, &email.kind, &sealed, now)?;
        Ok(id)
    }

    /// Queues `email` on its own and wakes the sender.
    pub async fn queue(&self, email: Email) -> Result<String, StorageError> {
        let this = self.clone();
        let id = self
            .inner
            .catalog
            .write(move |tx| this.queue_in(tx, &email))
            .await?;
        self.wake();
        Ok(id)
    }

    /// Tells the sender something was queued.
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Sends queued emails until `stop` resolves.
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) {
        sender::run(self, stop).await;
    }
}

/// What a queued message is sealed to: its own id, so one row's ciphertext cannot stand in for another's.
fn seal_context(id: &str) -> String {
    format!("email-outbox:{id}")
}

/// Minimal HTML escaping for values placed in templates (names, tenant names).
pub fn escape_html(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_by_three_and_is_capped() {
        let settings = EmailSettings::default();
        assert_eq!(settings.backoff(1), Duration::from_secs(30));
        assert_eq!(settings.backoff(2), Duration::from_secs(90));
        assert_eq!(settings.backoff(30), Duration::from_secs(3600));
    }

    #[test]
    fn html_is_escaped_and_bodies_are_never_printed() {
        assert_eq!(
            escape_html(r#"<b>"Tom" & 'Jerry'</b>"#),
            "&lt;b&gt;&quot;Tom&quot; &amp; &#39;Jerry&#39;&lt;/b&gt;"
        );
        let email = Email {
            kind: "reset_password".into(),
            to: "ada@example.com".into(),
            subject: "s".into(),
            text: "https://x/reset-password?token=vxp_secret".into(),
            html: String::new(),
        };
        let shown = format!("{email:?}");
        assert!(
            !shown.contains("vxp_secret") && !shown.contains("ada@"),
            "{shown}"
        );
    }
}
