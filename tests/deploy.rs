//! The operator's files in `deploy/` against the code: `deploy/metrics.md` lists exactly the metrics `src/` exports
//! (with the types a live server reports), and the Grafana dashboard, the alert rules and the runbook only name
//! metrics from that list, so renaming a metric fails here instead of silently emptying a panel or an alert.
//!
//! `scripts/test-ops-docs` runs `promtool check rules` and `promtool test rules` on the rules.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The tables of deploy/metrics.md: (exported name → type, not-yet-exported name → type).
fn metrics_table() -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let text = read("deploy/metrics.md");
    let (exported, pending) = text
        .split_once("## Not exported yet")
        .expect("deploy/metrics.md has a `## Not exported yet` section");
    let rows = |part: &str| -> BTreeMap<String, String> {
        part.lines()
            .filter_map(|line| {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                let name = cells.get(1)?.strip_prefix("`voxedge_")?.strip_suffix('`')?;
                Some((format!("voxedge_{name}"), cells.get(2)?.to_string()))
            })
            .collect()
    };
    (rows(exported), rows(pending))
}

/// `voxedge_…` tokens in `text`.
fn metric_tokens(text: &str) -> BTreeSet<String> {
    let mut tokens = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("voxedge_") {
        let token: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        rest = &rest[at + token.len()..];
        tokens.insert(token);
    }
    tokens
}

/// The metric a token names: histogram series (`_bucket`, `_sum`, `_count`) name their histogram.
fn metric_of(token: &str, known: &BTreeMap<String, String>) -> Option<String> {
    if known.contains_key(token) {
        return Some(token.to_string());
    }
    ["_bucket", "_sum", "_count"].iter().find_map(|suffix| {
        let base = token.strip_suffix(suffix)?;
        (known.get(base).map(String::as_str) == Some("histogram")).then(|| base.to_string())
    })
}

/// Every `"voxedge_…"` string literal in `src/`: the metric names the code records.
fn metrics_in_source() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut pending = vec![Path::new(ROOT).join("src")];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("src is readable") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("source file");
                names.extend(
                    text.split("\"voxedge_")
                        .skip(1)
                        .filter_map(|rest| rest.split_once('"'))
                        .map(|(name, _)| format!("voxedge_{name}")),
                );
            }
        }
    }
    names
}

#[test]
fn the_metrics_table_lists_exactly_what_the_code_records() {
    let (exported, pending) = metrics_table();
    let in_source = metrics_in_source();
    let listed: BTreeSet<String> = exported.keys().cloned().collect();
    assert!(
        in_source.len() > 20,
        "the source scan found too few metrics: {in_source:?}"
    );
    let missing: Vec<_> = in_source.difference(&listed).collect();
    let stale: Vec<_> = listed.difference(&in_source).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "deploy/metrics.md is out of date: add {missing:?}, remove or rename {stale:?}"
    );
    for (name, kind) in exported.iter().chain(&pending) {
        assert!(
            ["counter", "gauge", "histogram"].contains(&kind.as_str()),
            "{name}: type {kind:?}"
        );
    }
    for name in pending.keys() {
        assert!(
            !in_source.contains(name),
            "{name} is exported now: move it to the main table of deploy/metrics.md"
        );
    }
}

#[tokio::test]
async fn a_live_server_exports_the_listed_metrics_with_their_types() {
    let server = support::spawn().await;
    let acme = server.tenant("Acme").await;
    let globex = server.tenant("Globex").await;
    // Traffic for the request, GraphQL and error metrics, including a field error (NOT_FOUND) ...
    server
        .gql(Some(&acme.key), "{ viewer { tenant { id } } }", json!({}))
        .await;
    let (_, body) = server
        .gql(
            Some(&acme.key),
            r#"mutation { revokeApiKey(id: "nope") { id } }"#,
            json!({}),
        )
        .await;
    assert_eq!(support::error_code(&body), "NOT_FOUND", "{body}");
    // ... and a damaged tenant database, refused on open: TENANT_UNAVAILABLE.
    server.state.tenants.close(globex.id).await;
    server.state.tenants.run_pending_tasks().await;
    let path = server.state.tenants.path_of(globex.id);
    let _ = std::fs::remove_file(path.with_extension("db-wal"));
    let _ = std::fs::remove_file(path.with_extension("db-shm"));
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[..100].copy_from_slice(&[0xAB; 100]);
    std::fs::write(&path, &bytes).unwrap();
    let (_, body) = server
        .gql(Some(&globex.key), "{ viewer { tenant { id } } }", json!({}))
        .await;
    assert_eq!(support::error_code(&body), "TENANT_UNAVAILABLE", "{body}");

    let text = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (exported, _) = metrics_table();
    let mut seen = BTreeSet::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("# TYPE ") else {
            continue;
        };
        let (name, kind) = rest.split_once(' ').expect("`# TYPE name kind`");
        // The exporter renders histograms as Prometheus histograms: same word.
        assert_eq!(
            exported.get(name).map(String::as_str),
            Some(kind),
            "/metrics has {name} as a {kind}; deploy/metrics.md says {:?}",
            exported.get(name)
        );
        seen.insert(name.to_string());
    }
    for name in [
        "voxedge_http_requests_total",
        "voxedge_api_errors_total",
        "voxedge_tenant_open_failures_total",
        "voxedge_tenants_open",
        "voxedge_webhook_queue_overdue_seconds",
    ] {
        assert!(seen.contains(name), "{name} missing from /metrics:\n{text}");
    }
    for series in [
        r#"voxedge_api_errors_total{code="NOT_FOUND"}"#,
        r#"voxedge_api_errors_total{code="TENANT_UNAVAILABLE"}"#,
        r#"voxedge_tenant_open_failures_total{reason="refused"}"#,
        "voxedge_webhook_queue_overdue_seconds 0",
    ] {
        assert!(text.contains(series), "missing {series} in:\n{text}");
    }
}

/// Every panel of the dashboard, rows' nested panels included.
fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut all = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        all.push(panel);
        if let Some(nested) = panel["panels"].as_array() {
            all.extend(nested);
        }
    }
    all
}

fn dashboard() -> Value {
    serde_json::from_str(&read("deploy/grafana/voxedge.json"))
        .expect("deploy/grafana/voxedge.json is JSON")
}

#[test]
fn the_dashboard_uses_its_datasource_variable_and_only_exported_metrics() {
    let dashboard = dashboard();
    let (exported, _) = metrics_table();
    let variables = dashboard["templating"]["list"]
        .as_array()
        .expect("templating");
    assert!(
        variables.iter().any(|v| v["name"] == "datasource"
            && v["type"] == "datasource"
            && v["query"] == "prometheus"),
        "a `datasource` variable of type datasource"
    );
    let mut ids = BTreeSet::new();
    let mut used = BTreeSet::new();
    for panel in panels(&dashboard) {
        let title = panel["title"].as_str().unwrap_or("?");
        assert!(
            ids.insert(panel["id"].as_u64().expect("panel id")),
            "duplicate id: {title}"
        );
        let grid = &panel["gridPos"];
        let (x, w) = (grid["x"].as_u64().unwrap(), grid["w"].as_u64().unwrap());
        assert!(x + w <= 24, "{title} is wider than the dashboard");
        if panel["type"] == "row" {
            continue;
        }
        assert_eq!(panel["datasource"]["uid"], "${datasource}", "{title}");
        assert!(
            panel["fieldConfig"]["defaults"]["unit"].is_string(),
            "{title} has a unit"
        );
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{title} has queries");
        for target in targets {
            assert_eq!(target["datasource"]["uid"], "${datasource}", "{title}");
            let expr = target["expr"].as_str().expect("expr");
            assert!(
                expr.contains("$instance"),
                "{title}: filter by $instance: {expr}"
            );
            for token in metric_tokens(expr) {
                let metric = metric_of(&token, &exported).unwrap_or_else(|| {
                    panic!("{title}: `{token}` is not an exported metric (deploy/metrics.md)")
                });
                used.insert(metric);
            }
        }
    }
    for (name, kind) in &exported {
        if kind == "histogram" && name.starts_with("voxedge_turn_") {
            assert!(used.contains(name), "the dashboard shows no {name}");
        }
    }
}

/// The dashboard's queries are valid PromQL: promtool checks them as recording rules.
#[test]
fn the_dashboard_queries_parse() {
    let dashboard = dashboard();
    let mut rules = Vec::new();
    for panel in panels(&dashboard) {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"]
                .as_str()
                .expect("expr")
                .replace("$instance", ".*");
            rules.push(json!({
                "record": format!("dashboard:panel_{}_{}", panel["id"], target["refId"].as_str().unwrap_or("A")),
                "expr": expr,
            }));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dashboard-rules.json");
    std::fs::write(
        &file,
        json!({ "groups": [{ "name": "dashboard", "rules": rules }] }).to_string(),
    )
    .unwrap();
    let output = Command::new("promtool")
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .expect("promtool is installed (scripts/setup-system installs the prometheus package)");
    assert!(
        output.status.success(),
        "a dashboard query does not parse:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn alert_rules_name_known_metrics_and_carry_severity_annotations_and_tests() {
    let rules: Value =
        serde_yaml::from_str(&read("deploy/prometheus/alerts.yml")).expect("alerts.yml is YAML");
    let tests: Value = serde_yaml::from_str(&read("deploy/prometheus/alerts.test.yml"))
        .expect("alerts.test.yml is YAML");
    let runbook = read("deploy/runbook.md");
    let (exported, pending) = metrics_table();
    let mut known = exported.clone();
    known.extend(pending.clone());

    let tested: BTreeSet<&str> = tests["tests"]
        .as_array()
        .expect("tests")
        .iter()
        .flat_map(|t| t["alert_rule_test"].as_array().into_iter().flatten())
        .filter(|case| case["exp_alerts"].as_array().is_some_and(|a| !a.is_empty()))
        .filter_map(|case| case["alertname"].as_str())
        .collect();
    let mut alerts = BTreeSet::new();
    for group in rules["groups"].as_array().expect("groups") {
        for rule in group["rules"].as_array().expect("rules") {
            let name = rule["alert"].as_str().expect("only alerting rules");
            assert!(alerts.insert(name), "{name} twice");
            assert!(rule["for"].is_string(), "{name}: `for:`");
            let severity = rule["labels"]["severity"].as_str();
            assert!(
                matches!(severity, Some("critical" | "warning")),
                "{name}: severity critical or warning"
            );
            for annotation in ["summary", "description", "runbook"] {
                assert!(
                    rule["annotations"][annotation].is_string(),
                    "{name}: {annotation}"
                );
            }
            let anchor = rule["annotations"]["runbook"]
                .as_str()
                .and_then(|r| r.strip_prefix("deploy/runbook.md#"))
                .and_then(|r| r.split(':').next())
                .unwrap_or_else(|| panic!("{name}: runbook starts with deploy/runbook.md#anchor"));
            assert!(
                runbook.lines().any(|l| l
                    .strip_prefix("## ")
                    .is_some_and(|h| h.to_ascii_lowercase() == anchor)),
                "{name}: deploy/runbook.md has no section #{anchor}"
            );
            assert!(
                tested.contains(name),
                "{name}: alerts.test.yml never expects it to fire"
            );
            let expr = rule["expr"].as_str().expect("expr");
            for token in metric_tokens(expr) {
                let metric = metric_of(&token, &known).unwrap_or_else(|| {
                    panic!("{name}: `{token}` is not a metric of deploy/metrics.md")
                });
                if pending.contains_key(&metric) {
                    // Allowed only for the metric another change adds; the rule says so.
                    assert!(
                        read("deploy/prometheus/alerts.yml")
                            .contains(&format!("{metric} comes with")),
                        "{name}: say where {metric} comes from"
                    );
                }
            }
        }
    }
    // Prose mentions real metrics too.
    for (file, text) in [
        (
            "deploy/prometheus/alerts.yml",
            read("deploy/prometheus/alerts.yml"),
        ),
        ("deploy/runbook.md", runbook.clone()),
    ] {
        for token in metric_tokens(&text) {
            assert!(
                metric_of(&token, &known).is_some(),
                "{file} mentions `{token}`, which is not in deploy/metrics.md"
            );
        }
    }
}
