//! GraphQL WebSockets that keep checking who is on the other end: revoked keys, expired tokens and
//! removed or demoted members lose their open sockets within a second; every `subscribe` runs as the
//! credential is now and within the limits; refusals before execution are `error` messages.

use std::time::{Duration, Instant};

use futures_util::SinkExt as _;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

use super::support::ws::{Ended, GqlWs};
use super::support::{self, TestServer};
use super::{join, ok, text};
use voxedge::model::Role;

const HEARTBEAT: &str = "subscription { heartbeat(intervalMs: 60000) { sequence } }";
const ACTIVE_CALLS: &str = "subscription { activeCalls { id } }";

async fn open(server: &TestServer, credential: &str) -> GqlWs {
    GqlWs::connect(
        &server.ws_url("/graphql"),
        json!({ "Authorization": format!("Bearer {credential}") }),
    )
    .await
    .expect("connection accepted")
}

/// Opens a socket with a running `activeCalls` subscription (it needs ReadCalls).
async fn watching(server: &TestServer, credential: &str) -> GqlWs {
    let mut ws = open(server, credential).await;
    ws.subscribe("calls", ACTIVE_CALLS, json!({})).await;
    let first = ws.next_for("calls").await.expect("first list");
    assert_eq!(first["type"], "next", "{first}");
    ws
}

/// Waits for the server to close `ws`; the close code, reason and how long it took.
async fn closed(ws: &mut GqlWs, since: Instant) -> (u16, String, Duration) {
    let (code, reason) = ws
        .closed_within(Duration::from_secs(5))
        .await
        .expect("the server closes the socket");
    (code, reason, since.elapsed())
}

#[tokio::test]
async fn a_revoked_key_loses_its_open_socket_within_a_second() {
    let server = support::spawn().await;
    let acme = server.tenant("Acme").await;
    let key = server.key(acme.id, Role::Developer).await;
    let mut ws = watching(&server, &key).await;
    let id = key.split('_').nth(2).unwrap();
    let revoked_at = Instant::now();
    ok(
        &server,
        &acme.key,
        "mutation($id: ID!) { revokeApiKey(id: $id) { id } }",
        json!({ "id": id }),
    )
    .await;
    let (code, reason, took) = closed(&mut ws, revoked_at).await;
    assert_eq!(code, 4401, "{reason}");
    assert!(reason.starts_with("API_KEY_REVOKED"), "{reason}");
    assert!(took < Duration::from_secs(1), "closed after {took:?}");
    // The key cannot open a new one either.
    match GqlWs::connect(
        &server.ws_url("/graphql"),
        json!({ "Authorization": format!("Bearer {key}") }),
    )
    .await
    {
        Err(Ended::Closed { code, .. }) => assert_eq!(code, 4403),
        other => panic!("accepted: {:?}", other.map(|_| ())),
    }
}

#[tokio::test]
async fn an_expired_access_token_loses_its_socket_when_it_expires() {
    let server = support::spawn().await;
    let ada = server.sign_up("ada@example.com", "Acme").await;
    let mut ws = watching(&server, &ada.access).await;
    // Still open a while before expiry.
    server.state.clock.advance(Duration::from_secs(800));
    assert!(ws.closed_within(Duration::from_millis(300)).await.is_none());
    let moved = Instant::now();
    server.state.clock.advance(Duration::from_secs(101));
    let (code, reason, took) = closed(&mut ws, moved).await;
    // 4403: graphql-ws clients reconnect after it, with a fresh token.
    assert_eq!(code, 4403, "{reason}");
    assert!(reason.starts_with("TOKEN_EXPIRED"), "{reason}");
    assert!(took < Duration::from_secs(1), "closed after {took:?}");
}

#[tokio::test]
async fn a_removed_member_loses_the_socket_and_a_demoted_one_when_a_subscription_needs_more() {
    let server = support::spawn().await;
    let ada = server.sign_up("ada@example.com", "Acme").await;
    let bob = server.sign_up("bob@example.com", "Bob Co").await;
    let carol = server.sign_up("carol@example.com", "Carol Co").await;
    let bob_in_acme = join(&server, &ada, &bob, "DEVELOPER").await;
    let carol_in_acme = join(&server, &ada, &carol, "DEVELOPER").await;
    let role =
        "mutation($u: ID!, $r: Role!) { changeMemberRole(input: {userId: $u, role: $r}) { role } }";

    // Bob: demoted to viewer, activeCalls is still allowed; to billing, it is not.
    let mut bobs = watching(&server, &text(&bob_in_acme, "accessToken")).await;
    ok(
        &server,
        &ada.access,
        role,
        json!({ "u": bob.user_id, "r": "VIEWER" }),
    )
    .await;
    assert!(
        bobs.closed_within(Duration::from_millis(500))
            .await
            .is_none(),
        "a viewer may still watch calls"
    );
    let demoted = Instant::now();
    ok(
        &server,
        &ada.access,
        role,
        json!({ "u": bob.user_id, "r": "BILLING" }),
    )
    .await;
    let (code, reason, took) = closed(&mut bobs, demoted).await;
    assert_eq!(code, 4403, "{reason}");
    assert!(reason.starts_with("FORBIDDEN"), "{reason}");
    assert!(took < Duration::from_secs(1), "closed after {took:?}");
    // A socket running nothing that needs more stays open through a demotion.
    let mut idle = open(&server, &text(&bob_in_acme, "accessToken")).await;
    idle.subscribe("beat", HEARTBEAT, json!({})).await;
    assert_eq!(idle.next_for("beat").await.unwrap()["type"], "next");

    // Carol is removed.
    let mut carols = watching(&server, &text(&carol_in_acme, "accessToken")).await;
    let removed = Instant::now();
    ok(
        &server,
        &ada.access,
        "mutation($u: ID!) { removeMember(userId: $u) { id } }",
        json!({ "u": carol.user_id }),
    )
    .await;
    let (code, reason, took) = closed(&mut carols, removed).await;
    assert_eq!(code, 4401, "{reason}");
    assert!(reason.starts_with("TOKEN_REVOKED"), "{reason}");
    assert!(took < Duration::from_secs(1), "closed after {took:?}");
    assert!(
        idle.closed_within(Duration::from_millis(200))
            .await
            .is_none()
    );
}

#[tokio::test]
async fn every_subscribe_runs_as_the_credential_is_now() {
    let server = support::spawn().await;
    let ada = server.sign_up("ada@example.com", "Acme").await;
    let bob = server.sign_up("bob@example.com", "Bob Co").await;
    let bob_in_acme = join(&server, &ada, &bob, "VIEWER").await;
    let mut ws = open(&server, &text(&bob_in_acme, "accessToken")).await;
    ws.subscribe("keys", "{ apiKeys { nodes { id } } }", json!({}))
        .await;
    let refused = ws.next_for("keys").await.unwrap();
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{refused}"
    );
    ok(
        &server,
        &ada.access,
        "mutation($u: ID!) { changeMemberRole(input: {userId: $u, role: DEVELOPER}) { role } }",
        json!({ "u": bob.user_id }),
    )
    .await;
    ws.subscribe("keys2", "{ apiKeys { nodes { id } } }", json!({}))
        .await;
    let allowed = ws.next_for("keys2").await.unwrap();
    assert!(
        allowed["payload"]["data"]["apiKeys"].is_object(),
        "the promotion counts at once: {allowed}"
    );
}

#[tokio::test]
async fn subscriptions_are_capped_per_socket_and_per_tenant() {
    let server = support::spawn_with(|c| {
        c.graphql.ws_max_operations = 2;
        c.rate_limits.subscriptions_per_tenant = 3;
    })
    .await;
    let acme = server.tenant("Acme").await;
    let globex = server.tenant("Globex").await;
    let mut first = open(&server, &acme.key).await;
    for id in ["a", "b"] {
        first.subscribe(id, HEARTBEAT, json!({})).await;
        assert_eq!(first.next_for(id).await.unwrap()["type"], "next");
    }
    first.subscribe("c", HEARTBEAT, json!({})).await;
    let refused = first.next_for("c").await.unwrap();
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(
        refused["payload"][0]["extensions"]["code"],
        "TOO_MANY_SUBSCRIPTIONS"
    );

    let mut second = open(&server, &acme.key).await;
    second.subscribe("a", HEARTBEAT, json!({})).await;
    assert_eq!(second.next_for("a").await.unwrap()["type"], "next");
    second.subscribe("b", HEARTBEAT, json!({})).await;
    let refused = second.next_for("b").await.unwrap();
    assert_eq!(
        (
            refused["type"].as_str(),
            refused["payload"][0]["extensions"]["code"].as_str()
        ),
        (Some("error"), Some("TOO_MANY_SUBSCRIPTIONS")),
        "the tenant's third is its last: {refused}"
    );
    // Another tenant has its own.
    let mut other = open(&server, &globex.key).await;
    other.subscribe("a", HEARTBEAT, json!({})).await;
    assert_eq!(other.next_for("a").await.unwrap()["type"], "next");

    // Completing one frees its place; a closed socket frees all of its.
    first.send(json!({ "id": "a", "type": "complete" })).await;
    second.subscribe("b2", HEARTBEAT, json!({})).await;
    assert_eq!(second.next_for("b2").await.unwrap()["type"], "next");
    drop(first);
    let mut third = open(&server, &acme.key).await;
    let mut started = false;
    for _ in 0..20 {
        third.subscribe("x", HEARTBEAT, json!({})).await;
        let message = third.next_for("x").await.unwrap();
        if message["type"] == "next" {
            started = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(started, "the closed socket's place came free");
}

#[tokio::test]
async fn operations_on_a_socket_count_against_the_tenants_request_budget() {
    let server = support::spawn_with(|c| {
        c.rate_limits.graphql.free = 3;
    })
    .await;
    let acme = server.tenant("Acme").await;
    let mut ws = open(&server, &acme.key).await;
    for i in 0..3 {
        let id = format!("q{i}");
        ws.subscribe(&id, "{ viewer { role } }", json!({})).await;
        let result = ws.next_for(&id).await.unwrap();
        assert_eq!(result["type"], "next", "{result}");
    }
    ws.subscribe("q3", "{ viewer { role } }", json!({})).await;
    let refused = ws.next_for("q3").await.unwrap();
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["payload"][0]["extensions"]["code"], "RATE_LIMITED");
    assert!(
        refused["payload"][0]["extensions"]["retryAfter"]
            .as_u64()
            .is_some()
    );
}

#[tokio::test]
async fn operations_that_cannot_start_get_an_error_message_and_nothing_after() {
    let server = support::spawn().await;
    let acme = server.tenant("Acme").await;
    let mut ws = open(&server, &acme.key).await;
    let cases = [
        ("subscription { nope }", "GRAPHQL_VALIDATION_FAILED"),
        ("subscription {", "GRAPHQL_PARSE_FAILED"),
        (
            "mutation { a: login(input: {email: \"a@b.co\", password: \"x\"}) { role } b: login(input: {email: \"a@b.co\", password: \"y\"}) { role } }",
            "TOO_MANY_IDENTITY_MUTATIONS",
        ),
    ];
    for (i, (query, code)) in cases.iter().enumerate() {
        let id = format!("bad{i}");
        ws.subscribe(&id, query, json!({})).await;
        let message = ws.next_for(&id).await.unwrap();
        assert_eq!(message["type"], "error", "{message}");
        assert_eq!(
            message["payload"][0]["extensions"]["code"], *code,
            "{message}"
        );
    }
    // No `complete` follows an `error`: the next message about these ids never comes.
    ws.subscribe("good", "{ viewer { role } }", json!({})).await;
    let mut seen = Vec::new();
    loop {
        let message = ws.next_message().await.unwrap();
        seen.push(message.clone());
        if message["id"] == "good" && message["type"] == "complete" {
            break;
        }
    }
    assert!(
        seen.iter().all(|m| m["id"] == "good"),
        "nothing more about refused operations: {seen:?}"
    );
    // A resolver's error is an execution result: `next` with errors, then `complete`.
    ws.subscribe(
        "exec",
        "subscription { heartbeat(intervalMs: 1) { sequence } }",
        json!({}),
    )
    .await;
    let message = ws.next_for("exec").await.unwrap();
    assert_eq!(message["type"], "next");
    assert_eq!(ws.next_for("exec").await.unwrap()["type"], "complete");
    // The same id twice is a protocol violation.
    ws.subscribe("dup", HEARTBEAT, json!({})).await;
    ws.subscribe("dup", HEARTBEAT, json!({})).await;
    let (code, reason) = ws.closed_within(Duration::from_secs(5)).await.unwrap();
    assert_eq!(code, 4409, "{reason}");
}

#[tokio::test]
async fn oversized_messages_are_refused_before_credentials_are_looked_at() {
    let server = support::spawn().await;
    let mut request = server.ws_url("/graphql").into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let padding = "x".repeat(100 * 1024);
    let init = json!({ "type": "connection_init", "payload": { "Authorization": "Bearer vxk_x", "pad": padding } });
    let _ = socket.send(Message::text(init.to_string())).await;
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        use futures_util::StreamExt as _;
        while let Some(frame) = socket.next().await {
            match frame {
                Ok(Message::Close(frame)) => return frame.map(|f| u16::from(f.code)),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
        None
    })
    .await
    .expect("closed within 5 s");
    assert_eq!(closed, Some(1009));
}

#[tokio::test]
async fn transcript_segments_of_a_long_call_arrive_in_order_page_by_page() {
    let server = support::spawn().await;
    let acme = server.tenant("Acme").await;
    let agent = server
        .create_agent(&acme.key, "Pager", json!({ "systemPrompt": "Be brief." }))
        .await;
    let call = server
        .create_call(
            &acme.key,
            &agent,
            json!({ "direction": "INBOUND", "transport": "PHONE", "from": "+14155550177" }),
        )
        .await;
    let add = "mutation($c: ID!, $s: [TranscriptSegmentInput!]!) { addTranscriptSegments(callId: $c, segments: $s) { seq } }";
    for batch in 0..5 {
        let segments: Vec<Value> = (1..=500)
            .map(|i| {
                let seq = batch * 500 + i;
                json!({ "seq": seq, "speaker": "CALLER", "text": format!("segment {seq}"), "startMs": seq, "endMs": seq + 1 })
            })
            .collect();
        ok(&server, &acme.key, add, json!({ "c": call, "s": segments })).await;
    }
    let mut ws = open(&server, &acme.key).await;
    ws.subscribe(
        "t",
        "subscription($c: ID!) { transcriptSegments(callId: $c, afterSeq: 100) { seq text } }",
        json!({ "c": call }),
    )
    .await;
    for expected in 101..=2500 {
        let message = ws.next_for("t").await.unwrap();
        assert_eq!(
            message["payload"]["data"]["transcriptSegments"]["seq"], expected,
            "{message}"
        );
    }
    ok(
        &server,
        &acme.key,
        add,
        json!({ "c": call, "s": [{ "seq": 2501, "speaker": "AGENT", "text": "live", "startMs": 1, "endMs": 2 }] }),
    )
    .await;
    let live = ws.next_for("t").await.unwrap();
    assert_eq!(
        live["payload"]["data"]["transcriptSegments"]["text"],
        "live"
    );
}
