//! A month of generated usage → its invoice, checked to the cent against a computation written here in
//! integer arithmetic (not the server's decimal code); replaying the usage changes nothing; the rollups equal
//! the ledger; the job closes months once and catches up after downtime; invoice states and credit notes.

use std::collections::HashMap;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use voxedge::billing::pricing::Month;
use voxedge::billing::usage;
use voxedge::model::{Metric, NewUsage};
use voxedge::repo::usage::{Adjustment, DAY_MS};

use crate::support::{self, TestServer, process};
use crate::*;

/// A decimal string as millionths (the price book has at most 6 decimals).
fn micros(text: &str) -> i128 {
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    assert!(frac.len() <= 6, "{text}");
    let frac = format!("{frac:0<6}");
    let sign = if whole.starts_with('-') { -1 } else { 1 };
    let whole: i128 = whole.trim_start_matches('-').parse().unwrap();
    sign * (whole * 1_000_000 + frac.parse::<i128>().unwrap())
}

/// `num / den` rounded half to even, in integers.
fn round_half_even(num: i128, den: i128) -> i128 {
    let (q, r) = (num.div_euclid(den), num.rem_euclid(den));
    match (2 * r).cmp(&den) {
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal if q % 2 != 0 => q + 1,
        _ => q,
    }
}

/// A plan's terms as the API shows them, in millionths.
struct Terms {
    fee: i128,
    included: HashMap<String, i128>,
    price: HashMap<String, i128>,
}

async fn terms_of(server: &TestServer, key: &str) -> HashMap<String, Terms> {
    let (_, body) = server
        .gql(
            Some(key),
            "{ plans { id baseFee { amount } included { metric quantity } unitPrices { metric price { amount } } } }",
            json!({}),
        )
        .await;
    data(&body, "plans")
        .as_array()
        .unwrap()
        .iter()
        .map(|plan| {
            let per = |list: &Value, value: &dyn Fn(&Value) -> &str| {
                list.as_array()
                    .unwrap()
                    .iter()
                    .map(|m| (m["metric"].as_str().unwrap().to_string(), micros(value(m))))
                    .collect::<HashMap<_, _>>()
            };
            (
                plan["id"].as_str().unwrap().to_string(),
                Terms {
                    fee: micros(plan["baseFee"]["amount"].as_str().unwrap()),
                    included: per(&plan["included"], &|m| m["quantity"].as_str().unwrap()),
                    price: per(&plan["unitPrices"], &|m| {
                        m["price"]["amount"].as_str().unwrap()
                    }),
                },
            )
        })
        .collect()
}

fn unit_of(metric: &str) -> i128 {
    match metric {
        "CALL_MS" | "STT_AUDIO_MS" => 60_000,
        _ => 1_000,
    }
}

fn graphql_name(metric: Metric) -> &'static str {
    match metric {
        Metric::CallMs => "CALL_MS",
        Metric::SttAudioMs => "STT_AUDIO_MS",
        Metric::LlmInputTokens => "LLM_INPUT_TOKENS",
        Metric::LlmOutputTokens => "LLM_OUTPUT_TOKENS",
        Metric::TtsCharacters => "TTS_CHARACTERS",
    }
}

/// The invoice total in cents, computed here: each day billed under the plan it ended on; per segment the
/// base fee × days / month days and, per metric, (used − included × days / month days) × price, each line
/// rounded half to even; the total the sum of the lines.
fn expected_cents(
    month: Month,
    segments: &[(i64, i64, &Terms)],
    usage_by_day: &HashMap<(i64, String), i128>,
) -> (i128, usize) {
    let days_in_month = i128::from(month.days());
    let (mut total, mut lines) = (0i128, 0usize);
    for &(first, end, terms) in segments {
        let days = i128::from(end - first);
        total += round_half_even(terms.fee * days * 100, days_in_month * 1_000_000);
        lines += 1;
        for metric in terms.price.keys() {
            let used: i128 = (first..end)
                .map(|day| {
                    usage_by_day
                        .get(&(day, metric.clone()))
                        .copied()
                        .unwrap_or(0)
                })
                .sum();
            if used == 0 {
                continue;
            }
            lines += 1;
            let unit = unit_of(metric);
            // overage = used/U − inc×days/D, in millionths of a unit: (used×D×1e6 − inc×days×U) / (U×D).
            let over =
                (used * days_in_month * 1_000_000 - terms.included[metric] * days * unit).max(0);
            let price = terms.price[metric];
            // price (millionths of money) × over (millionths of a unit) / (U×D) → money ×1e12; ×100 → cents.
            total += round_half_even(price * over * 100, unit * days_in_month * 1_000_000_000_000);
        }
    }
    (total, lines)
}

fn cents(amount: &str) -> i128 {
    micros(amount) / 10_000
}

#[tokio::test]
async fn a_generated_month_is_invoiced_to_the_cent_and_replaying_it_changes_nothing() {
    let server = support::spawn_with(quiet_job).await;
    let tenant = server.tenant("Ledger Co").await;
    let billing = &server.state.billing;
    let handle = server.state.tenant(tenant.id).await.unwrap();
    let agents = [
        agent(&server, &tenant.key, "Sales").await,
        agent(&server, &tenant.key, "Support").await,
        agent(&server, &tenant.key, "Billing").await,
    ];
    let mut calls = Vec::new();
    for (i, agent) in agents.iter().enumerate() {
        for _ in 0..(4 + i) {
            calls.push((
                server
                    .create_call(
                        &tenant.key,
                        agent,
                        json!({ "direction": "INBOUND", "transport": "WEB" }),
                    )
                    .await,
                agent.clone(),
            ));
        }
    }
    // The month after this one: on Pro from now, on Enterprise from day 15, 13:00 UTC.
    let month = Month::containing(billing.now()).next();
    assign(&server, tenant.id, "pro", json!({})).await;
    let change_at = month.start_ms + 14 * DAY_MS + 13 * 3_600_000;
    server
        .state
        .clock
        .advance(Duration::from_millis((change_at - billing.now()) as u64));
    assign(
        &server,
        tenant.id,
        "enterprise",
        json!({ "unit_prices": { "call_ms": "0.0125" } }),
    )
    .await;

    // Thousands of events across the month, several agents and every metric.
    let mut rng = StdRng::seed_from_u64(13);
    let mut events = Vec::new();
    for i in 0..6_000 {
        let (call, _) = &calls[rng.random_range(0..calls.len())];
        let metric = Metric::ALL[rng.random_range(0..Metric::ALL.len())];
        let quantity = match metric {
            Metric::CallMs | Metric::SttAudioMs => rng.random_range(1..600_000),
            Metric::LlmInputTokens | Metric::LlmOutputTokens => rng.random_range(1..4_000),
            Metric::TtsCharacters => rng.random_range(1..3_000),
        };
        let at = month.start_ms + rng.random_range(0..(month.end_ms - month.start_ms));
        events.push((
            NewUsage::for_call(call, &format!("generated:{i}"), metric, quantity),
            at,
        ));
    }
    for chunk in events.chunks(1_000) {
        assert_eq!(
            usage::ingest(&handle, chunk.to_vec()).await.unwrap(),
            chunk.len()
        );
    }
    // A correction: ten minutes of call time taken back on day 20, recorded once however often it is sent.
    let adjustment = Adjustment {
        idempotency_key: "refund-outage-day-20".into(),
        call_id: None,
        agent_id: Some(agents[1].clone()),
        metric: Metric::CallMs,
        quantity: -600_000,
        reason: "provider outage".into(),
    };
    let adjusted_at = month.start_ms + 19 * DAY_MS + 3_600_000;
    assert!(
        usage::adjust(&handle, adjustment.clone(), adjusted_at)
            .await
            .unwrap()
    );
    assert!(
        !usage::adjust(&handle, adjustment.clone(), adjusted_at)
            .await
            .unwrap()
    );

    // Close the month.
    server.state.clock.advance(Duration::from_millis(
        (month.end_ms + 3_600_000 - billing.now()) as u64,
    ));
    run_job(&server).await;
    let (_, body) = server
        .gql(
            Some(&tenant.key),
            "{ invoices { nodes { id number status total { amount currency } periodStart lines { kind plan amount { amount } } } } }",
            json!({}),
        )
        .await;
    let invoices = data(&body, "invoices")["nodes"].as_array().unwrap().clone();
    // This month (the tenant's first, prorated) and the generated one.
    assert_eq!(invoices.len(), 2, "{invoices:?}");
    let period = voxedge::clock::datetime(month.start_ms).to_rfc3339();
    let invoice = invoices
        .iter()
        .find(|i| i["periodStart"] == period.as_str())
        .unwrap_or_else(|| panic!("no invoice for {period}: {invoices:?}"));
    assert_eq!(invoice["status"], "OPEN");
    assert_eq!(invoice["total"]["currency"], "usd");

    // The same figures, computed independently from the generated events.
    let plans = terms_of(&server, &tenant.key).await;
    let mut enterprise = Terms {
        fee: plans["enterprise"].fee,
        included: plans["enterprise"].included.clone(),
        price: plans["enterprise"].price.clone(),
    };
    enterprise.price.insert("CALL_MS".into(), micros("0.0125"));
    let change_day = (change_at / DAY_MS) - month.first_day();
    let segments = [
        (
            month.first_day(),
            month.first_day() + change_day,
            &plans["pro"],
        ),
        (month.first_day() + change_day, month.end_day(), &enterprise),
    ];
    let mut usage_by_day: HashMap<(i64, String), i128> = HashMap::new();
    for (usage, at) in &events {
        *usage_by_day
            .entry((at / DAY_MS, graphql_name(usage.metric).to_string()))
            .or_default() += i128::from(usage.quantity);
    }
    *usage_by_day
        .entry((adjusted_at / DAY_MS, "CALL_MS".into()))
        .or_default() -= 600_000;
    let (expected, expected_lines) = expected_cents(month, &segments, &usage_by_day);
    assert_eq!(
        cents(invoice["total"]["amount"].as_str().unwrap()),
        expected
    );
    let lines = invoice["lines"].as_array().unwrap();
    assert_eq!(lines.len(), expected_lines);
    let line_sum: i128 = lines
        .iter()
        .map(|l| cents(l["amount"]["amount"].as_str().unwrap()))
        .sum();
    assert_eq!(
        line_sum, expected,
        "the total is the sum of the rounded lines"
    );
    assert!(
        lines.iter().any(|l| l["plan"] == "pro") && lines.iter().any(|l| l["plan"] == "enterprise")
    );

    // Replaying every event records nothing and changes no figure.
    for chunk in events.chunks(1_000) {
        assert_eq!(usage::ingest(&handle, chunk.to_vec()).await.unwrap(), 0);
    }
    let again = voxedge::billing::invoices::compute(billing, &handle, month, month.end_day())
        .await
        .unwrap();
    assert_eq!(cents(&again.total.to_string()), expected);
    run_job(&server).await;
    let (_, body) = server
        .gql(
            Some(&tenant.key),
            "{ invoices { nodes { total { amount } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data(&body, "invoices")["nodes"].as_array().unwrap().len(),
        2
    );

    // The rollups equal the ledger, by the server's check and by the CLI's.
    assert!(
        handle
            .db
            .read(voxedge::repo::usage::verify)
            .await
            .unwrap()
            .is_empty()
    );
    let out = process::run_ok(
        &server.data_dir,
        &["usage", "verify", "--tenant", &tenant.id.to_string()],
    );
    let report = process::stdout_json(&out);
    assert_eq!(report["ok"], true, "{report}");
    // The ledger refuses to be edited.
    let edited = handle
        .db
        .write(|tx| {
            tx.execute("update usage_events set quantity = 0", [])
                .map_err(voxedge::db::StorageError::from)
        })
        .await;
    assert!(edited.is_err());

    // Two months of downtime: both are closed at the next run, once each (base fee only).
    server.state.clock.advance(Duration::from_millis(
        (month.next().next().end_ms + 60_000 - billing.now()) as u64,
    ));
    run_job(&server).await;
    run_job(&server).await;
    let (_, body) = server
        .gql(
            Some(&tenant.key),
            "{ invoices { nodes { number total { amount } periodStart } } }",
            json!({}),
        )
        .await;
    let all = data(&body, "invoices")["nodes"].as_array().unwrap().clone();
    assert_eq!(all.len(), 4, "{all:?}");
    let enterprise_fee = plans["enterprise"].fee / 10_000;
    for caught_up in &all[..2] {
        assert_eq!(
            cents(caught_up["total"]["amount"].as_str().unwrap()),
            enterprise_fee
        );
    }
}

#[tokio::test]
async fn invoice_states_credit_notes_and_a_price_change_that_leaves_issued_invoices_alone() {
    let server = support::spawn_with(quiet_job).await;
    let tenant = server.tenant("States").await;
    let billing = &server.state.billing;
    assign(&server, tenant.id, "pro", json!({})).await;
    let month = Month::containing(billing.now());
    server.state.clock.advance(Duration::from_millis(
        (month.end_ms + 60_000 - billing.now()) as u64,
    ));
    run_job(&server).await;
    let (_, body) = server
        .gql(
            Some(&tenant.key),
            "{ invoices { nodes { id status total { amount } } } }",
            json!({}),
        )
        .await;
    let invoice = data(&body, "invoices")["nodes"][0].clone();
    let id = invoice["id"].as_str().unwrap().to_string();
    let total = invoice["total"]["amount"].as_str().unwrap().to_string();
    assert_eq!(invoice["status"], "OPEN");

    // A price change now: the issued invoice keeps its figures.
    let version = plans::add_version(
        billing,
        plans::NewVersion {
            plan: "pro".into(),
            name: "Pro".into(),
            terms: {
                let mut terms = plans::current(billing.catalog())
                    .await
                    .unwrap()
                    .into_iter()
                    .find(|v| v.plan == "pro")
                    .unwrap()
                    .terms;
                terms.base_fee = "99.00".parse().unwrap();
                terms
            },
            self_serve: true,
            effective_from: billing.now(),
            created_by: "test".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(version, 2);
    let (_, body) = server
        .gql(Some(&tenant.key), "query($id: ID!) { invoice(id: $id) { total { amount } lines { unitPrice { amount } } } }", json!({ "id": id }))
        .await;
    assert_eq!(data(&body, "invoice")["total"]["amount"], total.as_str());
    assert_eq!(
        data(&body, "invoice")["lines"][0]["unitPrice"]["amount"],
        "49.00"
    );

    // Operator: a credit note, then paid; a paid invoice cannot be voided; credits never exceed the total.
    let data_dir = server.data_dir.clone();
    let t = tenant.id.to_string();
    let out = process::run_ok(
        &data_dir,
        &[
            "invoice",
            "credit",
            "--tenant",
            &t,
            "--invoice",
            &id,
            "--amount",
            "5.005",
            "--reason",
            "goodwill",
        ],
    );
    assert_eq!(
        process::stdout_json(&out)["amount"],
        "5.00",
        "credits are rounded half-even to the cent"
    );
    let too_much = process::voxedge()
        .arg("--data-dir")
        .arg(&data_dir)
        .args([
            "invoice",
            "credit",
            "--tenant",
            &t,
            "--invoice",
            &id,
            "--amount",
            &total,
            "--reason",
            "all of it",
        ])
        .output()
        .unwrap();
    assert!(!too_much.status.success());
    process::run_ok(
        &data_dir,
        &[
            "invoice",
            "mark",
            "--tenant",
            &t,
            "--invoice",
            &id,
            "--status",
            "paid",
        ],
    );
    let void = process::voxedge()
        .arg("--data-dir")
        .arg(&data_dir)
        .args([
            "invoice",
            "mark",
            "--tenant",
            &t,
            "--invoice",
            &id,
            "--status",
            "void",
        ])
        .output()
        .unwrap();
    assert!(!void.status.success(), "paid → void is not a transition");
    let (_, body) = server
        .gql(Some(&tenant.key), "query($id: ID!) { invoice(id: $id) { status credited { amount } creditNotes { reason amount { amount } } } }", json!({ "id": id }))
        .await;
    let invoice = data(&body, "invoice");
    assert_eq!(invoice["status"], "PAID");
    assert_eq!(invoice["credited"]["amount"], "5.00");
    assert_eq!(invoice["creditNotes"][0]["reason"], "goodwill");

    // A viewer cannot see billing; a billing member can.
    let viewer = server.key(tenant.id, voxedge::model::Role::Viewer).await;
    let (_, body) = server
        .gql(Some(&viewer), "{ invoices { nodes { id } } }", json!({}))
        .await;
    assert_eq!(support::error_code(&body), "FORBIDDEN");
    let member = server.key(tenant.id, voxedge::model::Role::Billing).await;
    let (_, body) = server
        .gql(
            Some(&member),
            "{ billing { status plan { id } costToDate { amount } } }",
            json!({}),
        )
        .await;
    assert_eq!(data(&body, "billing")["plan"]["id"], "pro");
}
