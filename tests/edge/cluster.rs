//! Regions on one machine: a voxedge server per region (in this process, each with its own data directory), a real
//! `litestream replicate` per region shipping its data directory to one `file://` replica — as the release image's
//! entrypoint does, with the configuration `deploy/litestream-config` renders — and the replaying [`Proxy`] in
//! front. The first region is the primary; the others follow its catalog from the replica.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use voxedge::config::Config;
use voxedge::edge::ReplicaRoot;

use crate::proxy::Proxy;
use crate::support::{self, TestServer};

/// The master key every region shares (base64 of 32 bytes).
pub const SECRET_KEY: &str = "dm94ZWRnZS10ZXN0LWtleS0zMi1ieXRlcy1sb25nISE=";

/// The Litestream binary: `VOXEDGE_TEST_LITESTREAM`, else what `scripts/fetch-litestream` installs.
pub fn litestream() -> PathBuf {
    if let Some(path) = std::env::var_os("VOXEDGE_TEST_LITESTREAM").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(root.join("scripts/fetch-litestream"))
        .output()
        .expect("scripts/fetch-litestream runs");
    assert!(
        out.status.success(),
        "scripts/fetch-litestream failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// One region: its server and its Litestream.
pub struct Region {
    pub server: TestServer,
    pub data_dir: PathBuf,
    litestream: Child,
}

impl Drop for Region {
    fn drop(&mut self) {
        let _ = self.litestream.kill();
        let _ = self.litestream.wait();
    }
}

pub struct Cluster {
    pub proxy: Proxy,
    pub regions: BTreeMap<String, Region>,
    /// The region that owns the catalog.
    pub primary: String,
    /// The `file://` replica root every region writes to.
    pub replica: PathBuf,
    pub litestream: PathBuf,
    pub client: reqwest::Client,
    tmp: tempfile::TempDir,
}

impl Cluster {
    /// Starts `names` (the first is the primary); `configure` adjusts each region's server.
    pub async fn start(names: &[&str], configure: impl Fn(&str, &mut Config)) -> Self {
        support::install_crypto();
        let mut tmp = tempfile::tempdir().expect("temp dir");
        // To look at the data directories and the replica after a failure.
        if std::env::var_os("VOXEDGE_TEST_KEEP_DIRS").is_some() {
            tmp.disable_cleanup(true);
            eprintln!("keeping {}", tmp.path().display());
        }
        let replica = tmp.path().join("replica");
        let litestream = litestream();
        let proxy = Proxy::bind(names).await;
        let mut cluster = Self {
            proxy,
            regions: BTreeMap::new(),
            primary: names[0].to_string(),
            replica,
            litestream,
            client: reqwest::Client::new(),
            tmp,
        };
        for name in names {
            cluster.add_region(name, names[0], &configure).await;
        }
        cluster
    }

    async fn add_region(
        &mut self,
        name: &str,
        primary: &str,
        configure: &impl Fn(&str, &mut Config),
    ) {
        let data_dir = self.tmp.path().join(name);
        std::fs::create_dir_all(data_dir.join("tenants")).unwrap();
        let litestream = self.replicate(&data_dir, name, primary);
        let (replica, bin, public_url) = (
            format!("file://{}", self.replica.display()),
            self.litestream.clone(),
            // One public origin for the whole app, as on Fly (`https://app.fly.dev`): here the primary's entry;
            // Twilio signs and dials it, and regions reach each other through it with `fly-prefer-region`.
            self.proxy.url(primary),
        );
        let server = support::spawn_in(data_dir.clone(), |config| {
            // The agents' LLM stand-in is a local server.
            support::allow_loopback(config);
            config.edge.region = Some(name.into());
            config.edge.primary = Some(primary.into());
            config.edge.replica = Some(ReplicaRoot::parse(&replica).unwrap());
            config.edge.litestream = bin;
            config.edge.public_url = Some(public_url.clone());
            config.public_url = Some(public_url);
            config.secret_key = Some(voxedge::redact::Secret::new(SECRET_KEY.into()));
            // Litestream owns checkpoints, as the entrypoint arranges.
            config.sqlite.wal_autocheckpoint = 0;
            // The tests write faster than a free plan allows.
            config.rate_limits.graphql = voxedge::ratelimit::PlanLimits {
                free: 0,
                pro: 0,
                enterprise: 0,
            };
            configure(name, config);
        })
        .await;
        self.proxy.serve(name, server.addr);
        self.regions.insert(
            name.to_string(),
            Region {
                server,
                data_dir,
                litestream,
            },
        );
    }

    /// `litestream replicate` with the configuration the release image renders for this region.
    fn replicate(&self, data_dir: &Path, region: &str, primary: &str) -> Child {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let config = self.tmp.path().join(format!("litestream-{region}.yml"));
        let rendered = Command::new(root.join("deploy/litestream-config"))
            .env("VOXEDGE_DATA_DIR", data_dir)
            .env(
                "LITESTREAM_REPLICA_URL",
                format!("file://{}", self.replica.display()),
            )
            .env("VOXEDGE_REGION", region)
            .env("VOXEDGE_PRIMARY_REGION", primary)
            .output()
            .expect("deploy/litestream-config runs");
        assert!(
            rendered.status.success(),
            "{}",
            String::from_utf8_lossy(&rendered.stderr)
        );
        std::fs::write(&config, &rendered.stdout).unwrap();
        Command::new(&self.litestream)
            .args(["replicate", "-config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("litestream replicate starts")
    }

    pub fn region(&self, name: &str) -> &Region {
        &self.regions[name]
    }

    /// A GraphQL request through the entry of region `entry`.
    pub async fn gql(
        &self,
        entry: &str,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .post(format!("{}/graphql", self.proxy.url(entry)))
            .header("accept", "application/graphql-response+json")
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request through the proxy");
        let status = response.status();
        (status, response.json().await.expect("JSON body"))
    }

    /// Like [`gql`](Self::gql), expecting success; returns `data`.
    pub async fn gql_ok(
        &self,
        entry: &str,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> Value {
        let (status, body) = self.gql(entry, token, query, variables).await;
        assert!(
            status == StatusCode::OK && body.get("errors").is_none(),
            "{status}: {body}"
        );
        body["data"].clone()
    }

    /// The regions the last request to `path` went through.
    pub fn route_of(&self, path: &str) -> Vec<String> {
        self.proxy
            .hops(path)
            .last()
            .unwrap_or_else(|| panic!("no request to {path} went through the proxy"))
            .regions
            .clone()
    }

    /// Runs the `voxedge` binary with the shared key, the replica and a region's settings.
    pub fn voxedge(&self, region: &str, data_dir: &Path, args: &[&str]) -> std::process::Output {
        let output = support::process::voxedge()
            .arg("--data-dir")
            .arg(data_dir)
            .args(args)
            .env("VOXEDGE_SECRET_KEY", SECRET_KEY)
            .env("VOXEDGE_REGION", region)
            .env("VOXEDGE_PRIMARY_REGION", &self.primary)
            .env(
                "VOXEDGE_REPLICA_URL",
                format!("file://{}", self.replica.display()),
            )
            .env("VOXEDGE_LITESTREAM", &self.litestream)
            .env_remove("FLY_REGION")
            .env_remove("PRIMARY_REGION")
            .output()
            .expect("voxedge runs");
        assert!(
            output.status.success(),
            "voxedge {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// A fresh directory inside the cluster's temporary directory.
    pub fn fresh_dir(&self, name: &str) -> PathBuf {
        let dir = self.tmp.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}

/// Polls `probe` every 50 ms until it gives a value, for at most `within`; returns it and how long it took.
pub async fn wait_for<T, F, Fut>(what: &str, within: Duration, mut probe: F) -> (T, Duration)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = std::time::Instant::now();
    loop {
        if let Some(value) = probe().await {
            return (value, started.elapsed());
        }
        assert!(started.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
