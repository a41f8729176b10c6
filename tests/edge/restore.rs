//! Point-in-time restore of one tenant, online, and of whole data directories, from the Litestream replica.

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use serde_json::{Value, json};
use voxedge::edge::provision::provision;

use crate::cluster::Cluster;
use crate::support::process::stdout_json;

/// Long enough for Litestream (syncing every second) to have shipped what was written before.
const SHIPPED: Duration = Duration::from_millis(2500);

async fn create_calls(cluster: &Cluster, key: &str, agent: &str, count: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..count {
        let data = cluster
            .gql_ok(
                "iad",
                Some(key),
                "mutation($i: CreateCallInput!) { createCall(input: $i) { id } }",
                json!({ "i": { "agentId": agent, "direction": "INBOUND", "transport": "WEB", "from": format!("caller {i}") } }),
            )
            .await;
        ids.push(data["createCall"]["id"].as_str().unwrap().to_string());
    }
    ids
}

async fn call_ids(cluster: &Cluster, key: &str) -> Vec<String> {
    let data = cluster
        .gql_ok(
            "iad",
            Some(key),
            "{ calls(first: 100) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    let mut ids: Vec<String> = data["calls"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn rows(db: &std::path::Path, sql: &str) -> i64 {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tenant_goes_back_to_a_point_in_time_and_regions_come_back_whole() {
    let cluster = Cluster::start(&["iad", "fra"], |_, _| {}).await;
    let edge = &cluster.region("iad").server.state.edge;
    let acme = provision(edge, "Acme", Some("fra"), "region", true)
        .await
        .unwrap();
    let globex = provision(edge, "Globex", None, "region", true)
        .await
        .unwrap();
    let initech = provision(edge, "Initech", None, "region", true)
        .await
        .unwrap();
    let key = acme.owner_key.unwrap();
    let agent = cluster
        .gql_ok(
            "iad",
            Some(&key),
            "mutation { createAgent(input: {name: \"A\", config: {systemPrompt: \"Hi\"}}) { id } }",
            json!({}),
        )
        .await["createAgent"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Calls, a moment, then more calls.
    let mut before = create_calls(&cluster, &key, &agent, 3).await;
    before.sort();
    tokio::time::sleep(SHIPPED).await;
    let at = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    create_calls(&cluster, &key, &agent, 2).await;
    assert_eq!(call_ids(&cluster, &key).await.len(), 5);
    // Shipped too, so that the replica holds changes after that moment.
    tokio::time::sleep(SHIPPED).await;

    // Restored to that moment, through any region (the request goes to the tenant's home, fra), online.
    let tenant = acme.record.id.to_string();
    let cli = cluster.fresh_dir("cli");
    let server = cluster.proxy.url("iad");
    let report = stdout_json(&cluster.voxedge(
        "iad",
        &cli,
        &[
            "restore", "--tenant", &tenant, "--at", &at, "--server", &server,
        ],
    ));
    assert_eq!(
        cluster.route_of(&format!("/internal/tenants/{tenant}/restore")),
        ["iad", "fra"]
    );
    assert_eq!(report["tenant_id"], tenant.as_str(), "{report}");
    eprintln!(
        "point-in-time restore of a small tenant: {} ms in all, writes held {} ms ({} bytes)",
        report["took_ms"], report["unavailable_ms"], report["bytes"]
    );
    assert_eq!(
        call_ids(&cluster, &key).await,
        before,
        "exactly the calls made before {at}"
    );
    // The tenant works on: its agent (cached before the restore) and new writes.
    let more = create_calls(&cluster, &key, &agent, 1).await;
    assert_eq!(call_ids(&cluster, &key).await.len(), 4);
    // A time after the tenant's last change (Litestream itself knows no such time) restores its latest state.
    tokio::time::sleep(SHIPPED + Duration::from_secs(1)).await;
    let now = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    let latest = stdout_json(&cluster.voxedge(
        "iad",
        &cli,
        &[
            "restore", "--tenant", &tenant, "--at", &now, "--server", &server,
        ],
    ));
    assert_eq!(latest["tenant_id"], tenant.as_str(), "{latest}");
    assert_eq!(
        call_ids(&cluster, &key).await.len(),
        4,
        "nothing lost restoring to {now}"
    );
    // A time before the tenant existed has nothing to restore.
    let (status, _) = {
        let out = crate::support::process::voxedge()
            .arg("--data-dir")
            .arg(&cli)
            .args([
                "restore",
                "--tenant",
                &tenant,
                "--at",
                "2001-01-01T00:00:00Z",
                "--server",
                &server,
            ])
            .env("VOXEDGE_SECRET_KEY", crate::cluster::SECRET_KEY)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    assert!(!status, "a restore to before the tenant existed must fail");
    assert_eq!(
        call_ids(&cluster, &key).await.len(),
        4,
        "a failed restore changes nothing"
    );

    // Whole regions, on fresh machines: each gets back every tenant it is home to, with their latest writes.
    tokio::time::sleep(SHIPPED).await;
    let fresh_iad = cluster.fresh_dir("fresh-iad");
    let iad = stdout_json(&cluster.voxedge("iad", &fresh_iad, &["restore", "--from-replica"]));
    let mut iad_tenants = vec![globex.record.id.to_string(), initech.record.id.to_string()];
    iad_tenants.sort();
    assert_eq!(iad["catalog"], true, "{iad}");
    assert_eq!(iad["tenants"], json!(iad_tenants), "{iad}");
    assert!(fresh_iad.join("catalog.db").is_file() && fresh_iad.join("region.db").is_file());
    assert_eq!(
        rows(
            &fresh_iad.join("catalog.db"),
            "select count(*) from tenants"
        ),
        3
    );
    let fresh_fra = cluster.fresh_dir("fresh-fra");
    let fra = stdout_json(&cluster.voxedge("fra", &fresh_fra, &["restore", "--from-replica"]));
    assert_eq!(fra["catalog"], false, "{fra}");
    assert_eq!(fra["tenants"], json!([tenant]), "{fra}");
    let restored = fresh_fra.join(format!("tenants/{tenant}.db"));
    assert_eq!(rows(&restored, "select count(*) from calls"), 4);
    assert_eq!(
        rows(
            &restored,
            &format!("select count(*) from calls where id = '{}'", more[0])
        ),
        1
    );
    assert!(
        !fresh_fra.join("catalog.db").exists(),
        "fra follows the catalog; it keeps no copy of its own"
    );
    // A restored directory is not restored over.
    let again = crate::support::process::voxedge()
        .arg("--data-dir")
        .arg(&fresh_fra)
        .args(["restore", "--from-replica"])
        .env("VOXEDGE_REGION", "fra")
        .env("VOXEDGE_PRIMARY_REGION", "iad")
        .env(
            "VOXEDGE_REPLICA_URL",
            format!("file://{}", cluster.replica.display()),
        )
        .env("VOXEDGE_LITESTREAM", &cluster.litestream)
        .output()
        .unwrap();
    assert!(
        !again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
    let _: Value = iad;
}
