//! Running the real `voxedge` binary.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub fn voxedge() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_voxedge"));
    command
        .env_remove("VOXEDGE_DATA_DIR")
        .env("VOXEDGE_LOG", "info");
    command
}

/// Runs a CLI command on `data_dir`; panics with its stderr if it fails.
pub fn run_ok(data_dir: &Path, args: &[&str]) -> Output {
    let output = voxedge()
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .expect("voxedge runs");
    assert!(
        output.status.success(),
        "voxedge {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

pub fn stdout_json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// `voxedge serve` as a child process on port 0.
pub struct ServerProcess {
    pub child: Child,
    pub addr: SocketAddr,
    /// Log lines after start-up (JSON).
    pub logs: mpsc::Receiver<String>,
}

impl ServerProcess {
    pub fn start(data_dir: &Path, extra: &[&str]) -> Self {
        Self::spawn(data_dir, "127.0.0.1:0", extra, &[])
    }

    /// `voxedge serve` listening on `listen` (a restart that must keep its address).
    pub fn start_on(data_dir: &Path, listen: &str, extra: &[&str]) -> Self {
        Self::spawn(data_dir, listen, extra, &[])
    }

    /// [`ServerProcess::start`] with extra environment variables.
    pub fn start_with_env(data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Self {
        Self::spawn(data_dir, "127.0.0.1:0", extra, env)
    }

    fn spawn(data_dir: &Path, listen: &str, extra: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = voxedge()
            .envs(env.iter().copied())
            .arg("--data-dir")
            .arg(data_dir)
            .args(["serve", "--listen", listen])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("voxedge serve starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, logs) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let addr = loop {
            let line = logs
                .recv_timeout(Duration::from_secs(30))
                .expect("server logs its address");
            let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if entry["message"] == "voxedge listening" {
                break entry["address"]
                    .as_str()
                    .expect("address field")
                    .parse()
                    .expect("socket address");
            }
        };
        Self { child, addr, logs }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Waits for exit (up to `timeout`), returning the exit code.
    pub fn wait(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.code();
            }
            if std::time::Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
