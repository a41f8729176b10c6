//! A local S3-compatible server (moto, from PyPI through `scripts/fetch-s3-test-server`) for one test, with one
//! bucket, stopped when dropped. moto accepts any credentials but refuses unsigned reads of objects, so the
//! server is given [`S3Server::credentials`] and the test signs its own reads with them too.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use rusty_s3::{Bucket, Credentials, S3Action as _, UrlStyle};
use voxedge::edge::ReplicaCredentials;

/// The venv's python with moto.
fn python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let root = env!("CARGO_MANIFEST_DIR");
            let output = Command::new(format!("{root}/scripts/fetch-s3-test-server"))
                .output()
                .expect("scripts/fetch-s3-test-server runs");
            assert!(
                output.status.success(),
                "scripts/fetch-s3-test-server failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            PathBuf::from(String::from_utf8(output.stdout).expect("a path").trim())
        })
        .clone()
}

/// Starts moto on a free port and prints the port once it answers.
const START: &str = "
import logging, sys
from moto.server import ThreadedMotoServer
logging.getLogger('werkzeug').setLevel(logging.ERROR)
server = ThreadedMotoServer(ip_address='127.0.0.1', port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()
";

pub struct S3Server {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    pub bucket: String,
}

impl S3Server {
    /// moto with an empty bucket `bucket`.
    pub async fn start(bucket: &str) -> Self {
        let mut child = Command::new(python())
            .args(["-c", START])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("moto prints its port");
        let port: u16 = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("moto printed {line:?}"));
        let server = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            bucket: bucket.to_string(),
        };
        let created = reqwest::Client::new()
            .put(format!("{}/{bucket}", server.endpoint))
            .send()
            .await
            .expect("moto answers");
        assert!(created.status().is_success(), "bucket {bucket} created");
        server
    }

    /// The replica root URL for `prefix` in the bucket, as `deploy/litestream-config --replica-url` prints it.
    pub fn replica_url(&self, prefix: &str) -> String {
        format!(
            "s3://{}/{prefix}?endpoint={}&region=us-east-1&forcePathStyle=true",
            self.bucket, self.endpoint
        )
    }

    /// Test credentials (moto checks that requests are signed, not by whom).
    pub fn credentials() -> ReplicaCredentials {
        ReplicaCredentials {
            access_key_id: "test".into(),
            secret_access_key: "test".into(),
            session_token: None,
        }
    }

    /// The object at `key`, read straight from moto; `None` when there is none.
    pub async fn object(&self, key: &str) -> Option<Vec<u8>> {
        let bucket = Bucket::new(
            self.endpoint.parse().expect("a URL"),
            UrlStyle::Path,
            self.bucket.clone(),
            "us-east-1",
        )
        .expect("a bucket");
        let url = bucket
            .get_object(Some(&Credentials::new("test", "test")), key)
            .sign(Duration::from_secs(60));
        let response = reqwest::Client::new()
            .get(url)
            .send()
            .await
            .expect("moto answers");
        match response.status().as_u16() {
            200 => Some(response.bytes().await.expect("a body").to_vec()),
            404 => None,
            status => panic!("moto answered {status} for {key}"),
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
