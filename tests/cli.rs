//! The `voxedge` command line, run as a real process.

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use serde_json::json;
use support::process::{ServerProcess, run_ok, stdout_json};

#[tokio::test]
async fn tenant_create_prints_a_working_owner_key_and_list_shows_it() {
    support::install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let created = stdout_json(&run_ok(
        dir.path(),
        &["tenant", "create", "--name", "Acme Corp"],
    ));
    let tenant_id = created["tenant_id"]
        .as_str()
        .expect("tenant_id")
        .to_string();
    let key = created["api_key"].as_str().expect("api_key").to_string();
    assert!(
        dir.path()
            .join("tenants")
            .join(format!("{tenant_id}.db"))
            .exists()
    );

    let listed = run_ok(dir.path(), &["tenant", "list", "--json"]);
    let line: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(line["tenant_id"], tenant_id);
    assert_eq!(line["name"], "Acme Corp");
    let table = String::from_utf8(run_ok(dir.path(), &["tenant", "list"]).stdout).unwrap();
    assert!(table.contains(&tenant_id) && table.contains("acme-corp"));

    let server = ServerProcess::start(dir.path(), &[]);
    let body: serde_json::Value = reqwest::Client::new()
        .post(server.url("/graphql"))
        .bearer_auth(&key)
        .json(&json!({ "query": "{ viewer { role tenant { id name } } }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"]["viewer"]["tenant"]["id"], tenant_id);
    assert_eq!(body["data"]["viewer"]["role"], "OWNER");
    // The CLI works next to a running server on the same directory.
    run_ok(dir.path(), &["tenant", "create", "--name", "Globex"]);
    run_ok(dir.path(), &["migrate"]);
}

#[test]
fn schema_command_prints_the_committed_sdl() {
    let dir = tempfile::tempdir().unwrap();
    let printed = String::from_utf8(run_ok(dir.path(), &["schema"]).stdout).unwrap();
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap();
    assert_eq!(
        printed, committed,
        "schema.graphql is stale: run `cargo run -- schema > schema.graphql`"
    );
}

#[test]
fn migrate_upgrades_older_tenant_files_and_reports_damaged_ones() {
    let dir = tempfile::tempdir().unwrap();
    let old: serde_json::Value =
        stdout_json(&run_ok(dir.path(), &["tenant", "create", "--name", "Old"]));
    let bad: serde_json::Value =
        stdout_json(&run_ok(dir.path(), &["tenant", "create", "--name", "Bad"]));
    let tenant_file = |v: &serde_json::Value| {
        dir.path()
            .join("tenants")
            .join(format!("{}.db", v["tenant_id"].as_str().unwrap()))
    };
    {
        // Downgrade "Old" to schema version 1 by rebuilding it.
        let path = tenant_file(&old);
        for ext in ["db-wal", "db-shm", "db"] {
            let _ = std::fs::remove_file(path.with_extension(ext));
        }
        let mut conn = Connection::open(&path).unwrap();
        voxedge::db::migrations::TENANT
            .upgrade_to(&mut conn, 1)
            .unwrap();
        voxedge::repo::meta::set_tenant_id(
            &conn,
            old["tenant_id"].as_str().unwrap().parse().unwrap(),
        )
        .unwrap();
    }
    std::fs::write(
        tenant_file(&bad),
        b"definitely not sqlite, definitely not sqlite, definitely not sqlite!",
    )
    .unwrap();
    let output = support::process::voxedge()
        .arg("--data-dir")
        .arg(dir.path())
        .arg("migrate")
        .output()
        .unwrap();
    assert!(
        !output.status.success(),
        "a damaged tenant makes migrate fail"
    );
    let report = stdout_json(&output);
    assert_eq!(report["migrated"], 1);
    assert_eq!(report["failed"][0]["tenant_id"], bad["tenant_id"]);
    let conn = Connection::open(tenant_file(&old)).unwrap();
    let version: u32 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, voxedge::db::migrations::TENANT.latest());
}

fn key_ids(db: &Path) -> BTreeSet<String> {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let check: String = conn
        .query_row("pragma integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok", "{}", db.display());
    let mut stmt = conn.prepare("select id from api_keys").unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Back up while a server writes, restore into a fresh directory and compare; then restore one tenant
/// into the live directory and see the server serve the restored state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_while_writing_then_restore_and_compare() {
    let server = support::spawn().await;
    let acme = server.tenant("Acme").await;
    let globex = server.tenant("Globex").await;
    let stop = tokio_util::sync::CancellationToken::new();
    let writer = {
        let stop = stop.clone();
        let (client, url, key) = (
            server.client.clone(),
            server.url("/graphql"),
            acme.key.clone(),
        );
        tokio::spawn(async move {
            let mut written = 0;
            while !stop.is_cancelled() {
                let response = client
                    .post(&url)
                    .bearer_auth(&key)
                    .json(&json!({ "query": format!("mutation {{ createApiKey(input: {{name: \"k{written}\", role: VIEWER}}) {{ apiKey {{ id }} }} }}") }))
                    .send()
                    .await
                    .unwrap();
                assert!(response.status().is_success());
                written += 1;
            }
            written
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let backup_dir = tempfile::tempdir().unwrap();
    let out = backup_dir.path().join("b1");
    let data_dir = server.data_dir.clone();
    let manifest = tokio::task::spawn_blocking({
        let out = out.clone();
        move || {
            stdout_json(&run_ok(
                &data_dir,
                &["backup", "--out", out.to_str().unwrap()],
            ))
        }
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.cancel();
    let written = writer.await.unwrap();
    assert!(
        written > 5,
        "the writer kept writing during the backup ({written} keys)"
    );
    assert_eq!(manifest["tenants"].as_array().unwrap().len(), 2);

    let acme_file = |root: &Path| root.join("tenants").join(format!("{}.db", acme.id));
    let live = key_ids(&acme_file(&server.data_dir));
    let backed_up = key_ids(&acme_file(&out));
    assert!(
        backed_up.is_subset(&live),
        "the backup holds only rows that were really written"
    );
    assert!(
        backed_up.len() < live.len(),
        "writes after the backup are not in it"
    );

    // Restore everything into a fresh directory and compare file contents row for row.
    let fresh = tempfile::tempdir().unwrap();
    let report = stdout_json(&run_ok(
        fresh.path(),
        &["restore", "--from", out.to_str().unwrap()],
    ));
    assert_eq!(report["catalog_restored"], true);
    assert_eq!(key_ids(&acme_file(fresh.path())), backed_up);
    let restored = support::spawn_in(fresh.path().to_path_buf(), |_| {}).await;
    let (status, body) = restored
        .gql(
            Some(&globex.key),
            "{ viewer { tenant { name } } }",
            json!({}),
        )
        .await;
    assert!(status.is_success(), "{body}");
    assert_eq!(body["data"]["viewer"]["tenant"]["name"], "Globex");

    // Restore Acme alone into the live directory while the server runs: it serves the backup's keys.
    let data_dir = server.data_dir.clone();
    let acme_id = acme.id.to_string();
    tokio::task::spawn_blocking(move || {
        run_ok(
            &data_dir,
            &[
                "restore",
                "--from",
                out.to_str().unwrap(),
                "--tenant",
                &acme_id,
            ],
        )
    })
    .await
    .unwrap();
    let (_, body) = server
        .gql(
            Some(&acme.key),
            "{ apiKeys(first: 100) { nodes { id } } }",
            json!({}),
        )
        .await;
    let served: BTreeSet<String> = body["data"]["apiKeys"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(served.len(), backed_up.len().min(100));
    assert!(
        served.is_subset(&backed_up),
        "the live server now serves the restored rows"
    );
}
