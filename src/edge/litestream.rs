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
        let Some(at) = at else {
            return self.restore_to(url, out, Target::Latest, if_exists).await;
        };
        match self.restore_to(url, out, Target::Time(at), if_exists).await {
            // Litestream refuses a time after the newest file it shipped, though the database then was simply its
            // latest state: restore that, pinned to the newest transaction listed now, so that a change shipped
            // meanwhile (after `at`) stays out.
            Err(EdgeError::Replica(message)) if message.ends_with("timestamp does not exist") => {
                match self.newest_txid_before(url, at).await? {
                    Some(txid) => {
                        self.restore_to(url, out, Target::Txid(&txid), if_exists)
                            .await
                    }
                    None => Err(EdgeError::Replica(message)),
                }
            }
            other => other,
        }
    }

    /// The newest transaction of the replica at `url` if every file it holds was shipped before `at`.
    async fn newest_txid_before(&self, url: &str, at: &str) -> Result<Option<String>, EdgeError> {
        #[derive(serde::Deserialize)]
        struct File {
            max_txid: String,
            timestamp: String,
        }
        let output = self
            .output(Command::new(&self.bin).args(["ltx", "-level", "all", "-json", url]))
            .await?;
        if !output.status.success() {
            return Err(EdgeError::Replica(format!(
                "litestream cannot list {}: {}",
                redact_url(url),
                last_line(&String::from_utf8_lossy(&output.stderr))
            )));
        }
        let files: Vec<File> = serde_json::from_slice(&output.stdout).map_err(|e| {
            EdgeError::Replica(format!(
                "litestream listed {} unreadably: {e}",
                redact_url(url)
            ))
        })?;
        let time = |value: &str| chrono::DateTime::parse_from_rfc3339(value).ok();
        let Some(at) = time(at) else {
            return Ok(None);
        };
        // Listed times are whole seconds, cut down: a file listed at `t` was shipped before `t + 1 s`.
        let newest = files.iter().filter_map(|f| time(&f.timestamp)).max();
        let shipped_before = newest.is_some_and(|t| t + chrono::Duration::seconds(1) <= at);
        Ok(shipped_before
            .then(|| files.into_iter().map(|f| f.max_txid).max())
            .flatten())
    }

    async fn restore_to(
        &self,
        url: &str,
        out: &Path,
        target: Target<'_>,
        if_exists: bool,
    ) -> Result<(), EdgeError> {
        let mut command = Command::new(&self.bin);
        command.arg("restore");
        if if_exists {
            command.arg("-if-replica-exists");
        }
        match target {
            Target::Latest => {}
            Target::Time(at) => {
                command.args(["-timestamp", at]);
            }
            Target::Txid(txid) => {
                command.args(["-txid", txid]);
            }
        }
        command.arg("-o").arg(out).arg(url);
        let output = self.output(&mut command).await?;
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
    /// every `interval` until killed. Its log lines (Litestream logs to stdout, errors to stderr) go to the
    /// receiver.
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
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| self.spawn_failed(e))?;
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        if let Some(stdout) = child.stdout.take() {
            forward_lines(stdout, tx.clone());
        }
        if let Some(stderr) = child.stderr.take() {
            forward_lines(stderr, tx);
        }
        Ok((child, rx))
    }

    /// Runs `command` to completion (no stdin; killed if dropped).
    async fn output(&self, command: &mut Command) -> Result<std::process::Output, EdgeError> {
        command
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|e| self.spawn_failed(e))
    }

    fn spawn_failed(&self, err: std::io::Error) -> EdgeError {
        EdgeError::Replica(format!(
            "cannot run {} (set --litestream): {err}",
            self.bin.display()
        ))
    }
}

/// What state of a replica to restore.
enum Target<'a> {
    Latest,
    /// An RFC 3339 time.
    Time(&'a str),
    /// A transaction id, in hex as Litestream lists it.
    Txid(&'a str),
}

fn forward_lines(
    output: impl tokio::io::AsyncRead + Unpin + Send + 'static,
    tx: tokio::sync::mpsc::UnboundedSender<String>,
) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(output).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
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
