//! Calls through the real server: the state machine, timelines, search, pagination, batching, export.

mod support;

use std::collections::BTreeSet;

use serde_json::{Value, json};
use support::{TestServer, error_code};

const STATUSES: [&str; 8] = [
    "QUEUED",
    "RINGING",
    "IN_PROGRESS",
    "COMPLETED",
    "FAILED",
    "NO_ANSWER",
    "BUSY",
    "CANCELED",
];

/// The transitions the product promises, written out here independently of the implementation.
fn legal(from: &str, to: &str) -> bool {
    matches!(
        (from, to),
        (
            "QUEUED",
            "RINGING" | "IN_PROGRESS" | "NO_ANSWER" | "BUSY" | "FAILED" | "CANCELED"
        ) | (
            "RINGING",
            "IN_PROGRESS" | "NO_ANSWER" | "BUSY" | "FAILED" | "CANCELED"
        ) | ("IN_PROGRESS", "COMPLETED" | "FAILED")
    )
}

/// A legal path from QUEUED to `status`.
fn path_to(status: &str) -> &'static [&'static str] {
    match status {
        "QUEUED" => &[],
        "RINGING" => &["RINGING"],
        "IN_PROGRESS" => &["RINGING", "IN_PROGRESS"],
        "COMPLETED" => &["IN_PROGRESS", "COMPLETED"],
        "FAILED" => &["FAILED"],
        "NO_ANSWER" => &["RINGING", "NO_ANSWER"],
        "BUSY" => &["RINGING", "BUSY"],
        "CANCELED" => &["CANCELED"],
        _ => unreachable!(),
    }
}

async fn agent(server: &TestServer, key: &str) -> String {
    server
        .create_agent(key, "Agent", json!({ "systemPrompt": "Hi" }))
        .await
}

/// A queued phone call.
async fn call(server: &TestServer, key: &str, agent: &str, direction: &str) -> String {
    let input = json!({ "direction": direction, "transport": "PHONE", "from": "+14155550100", "to": "+14155550199" });
    let id = server.create_call(key, agent, input).await;
    let (_, body) = server
        .gql(
            Some(key),
            "query($id: ID!) { call(id: $id) { status } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(body["data"]["call"]["status"], "QUEUED", "{body}");
    id
}

async fn set_status(server: &TestServer, key: &str, id: &str, status: &str) -> Value {
    server.set_call_status(key, id, status, Some("test")).await
}

#[tokio::test]
async fn every_legal_transition_succeeds_and_every_illegal_one_is_refused() {
    let server = support::spawn().await;
    let acme = server.tenant("Acme").await;
    let agent = agent(&server, &acme.key).await;
    let (mut allowed, mut refused) = (0, 0);
    for from in STATUSES {
        for to in STATUSES {
            let id = call(&server, &acme.key, &agent, "OUTBOUND").await;
            for step in path_to(from) {
                let body = set_status(&server, &acme.key, &id, step).await;
                assert!(
                    body.get("errors").is_none(),
                    "path to {from} via {step}: {body}"
                );
            }
            let body = set_status(&server, &acme.key, &id, to).await;
            if legal(from, to) {
                allowed += 1;
                assert_eq!(
                    body["data"]["updateCallStatus"]["status"], to,
                    "{from} -> {to}: {body}"
                );
            } else {
                refused += 1;
                assert_eq!(
                    error_code(&body),
                    "INVALID_STATE_TRANSITION",
                    "{from} -> {to}: {body}"
                );
                let (_, now) = server
                    .gql(
                        Some(&acme.key),
                        "query($id: ID!) { call(id: $id) { status } }",
                        json!({ "id": id }),
                    )
                    .await;
                assert_eq!(
                    now["data"]["call"]["status"], from,
                    "a refused transition changes nothing"
                );
            }
        }
    }
    assert_eq!((allowed, refused), (13, 51));
}

#[tokio::test]
async fn a_call_records_its_timeline_timestamps_and_duration() {
    let server = support::spawn().await;
    let acme = server.tenant("Acme").await;
    let agent = agent(&server, &acme.key).await;
    let id = call(&server, &acme.key, &agent, "INBOUND").await;
    set_status(&server, &acme.key, &id, "RINGING").await;
    let answered = set_status(&server, &acme.key, &id, "IN_PROGRESS").await;
    assert!(answered["data"]["updateCallStatus"]["answeredAt"].is_string());
    assert_eq!(answered["data"]["updateCallStatus"]["endedAt"], Value::Null);
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let ended = set_status(&server, &acme.key, &id, "COMPLETED").await;
    let ended = &ended["data"]["updateCallStatus"];
    assert_eq!(ended["endedReason"], "test");
    assert!(ended["durationMs"].as_i64().unwrap() >= 20);
    let (_, body) = server
        .gql(
            Some(&acme.key),
            "query($id: ID!) { call(id: $id) { events { nodes { seq type data } } } }",
            json!({ "id": id }),
        )
        .await;
    let events = body["data"]["call"]["events"]["nodes"].as_array().unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "created",
            "status_changed",
            "status_changed",
            "status_changed"
        ]
    );
    let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, [1, 2, 3, 4]);
    assert_eq!(
        events[3]["data"],
        json!({ "from": "in_progress", "to": "completed", "reason": "test" })
    );
}

async fn add_segments(server: &TestServer, key: &str, call: &str, texts: &[&str]) {
    let segments: Vec<Value> = texts
        .iter()
        .enumerate()
        .map(|(i, text)| json!({ "seq": i + 1, "speaker": if i % 2 == 0 { "CALLER" } else { "AGENT" }, "text": text, "startMs": i * 1000, "endMs": i * 1000 + 900, "confidence": 0.9 }))
        .collect();
    let (_, body) = server
        .gql(
            Some(key),
            "mutation($call: ID!, $segments: [TranscriptSegmentInput!]!) { addTranscriptSegments(callId: $call, segments: $segments) { seq } }",
            json!({ "call": call, "segments": segments }),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
}

#[tokio::test]
async fn transcript_search_and_filters_return_the_right_calls() {
    let server = support::spawn().await;
    let acme = server.tenant("Acme").await;
    let agent_a = agent(&server, &acme.key).await;
    let agent_b = agent(&server, &acme.key).await;
    let pizza = call(&server, &acme.key, &agent_a, "INBOUND").await;
    add_segments(
        &server,
        &acme.key,
        &pizza,
        &[
            "I would like to order a large pizza",
            "Sure, which toppings?",
            "Mushrooms please",
        ],
    )
    .await;
    let refund = call(&server, &acme.key, &agent_b, "OUTBOUND").await;
    add_segments(
        &server,
        &acme.key,
        &refund,
        &[
            "I want a refund for my order",
            "Our refund policy allows thirty days",
        ],
    )
    .await;
    let silent = call(&server, &acme.key, &agent_a, "INBOUND").await;
    let moved = set_status(&server, &acme.key, &refund, "IN_PROGRESS").await;
    assert!(moved.get("errors").is_none(), "{moved}");
    // A partial segment is not searchable until it becomes final.
    let (_, body) = server
        .gql(
            Some(&acme.key),
            "mutation($call: ID!) { addTranscriptSegments(callId: $call, segments: [{seq: 9, speaker: CALLER, text: \"zebra crossing\", startMs: 0, endMs: 1, isFinal: false}]) { isFinal } }",
            json!({ "call": silent }),
        )
        .await;
    assert_eq!(body["data"]["addTranscriptSegments"][0]["isFinal"], false);

    let search = "query($q: String!) { searchTranscripts(query: $q) { nodes { snippet rank call { id } segment { seq speaker } } } }";
    let (_, body) = server
        .gql(Some(&acme.key), search, json!({ "q": "refund policy" }))
        .await;
    let hits = body["data"]["searchTranscripts"]["nodes"]
        .as_array()
        .unwrap();
    assert_eq!(hits.len(), 1, "{body}");
    assert_eq!(hits[0]["call"]["id"], refund);
    assert_eq!(hits[0]["segment"]["seq"], 2);
    assert!(
        hits[0]["snippet"]
            .as_str()
            .unwrap()
            .contains("<mark>refund</mark>"),
        "{body}"
    );
    let (_, body) = server
        .gql(Some(&acme.key), search, json!({ "q": "order" }))
        .await;
    let calls: BTreeSet<&str> = body["data"]["searchTranscripts"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["call"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        calls,
        BTreeSet::from([pizza.as_str(), refund.as_str()]),
        "stemming and ranking across calls"
    );
    let (_, body) = server
        .gql(
            Some(&acme.key),
            "{ searchTranscripts(query: \"order\", order: NEWEST) { nodes { call { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"]["searchTranscripts"]["nodes"][0]["call"]["id"], refund,
        "NEWEST puts the most recently stored match first: {body}"
    );
    let (_, body) = server
        .gql(Some(&acme.key), search, json!({ "q": "zebra" }))
        .await;
    assert_eq!(body["data"]["searchTranscripts"]["nodes"], json!([]));
    let (_, body) = server
        .gql(Some(&acme.key), search, json!({ "q": "\" OR * NEAR(" }))
        .await;
    assert!(
        body.get("errors").is_none(),
        "FTS syntax in user input is harmless: {body}"
    );

    let list = "query($f: CallFilterInput) { calls(filter: $f) { nodes { id } } }";
    let ids = |body: &Value| -> Vec<String> {
        body["data"]["calls"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["id"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, body) = server
        .gql(
            Some(&acme.key),
            list,
            json!({ "f": { "text": "pizza toppings" } }),
        )
        .await;
    assert_eq!(ids(&body), std::slice::from_ref(&pizza));
    let (_, body) = server
        .gql(
            Some(&acme.key),
            list,
            json!({ "f": { "status": ["IN_PROGRESS"] } }),
        )
        .await;
    assert_eq!(ids(&body), std::slice::from_ref(&refund));
    let (_, body) = server
        .gql(
            Some(&acme.key),
            list,
            json!({ "f": { "agentId": agent_a, "direction": "INBOUND" } }),
        )
        .await;
    assert_eq!(ids(&body), [silent.clone(), pizza.clone()]);
    let (_, body) = server
        .gql(
            Some(&acme.key),
            list,
            json!({ "f": { "createdAfter": "2999-01-01T00:00:00Z" } }),
        )
        .await;
    assert!(ids(&body).is_empty());
    let (_, body) = server
        .gql(
            Some(&acme.key),
            list,
            json!({ "f": { "createdBefore": "2999-01-01T00:00:00Z", "status": ["QUEUED"] } }),
        )
        .await;
    assert_eq!(ids(&body), [silent, pizza]);
}

#[tokio::test]
async fn pagination_is_stable_while_new_calls_arrive() {
    let server = support::spawn().await;
    let acme = server.tenant("Acme").await;
    let agent = agent(&server, &acme.key).await;
    for _ in 0..30 {
        call(&server, &acme.key, &agent, "INBOUND").await;
    }
    let (_, body) = server
        .gql(
            Some(&acme.key),
            "{ calls(first: 100) { nodes { id } } }",
            json!({}),
        )
        .await;
    let original: Vec<String> = body["data"]["calls"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(original.len(), 30);
    let page = "query($after: String) { calls(first: 10, after: $after) { nodes { id } pageInfo { hasNextPage endCursor } } }";
    let mut seen = Vec::new();
    let mut after = Value::Null;
    for round in 0..3 {
        let (_, body) = server
            .gql(Some(&acme.key), page, json!({ "after": after }))
            .await;
        seen.extend(
            body["data"]["calls"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["id"].as_str().unwrap().to_string()),
        );
        assert_eq!(body["data"]["calls"]["pageInfo"]["hasNextPage"], round < 2);
        after = body["data"]["calls"]["pageInfo"]["endCursor"].clone();
        // New calls keep arriving between pages.
        for _ in 0..4 {
            call(&server, &acme.key, &agent, "INBOUND").await;
        }
    }
    assert_eq!(seen, original, "no call skipped or repeated");
}

#[tokio::test]
async fn a_page_of_calls_with_agents_costs_a_constant_number_of_queries() {
    let server = support::spawn().await;
    let acme = server.tenant("Acme").await;
    let mut agents = Vec::new();
    for _ in 0..10 {
        agents.push(agent(&server, &acme.key).await);
    }
    for i in 0..100 {
        call(&server, &acme.key, &agents[i % agents.len()], "INBOUND").await;
    }
    let db = server.state.tenants.get(acme.id).await.unwrap();
    let query = "query($n: Int!) { calls(first: $n) { nodes { id agent { name config { language } } agentVersion { version } } } }";
    let mut costs = Vec::new();
    for n in [5, 100] {
        let before = db.reads();
        let (_, body) = server.gql(Some(&acme.key), query, json!({ "n": n })).await;
        assert_eq!(
            body["data"]["calls"]["nodes"].as_array().unwrap().len(),
            n as usize,
            "{body}"
        );
        costs.push(db.reads() - before);
    }
    // One read for the page, one batch of agents, one or two of versions (the active version of
    // each agent is only known once agents load) — however many calls the page holds: 4 on an idle
    // machine. A busy machine can split a batch (another worker may start loading before the request
    // has asked for every key), hence a small bound rather than equality; without batching, 100 calls
    // would cost about 200 reads.
    assert!(
        costs.iter().all(|&c| c <= 8),
        "reads for 5 and 100 calls: {costs:?}"
    );
}

#[tokio::test]
async fn an_agent_version_is_read_from_the_database_once() {
    let server = support::spawn().await;
    let acme = server.tenant("Acme").await;
    let agent_id = agent(&server, &acme.key).await;
    let db = server.state.tenants.get(acme.id).await.unwrap();
    let query = "query($id: ID!) { agent(id: $id) { name config { systemPrompt } version(number: 1) { version } } }";
    let mut costs = Vec::new();
    for _ in 0..2 {
        let before = db.reads();
        let (_, body) = server
            .gql(Some(&acme.key), query, json!({ "id": agent_id }))
            .await;
        assert_eq!(
            body["data"]["agent"]["config"]["systemPrompt"], "Hi",
            "{body}"
        );
        assert_eq!(body["data"]["agent"]["version"]["version"], 1, "{body}");
        costs.push(db.reads() - before);
    }
    // The agent row, then version 1 (asked for twice, loaded once); versions never change, so the second
    // time only the agent row is read.
    assert_eq!(costs, [2, 1]);
}

#[tokio::test]
async fn whoever_opens_a_tenant_while_its_orphaned_calls_are_ended_waits_for_that() {
    let server = support::spawn().await;
    let acme = server.tenant("Acme").await;
    let agent_id = agent(&server, &acme.key).await;
    let call_id = call(&server, &acme.key, &agent_id, "INBOUND").await;
    // A call voxedge carried, left in progress by a process that died.
    let db = server.state.tenants.get(acme.id).await.unwrap();
    let id = call_id.clone();
    db.write(move |tx| {
        tx.execute(
            "update calls set carried = 1, status = 'in_progress' where id = ?1",
            [id],
        )?;
        Ok::<_, voxedge::db::StorageError>(())
    })
    .await
    .unwrap();
    // What a fresh process sees: nobody has checked this tenant yet. A background job and a request open it at
    // the same moment; neither may go on before the call is ended.
    let state = &server.state;
    let fresh = voxedge::tenants::Tenants::new(
        state.tenants.clone(),
        state.events.clone(),
        state.webhooks.clone(),
        state.analysis.clone(),
        voxedge::calls::Recovery::default(),
    );
    let status = |tenant: voxedge::tenants::Tenant, id: String| async move {
        tenant
            .db
            .read(move |c| {
                let status = c.query_row("select status from calls where id = ?1", [id], |r| {
                    r.get::<_, String>(0)
                })?;
                Ok::<_, voxedge::db::StorageError>(status)
            })
            .await
            .unwrap()
    };
    let opened = |fresh: voxedge::tenants::Tenants| {
        let id = call_id.clone();
        async move { status(fresh.open(acme.id).await.unwrap(), id).await }
    };
    let (first, second) = tokio::join!(opened(fresh.clone()), opened(fresh.clone()));
    assert_eq!((first.as_str(), second.as_str()), ("failed", "failed"));
}

#[tokio::test]
async fn calls_export_as_streamed_csv_with_the_same_auth() {
    let server = support::spawn().await;
    let acme = server.tenant("Acme").await;
    let globex = server.tenant("Globex").await;
    let agent_id = agent(&server, &acme.key).await;
    let done = call(&server, &acme.key, &agent_id, "INBOUND").await;
    set_status(&server, &acme.key, &done, "IN_PROGRESS").await;
    set_status(&server, &acme.key, &done, "COMPLETED").await;
    for _ in 0..3 {
        call(&server, &acme.key, &agent_id, "INBOUND").await;
    }
    let globex_agent = agent(&server, &globex.key).await;
    call(&server, &globex.key, &globex_agent, "INBOUND").await;

    let export = |key: Option<String>, query: &'static str| {
        let mut request = server
            .client
            .get(server.url(&format!("/export/calls.csv{query}")));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        request.send()
    };
    let response = export(Some(acme.key.clone()), "").await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = response.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(&reader.headers().unwrap()[0], "id");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 4, "only Acme's calls");
    assert!(rows.iter().all(|r| &r[8] == agent_id.as_str()));
    assert_eq!(
        &rows[3][6], "'+14155550100",
        "phone numbers cannot be read as formulas"
    );

    let text = export(Some(acme.key.clone()), "?status=completed")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let rows: Vec<csv::StringRecord> = csv::Reader::from_reader(text.as_bytes())
        .records()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(&rows[0][0], done.as_str());
    assert_eq!(&rows[0][2], "completed");

    assert_eq!(export(None, "").await.unwrap().status(), 401);
    let billing = server.key(acme.id, voxedge::model::Role::Billing).await;
    assert_eq!(export(Some(billing), "").await.unwrap().status(), 403);
    let response = export(Some(acme.key.clone()), "?status=exploded")
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), "INVALID_INPUT");
}

#[tokio::test]
async fn bad_call_input_is_refused_with_field_errors() {
    let server = support::spawn().await;
    let acme = server.tenant("Acme").await;
    let agent = agent(&server, &acme.key).await;
    let (_, body) = server
        .gql(
            Some(&acme.key),
            "mutation($agent: ID!) { createCall(input: {agentId: $agent, direction: INBOUND, transport: PHONE, from: \"555-1234\", metadata: [1]}) { id } }",
            json!({ "agent": agent }),
        )
        .await;
    assert_eq!(error_code(&body), "INVALID_INPUT");
    let fields: Vec<&str> = body["errors"][0]["extensions"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["input.from", "input.metadata"]);
    let (_, body) = server
        .gql(Some(&acme.key), "mutation { createCall(input: {agentId: \"nope\", direction: INBOUND, transport: WEB}) { id } }", json!({}))
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND");
    let id = call(&server, &acme.key, &agent, "INBOUND").await;
    let (_, body) = server
        .gql(
            Some(&acme.key),
            "mutation($call: ID!) { addTranscriptSegments(callId: $call, segments: [{seq: 0, speaker: CALLER, text: \"x\", startMs: 5, endMs: 1, confidence: 2}]) { seq } }",
            json!({ "call": id }),
        )
        .await;
    let fields: Vec<&str> = body["errors"][0]["extensions"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "segments[0].seq",
            "segments[0].endMs",
            "segments[0].confidence"
        ]
    );
}

const DELETE_CALL: &str = "mutation($id: ID!) { deleteCall(id: $id) }";

/// What a tenant can read of a call and what it cost: the call, its events and transcript, whether search or
/// the list finds it, and the usage totals.
async fn traces(server: &TestServer, key: &str, call: &str) -> Value {
    let (_, body) = server
        .gql(
            Some(key),
            "query($id: ID!) {
                call(id: $id) { id status from to metadata events { nodes { type } } transcript { nodes { text } } }
                calls(first: 50) { nodes { id } }
                searchTranscripts(query: \"invoice\") { nodes { call { id } } }
                usageSummary { metric quantity }
            }",
            json!({ "id": call }),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    body["data"].clone()
}

#[tokio::test]
async fn deleting_a_call_erases_what_it_said_and_keeps_what_it_cost() {
    let server = support::spawn().await;
    let acme = server.tenant("Acme").await;
    let globex = server.tenant("Globex").await;
    let agent = agent(&server, &acme.key).await;
    let kept = call(&server, &acme.key, &agent, "INBOUND").await;
    let doomed = call(&server, &acme.key, &agent, "INBOUND").await;
    for id in [&kept, &doomed] {
        add_segments(
            &server,
            &acme.key,
            id,
            &["Where is my invoice?", "It was emailed this morning."],
        )
        .await;
        set_status(&server, &acme.key, id, "IN_PROGRESS").await;
    }

    // A call still on cannot be deleted, and the refusal changes nothing.
    let before = traces(&server, &acme.key, &doomed).await;
    let (_, body) = server
        .gql(Some(&acme.key), DELETE_CALL, json!({ "id": doomed }))
        .await;
    assert_eq!(error_code(&body), "CALL_IN_PROGRESS", "{body}");
    assert_eq!(traces(&server, &acme.key, &doomed).await, before);

    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    for id in [&kept, &doomed] {
        set_status(&server, &acme.key, id, "COMPLETED").await;
    }
    let before = traces(&server, &acme.key, &doomed).await;
    let call_ms = |data: &Value| {
        data["usageSummary"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["metric"] == "CALL_MS")
            .map(|t| t["quantity"].as_i64().unwrap())
    };
    assert!(call_ms(&before).is_some_and(|ms| ms > 0), "{before}");
    assert_eq!(
        before["searchTranscripts"]["nodes"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Another tenant, and a role that cannot manage calls, cannot delete it.
    let (_, body) = server
        .gql(Some(&globex.key), DELETE_CALL, json!({ "id": doomed }))
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND", "{body}");
    let viewer = server.key(acme.id, voxedge::model::Role::Viewer).await;
    let (_, body) = server
        .gql(Some(&viewer), DELETE_CALL, json!({ "id": doomed }))
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN", "{body}");
    assert_eq!(traces(&server, &acme.key, &doomed).await, before);

    let (_, body) = server
        .gql(Some(&acme.key), DELETE_CALL, json!({ "id": doomed }))
        .await;
    assert_eq!(body["data"]["deleteCall"], json!(doomed), "{body}");

    let after = traces(&server, &acme.key, &doomed).await;
    assert!(after["call"].is_null(), "{after}");
    let listed: Vec<&Value> = after["calls"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| &n["id"])
        .collect();
    assert_eq!(listed, [&json!(kept)], "only the other call is listed");
    let found: Vec<&Value> = after["searchTranscripts"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| &n["call"]["id"])
        .collect();
    assert_eq!(found, [&json!(kept)], "its transcript is gone from search");
    assert_eq!(
        after["usageSummary"], before["usageSummary"],
        "what it cost is still counted"
    );
    // The other call is untouched; deleting twice, or changing a deleted call, finds nothing.
    let other = traces(&server, &acme.key, &kept).await;
    assert_eq!(
        other["call"]["transcript"]["nodes"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let (_, body) = server
        .gql(Some(&acme.key), DELETE_CALL, json!({ "id": doomed }))
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND", "{body}");
    let body = set_status(&server, &acme.key, &doomed, "FAILED").await;
    assert_eq!(error_code(&body), "NOT_FOUND", "{body}");

    // Nothing it said is left in the tenant's file: no transcript, timeline or numbers.
    let db = server.state.tenants.get(acme.id).await.unwrap();
    let id = doomed.clone();
    let left: (i64, i64, Option<String>, String) = db
        .read(move |conn| {
            Ok::<_, voxedge::db::StorageError>(conn.query_row(
                "select (select count(*) from transcript_segments where call_id = ?1),
                        (select count(*) from call_events where call_id = ?1),
                        (select from_sealed from calls where id = ?1),
                        (select metadata from calls where id = ?1)",
                [&id],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
            )?)
        })
        .await
        .unwrap();
    assert_eq!(left, (0, 0, None, "{}".to_string()));
}
