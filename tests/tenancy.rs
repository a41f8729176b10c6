//! Per-tenant storage through the real server: isolation, damaged and old files, and many tenants
//! through a small cache.

mod support;

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use rusqlite::Connection;
use serde_json::json;
use support::error_code;
use voxedge::db::migrations::{TENANT, user_version};

const TENANT_QUERY: &str = "{ viewer { tenant { id name } } }";

#[tokio::test]
async fn a_key_only_ever_reaches_its_own_tenant() {
    let server = support::spawn().await;
    let acme = server.tenant("Acme").await;
    let globex = server.tenant("Globex").await;
    let (_, body) = server.gql(Some(&acme.key), TENANT_QUERY, json!({})).await;
    assert_eq!(body["data"]["viewer"]["tenant"]["id"], acme.id.to_string());
    let (_, body) = server.gql(Some(&globex.key), TENANT_QUERY, json!({})).await;
    assert_eq!(
        body["data"]["viewer"]["tenant"]["id"],
        globex.id.to_string()
    );

    // An attacker holding Globex's key rewrites the tenant part to Acme's id: the key id and secret are
    // only valid inside Globex's database, so the forged key is refused.
    let forged = globex
        .key
        .replacen(&globex.id.to_string(), &acme.id.to_string(), 1);
    let (status, body) = server.gql(Some(&forged), TENANT_QUERY, json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&body), "INVALID_API_KEY");

    // Globex's key cannot list or revoke Acme's keys by id.
    let (_, acme_keys) = server
        .gql(Some(&acme.key), "{ apiKeys { nodes { id } } }", json!({}))
        .await;
    let acme_key_id = acme_keys["data"]["apiKeys"]["nodes"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, body) = server
        .gql(Some(&globex.key), "{ apiKeys { nodes { id } } }", json!({}))
        .await;
    assert!(!body.to_string().contains(&acme_key_id));
    let (_, body) = server
        .gql(
            Some(&globex.key),
            "mutation($id: ID!) { revokeApiKey(id: $id) { id } }",
            json!({ "id": acme_key_id }),
        )
        .await;
    assert_eq!(error_code(&body), "NOT_FOUND");
    let (status, _) = server.gql(Some(&acme.key), TENANT_QUERY, json!({})).await;
    assert_eq!(status, StatusCode::OK, "Acme's key still works");
}

#[tokio::test]
async fn a_corrupt_tenant_file_is_refused_untouched_while_others_work() {
    let server = support::spawn().await;
    let acme = server.tenant("Acme").await;
    let globex = server.tenant("Globex").await;
    // Close Acme's database so the next request opens the damaged file.
    server.state.tenants.close(acme.id).await;
    server.state.tenants.run_pending_tasks().await;
    let path = server.state.tenants.path_of(acme.id);
    let _ = std::fs::remove_file(path.with_extension("db-wal"));
    let _ = std::fs::remove_file(path.with_extension("db-shm"));
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[..100].copy_from_slice(&[0xAB; 100]); // destroy the SQLite header
    std::fs::write(&path, &bytes).unwrap();

    let (status, body) = server.gql(Some(&acme.key), TENANT_QUERY, json!({})).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(error_code(&body), "TENANT_UNAVAILABLE");
    assert!(
        !body.to_string().contains(&path.display().to_string()),
        "no internals leak: {body}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        bytes,
        "the damaged file is left exactly as it was"
    );

    let (status, body) = server.gql(Some(&globex.key), TENANT_QUERY, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["viewer"]["tenant"]["name"], "Globex");
}

#[tokio::test]
async fn a_tenant_file_from_a_newer_version_is_refused_untouched() {
    let server = support::spawn().await;
    let acme = server.tenant("Acme").await;
    let globex = server.tenant("Globex").await;
    server.state.tenants.close(acme.id).await;
    server.state.tenants.run_pending_tasks().await;
    let path = server.state.tenants.path_of(acme.id);
    {
        let conn = Connection::open(&path).unwrap();
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .unwrap();
        conn.pragma_update(None, "user_version", TENANT.latest() + 1)
            .unwrap();
        // Leaving WAL needs every other connection closed; a background task of the server (e.g.
        // recording the key's last use) may still hold the file for a moment after eviction.
        let mut left_wal = false;
        for _ in 0..100 {
            let mode: String = conn
                .pragma_update_and_check(None, "journal_mode", "delete", |r| r.get(0))
                .unwrap_or_default();
            if mode == "delete" {
                left_wal = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(
            left_wal,
            "the server kept the tenant file open after closing it"
        );
    }
    let before = std::fs::read(&path).unwrap();
    let (status, body) = server.gql(Some(&acme.key), TENANT_QUERY, json!({})).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(error_code(&body), "TENANT_UNAVAILABLE");
    assert_eq!(std::fs::read(&path).unwrap(), before);
    let (status, _) = server.gql(Some(&globex.key), TENANT_QUERY, json!({})).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn an_older_tenant_file_is_migrated_on_first_open() {
    let server = support::spawn().await;
    let acme = server.tenant("Acme").await;
    server.state.tenants.close(acme.id).await;
    server.state.tenants.run_pending_tasks().await;
    // Rebuild Acme's file as an older binary would have left it: schema version 1, meta only.
    let path = server.state.tenants.path_of(acme.id);
    let _ = std::fs::remove_file(path.with_extension("db-wal"));
    let _ = std::fs::remove_file(path.with_extension("db-shm"));
    std::fs::remove_file(&path).unwrap();
    {
        let mut conn = Connection::open(&path).unwrap();
        TENANT.upgrade_to(&mut conn, 1).unwrap();
        voxedge::repo::meta::set_tenant_id(&conn, acme.id).unwrap();
        assert_eq!(user_version(&conn).unwrap(), 1);
    }
    // The old file has no keys table yet, so no key can authenticate; the server still opens and
    // migrates it on first use, after which keys can be issued and used.
    let key = server.key(acme.id, voxedge::model::Role::Owner).await;
    let conn = Connection::open(&path).unwrap();
    assert_eq!(user_version(&conn).unwrap(), TENANT.latest());
    let (status, body) = server.gql(Some(&key), TENANT_QUERY, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["viewer"]["tenant"]["name"], "Acme");
}

/// 2,000 tenants served through a cache of 64 open databases, under concurrent requests: no errors,
/// the cache stays bounded, and file descriptors do not grow with the number of tenants served.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_thousand_tenants_through_a_cache_of_64() {
    const TENANTS: usize = 2000;
    const CAPACITY: u64 = 64;
    let server = Arc::new(
        support::spawn_with(|c| {
            c.tenant_cache.capacity = CAPACITY;
            c.sqlite.read_idle_timeout = Duration::from_secs(60);
        })
        .await,
    );
    let mut tenants = Vec::with_capacity(TENANTS);
    for chunk in (0..TENANTS).collect::<Vec<_>>().chunks(50) {
        let made = futures_util::future::join_all(chunk.iter().map(|i| {
            let server = server.clone();
            async move { server.tenant(&format!("Tenant {i}")).await }
        }))
        .await;
        tenants.extend(made);
    }
    server.state.tenants.run_pending_tasks().await;
    assert!(server.state.tenants.open_count() <= CAPACITY);

    let serve_all = |round: usize| {
        let server = server.clone();
        let tenants = tenants.clone();
        async move {
            let mut tasks = tokio::task::JoinSet::new();
            let tenants = Arc::new(tenants);
            for worker in 0..16 {
                let server = server.clone();
                let tenants = tenants.clone();
                tasks.spawn(async move {
                    for tenant in tenants.iter().skip(worker).step_by(16) {
                        let (status, body) =
                            server.gql(Some(&tenant.key), TENANT_QUERY, json!({})).await;
                        assert_eq!(status, StatusCode::OK, "round {round}: {body}");
                        assert_eq!(
                            body["data"]["viewer"]["tenant"]["id"],
                            tenant.id.to_string()
                        );
                    }
                });
            }
            while let Some(result) = tasks.join_next().await {
                result.expect("worker");
            }
            server.state.tenants.run_pending_tasks().await;
        }
    };
    serve_all(1).await;
    let after_first = support::open_fds();
    assert!(
        server.state.tenants.open_count() <= CAPACITY,
        "cache bounded: {}",
        server.state.tenants.open_count()
    );
    serve_all(2).await;
    serve_all(3).await;
    let after_third = support::open_fds();
    assert!(server.state.tenants.open_count() <= CAPACITY);
    // Each open tenant holds a handful of files; serving every tenant twice more must not add any.
    let per_tenant_budget = 8;
    assert!(
        after_first <= (CAPACITY as usize) * per_tenant_budget + 200,
        "{after_first} descriptors open after serving {TENANTS} tenants"
    );
    assert!(
        after_third <= after_first + 32,
        "descriptors grew from {after_first} to {after_third} across rounds"
    );
    eprintln!(
        "fds after rounds 1 and 3: {after_first}, {after_third}; open tenants: {}",
        server.state.tenants.open_count()
    );
}
