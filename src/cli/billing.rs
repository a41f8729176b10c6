//! `voxedge usage verify|adjust` and `voxedge invoice list|close|mark|credit`, for operators.

use clap::Subcommand;
use rust_decimal::Decimal;
use serde_json::json;

use super::tenant_id;
use crate::billing::invoices::{self, InvoiceStatus};
use crate::billing::{dunning, job, pricing::Month, usage};
use crate::model::Metric;
use crate::repo;
use crate::repo::usage::Adjustment;
use crate::state::AppState;

#[derive(Debug, Subcommand)]
pub enum UsageCommand {
    /// Check that every tenant's daily rollups equal its usage ledger; one JSON line per tenant. Exits
    /// non-zero if any differs.
    Verify {
        /// Only this tenant.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Correct the ledger with a new (negative or positive) adjustment; the ledger itself never changes.
    /// Recording the same key again does nothing.
    Adjust {
        #[arg(long)]
        tenant: String,
        /// call_ms, stt_audio_ms, llm_input_tokens, llm_output_tokens, tts_characters.
        #[arg(long, value_parser = |s: &str| Metric::parse(s).ok_or("unknown metric"))]
        metric: Metric,
        /// In the metric's base unit (milliseconds, tokens, characters); negative takes usage back.
        #[arg(long, allow_hyphen_values = true)]
        quantity: i64,
        /// Why (kept with the adjustment).
        #[arg(long)]
        reason: String,
        /// Idempotency key: the same key is recorded once.
        #[arg(long)]
        key: String,
        #[arg(long)]
        agent: Option<String>,
        #[arg(long)]
        call: Option<String>,
        /// When it counts (RFC 3339; default now). Its month must not be invoiced yet.
        #[arg(long)]
        at: Option<chrono::DateTime<chrono::Utc>>,
    },
}

#[derive(Debug, Subcommand)]
pub enum InvoiceCommand {
    /// A tenant's invoices, newest first, one JSON object per line.
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Close ended months into invoices and finalize drafts that are due, now (what the billing job does).
    Close {
        #[arg(long)]
        tenant: String,
    },
    /// Move an invoice to paid, void or uncollectible (payments received outside Stripe, write-offs).
    Mark {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        invoice: String,
        /// paid, void or uncollectible.
        #[arg(long)]
        status: String,
    },
    /// Issue a credit note (refund or correction) against an issued invoice.
    Credit {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        invoice: String,
        /// A decimal amount in the invoice's currency.
        #[arg(long)]
        amount: Decimal,
        #[arg(long)]
        reason: String,
    },
}

pub async fn usage(state: AppState, command: UsageCommand) -> anyhow::Result<()> {
    match command {
        UsageCommand::Verify { tenant } => {
            let ids = match tenant {
                Some(id) => vec![tenant_id(&id)?],
                None => state
                    .catalog
                    .read(repo::tenants::list)
                    .await?
                    .into_iter()
                    .map(|t| t.id)
                    .collect(),
            };
            let mut differing = 0;
            for id in ids {
                let db = state.tenants.get(id).await?;
                let mismatches = db.read(repo::usage::verify).await?;
                differing += usize::from(!mismatches.is_empty());
                let rows: Vec<_> = mismatches
                    .iter()
                    .map(|(day, agent, metric, ledger, rollup)| {
                        json!({ "day": day, "agent_id": agent, "metric": metric, "ledger": ledger, "rollup": rollup })
                    })
                    .collect();
                println!(
                    "{}",
                    json!({ "tenant_id": id.to_string(), "ok": rows.is_empty(), "mismatches": rows })
                );
            }
            if differing > 0 {
                anyhow::bail!("{differing} tenant(s) have rollups that differ from their ledger");
            }
        }
        UsageCommand::Adjust {
            tenant,
            metric,
            quantity,
            reason,
            key,
            agent,
            call,
            at,
        } => {
            let tenant = state.tenant(tenant_id(&tenant)?).await?;
            let at = at.map_or_else(|| state.billing.now(), |t| t.timestamp_millis());
            let adjustment = Adjustment {
                idempotency_key: key,
                call_id: call,
                agent_id: agent,
                metric,
                quantity,
                reason,
            };
            let new = usage::adjust(&tenant, adjustment, at).await?;
            println!("{}", json!({ "recorded": new }));
        }
    }
    Ok(())
}

pub async fn invoice(state: AppState, command: InvoiceCommand) -> anyhow::Result<()> {
    let billing = &state.billing;
    match command {
        InvoiceCommand::List { tenant } => {
            let tenant = state.tenant(tenant_id(&tenant)?).await?;
            let rows = tenant
                .db
                .read(|conn| repo::invoices::list(conn, None, i64::MAX))
                .await?;
            for invoice in rows {
                println!("{}", invoices::invoice_json(&invoice));
            }
        }
        InvoiceCommand::Close { tenant } => {
            let id = tenant_id(&tenant)?;
            let tenant = state.tenant(id).await?;
            let customer = billing
                .catalog()
                .read(move |conn| repo::billing::account(conn, id))
                .await?
                .stripe_customer_id;
            let current = Month::containing(billing.now());
            job::close_and_finalize(billing, &tenant, current, customer.as_ref()).await?;
            println!(
                "{}",
                json!({ "tenant_id": id.to_string(), "closed_through": current.label() })
            );
        }
        InvoiceCommand::Mark {
            tenant,
            invoice,
            status,
        } => {
            let to = InvoiceStatus::parse(&status)
                .filter(|s| {
                    matches!(
                        s,
                        InvoiceStatus::Paid | InvoiceStatus::Void | InvoiceStatus::Uncollectible
                    )
                })
                .ok_or_else(|| anyhow::anyhow!("--status is paid, void or uncollectible"))?;
            let tenant = state.tenant(tenant_id(&tenant)?).await?;
            let row = invoices::transition(billing, &tenant, invoice, to).await?;
            dunning::reconcile(billing, &tenant, "invoice marked by an operator").await?;
            println!("{}", invoices::invoice_json(&row));
        }
        InvoiceCommand::Credit {
            tenant,
            invoice,
            amount,
            reason,
        } => {
            let tenant = state.tenant(tenant_id(&tenant)?).await?;
            let note = invoices::credit(
                &tenant,
                invoice,
                amount,
                reason,
                "cli".into(),
                billing.now(),
            )
            .await?;
            println!(
                "{}",
                json!({ "credit_note": note.id, "invoice": note.invoice_id, "amount": note.amount.to_string() })
            );
        }
    }
    Ok(())
}
