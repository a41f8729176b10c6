//! GraphQL subscriptions over graphql-transport-ws, end to end.

mod support;

use serde_json::json;
use support::ws::{Ended, GqlWs};

const HEARTBEAT: &str =
    "subscription($ms: Int!) { heartbeat(intervalMs: $ms) { sequence tenantId at } }";

#[tokio::test]
async fn a_subscription_round_trips_with_credentials_in_connection_init() {
    let server = support::spawn().await;
    let acme = server.tenant("Acme").await;
    let mut ws = GqlWs::connect(
        &server.ws_url("/graphql"),
        json!({ "Authorization": format!("Bearer {}", acme.key) }),
    )
    .await
    .expect("connection accepted");
    ws.subscribe("1", HEARTBEAT, json!({ "ms": 100 })).await;
    for expected in 1..=3 {
        let message = ws.next_message().await.expect("next event");
        assert_eq!(message["type"], "next", "{message}");
        assert_eq!(message["id"], "1");
        assert_eq!(
            message["payload"]["data"]["heartbeat"]["sequence"],
            expected
        );
        assert_eq!(
            message["payload"]["data"]["heartbeat"]["tenantId"],
            acme.id.to_string()
        );
    }
    ws.send(json!({ "id": "1", "type": "complete" })).await;
    // Errors inside a subscription carry codes too.
    ws.subscribe("2", HEARTBEAT, json!({ "ms": 1 })).await;
    let message = loop {
        let message = ws.next_message().await.expect("error message");
        if message["id"] == "2" {
            break message;
        }
    };
    // A resolver error is an execution result ("next" with errors), per graphql-transport-ws.
    assert_eq!(message["type"], "next", "{message}");
    assert_eq!(
        message["payload"]["errors"][0]["extensions"]["code"],
        "INVALID_INPUT"
    );
    // A request that fails validation carries its code too. (The protocol suggests an "error" message;
    // async-graphql sends a "next" result holding the errors, which clients handle alike.)
    ws.subscribe("3", "subscription { nope }", json!({})).await;
    let message = loop {
        let message = ws.next_message().await.expect("error message");
        if message["id"] == "3" {
            break message;
        }
    };
    let errors = if message["type"] == "error" {
        &message["payload"]
    } else {
        &message["payload"]["errors"]
    };
    assert_eq!(
        errors[0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
        "{message}"
    );
    // A client that goes away ends its session, so shutdown does not wait for the grace period.
    drop(ws);
    server.stop().await;
}

#[tokio::test]
async fn connections_without_valid_credentials_are_closed_4403() {
    // Per graphql-transport-ws: 4403 Forbidden for refused credentials.
    let server = support::spawn().await;
    let acme = server.tenant("Acme").await;
    for payload in [
        json!({}),
        json!({ "Authorization": "Bearer vxk_garbage" }),
        json!({ "Authorization": format!("Bearer {}x", acme.key) }),
    ] {
        match GqlWs::connect(&server.ws_url("/graphql"), payload.clone()).await {
            Err(Ended::Closed { code, .. }) => assert_eq!(code, 4403, "{payload}"),
            Err(other) => panic!("{payload}: {other:?}"),
            Ok(_) => panic!("{payload}: accepted"),
        }
    }
}

#[tokio::test]
async fn a_bad_authorization_header_on_the_upgrade_is_401() {
    let server = support::spawn().await;
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
            server.ws_url("/graphql"),
        )
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    request
        .headers_mut()
        .insert("authorization", "Bearer nope".parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 401)
        }
        other => panic!("expected 401, got {:?}", other.map(|_| ())),
    }
}
