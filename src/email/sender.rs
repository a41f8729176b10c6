//! The background task that sends the outbox: wakes when something is queued or comes due, sends each due
//! email (over SMTP, or to the log when none is configured), and records the outcome. Transient failures retry
//! with backoff until the attempt budget is spent; a permanent refusal (an SMTP 5xx) gives up at once.

use std::time::Duration;

use lettre::AsyncTransport as _;
use lettre::message::{Mailbox, MultiPart};

use super::{Email, Mailer, seal_context};
use crate::clock::now_ms;
use crate::redact;
use crate::repo;
use crate::repo::email::OutboxRow;

/// Finished emails are forgotten after this long (their rows only say what was sent when).
const KEEP_FINISHED: Duration = Duration::from_secs(30 * 24 * 3600);

/// Why an attempt failed. Its text is recorded on the outbox row; [`SendError::is_permanent`] says whether
/// trying again can help.
#[derive(Debug, thiserror::Error)]
enum SendError {
    #[error("the message is gone")]
    Gone,
    #[error("cannot unseal the message (the server key changed)")]
    Unseal(#[from] crate::secrets::SecretsError),
    #[error("the queued message is unreadable")]
    Unreadable(#[from] serde_json::Error),
    #[error("the recipient is not a valid address")]
    Recipient(#[from] lettre::address::AddressError),
    #[error("cannot build the message: {0}")]
    Build(#[from] lettre::error::Error),
    /// lettre's messages name the server's reply, never the message or credentials.
    #[error(transparent)]
    Smtp(#[from] lettre::transport::smtp::Error),
}

impl SendError {
    /// An SMTP failure is permanent only for a 5xx refusal; a message we cannot open or build never will be.
    fn is_permanent(&self) -> bool {
        match self {
            Self::Smtp(e) => e.is_permanent(),
            _ => true,
        }
    }
}

pub(super) async fn run(mailer: Mailer, stop: impl std::future::Future<Output = ()>) {
    tokio::pin!(stop);
    let catalog = mailer.inner.catalog.clone();
    let mut last_purge = 0;
    loop {
        let now = now_ms();
        let due = catalog
            .read(move |conn| repo::email::due(conn, now, 32))
            .await
            .unwrap_or_else(|err| {
                tracing::error!(error = %err, "cannot read the email outbox");
                Vec::new()
            });
        let busy = !due.is_empty();
        for row in due {
            mailer.attempt(row).await;
        }
        if now - last_purge > 3_600_000 {
            last_purge = now;
            let before = now - KEEP_FINISHED.as_millis() as i64;
            if let Err(err) = catalog
                .write(move |tx| repo::email::purge_finished(tx, before))
                .await
            {
                tracing::warn!(error = %err, "cannot purge the email outbox");
            }
        }
        if busy {
            continue;
        }
        let next = catalog.read(repo::email::next_due).await.ok().flatten();
        let wait = next.map_or(Duration::from_secs(60), |at| {
            Duration::from_millis((at - now_ms()).clamp(0, 60_000) as u64)
        });
        tokio::select! {
            () = &mut stop => break,
            () = mailer.inner.wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

impl Mailer {
    async fn attempt(&self, row: OutboxRow) {
        let outcome = self.send(&row).await;
        let settings = &self.inner.settings;
        let now = now_ms();
        let id = row.id.clone();
        let kind = row.kind.clone();
        let recorded = match outcome {
            Ok(status) => {
                metrics::counter!("voxedge_emails_total", "kind" => kind, "outcome" => status)
                    .increment(1);
                self.inner
                    .catalog
                    .write(move |tx| repo::email::mark_sent(tx, &id, status, now))
                    .await
            }
            Err(failure) => {
                let attempts = u32::try_from(row.attempts + 1).unwrap_or(u32::MAX);
                let give_up = failure.is_permanent() || attempts >= settings.max_attempts;
                let retry_at =
                    (!give_up).then(|| now + settings.backoff(attempts).as_millis() as i64);
                let outcome = if give_up { "gave_up" } else { "retry" };
                tracing::warn!(email_id = %row.id, kind = %row.kind, attempts, error = %failure, outcome, "email not sent");
                metrics::counter!("voxedge_emails_total", "kind" => kind, "outcome" => outcome)
                    .increment(1);
                let message = failure.to_string();
                self.inner
                    .catalog
                    .write(move |tx| repo::email::mark_failed(tx, &id, &message, retry_at))
                    .await
            }
        };
        if let Err(err) = recorded {
            tracing::error!(email_id = %row.id, error = %err, "cannot record an email attempt");
        }
    }

    /// Sends one queued email; `Ok("sent")`, or `Ok("logged")` without an SMTP server.
    async fn send(&self, row: &OutboxRow) -> Result<&'static str, SendError> {
        let sealed = row.sealed.as_deref().ok_or(SendError::Gone)?;
        let plain = self.inner.secrets.decrypt(sealed, &seal_context(&row.id))?;
        let email: Email = serde_json::from_slice(plain.expose())?;
        let Some(transport) = &self.inner.transport else {
            tracing::info!(
                email_id = %row.id,
                kind = %email.kind,
                to = %redact::email(&email.to),
                subject = %email.subject,
                "email not sent: no --smtp-url configured (logged instead)"
            );
            return Ok("logged");
        };
        let to: Mailbox = email.to.parse()?;
        let message = lettre::Message::builder()
            .from(self.inner.from.clone())
            .to(to)
            .subject(email.subject)
            .message_id(Some(format!("<{}@voxedge>", row.id)))
            .multipart(MultiPart::alternative_plain_html(email.text, email.html))?;
        transport.send(message).await?;
        tracing::info!(email_id = %row.id, kind = %email.kind, to = %redact::email(&email.to), "email sent");
        Ok("sent")
    }
}
