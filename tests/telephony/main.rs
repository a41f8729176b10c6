//! Telephony through the real server: the Twilio account and phone numbers over GraphQL, and Twilio's
//! signed voice webhook over HTTP, signed here independently of the server's code (HMAC-SHA1 over the
//! exact URL posted to, parameters sorted by name) the way Twilio does.

#[path = "../support/mod.rs"]
mod support;

mod config;
mod outbound;
mod status;
mod voice;

// Helpers shared by the test modules, which `use crate::*`.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::TestServer;

pub(crate) const SID_A: &str = "AC0123456789abcdef0123456789abcdef";
pub(crate) const TOKEN_A: &str = "aaaa1111bbbb2222cccc3333dddd4444";
pub(crate) const SID_B: &str = "ACfedcba9876543210fedcba9876543210";
pub(crate) const TOKEN_B: &str = "0b0b0b0b1c1c1c1c2d2d2d2d3e3e9f9f";

/// `data.<field>` of a successful response.
pub(crate) fn data<'a>(body: &'a Value, field: &str) -> &'a Value {
    assert!(body.get("errors").is_none(), "{body}");
    &body["data"][field]
}

pub(crate) async fn set_account(server: &TestServer, key: &str, sid: &str, token: &str) -> Value {
    let (_, body) = server
        .gql(
            Some(key),
            "mutation($i: SetTwilioAccountInput!) { setTwilioAccount(input: $i) { accountSid authTokenLast4 voiceUrl createdAt updatedAt } }",
            json!({ "i": { "accountSid": sid, "authToken": token } }),
        )
        .await;
    data(&body, "setTwilioAccount").clone()
}

pub(crate) async fn agent(server: &TestServer, key: &str, name: &str) -> String {
    server
        .create_agent(key, name, json!({ "systemPrompt": "Hi" }))
        .await
}

pub(crate) const ADD_NUMBER: &str = "mutation($i: AddPhoneNumberInput!) { addPhoneNumber(input: $i) { id number label agentId agent { id name } } }";

pub(crate) async fn add_number(
    server: &TestServer,
    key: &str,
    number: &str,
    agent: &str,
) -> String {
    let (_, body) = server
        .gql(
            Some(key),
            ADD_NUMBER,
            json!({ "i": { "number": number, "agentId": agent } }),
        )
        .await;
    data(&body, "addPhoneNumber")["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// `X-Twilio-Signature` as Twilio computes it.
pub(crate) fn twilio_signature(token: &str, url: &str, params: &[(&str, &str)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort();
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(token.as_bytes()).unwrap();
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Parameters of an inbound call to `to`, as Twilio sends them (a subset).
pub(crate) fn call_params<'a>(to: &'a str, from: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("AccountSid", SID_A),
        ("ApiVersion", "2010-04-01"),
        ("CallSid", "CA0123456789abcdef0123456789abcdef"),
        ("CallStatus", "ringing"),
        ("Direction", "inbound"),
        ("From", from),
        ("To", to),
    ]
}

/// A voice webhook response.
pub(crate) struct Answer {
    pub status: StatusCode,
    pub content_type: String,
    pub body: String,
}

impl Answer {
    /// The error code of a refused webhook.
    pub fn code(&self) -> String {
        let body: Value = serde_json::from_str(&self.body)
            .unwrap_or_else(|_| panic!("{}: {}", self.status, self.body));
        support::error_code(&body).to_string()
    }

    /// A `<Parameter>` of the `<Stream>`.
    pub fn parameter(&self, name: &str) -> String {
        let marker = format!("<Parameter name=\"{name}\" value=\"");
        let start = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no {name} parameter in {}", self.body))
            + marker.len();
        let end = self.body[start..].find('"').unwrap() + start;
        self.body[start..end].to_string()
    }
}

/// POSTs a form to `path` (with any query) on the test server, with optional signature and headers.
pub(crate) async fn post_voice(
    server: &TestServer,
    path: &str,
    params: &[(&str, &str)],
    signature: Option<&str>,
    headers: &[(&str, &str)],
) -> Answer {
    let mut request = server
        .client
        .post(server.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(params).unwrap());
    if let Some(signature) = signature {
        request = request.header("x-twilio-signature", signature);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("request sent");
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    Answer {
        status,
        content_type,
        body: response.text().await.unwrap(),
    }
}

/// Signs `params` over `signed_url` with `token` and posts them to `path`.
pub(crate) async fn signed_post(
    server: &TestServer,
    token: &str,
    signed_url: &str,
    path: &str,
    params: &[(&str, &str)],
) -> Answer {
    let signature = twilio_signature(token, signed_url, params);
    post_voice(server, path, params, Some(&signature), &[]).await
}
