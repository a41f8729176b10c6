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

/// Why an attempt failed, and whether trying again can help.
struct Failure {
    message: String,
    permanent: bool,
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
                let give_up = failure.permanent || attempts >= settings.max_attempts;
                let retry_at =
                    (!give_up).then(|| now + settings.backoff(attempts).as_millis() as i64);
                let outcome = if give_up { "gave_up" } else { "retry" };
                tracing::warn!(email_id = %row.id, kind = %row.kind, attempts, error = %failure.message, outcome, "email not sent");
                metrics::counter!("voxedge_emails_total", "kind" => kind, "outcome" => outcome)
                    .increment(1);
                let message = failure.message;
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
    async fn send(&self, row: &OutboxRow) -> Result<&'static str, Failure> {
        let permanent = |message: &str| Failure {
            message: message.to_string(),
            permanent: true,
        };
        let sealed = row
            .sealed
            .as_deref()
            .ok_or_else(|| permanent("the message is gone"))?;
        let plain = self
            .inner
            .secrets
            .decrypt(sealed, &seal_context(&row.id))
            .map_err(|_| permanent("cannot unseal the message (the server key changed)"))?;
        let email: Email = serde_json::from_slice(plain.expose())
            .map_err(|_| permanent("the queued message is unreadable"))?;
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
        let to: Mailbox = email
            .to
            .parse()
            .map_err(|_| permanent("the recipient is not a valid address"))?;
        let message = lettre::Message::builder()
            .from(self.inner.from.clone())
            .to(to)
            .subject(email.subject)
            .message_id(Some(format!("<{}@voxedge>", row.id)))
            .multipart(MultiPart::alternative_plain_html(email.text, email.html))
            .map_err(|e| permanent(&format!("cannot build the message: {e}")))?;
        match transport.send(message).await {
            Ok(_) => {
                tracing::info!(email_id = %row.id, kind = %email.kind, to = %redact::email(&email.to), "email sent");
                Ok("sent")
            }
            Err(e) => Err(Failure {
                permanent: e.is_permanent(),
                // lettre's messages name the server's reply, never the message or credentials.
                message: e.to_string(),
            }),
        }
    }
}
