//! Tenant database → `invoices`, `invoice_lines`, `credit_notes`, `stripe_usage_reports`.
//!
//! Amounts are decimal strings in SQL and [`Decimal`] here; a stored value that does not parse is a
//! conversion error, never a silent zero.

use super::Result;
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, named_params};
use rust_decimal::Decimal;

/// An invoice as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceRow {
    pub id: String,
    pub number: String,
    pub period_start: i64,
    pub period_end: i64,
    /// `draft`, `open`, `paid`, `void`, `uncollectible`.
    pub status: String,
    pub currency: String,
    pub subtotal: Decimal,
    pub total: Decimal,
    pub created_at: i64,
    pub finalized_at: Option<i64>,
    pub paid_at: Option<i64>,
    pub voided_at: Option<i64>,
    pub uncollectible_at: Option<i64>,
    pub payment_failed_at: Option<i64>,
    pub stripe_invoice_id: Option<String>,
}

/// One line of an invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineRow {
    pub position: i64,
    /// `base_fee` or `usage`.
    pub kind: String,
    pub metric: Option<String>,
    pub description: String,
    pub plan: String,
    pub plan_version: i64,
    pub period_start: i64,
    pub period_end: i64,
    pub quantity: Decimal,
    pub used: Decimal,
    pub included: Decimal,
    pub unit: String,
    pub unit_price: Decimal,
    pub amount: Decimal,
}

/// A credit note against an invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditNoteRow {
    pub id: String,
    pub invoice_id: String,
    pub amount: Decimal,
    pub reason: String,
    pub created_at: i64,
    pub created_by: String,
}

/// A decimal stored as text.
fn decimal(row: &Row<'_>, index: usize) -> rusqlite::Result<Decimal> {
    let text: String = row.get(index)?;
    text.parse()
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(index, Type::Text, Box::new(e)))
}

const COLUMNS: &str =
    "id, number, period_start, period_end, status, currency, subtotal, total, created_at,
    finalized_at, paid_at, voided_at, uncollectible_at, payment_failed_at, stripe_invoice_id";

fn from_row(row: &Row<'_>) -> rusqlite::Result<InvoiceRow> {
    Ok(InvoiceRow {
        id: row.get(0)?,
        number: row.get(1)?,
        period_start: row.get(2)?,
        period_end: row.get(3)?,
        status: row.get(4)?,
        currency: row.get(5)?,
        subtotal: decimal(row, 6)?,
        total: decimal(row, 7)?,
        created_at: row.get(8)?,
        finalized_at: row.get(9)?,
        paid_at: row.get(10)?,
        voided_at: row.get(11)?,
        uncollectible_at: row.get(12)?,
        payment_failed_at: row.get(13)?,
        stripe_invoice_id: row.get(14)?,
    })
}

/// Inserts an invoice and its lines (the caller's transaction makes it all-or-nothing).
pub fn insert(conn: &Connection, invoice: &InvoiceRow, lines: &[LineRow]) -> Result<()> {
    conn.execute(
        &format!(
            "insert into invoices ({COLUMNS}) values (:id, :number, :start, :end, :status, :currency,
             :subtotal, :total, :created, :finalized, :paid, :voided, :uncollectible, :failed, :stripe)"
        ),
        named_params! {
            ":id": invoice.id,
            ":number": invoice.number,
            ":start": invoice.period_start,
            ":end": invoice.period_end,
            ":status": invoice.status,
            ":currency": invoice.currency,
            ":subtotal": invoice.subtotal.to_string(),
            ":total": invoice.total.to_string(),
            ":created": invoice.created_at,
            ":finalized": invoice.finalized_at,
            ":paid": invoice.paid_at,
            ":voided": invoice.voided_at,
            ":uncollectible": invoice.uncollectible_at,
            ":failed": invoice.payment_failed_at,
            ":stripe": invoice.stripe_invoice_id,
        },
    )?;
    let mut stmt = conn.prepare_cached(
        "insert into invoice_lines (invoice_id, position, kind, metric, description, plan, plan_version,
             period_start, period_end, quantity, used, included, unit, unit_price, amount)
         values (:invoice, :position, :kind, :metric, :description, :plan, :version, :start, :end,
             :quantity, :used, :included, :unit, :price, :amount)",
    )?;
    for line in lines {
        stmt.execute(named_params! {
            ":invoice": invoice.id,
            ":position": line.position,
            ":kind": line.kind,
            ":metric": line.metric,
            ":description": line.description,
            ":plan": line.plan,
            ":version": line.plan_version,
            ":start": line.period_start,
            ":end": line.period_end,
            ":quantity": line.quantity.to_string(),
            ":used": line.used.to_string(),
            ":included": line.included.to_string(),
            ":unit": line.unit,
            ":price": line.unit_price.to_string(),
            ":amount": line.amount.to_string(),
        })?;
    }
    Ok(())
}

pub fn get(conn: &Connection, id: &str) -> Result<Option<InvoiceRow>> {
    Ok(conn
        .query_row(
            &format!("select {COLUMNS} from invoices where id = :id"),
            named_params! { ":id": id },
            from_row,
        )
        .optional()?)
}

pub fn by_period(conn: &Connection, period_start: i64) -> Result<Option<InvoiceRow>> {
    Ok(conn
        .query_row(
            &format!("select {COLUMNS} from invoices where period_start = :start"),
            named_params! { ":start": period_start },
            from_row,
        )
        .optional()?)
}

pub fn by_stripe_id(conn: &Connection, stripe_invoice_id: &str) -> Result<Option<InvoiceRow>> {
    Ok(conn
        .query_row(
            &format!("select {COLUMNS} from invoices where stripe_invoice_id = :id"),
            named_params! { ":id": stripe_invoice_id },
            from_row,
        )
        .optional()?)
}

/// Invoices, newest period first, after the cursor position `after` (a period start), at most `limit`.
pub fn list(conn: &Connection, after: Option<i64>, limit: i64) -> Result<Vec<InvoiceRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "select {COLUMNS} from invoices where :after is null or period_start < :after
         order by period_start desc limit :limit"
    ))?;
    Ok(stmt
        .query_map(named_params! { ":after": after, ":limit": limit }, from_row)?
        .collect::<rusqlite::Result<_>>()?)
}

/// Invoices in `status`, oldest first.
pub fn with_status(conn: &Connection, status: &str) -> Result<Vec<InvoiceRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "select {COLUMNS} from invoices where status = :status order by period_start"
    ))?;
    Ok(stmt
        .query_map(named_params! { ":status": status }, from_row)?
        .collect::<rusqlite::Result<_>>()?)
}

/// How many invoices exist (numbers them).
pub fn count(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("select count(*) from invoices", [], |row| row.get(0))?)
}

/// The latest period invoiced, if any.
pub fn last_period(conn: &Connection) -> Result<Option<i64>> {
    Ok(
        conn.query_row("select max(period_start) from invoices", [], |row| {
            row.get(0)
        })?,
    )
}

pub fn lines(conn: &Connection, invoice_id: &str) -> Result<Vec<LineRow>> {
    let mut stmt = conn.prepare_cached(
        "select position, kind, metric, description, plan, plan_version, period_start, period_end,
                quantity, used, included, unit, unit_price, amount
         from invoice_lines where invoice_id = :id order by position",
    )?;
    Ok(stmt
        .query_map(named_params! { ":id": invoice_id }, |row| {
            Ok(LineRow {
                position: row.get(0)?,
                kind: row.get(1)?,
                metric: row.get(2)?,
                description: row.get(3)?,
                plan: row.get(4)?,
                plan_version: row.get(5)?,
                period_start: row.get(6)?,
                period_end: row.get(7)?,
                quantity: decimal(row, 8)?,
                used: decimal(row, 9)?,
                included: decimal(row, 10)?,
                unit: row.get(11)?,
                unit_price: decimal(row, 12)?,
                amount: decimal(row, 13)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?)
}

/// Writes the invoice's state columns (status and the times it changed, the failed payment, Stripe's id).
pub fn update_state(conn: &Connection, invoice: &InvoiceRow) -> Result<()> {
    conn.execute(
        "update invoices set status = :status, finalized_at = :finalized, paid_at = :paid,
             voided_at = :voided, uncollectible_at = :uncollectible, payment_failed_at = :failed,
             stripe_invoice_id = :stripe
         where id = :id",
        named_params! {
            ":id": invoice.id,
            ":status": invoice.status,
            ":finalized": invoice.finalized_at,
            ":paid": invoice.paid_at,
            ":voided": invoice.voided_at,
            ":uncollectible": invoice.uncollectible_at,
            ":failed": invoice.payment_failed_at,
            ":stripe": invoice.stripe_invoice_id,
        },
    )?;
    Ok(())
}

pub fn insert_credit_note(conn: &Connection, note: &CreditNoteRow) -> Result<()> {
    conn.execute(
        "insert into credit_notes (id, invoice_id, amount, reason, created_at, created_by)
         values (:id, :invoice, :amount, :reason, :at, :by)",
        named_params! {
            ":id": note.id,
            ":invoice": note.invoice_id,
            ":amount": note.amount.to_string(),
            ":reason": note.reason,
            ":at": note.created_at,
            ":by": note.created_by,
        },
    )?;
    Ok(())
}

pub fn credit_notes(conn: &Connection, invoice_id: &str) -> Result<Vec<CreditNoteRow>> {
    let mut stmt = conn.prepare_cached(
        "select id, invoice_id, amount, reason, created_at, created_by from credit_notes
         where invoice_id = :id order by created_at, id",
    )?;
    Ok(stmt
        .query_map(named_params! { ":id": invoice_id }, |row| {
            Ok(CreditNoteRow {
                id: row.get(0)?,
                invoice_id: row.get(1)?,
                amount: decimal(row, 2)?,
                reason: row.get(3)?,
                created_at: row.get(4)?,
                created_by: row.get(5)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?)
}

/// A usage report to Stripe's meters, written before it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageReportRow {
    pub id: i64,
    pub metric: String,
    pub to_event_id: i64,
    pub quantity: i64,
    pub identifier: String,
}

/// The ledger row the last report (sent or not) covers up to; 0 before the first.
pub fn reported_up_to(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row(
        "select coalesce(max(to_event_id), 0) from stripe_usage_reports",
        [],
        |row| row.get(0),
    )?)
}

pub fn insert_usage_report(
    conn: &Connection,
    metric: &str,
    to_event_id: i64,
    quantity: i64,
    identifier: &str,
    at: i64,
) -> Result<()> {
    conn.execute(
        "insert into stripe_usage_reports (metric, to_event_id, quantity, identifier, created_at)
         values (:metric, :to, :quantity, :identifier, :at)
         on conflict (identifier) do nothing",
        named_params! {
            ":metric": metric, ":to": to_event_id, ":quantity": quantity, ":identifier": identifier, ":at": at,
        },
    )?;
    Ok(())
}

pub fn unsent_usage_reports(conn: &Connection) -> Result<Vec<UsageReportRow>> {
    let mut stmt = conn.prepare_cached(
        "select id, metric, to_event_id, quantity, identifier from stripe_usage_reports
         where sent_at is null order by id",
    )?;
    Ok(stmt
        .query_map([], |row| {
            Ok(UsageReportRow {
                id: row.get(0)?,
                metric: row.get(1)?,
                to_event_id: row.get(2)?,
                quantity: row.get(3)?,
                identifier: row.get(4)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?)
}

pub fn mark_usage_report_sent(conn: &Connection, id: i64, at: i64) -> Result<()> {
    conn.execute(
        "update stripe_usage_reports set sent_at = :at where id = :id",
        named_params! { ":id": id, ":at": at },
    )?;
    Ok(())
}
