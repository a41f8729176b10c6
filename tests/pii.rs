//! Personal data at rest, from the outside: phone numbers never reach a tenant's file in clear, calls are still
//! found by number (per tenant), viewers see numbers masked, and `voxedge migrate` (or opening an old file)
//! converts plaintext rows once.

mod support;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};
use serde_json::{Value, json};
use support::process::{run_ok, stdout_json};
use support::{TestServer, error_code};
use voxedge::db::TenantId;
use voxedge::model::Role;

const CALLER: &str = "+14155550199";
const CALLED: &str = "+14155550100";
const CONTACT: &str = "+442079460958";
/// The tenant's own number a campaign calls from: not personal data, kept in clear.
const BUSINESS: &str = "+14155550142";

/// Every byte of a tenant's database: the file and its write-ahead log.
fn file_bytes(path: &Path) -> Vec<u8> {
    let mut bytes = std::fs::read(path).unwrap();
    if let Ok(wal) = std::fs::read(path.with_extension("db-wal")) {
        bytes.extend(wal);
    }
    bytes
}

/// Fails if any of `numbers` (their national digits, in any of the usual forms) is in the tenant's files.
fn assert_no_plaintext(path: &Path, numbers: &[&str]) {
    let bytes = file_bytes(path);
    for number in numbers {
        let national = &number[number.len() - 10..];
        let dashed = format!("{}-{}", &national[3..6], &national[6..]);
        for needle in [number.to_string(), national.to_string(), dashed] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{needle} is in {} in clear",
                path.display()
            );
        }
    }
}

async fn calls_with_number(server: &TestServer, key: &str, number: &str) -> Value {
    let (_, body) = server
        .gql(
            Some(key),
            "query($n: String!) { calls(filter: {number: $n}) { edges { node { id from to variables } } } }",
            json!({ "n": number }),
        )
        .await;
    body
}

/// `field:CODE` of the first field error of an `INVALID_INPUT` response.
fn field_code(body: &Value) -> String {
    assert_eq!(error_code(body), "INVALID_INPUT", "{body}");
    let field = &body["errors"][0]["extensions"]["fields"][0];
    format!(
        "{}:{}",
        field["field"].as_str().unwrap(),
        field["code"].as_str().unwrap()
    )
}

fn ids(body: &Value) -> Vec<String> {
    body["data"]["calls"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("calls: {body}"))
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn numbers_are_sealed_at_rest_found_by_number_and_masked_for_viewers() {
    let server = support::spawn_with(support::allow_loopback).await;
    let acme = server.tenant("Acme").await;
    let globex = server.tenant("Globex").await;
    let agent = server
        .create_agent(&acme.key, "Agent", json!({ "systemPrompt": "Hi" }))
        .await;
    // A webhook endpoint, so call payloads are queued in the file too (nobody listens on port 9).
    let (_, body) = server
        .gql(
            Some(&acme.key),
            "mutation { createWebhookEndpoint(input: {url: \"http://127.0.0.1:9/hook\", events: [CALL_CREATED]}) { secret } }",
            json!({}),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let phone = server
        .create_call(
            &acme.key,
            &agent,
            json!({ "direction": "INBOUND", "transport": "PHONE", "from": CALLER, "to": CALLED }),
        )
        .await;
    let web = server
        .create_call(
            &acme.key,
            &agent,
            json!({ "direction": "INBOUND", "transport": "WEB", "from": "browser 4155550199" }),
        )
        .await;
    let outbound = server
        .create_call(
            &acme.key,
            &agent,
            json!({ "direction": "OUTBOUND", "transport": "PHONE", "from": CALLED, "to": CALLER }),
        )
        .await;
    let globex_agent = server
        .create_agent(&globex.key, "Agent", json!({ "systemPrompt": "Hi" }))
        .await;
    let theirs = server
        .create_call(
            &globex.key,
            &globex_agent,
            json!({ "direction": "INBOUND", "transport": "PHONE", "from": CALLER, "to": CALLED }),
        )
        .await;

    // Nothing in either file in clear, whichever column it went to.
    let acme_file = server.state.tenants.path_of(acme.id);
    assert_no_plaintext(&acme_file, &[CALLER, CALLED]);
    assert_no_plaintext(&server.state.tenants.path_of(globex.id), &[CALLER, CALLED]);
    let conn = Connection::open_with_flags(&acme_file, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let columns: Vec<String> = conn
        .prepare("select name from pragma_table_info('calls')")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        !columns
            .iter()
            .any(|c| c == "from_address" || c == "to_address"),
        "{columns:?}"
    );
    let sealed: String = conn
        .query_row(
            "select from_sealed from calls where id = ?1",
            [&phone],
            |r| r.get(0),
        )
        .unwrap();
    assert!(sealed.starts_with("v1."), "{sealed}");
    let web_index: Option<Vec<u8>> = conn
        .query_row("select from_index from calls where id = ?1", [&web], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(web_index, None, "a client label is sealed but not indexed");
    // The same number has unrelated indexes in two tenants' files.
    let index_of = |path: PathBuf, id: &str| -> Vec<u8> {
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap()
            .query_row("select from_index from calls where id = ?1", [id], |r| {
                r.get(0)
            })
            .unwrap()
    };
    assert_ne!(
        index_of(acme_file.clone(), &phone),
        index_of(server.state.tenants.path_of(globex.id), &theirs)
    );

    // Found by number however it is typed, from or to, and only in the asking tenant.
    let found = calls_with_number(&server, &acme.key, "+1 415-555-0199").await;
    let mut found_ids = ids(&found);
    found_ids.sort();
    let mut expected = vec![phone.clone(), outbound.clone()];
    expected.sort();
    assert_eq!(found_ids, expected, "{found}");
    assert_eq!(
        ids(&calls_with_number(&server, &globex.key, CALLER).await),
        [theirs]
    );
    assert!(ids(&calls_with_number(&server, &acme.key, "+14155550111").await).is_empty());
    let bad = calls_with_number(&server, &acme.key, "555-0199").await;
    assert_eq!(
        field_code(&bad),
        "filter.number:INVALID_PHONE_NUMBER",
        "{bad}"
    );

    // Admins see numbers in full; viewers masked, labels hidden, in GraphQL and in the CSV export.
    let admin = server.key(acme.id, Role::Admin).await;
    let viewer = server.key(acme.id, Role::Viewer).await;
    let query = "query($id: ID!) { call(id: $id) { from to } }";
    let call_as = |key: String, id: String| {
        let server = &server;
        async move {
            let (_, body) = server.gql(Some(&key), query, json!({ "id": id })).await;
            body["data"]["call"].clone()
        }
    };
    assert_eq!(
        call_as(admin.clone(), phone.clone()).await,
        json!({ "from": CALLER, "to": CALLED })
    );
    assert_eq!(
        call_as(viewer.clone(), phone.clone()).await,
        json!({ "from": "+1 415 ••• 0199", "to": "+1 415 ••• 0100" })
    );
    assert_eq!(
        call_as(viewer.clone(), web.clone()).await,
        json!({ "from": "•••", "to": null })
    );
    let viewer_found = calls_with_number(&server, &viewer, CALLER).await;
    assert_eq!(
        ids(&viewer_found).len(),
        2,
        "viewers may still filter by number"
    );
    assert!(
        !viewer_found.to_string().contains("4155550199"),
        "{viewer_found}"
    );
    let export = |key: String| {
        let server = &server;
        async move {
            server
                .client
                .get(server.url("/export/calls.csv?number=%2B14155550199"))
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    let viewer_csv = export(viewer).await;
    assert_eq!(viewer_csv.lines().count(), 3, "{viewer_csv}");
    assert!(
        viewer_csv.contains("+1 415 ••• 0199") && !viewer_csv.contains("4155550199"),
        "{viewer_csv}"
    );
    let admin_csv = export(admin).await;
    assert!(admin_csv.contains(CALLER), "{admin_csv}");
    server.stop().await;
}

/// Builds tenant `id`'s file as a schema-16 server left it: numbers, variables and webhook payloads in clear.
fn seed_plaintext_tenant(path: &Path, id: TenantId) {
    for ext in ["db-wal", "db-shm", "db"] {
        let _ = std::fs::remove_file(path.with_extension(ext));
    }
    let mut conn = Connection::open(path).unwrap();
    voxedge::db::migrations::TENANT
        .upgrade_to(&mut conn, 16)
        .unwrap();
    voxedge::repo::meta::set_tenant_id(&conn, id).unwrap();
    conn.execute_batch(&format!(
        "insert into agents (id, name, active_version, created_at, updated_at) values ('a1', 'Agent', 1, 1, 1);
         insert into agent_versions (agent_id, version, name, config, created_by, created_at)
             values ('a1', 1, 'Agent', '{{\"systemPrompt\": \"Hi\"}}', 'test', 1);
         insert into calls (id, agent_id, agent_version, direction, transport, from_address, to_address, status,
             created_at, updated_at)
             values ('c1', 'a1', 1, 'inbound', 'phone', '{CALLER}', '{CALLED}', 'completed', 1, 1),
                    ('c2', 'a1', 1, 'inbound', 'web', 'browser', null, 'completed', 2, 2);
         insert into call_variables (call_id, variables) values ('c1', '{{\"caller_number\": \"{CALLER}\"}}');
         insert into campaigns (id, name, agent_id, from_number, status, timezone, windows, max_concurrent_calls,
             retry, created_at, updated_at)
             values ('k1', 'Spring', 'a1', '{BUSINESS}', 'draft', 'UTC', '[]', 1,
                 '{{\"onBusy\": false, \"onNoAnswer\": false, \"onVoicemail\": false, \"onFailed\": false, \"delayMinutes\": 60, \"maxAttempts\": 1}}',
                 1, 1);
         insert into campaign_contacts (id, campaign_id, line, phone_number, variables, status, created_at, updated_at)
             values ('p1', 'k1', 2, '{CONTACT}', '{{}}', 'pending', 1, 1);
         insert into webhook_endpoints (id, url, events, secret, created_at, updated_at)
             values ('w1', 'https://hooks.example.com/x', '[]', 'sealed', 1, 1);
         insert into webhook_deliveries (id, endpoint_id, event_type, payload, status, created_at)
             values ('d1', 'w1', 'call.created', '{{\"call\": {{\"from\": \"{CALLER}\"}}}}', 'delivered', 1);"
    ))
    .unwrap();
    drop(conn);
    assert!(
        file_bytes(path).windows(10).any(|w| w == b"4155550199"),
        "seeded in clear"
    );
}

/// The sealed columns of a converted file, to tell whether a second run changed anything.
fn sealed_rows(path: &Path) -> Vec<String> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut rows = Vec::new();
    for sql in [
        "select id || ':' || coalesce(from_sealed, '') || ':' || coalesce(to_sealed, '') || ':' || coalesce(hex(from_index), '') from calls",
        "select call_id || ':' || variables from call_variables",
        "select id || ':' || phone_sealed || ':' || hex(phone_index) from campaign_contacts",
        "select id || ':' || payload from webhook_deliveries",
        "select 'version:' || user_version from pragma_user_version",
    ] {
        let mut stmt = conn.prepare(sql).unwrap();
        let found = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
        rows.extend(found.map(Result::unwrap));
    }
    rows
}

#[tokio::test]
async fn migrate_converts_plaintext_tenants_once_and_opening_an_old_file_converts_it_too() {
    let dir = tempfile::tempdir().unwrap();
    let created = |name: &str| -> TenantId {
        let out: Value = stdout_json(&run_ok(dir.path(), &["tenant", "create", "--name", name]));
        out["tenant_id"].as_str().unwrap().parse().unwrap()
    };
    let (old, opened) = (created("Old"), created("Opened"));
    let path = |id: TenantId| dir.path().join("tenants").join(id.file_name());
    seed_plaintext_tenant(&path(old), old);

    let report = stdout_json(&run_ok(dir.path(), &["migrate"]));
    assert_eq!(report["migrated"], 2, "{report}");
    assert_no_plaintext(&path(old), &[CALLER, CALLED, CONTACT]);
    let converted = sealed_rows(&path(old));
    assert!(
        converted.iter().any(|r| r.starts_with("c1:v1.")),
        "{converted:?}"
    );
    assert!(converted.contains(&format!(
        "version:{}",
        voxedge::db::migrations::TENANT.latest()
    )));
    run_ok(dir.path(), &["migrate"]);
    assert_eq!(
        sealed_rows(&path(old)),
        converted,
        "a second run changes nothing"
    );

    // A file still in clear when the server opens it is converted before anything reads it.
    seed_plaintext_tenant(&path(opened), opened);
    let server = support::spawn_in(dir.path().to_path_buf(), |_| {}).await;
    for id in [old, opened] {
        let key = server.key(id, Role::Owner).await;
        let found = calls_with_number(&server, &key, CALLER).await;
        assert_eq!(ids(&found), ["c1"], "{found}");
        let call = &found["data"]["calls"]["edges"][0]["node"];
        assert_eq!(call["from"], CALLER);
        assert_eq!(call["to"], CALLED);
        assert_eq!(call["variables"]["caller_number"], CALLER);
        let (_, body) = server
            .gql(
                Some(&key),
                "{ campaign(id: \"k1\") { contacts { edges { node { phoneNumber } } } } }",
                json!({}),
            )
            .await;
        assert_eq!(
            body["data"]["campaign"]["contacts"]["edges"][0]["node"]["phoneNumber"], CONTACT,
            "{body}"
        );
        let (_, body) = server
            .gql(
                Some(&key),
                "{ calls(filter: {number: \"browser\"}) { edges { node { id } } } }",
                json!({}),
            )
            .await;
        assert_eq!(
            field_code(&body),
            "filter.number:INVALID_PHONE_NUMBER",
            "{body}"
        );
    }
    server.stop().await;
    assert_no_plaintext(&path(opened), &[CALLER, CALLED, CONTACT]);
}
