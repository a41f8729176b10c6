//! A real SMTP server for the email tests: `scripts/test-smtp-server` (aiosmtpd) as a child process, reporting
//! every message it receives, parsed.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;

pub struct SmtpServer {
    child: Child,
    pub port: u16,
    mails: mpsc::UnboundedReceiver<Value>,
}

impl SmtpServer {
    /// On a free port.
    pub fn start() -> Self {
        Self::start_on(0)
    }

    /// On `port` (0: a free one).
    pub fn start_on(port: u16) -> Self {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/test-smtp-server");
        let mut child = Command::new(script)
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("scripts/test-smtp-server starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, mut mails) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(value) = serde_json::from_str::<Value>(&line)
                    && tx.send(value).is_err()
                {
                    break;
                }
            }
        });
        // The first line says where it listens (installing aiosmtpd the first time takes a while).
        let deadline = std::time::Instant::now() + Duration::from_secs(180);
        let first = loop {
            match mails.try_recv() {
                Ok(value) => break value,
                Err(_) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Err(e) => panic!("the SMTP server did not start: {e}"),
            }
        };
        let port = first["port"].as_u64().expect("port line") as u16;
        Self { child, port, mails }
    }

    /// `--smtp-url` for it.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The next message received (within 20 s).
    pub async fn next_mail(&mut self) -> Value {
        tokio::time::timeout(Duration::from_secs(20), self.mails.recv())
            .await
            .expect("an email within 20 s")
            .expect("the SMTP server runs")
    }

    /// Whether a message arrives within `wait`.
    pub async fn mail_within(&mut self, wait: Duration) -> Option<Value> {
        tokio::time::timeout(wait, self.mails.recv())
            .await
            .ok()
            .flatten()
    }

    /// Stops the server (its port closes).
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `token` of the first link to `path` (e.g. `/verify-email`) in `text`.
pub fn link_token(text: &str, path: &str) -> String {
    let start = text
        .find(&format!("{path}?token="))
        .unwrap_or_else(|| panic!("no {path} link in {text}"))
        + path.len()
        + "?token=".len();
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "_-".contains(*c))
        .collect()
}
