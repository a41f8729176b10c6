//! Graceful shutdown of the real binary on SIGTERM.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::json;
use support::process::{ServerProcess, run_ok, stdout_json};
use support::ws::{Ended, GqlWs};

#[test]
fn sigterm_lets_an_in_flight_request_finish_then_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let tenant = stdout_json(&run_ok(dir.path(), &["tenant", "create", "--name", "Acme"]));
    let key = tenant["api_key"].as_str().unwrap();
    let mut server = ServerProcess::start(dir.path(), &["--shutdown-grace-secs", "10"]);

    // Start a request and stop halfway through its body, so it is in flight when SIGTERM arrives.
    let body = json!({ "query": "{ viewer { tenant { name } } }" }).to_string();
    let (first, rest) = body.split_at(body.len() / 2);
    let mut stream = TcpStream::connect(server.addr).unwrap();
    write!(
        stream,
        "POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nAuthorization: Bearer {key}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{first}",
        body.len()
    )
    .unwrap();
    stream.flush().unwrap();
    std::thread::sleep(Duration::from_millis(200));

    server.terminate();
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        TcpStream::connect_timeout(&server.addr, Duration::from_secs(1)).is_err(),
        "a draining server accepts no new connections"
    );
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "still running while a request is in flight"
    );

    stream.write_all(rest.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"name\":\"Acme\""), "{response}");

    let started = Instant::now();
    assert_eq!(server.wait(Duration::from_secs(10)), Some(0), "exit code 0");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "exits once the last request is done, not after the whole grace period"
    );
}

#[tokio::test]
async fn sigterm_gives_live_subscriptions_the_grace_period_then_closes_them_1001() {
    let dir = tempfile::tempdir().unwrap();
    let tenant = stdout_json(&run_ok(dir.path(), &["tenant", "create", "--name", "Acme"]));
    let key = tenant["api_key"].as_str().unwrap().to_string();
    let mut server = ServerProcess::start(dir.path(), &["--shutdown-grace-secs", "2"]);
    let url = format!("ws://{}/graphql", server.addr);
    let mut ws = GqlWs::connect(&url, json!({ "Authorization": format!("Bearer {key}") }))
        .await
        .unwrap();
    ws.subscribe(
        "1",
        "subscription { heartbeat(intervalMs: 100) { sequence } }",
        json!({}),
    )
    .await;
    assert_eq!(ws.next_message().await.unwrap()["type"], "next");

    let terminated_at = Instant::now();
    server.terminate();
    // Events keep flowing during the grace period...
    let mut events_after_sigterm = 0;
    let close_code = loop {
        match ws.next_message().await {
            Ok(message) => {
                assert_eq!(message["type"], "next");
                events_after_sigterm += 1;
            }
            Err(Ended::Closed { code, .. }) => break code,
            Err(other) => panic!("{other:?}"),
        }
    };
    // ...and then the socket closes with 1001 "going away".
    assert_eq!(close_code, 1001);
    assert!(
        events_after_sigterm >= 5,
        "only {events_after_sigterm} events during the grace period"
    );
    assert!(terminated_at.elapsed() >= Duration::from_millis(1800));
    let exit = tokio::task::spawn_blocking(move || server.wait(Duration::from_secs(10)))
        .await
        .unwrap();
    assert_eq!(exit, Some(0));
}

async fn gql(
    server: &ServerProcess,
    key: &str,
    query: &str,
    variables: serde_json::Value,
) -> serde_json::Value {
    let body: serde_json::Value = reqwest::Client::new()
        .post(server.url("/graphql"))
        .bearer_auth(key)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("request sent")
        .json()
        .await
        .expect("JSON body");
    assert!(body.get("errors").is_none(), "{body}");
    body["data"].clone()
}

#[tokio::test]
async fn a_call_left_open_by_a_kill_9_is_ended_server_crashed_after_a_restart() {
    support::install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let tenant = stdout_json(&run_ok(dir.path(), &["tenant", "create", "--name", "Acme"]));
    let key = tenant["api_key"].as_str().unwrap().to_string();
    let voice = support::voice::voice_config();
    let models = voice.models_dir.to_string_lossy().into_owned();
    let ort = voice.ort_dylib.unwrap().to_string_lossy().into_owned();
    let args = ["--models-dir", models.as_str(), "--ort-dylib", ort.as_str()];
    let mut server = ServerProcess::start(dir.path(), &args);
    let agent = gql(
        &server,
        &key,
        "mutation($i: CreateAgentInput!) { createAgent(input: $i) { id } }",
        json!({ "i": { "name": "Front desk", "config": { "systemPrompt": "You help." } } }),
    )
    .await["createAgent"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    let url = format!("ws://{}/v1/realtime?agent={agent}", server.addr);
    let mut call =
        support::voice::realtime_at(&url, support::voice::RealtimeAuth::Header(&key), false).await;
    let created = call.next().await.expect("session.created");
    assert_eq!(created["type"], "session.created", "{created}");
    let calls = "{ calls(first: 5) { nodes { id status endedReason durationMs } } }";
    let open = gql(&server, &key, calls, json!({})).await;
    assert_eq!(open["calls"]["nodes"][0]["status"], "IN_PROGRESS", "{open}");
    tokio::time::sleep(Duration::from_millis(300)).await;

    // kill -9: nothing gets to end the call.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    drop(call);
    let server = ServerProcess::start(dir.path(), &args);
    let ended = gql(&server, &key, calls, json!({})).await;
    let ended = &ended["calls"]["nodes"][0];
    assert_eq!(ended["status"], "FAILED", "{ended}");
    assert_eq!(ended["endedReason"], "server_crashed", "{ended}");
    assert!(ended["durationMs"].as_i64().is_some(), "{ended}");
    // Ended once: asking again changes nothing, and a new call can start.
    let again = gql(&server, &key, calls, json!({})).await;
    assert_eq!(&again["calls"]["nodes"][0], ended);
    let url = format!("ws://{}/v1/realtime?agent={agent}", server.addr);
    let mut call =
        support::voice::realtime_at(&url, support::voice::RealtimeAuth::Header(&key), false).await;
    let created = call.next().await.expect("session.created");
    assert_eq!(created["type"], "session.created", "{created}");
}
