//! `placeCall` against a local server speaking Twilio's REST API (`Calls.json`: basic auth, form body).

use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::response::IntoResponse;
use axum::routing::post;
use base64::Engine as _;

use crate::support::{self, error_code};
use crate::*;

/// One request Twilio received: account in the path, the basic-auth pair, the form.
#[derive(Debug, Clone)]
struct Received {
    account: String,
    auth: Option<(String, String)>,
    form: Vec<(String, String)>,
}

#[derive(Clone, Default)]
struct FakeTwilio {
    received: Arc<Mutex<Vec<Received>>>,
}

fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let encoded = headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let (user, password) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

async fn create_call(
    State(fake): State<FakeTwilio>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: String,
) -> impl IntoResponse {
    let form: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap();
    let auth = basic_auth(&headers);
    fake.received.lock().unwrap().push(Received {
        account: account.clone(),
        auth: auth.clone(),
        form: form.clone(),
    });
    if auth != Some((SID_A.to_string(), TOKEN_A.to_string())) || account != SID_A {
        let error = json!({ "code": 20003, "message": "Authenticate", "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401 });
        return (AxumStatus::UNAUTHORIZED, axum::Json(error));
    }
    let to = form.iter().find(|(k, _)| k == "To").map(|(_, v)| v.clone());
    let created = json!({ "sid": "CAfeedfeedfeedfeedfeedfeedfeedfeed", "status": "queued", "to": to, "account_sid": account });
    (AxumStatus::CREATED, axum::Json(created))
}

impl FakeTwilio {
    async fn start() -> (Self, String) {
        let fake = FakeTwilio::default();
        let app = axum::Router::new()
            .route(
                "/2010-04-01/Accounts/{account}/Calls.json",
                post(create_call),
            )
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (fake, base)
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> &'a str {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} in {form:?}"))
}

const PLACE: &str = "mutation($a: ID!, $to: String!, $from: String!) { placeCall(agentId: $a, to: $to, from: $from) { id status direction transport from to endedReason } }";
const EVENTS: &str =
    "query($id: ID!) { call(id: $id) { status endedReason events { nodes { type data } } } }";

async fn server_with_twilio() -> (TestServer, FakeTwilio) {
    let (fake, base) = FakeTwilio::start().await;
    let server = support::spawn_with(|c| {
        c.twilio_api_url = base;
        c.public_url = Some("https://voxedge.example".into());
    })
    .await;
    (server, fake)
}

#[tokio::test]
async fn place_call_dials_through_twilio_and_streams_to_the_agent() {
    let (server, fake) = server_with_twilio().await;
    let tenant = server.tenant("Acme").await;
    set_account(&server, &tenant.key, SID_A, TOKEN_A).await;
    let agent_id = agent(&server, &tenant.key, "Caller").await;

    let (_, body) = server
        .gql(
            Some(&tenant.key),
            PLACE,
            json!({ "a": agent_id, "to": "+1 415 555 0123", "from": "+14155550100" }),
        )
        .await;
    let call = data(&body, "placeCall").clone();
    assert_eq!(
        (
            &call["status"],
            &call["direction"],
            &call["transport"],
            &call["to"],
            &call["from"]
        ),
        (
            &json!("QUEUED"),
            &json!("OUTBOUND"),
            &json!("PHONE"),
            &json!("+14155550123"),
            &json!("+14155550100")
        )
    );

    let received = fake.received();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(request.account, SID_A);
    assert_eq!(request.auth, Some((SID_A.to_string(), TOKEN_A.to_string())));
    assert_eq!(field(&request.form, "To"), "+14155550123");
    assert_eq!(field(&request.form, "From"), "+14155550100");
    let twiml = Answer {
        status: StatusCode::OK,
        content_type: String::new(),
        body: field(&request.form, "Twiml").to_string(),
    };
    assert!(
        twiml.body.contains(&format!(
            "<Connect><Stream url=\"wss://voxedge.example/v1/twilio/{}/stream\">",
            tenant.id
        )),
        "{}",
        twiml.body
    );
    assert_eq!(twiml.parameter("callId"), call["id"].as_str().unwrap());
    assert_eq!(twiml.parameter("to"), "+14155550123");
    let grant = server
        .state
        .auth
        .verify_session_token(&twiml.parameter("token"))
        .await
        .unwrap();
    assert_eq!(
        (grant.tenant_id, grant.agent_id.as_str()),
        (tenant.id, agent_id.as_str())
    );

    let (_, body) = server
        .gql(Some(&tenant.key), EVENTS, json!({ "id": call["id"] }))
        .await;
    let events = data(&body, "call")["events"]["nodes"].to_string();
    assert!(
        events.contains("twilio_call_created")
            && events.contains("CAfeedfeedfeedfeedfeedfeedfeedfeed"),
        "{events}"
    );
}

#[tokio::test]
async fn a_refusal_from_twilio_fails_the_call_and_says_why() {
    let (server, fake) = server_with_twilio().await;
    let tenant = server.tenant("Acme").await;
    set_account(&server, &tenant.key, SID_A, TOKEN_B).await;
    let agent_id = agent(&server, &tenant.key, "Caller").await;

    let (_, body) = server
        .gql(
            Some(&tenant.key),
            PLACE,
            json!({ "a": agent_id, "to": "+14155550123", "from": "+14155550100" }),
        )
        .await;
    assert_eq!(error_code(&body), "TELEPHONY_PROVIDER_ERROR", "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("401") && message.contains("20003") && message.contains("Authenticate"),
        "{message}"
    );
    assert_eq!(
        fake.received()[0].auth,
        Some((SID_A.to_string(), TOKEN_B.to_string()))
    );

    let (_, body) = server
        .gql(
            Some(&tenant.key),
            "{ calls(first: 5) { nodes { status endedReason direction } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data(&body, "calls")["nodes"],
        json!([{ "status": "FAILED", "endedReason": "twilio_refused", "direction": "OUTBOUND" }])
    );
}

#[tokio::test]
async fn place_call_checks_its_input_before_dialling() {
    let (server, fake) = server_with_twilio().await;
    let tenant = server.tenant("Acme").await;
    let agent_id = agent(&server, &tenant.key, "Caller").await;
    let place = |to: &str, from: &str, agent: &str| json!({ "a": agent, "to": to, "from": from });

    let (_, body) = server
        .gql(
            Some(&tenant.key),
            PLACE,
            place("+14155550123", "+14155550100", &agent_id),
        )
        .await;
    assert_eq!(error_code(&body), "TELEPHONY_NOT_CONFIGURED", "{body}");
    set_account(&server, &tenant.key, SID_A, TOKEN_A).await;
    let (_, body) = server
        .gql(Some(&tenant.key), PLACE, place("call me", "0", &agent_id))
        .await;
    assert_eq!(error_code(&body), "INVALID_INPUT", "{body}");
    let fields: Vec<&str> = body["errors"][0]["extensions"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["to", "from"]);
    let (_, body) = server
        .gql(
            Some(&tenant.key),
            PLACE,
            place("+14155550123", "+14155550100", "nope"),
        )
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND", "{body}");
    let viewer = server.key(tenant.id, voxedge::model::Role::Viewer).await;
    let (_, body) = server
        .gql(
            Some(&viewer),
            PLACE,
            place("+14155550123", "+14155550100", &agent_id),
        )
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
    assert!(fake.received().is_empty(), "nothing reached Twilio");
}
