//! Test harness: every test gets its own server on 127.0.0.1:0 with its own temporary data directory,
//! and talks to it with real HTTP and WebSocket clients.
#![allow(dead_code)]

pub mod process;
pub mod s3;
pub mod smtp;
pub mod twilio;
pub mod voice;
pub mod ws;

use std::net::SocketAddr;
use std::path::PathBuf;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use voxedge::app::Application;
use voxedge::auth::keys;
use voxedge::config::Config;
use voxedge::db::TenantId;
use voxedge::model::Role;
use voxedge::state::AppState;

pub struct TestServer {
    pub addr: SocketAddr,
    pub state: AppState,
    pub client: reqwest::Client,
    pub data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// A tenant made for a test, with an owner key.
#[derive(Debug, Clone)]
pub struct TestTenant {
    pub id: TenantId,
    pub key: String,
}

pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Lets tenants' URLs reach 127.0.0.1, where tests run their webhook receivers and LLM stand-ins
/// (`--allow-outbound 127.0.0.1/32`).
pub fn allow_loopback(config: &mut Config) {
    config.outbound = loopback();
}

/// The outbound policy of [`allow_loopback`].
pub fn loopback() -> voxedge::outbound::OutboundPolicy {
    voxedge::outbound::OutboundPolicy::parse("127.0.0.1/32").expect("a valid range")
}

pub async fn spawn() -> TestServer {
    spawn_with(|_| {}).await
}

pub async fn spawn_with(configure: impl FnOnce(&mut Config)) -> TestServer {
    let tmp = tempfile::tempdir().expect("temp dir");
    let mut server = spawn_in(tmp.path().to_path_buf(), configure).await;
    server._tmp = Some(tmp);
    server
}

/// A server over an existing data directory (the caller keeps it alive).
pub async fn spawn_in(data_dir: PathBuf, configure: impl FnOnce(&mut Config)) -> TestServer {
    install_crypto();
    // Logs go to the test harness's captured output: shown only when a test fails.
    voxedge::telemetry::init_tracing(
        voxedge::telemetry::LogFormat::Text,
        tracing_subscriber::fmt::TestWriter::new(),
    );
    let mut config = Config::for_data_dir(&data_dir);
    configure(&mut config);
    let app = Application::build(config).await.expect("server builds");
    let addr = app.local_addr();
    let state = app.state().clone();
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    TestServer {
        addr,
        state,
        client: reqwest::Client::new(),
        data_dir,
        _tmp: None,
        stop: Some(stop),
        task,
    }
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{}", self.addr, path)
    }

    /// Creates a tenant and an owner key through the same code the CLI uses.
    pub async fn tenant(&self, name: &str) -> TestTenant {
        let record =
            voxedge::tenants::provision(&self.state.catalog, &self.state.tenants, name, None)
                .await
                .expect("tenant provisioned");
        let key = self.key(record.id, Role::Owner).await;
        TestTenant { id: record.id, key }
    }

    /// An extra key with `role` for tenant `id`.
    pub async fn key(&self, id: TenantId, role: Role) -> String {
        let db = self.state.tenants.get(id).await.expect("tenant opens");
        keys::create(
            &db,
            id,
            Role::Owner,
            "cli".into(),
            keys::NewApiKey {
                name: format!("{role} key"),
                role,
                expires_at: None,
            },
        )
        .await
        .expect("key issued")
        .key
    }

    /// POSTs a GraphQL request as `application/json` with `Accept: application/graphql-response+json`.
    pub async fn gql(
        &self,
        key: Option<&str>,
        query: &str,
        variables: Value,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .post(self.url("/graphql"))
            .header("accept", "application/graphql-response+json")
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let body = response.json().await.expect("JSON body");
        (status, body)
    }

    /// Creates an agent named `name` with `config` (an `AgentConfigInput`); returns its id.
    pub async fn create_agent(&self, key: &str, name: &str, config: Value) -> String {
        let (_, body) = self
            .gql(
                Some(key),
                "mutation($name: String!, $config: AgentConfigInput!) { createAgent(input: {name: $name, config: $config}) { id } }",
                json!({ "name": name, "config": config }),
            )
            .await;
        body["data"]["createAgent"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("agent created: {body}"))
            .to_string()
    }

    /// Creates a call record for `agent`; `input` holds the other `CreateCallInput` fields (`direction`,
    /// `transport`, `from`, ...). Returns its id.
    pub async fn create_call(&self, key: &str, agent: &str, input: Value) -> String {
        let mut input = input;
        input["agentId"] = json!(agent);
        let (_, body) = self
            .gql(
                Some(key),
                "mutation($input: CreateCallInput!) { createCall(input: $input) { id } }",
                json!({ "input": input }),
            )
            .await;
        body["data"]["createCall"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("call created: {body}"))
            .to_string()
    }

    /// Moves `call` to `status` (`IN_PROGRESS`, `COMPLETED`, ...) for `reason`; returns the raw response, whose
    /// `updateCallStatus` has the call's `id status endedReason answeredAt endedAt durationMs`.
    pub async fn set_call_status(
        &self,
        key: &str,
        call: &str,
        status: &str,
        reason: Option<&str>,
    ) -> Value {
        let (_, body) = self
            .gql(
                Some(key),
                "mutation($c: ID!, $s: CallStatus!, $r: String) { updateCallStatus(id: $c, status: $s, reason: $r) { id status endedReason answeredAt endedAt durationMs } }",
                json!({ "c": call, "s": status, "r": reason }),
            )
            .await;
        body
    }

    /// The id of the tenant's newest call, waiting (up to 5 s) for one to exist: a Twilio socket says nothing
    /// back, so tests find its call through the API.
    pub async fn latest_call(&self, key: &str) -> String {
        for _ in 0..100 {
            let (_, body) = self
                .gql(
                    Some(key),
                    "{ calls(first: 1) { edges { node { id } } } }",
                    json!({}),
                )
                .await;
            if let Some(id) = body["data"]["calls"]["edges"][0]["node"]["id"].as_str() {
                return id.to_string();
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("no call was created");
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task)
            .await
            .expect("server task")
            .expect("server exits cleanly");
    }
}

/// A password every test user has (long, uncommon, unrelated to the emails).
pub const PASSWORD: &str = "correct horse battery staple";

/// The fields of an `AuthPayload` tests read.
pub const AUTH_FIELDS: &str =
    "accessToken refreshToken accessTokenExpiresAt user { id email } tenant { id name } role";

/// A signed-up user with a session in their own tenant.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub email: String,
    pub user_id: String,
    pub tenant_id: String,
    pub access: String,
    pub refresh: String,
}

impl TestUser {
    fn from_payload(email: &str, payload: &Value) -> Self {
        let text = |v: &Value| {
            v.as_str()
                .unwrap_or_else(|| panic!("auth payload: {payload}"))
                .to_string()
        };
        Self {
            email: email.to_string(),
            user_id: text(&payload["user"]["id"]),
            tenant_id: text(&payload["tenant"]["id"]),
            access: text(&payload["accessToken"]),
            refresh: text(&payload["refreshToken"]),
        }
    }
}

impl TestServer {
    /// Signs up `email` (password [`PASSWORD`]) with a new tenant named `tenant`.
    pub async fn sign_up(&self, email: &str, tenant: &str) -> TestUser {
        let (status, body) = self
            .gql(
                None,
                &format!("mutation($input: SignUpInput!) {{ signUp(input: $input) {{ {AUTH_FIELDS} }} }}"),
                json!({ "input": { "email": email, "password": PASSWORD, "tenantName": tenant, "name": "Test User" } }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        TestUser::from_payload(email, &body["data"]["signUp"])
    }

    /// Signs in; returns the raw response.
    pub async fn login(&self, email: &str, password: &str) -> (StatusCode, Value) {
        self.gql(
            None,
            &format!(
                "mutation($input: LoginInput!) {{ login(input: $input) {{ {AUTH_FIELDS} }} }}"
            ),
            json!({ "input": { "email": email, "password": password } }),
        )
        .await
    }

    /// Signs in and expects success.
    pub async fn login_ok(&self, email: &str) -> TestUser {
        let (status, body) = self.login(email, PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        TestUser::from_payload(email, &body["data"]["login"])
    }
}

/// The `extensions.code` of the first error.
pub fn error_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("<no code>")
}

/// Number of open file descriptors of this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}
