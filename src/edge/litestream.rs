//! Running Litestream: one-shot restores (to a point in time) and the catalog follower (`restore -f`).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

use super::EdgeError;

/// The Litestream executable.
#[derive(Debug, Clone)]
pub struct Litestream {
    bin: PathBuf,
}

impl Litestream {
    pub fn new(bin: PathBuf) -> Self {
        Self { bin }
    }

    /// Restores the database replicated at `url` into `out` (which must not exist), as it was at `at`
    /// (RFC 3339) or, without it, as it is now.
    pub async fn restore(&self, url: &str, out: &Path, at: Option<&str>) -> Result<(), EdgeError> {
        self.run_restore(url, out, at, false).await
    }

    /// Like [`restore`](Self::restore), but a replica that does not exist is not an error: returns whether
    /// anything was restored.
    pub async fn restore_if_exists(
        &self,
        url: &str,
        out: &Path,
        at: Option<&str>,
    ) -> Result<bool, EdgeError> {
        self.run_restore(url, out, at, true).await?;
        Ok(out.exists())
    }

    async fn run_restore(
        &self,
        url: &str,
        out: &Path,
        at: Option<&str>,
        if_exists: bool,
    ) -> Result<(), EdgeError> {
        let mut command = Command::new(&self.bin);
        command.arg("restore");
        if if_exists {
            command.arg("-if-replica-exists");
        }
        if let Some(at) = at {
            command.args(["-timestamp", at]);
        }
        command.arg("-o").arg(out).arg(url);
        let output = command
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|e| self.spawn_failed(e))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(EdgeError::Replica(format!(
                "litestream restore of {} failed: {}",
                redact_url(url),
                last_line(&stderr)
            )));
        }
        Ok(())
    }

    /// Starts following the database replicated at `url` into `out`: restores it, then applies new changes
    /// every `interval` until killed. Its log lines go to `lines`.
    pub fn follow(
        &self,
        url: &str,
        out: &Path,
        interval: Duration,
    ) -> Result<(Child, tokio::sync::mpsc::UnboundedReceiver<String>), EdgeError> {
        let mut child = Command::new(&self.bin)
            .args(["restore", "-f", "-follow-interval"])
            .arg(format!("{}ms", interval.as_millis().max(1)))
            .arg("-o")
            .arg(out)
            .arg(url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| self.spawn_failed(e))?;
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Ok((child, rx))
    }

    fn spawn_failed(&self, err: std::io::Error) -> EdgeError {
        EdgeError::Replica(format!(
            "cannot run {} (set --litestream): {err}",
            self.bin.display()
        ))
    }
}

/// A replica URL for logs and messages: the query (S3 endpoint and options) dropped.
pub fn redact_url(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

/// The last non-empty line of Litestream's output (its error), without the log prefix.
fn last_line(text: &str) -> String {
    let line = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no output");
    line.split_once("msg=")
        .map_or(line, |(_, msg)| msg)
        .trim()
        .chars()
        .take(300)
        .collect()
}
