use super::*;
use crate::repo::billing::PlanVersion;

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn version(plan: &str, version: i64, fee: &str, call_price: &str) -> PlanVersion {
    PlanVersion {
        plan: plan.into(),
        version,
        name: plan.to_uppercase(),
        terms: PlanTerms {
            currency: Currency::usd(),
            base_fee: d(fee),
            included: PerMetric {
                call_ms: d("100"),
                ..PerMetric::default()
            },
            unit_prices: PerMetric {
                call_ms: d(call_price),
                tts_characters: d("0.015"),
                ..PerMetric::default()
            },
            concurrent_calls: None,
            monthly_minutes: None,
            stripe_price_id: None,
        },
        self_serve: true,
        effective_from: 0,
        created_at: 0,
        created_by: "test".into(),
    }
}

fn on(plan: &str, from: i64) -> TenantPlan {
    TenantPlan {
        effective_from: from,
        plan: plan.into(),
        overrides: TermsOverride::default(),
        changed_by: "test".into(),
    }
}

fn usage(day: i64, metric: Metric, quantity: i64) -> DailyUsage {
    DailyUsage {
        day,
        agent_id: String::new(),
        metric,
        quantity,
        events: 1,
    }
}

/// November 2026: 30 days.
fn november() -> Month {
    Month::containing(
        chrono::NaiveDate::from_ymd_opt(2026, 11, 17)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp_millis(),
    )
}

#[test]
fn exact_cents_rounds_the_true_value_half_to_even() {
    assert_eq!(exact_cents(d("1"), 8), d("0.12")); // 0.125 → 0.12
    assert_eq!(exact_cents(d("27"), 200), d("0.14")); // 0.135 → 0.14
    assert_eq!(exact_cents(d("49"), 3), d("16.33")); // 16.333…
    assert_eq!(exact_cents(d("0.02") * d("90000"), 60000), d("0.03")); // 1.5 min × 0.02
    assert_eq!(exact_cents(d("-1"), 8), d("-0.12"));
    assert_eq!(exact_cents(d("5"), 1000), d("0.00")); // 0.005 → 0.00
    assert_eq!(exact_cents(d("15"), 1000), d("0.02")); // 0.015 → 0.02
    // One millisecond past a half cent is no longer a half.
    assert_eq!(exact_cents(d("0.3") * d("1001"), 60000), d("0.01"));
}

#[test]
fn months_know_their_days() {
    let month = november();
    assert_eq!(month.days(), 30);
    assert_eq!(month.label(), "2026-11");
    assert_eq!(month.next().days(), 31);
    assert_eq!(month.next().label(), "2026-12");
    assert_eq!(Month::containing(month.end_ms - 1), month);
    assert_eq!(Month::containing(month.end_ms), month.next());
}

#[test]
fn a_whole_month_on_one_plan_bills_the_fee_and_the_overage() {
    let month = november();
    let schedule = Schedule {
        versions: vec![version("pro", 1, "49.00", "0.02")],
        history: vec![on("pro", 0)],
    };
    // 130 minutes used, 100 included: 30 × 0.02 = 0.60.
    let rows = [
        usage(month.first_day(), Metric::CallMs, 60 * 60_000),
        usage(month.first_day() + 10, Metric::CallMs, 70 * 60_000),
        usage(month.first_day() + 3, Metric::TtsCharacters, 1_500),
    ];
    let bill = compute(
        month,
        month.first_day(),
        month.end_day(),
        &schedule,
        &rows,
        month.end_ms,
    );
    let amounts: Vec<_> = bill.lines.iter().map(|l| l.amount.to_string()).collect();
    assert_eq!(amounts, ["49.00", "0.60", "0.02"]); // 1.5k chars × 0.015 = 0.0225 → 0.02
    assert_eq!(bill.total, d("49.62"));
    assert_eq!(bill.lines[1].used, d("130"));
    assert_eq!(bill.lines[1].included, d("100"));
    assert_eq!(bill.lines[1].quantity, d("30"));
    assert_eq!(
        bill.lines[0].description,
        "PRO plan, Nov 1–30 (30 of 30 days)"
    );
}

#[test]
fn a_plan_change_mid_month_prorates_by_the_day() {
    let month = november();
    // Free until the 11th at 15:00, Pro from then: the 11th ended on Pro, so Free covers 10 days.
    let change = (month.first_day() + 10) * DAY_MS + 15 * 3_600_000;
    let schedule = Schedule {
        versions: vec![
            version("free", 1, "0", "0.05"),
            version("pro", 1, "49.00", "0.02"),
        ],
        history: vec![on("free", 0), on("pro", change)],
    };
    let rows = [
        usage(month.first_day() + 2, Metric::CallMs, 50 * 60_000),
        usage(month.first_day() + 20, Metric::CallMs, 100 * 60_000),
    ];
    let bill = compute(
        month,
        month.first_day(),
        month.end_day(),
        &schedule,
        &rows,
        month.end_ms,
    );
    let lines: Vec<_> = bill
        .lines
        .iter()
        .map(|l| (l.plan.as_str(), l.amount.to_string()))
        .collect();
    // Free: 10 days, 100 × 10/30 = 33.33… included, 50 used: 16.666… × 0.05 = 0.8333… → 0.83.
    // Pro: 49 × 20/30 = 32.666… → 32.67; 66.66… included, 100 used: 33.33… × 0.02 = 0.6666… → 0.67.
    assert_eq!(
        lines,
        [
            ("free", "0.00".to_string()),
            ("free", "0.83".to_string()),
            ("pro", "32.67".to_string()),
            ("pro", "0.67".to_string()),
        ]
    );
    assert_eq!(bill.total, d("34.17"));
}

#[test]
fn a_new_price_version_applies_from_the_day_it_takes_effect() {
    let month = november();
    let mut cheaper = version("pro", 2, "49.00", "0.01");
    cheaper.effective_from = (month.first_day() + 15) * DAY_MS;
    let schedule = Schedule {
        versions: vec![version("pro", 1, "49.00", "0.02"), cheaper],
        history: vec![on("pro", 0)],
    };
    let rows = [
        usage(month.first_day(), Metric::CallMs, 200 * 60_000),
        usage(month.first_day() + 20, Metric::CallMs, 200 * 60_000),
    ];
    let bill = compute(
        month,
        month.first_day(),
        month.end_day(),
        &schedule,
        &rows,
        month.end_ms,
    );
    let versions: Vec<_> = bill.lines.iter().map(|l| l.plan_version).collect();
    assert_eq!(versions, [1, 1, 2, 2]);
    // v1: 15 days, 50 included, 150 over × 0.02 = 3.00; v2: 50 included, 150 over × 0.01 = 1.50.
    assert_eq!(bill.lines[1].amount, d("3.00"));
    assert_eq!(bill.lines[3].amount, d("1.50"));
    assert_eq!(bill.total, d("53.50"));
}

#[test]
fn days_before_the_first_plan_and_negative_overage_cost_nothing() {
    let month = november();
    let schedule = Schedule {
        versions: vec![version("pro", 1, "30.00", "0.02")],
        history: vec![on("pro", (month.first_day() + 20) * DAY_MS)],
    };
    let rows = [usage(month.first_day() + 25, Metric::CallMs, 5 * 60_000)];
    let bill = compute(
        month,
        month.first_day(),
        month.end_day(),
        &schedule,
        &rows,
        month.end_ms,
    );
    assert_eq!(bill.lines[0].amount, d("10.00"), "10 of 30 days");
    assert_eq!(bill.lines[1].amount, d("0.00"), "within what is included");
    assert_eq!(bill.total, d("10.00"));
}

#[test]
fn list_cost_is_the_unit_price_without_inclusions() {
    let terms = version("pro", 1, "49", "0.02").terms;
    assert_eq!(list_cost(&terms, Metric::CallMs, 90_000), d("0.03"));
    assert_eq!(list_cost(&terms, Metric::TtsCharacters, 1_000), d("0.02")); // 0.015 → 0.02
    assert_eq!(list_cost(&terms, Metric::LlmInputTokens, 5_000), d("0.00"));
}
