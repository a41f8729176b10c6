//! `voxedge tenant move` from iad to fra while the tenant is being written to: no write is lost, and routing
//! follows the tenant.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use voxedge::edge::provision::provision;

use crate::cluster::{Cluster, wait_for};
use crate::support::process::stdout_json;

#[tokio::test(flavor = "multi_thread")]
async fn a_tenant_moves_while_written_to_and_loses_nothing() {
    let cluster = Arc::new(Cluster::start(&["iad", "fra"], |_, _| {}).await);
    let iad = &cluster.region("iad").server;
    let made = provision(&iad.state.edge, "Acme", None, "region", true)
        .await
        .unwrap();
    let (tenant, key) = (made.record.id, made.owner_key.unwrap());
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

    // A writer that keeps creating calls, entering by both regions in turn, and retries what was refused.
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(Mutex::new(Vec::<String>::new()));
    let refused = Arc::new(Mutex::new(Vec::<String>::new()));
    let writer = {
        let (cluster, stop, written, refused, key, agent) = (
            cluster.clone(),
            stop.clone(),
            written.clone(),
            refused.clone(),
            key.clone(),
            agent.clone(),
        );
        tokio::spawn(async move {
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let entry = if n.is_multiple_of(2) { "iad" } else { "fra" };
                let (status, body) = cluster
                    .gql(
                        entry,
                        Some(&key),
                        "mutation($i: CreateCallInput!) { createCall(input: $i) { id } }",
                        json!({ "i": { "agentId": agent, "direction": "INBOUND", "transport": "WEB", "from": format!("write {n}") } }),
                    )
                    .await;
                match body["data"]["createCall"]["id"].as_str() {
                    Some(id) => {
                        written.lock().unwrap().push(id.to_string());
                        n += 1;
                    }
                    None => {
                        // Refused while the tenant is read-only: the same write is tried again.
                        let code = body["errors"][0]["extensions"]["code"]
                            .as_str()
                            .unwrap_or("?")
                            .to_string();
                        assert!(
                            [
                                "TENANT_READ_ONLY",
                                "REGION_UNAVAILABLE",
                                "SERVICE_UNAVAILABLE"
                            ]
                            .contains(&code.as_str()),
                            "{status}: {body}"
                        );
                        refused.lock().unwrap().push(code);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;

    let cli = cluster.fresh_dir("cli");
    let server = cluster.proxy.url("fra");
    let report = {
        let cluster = cluster.clone();
        let tenant = tenant.to_string();
        tokio::task::spawn_blocking(move || {
            stdout_json(&cluster.voxedge(
                "fra",
                &cli,
                &[
                    "tenant", "move", "--tenant", &tenant, "--to", "fra", "--server", &server,
                ],
            ))
        })
        .await
        .unwrap()
    };
    assert_eq!(
        cluster.route_of(&format!("/internal/tenants/{tenant}/move")),
        ["fra", "iad"]
    );
    assert_eq!(
        (report["from"].as_str(), report["to"].as_str()),
        (Some("iad"), Some("fra")),
        "{report}"
    );
    assert_eq!(report["catalog_updated"], true, "{report}");
    eprintln!(
        "tenant move iad -> fra: read-only for {} ms ({} bytes)",
        report["read_only_ms"], report["bytes"]
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();

    // Every write that was acknowledged is in the tenant's new home, and nothing else.
    let written = {
        let mut w = written.lock().unwrap().clone();
        w.sort();
        w
    };
    assert!(
        written.len() > 10,
        "the writer kept writing: {}",
        written.len()
    );
    eprintln!(
        "{} writes acknowledged, {} refused and retried during the move",
        written.len(),
        refused.lock().unwrap().len()
    );
    let mut stored = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let data = cluster
            .gql_ok("iad", Some(&key), "query($a: String) { calls(first: 100, after: $a) { edges { node { id } } pageInfo { hasNextPage endCursor } } }", json!({ "a": after }))
            .await;
        for edge in data["calls"]["edges"].as_array().unwrap() {
            stored.push(edge["node"]["id"].as_str().unwrap().to_string());
        }
        if data["calls"]["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = data["calls"]["pageInfo"]["endCursor"]
            .as_str()
            .map(String::from);
    }
    stored.sort();
    assert_eq!(stored, written);

    // Routing follows: entering by iad goes to fra; fra serves it itself.
    assert_eq!(cluster.route_of("/graphql"), ["iad", "fra"]);
    cluster
        .gql_ok(
            "fra",
            Some(&key),
            "{ viewer { tenant { region } } }",
            json!({}),
        )
        .await;
    assert_eq!(cluster.route_of("/graphql"), ["fra"]);
    let file = format!("tenants/{tenant}.db");
    assert!(cluster.region("fra").data_dir.join(&file).is_file());
    assert!(!cluster.region("iad").data_dir.join(&file).exists());
    let kept: Vec<_> = std::fs::read_dir(cluster.region("iad").data_dir.join("moved"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".db"))
        .collect();
    assert_eq!(kept.len(), 1, "iad keeps the old file aside: {kept:?}");
    // The catalog says so, in the primary at once and in fra's replica within seconds.
    let fra = &cluster.region("fra").server;
    wait_for(
        "fra's catalog replica names fra as the home",
        Duration::from_secs(5),
        || async {
            let record = fra
                .state
                .catalog
                .read(move |c| voxedge::repo::tenants::get(c, tenant))
                .await
                .ok()
                .flatten()?;
            (record.home_region.as_deref() == Some("fra")).then_some(())
        },
    )
    .await;
    let data = cluster
        .gql_ok(
            "fra",
            Some(&key),
            "{ viewer { tenant { region } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["viewer"]["tenant"]["region"], "fra");
}
