//! `voxedge plan list|set|assign`: the price book and tenants' plans, for operators.

use anyhow::Context as _;
use clap::Subcommand;
use rust_decimal::Decimal;
use serde_json::json;

use crate::billing::plans::{self, NewVersion, PlanChange};
use crate::model::{Metric, PlanTerms, TermsOverride};
use crate::repo;
use crate::state::AppState;

#[derive(Debug, Subcommand)]
pub enum PlanCommand {
    /// Print the plans offered now (latest version of each), one JSON object per line.
    List {
        /// Every version of every plan instead.
        #[arg(long)]
        all: bool,
    },
    /// Add a version of a plan (or a new plan). Unnamed terms keep the plan's current ones; prices never
    /// change in place, so invoices already issued keep theirs.
    Set {
        /// Plan id: `free`, `pro`, `enterprise`, or a new one (lowercase letters, digits, - and _).
        plan: String,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// ISO 4217 currency (every amount of the plan is in it).
        #[arg(long)]
        currency: Option<String>,
        /// Monthly base fee, a decimal (e.g. 49.00).
        #[arg(long)]
        base_fee: Option<Decimal>,
        /// Included per month, `METRIC=QUANTITY` in billing units (call_ms and stt_audio_ms in minutes,
        /// llm_input_tokens and llm_output_tokens in thousands, tts_characters in thousands). Repeatable.
        #[arg(long = "included", value_parser = metric_value)]
        included: Vec<(Metric, Decimal)>,
        /// Price per billing unit beyond what is included, `METRIC=PRICE`. Repeatable.
        #[arg(long = "price", value_parser = metric_value)]
        prices: Vec<(Metric, Decimal)>,
        /// Calls at once, or `unlimited`.
        #[arg(long, value_parser = limit)]
        concurrent_calls: Option<Option<u64>>,
        /// Call minutes per month, or `unlimited`.
        #[arg(long, value_parser = limit)]
        monthly_minutes: Option<Option<u64>>,
        /// Whether tenants may choose it themselves.
        #[arg(long)]
        self_serve: Option<bool>,
        /// The Stripe price of its subscription (`price_…`), or `none`.
        #[arg(long)]
        stripe_price: Option<String>,
        /// When the new version takes effect (RFC 3339); default now.
        #[arg(long)]
        effective_from: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Put a tenant on a plan from now on, optionally with its own terms (Enterprise agreements).
    Assign {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        plan: String,
        /// When the plan started (RFC 3339; default now) — for a customer moved over from another system;
        /// never in a month already invoiced.
        #[arg(long)]
        from: Option<chrono::DateTime<chrono::Utc>>,
        /// Terms replacing the plan's for this tenant, as JSON, e.g.
        /// '{"base_fee": "1500.00", "unit_prices": {"call_ms": "0.01"}, "concurrent_calls": 200}'.
        #[arg(long)]
        overrides: Option<String>,
    },
}

fn metric_value(text: &str) -> Result<(Metric, Decimal), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or("expected METRIC=VALUE, e.g. call_ms=0.02")?;
    let metric = Metric::parse(name.trim()).ok_or_else(|| {
        format!("unknown metric {name:?}: call_ms, stt_audio_ms, llm_input_tokens, llm_output_tokens, tts_characters")
    })?;
    let value = value
        .trim()
        .parse::<Decimal>()
        .map_err(|e| format!("{value:?} is not a decimal: {e}"))?;
    Ok((metric, value))
}

fn limit(text: &str) -> Result<Option<u64>, String> {
    if text.eq_ignore_ascii_case("unlimited") {
        return Ok(None);
    }
    text.parse::<u64>()
        .map(Some)
        .map_err(|_| "a whole number or `unlimited`".to_string())
}

pub async fn run(state: AppState, command: PlanCommand) -> anyhow::Result<()> {
    let billing = &state.billing;
    match command {
        PlanCommand::List { all } => {
            let versions = if all {
                billing.catalog().read(repo::billing::plan_versions).await?
            } else {
                plans::current(billing.catalog()).await?
            };
            for v in versions {
                println!(
                    "{}",
                    json!({
                        "plan": v.plan, "version": v.version, "name": v.name, "self_serve": v.self_serve,
                        "effective_from": crate::clock::datetime(v.effective_from), "terms": v.terms,
                    })
                );
            }
        }
        PlanCommand::Set {
            plan,
            name,
            currency,
            base_fee,
            included,
            prices,
            concurrent_calls,
            monthly_minutes,
            self_serve,
            stripe_price,
            effective_from,
        } => {
            let existing = plans::current(billing.catalog())
                .await?
                .into_iter()
                .find(|v| v.plan == plan);
            let (mut terms, mut display, mut serve) = match existing {
                Some(v) => (v.terms, v.name, v.self_serve),
                None => (
                    PlanTerms {
                        currency: crate::model::Currency::usd(),
                        base_fee: Decimal::ZERO,
                        included: Default::default(),
                        unit_prices: Default::default(),
                        concurrent_calls: None,
                        monthly_minutes: None,
                        stripe_price_id: None,
                    },
                    plan.clone(),
                    false,
                ),
            };
            if let Some(name) = name {
                display = name;
            }
            if let Some(currency) = currency {
                terms.currency = currency.parse()?;
            }
            if let Some(fee) = base_fee {
                terms.base_fee = fee;
            }
            for (metric, quantity) in included {
                *terms.included.get_mut(metric) = quantity;
            }
            for (metric, price) in prices {
                *terms.unit_prices.get_mut(metric) = price;
            }
            if let Some(limit) = concurrent_calls {
                terms.concurrent_calls = limit.map(|l| u32::try_from(l).unwrap_or(u32::MAX));
            }
            if let Some(limit) = monthly_minutes {
                terms.monthly_minutes = limit;
            }
            if let Some(value) = self_serve {
                serve = value;
            }
            if let Some(price) = stripe_price {
                terms.stripe_price_id = (!price.eq_ignore_ascii_case("none")).then_some(price);
            }
            let effective_from =
                effective_from.map_or_else(|| billing.now(), |t| t.timestamp_millis());
            let version = plans::add_version(
                billing,
                NewVersion {
                    plan: plan.clone(),
                    name: display,
                    terms,
                    self_serve: serve,
                    effective_from,
                    created_by: "cli".into(),
                },
            )
            .await?;
            println!("{}", json!({ "plan": plan, "version": version }));
        }
        PlanCommand::Assign {
            tenant,
            plan,
            from,
            overrides,
        } => {
            let tenant = super::tenant_id(&tenant)?;
            let from = from.map(|t| t.timestamp_millis());
            if let Some(from) = from {
                let db = state.tenants.get(tenant).await?;
                let last = db.read(repo::invoices::last_period).await?;
                if let Some(last) = last
                    && from < crate::billing::pricing::Month::containing(last).end_ms
                {
                    anyhow::bail!(
                        "--from falls in a month already invoiced; correct it with a credit note"
                    );
                }
            }
            let overrides = overrides
                .map(|text| serde_json::from_str::<TermsOverride>(&text))
                .transpose()
                .context("--overrides")?;
            plans::change(
                billing,
                tenant,
                PlanChange {
                    overrides,
                    effective_from: from,
                    ..PlanChange::by_operator(plan.clone())
                },
            )
            .await?;
            println!(
                "{}",
                json!({ "tenant_id": tenant.to_string(), "plan": plan })
            );
        }
    }
    Ok(())
}
