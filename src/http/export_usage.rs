//! `GET /export/usage.csv?since=...&until=...`: usage and cost per day, agent and metric (ReadBilling).
//!
//! The same figures as `usageSeries`: quantities in base units and billing units, and the cost at the unit
//! price of each day, rounded half-even to the cent. Default range: this month so far.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::HttpState;
use crate::auth::{AuthError, Permission};
use crate::billing::pricing::Month;
use crate::billing::usage;
use crate::clock::datetime;
use crate::error::{ApiError, ErrorCode, FieldError, InvalidInput};
use crate::repo;
use crate::repo::usage::DAY_MS;

const COLUMNS: [&str; 9] = [
    "day",
    "agent_id",
    "agent_name",
    "metric",
    "quantity",
    "billed_quantity",
    "unit",
    "currency",
    "cost",
];

#[derive(Debug, Deserialize)]
pub struct UsageParams {
    since: Option<String>,
    until: Option<String>,
}

pub async fn usage_csv(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Query(params): Query<UsageParams>,
) -> Response {
    match render(&state, &headers, params).await {
        Ok(body) => {
            let mut response = body.into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            );
            headers.insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"usage.csv\""),
            );
            response
        }
        Err(err) => err.into_response(),
    }
}

fn time(field: &str, value: Option<String>, errors: &mut Vec<FieldError>) -> Option<i64> {
    let value = value?;
    match chrono::DateTime::parse_from_rfc3339(&value) {
        Ok(t) => Some(t.timestamp_millis()),
        Err(_) => {
            errors.push(FieldError::new(
                field,
                ErrorCode::InvalidDatetime,
                "RFC 3339, e.g. 2026-01-31T00:00:00Z",
            ));
            None
        }
    }
}

async fn render(
    state: &HttpState,
    headers: &HeaderMap,
    params: UsageParams,
) -> Result<String, ApiError> {
    let principal = super::authenticate(&state.app, headers)
        .await?
        .ok_or(AuthError::Unauthenticated)?
        .principal;
    principal.require(Permission::ReadBilling)?;
    let billing = &state.app.billing;
    let now = billing.now();
    let mut errors = Vec::new();
    let since = time("since", params.since, &mut errors);
    let until = time("until", params.until, &mut errors);
    InvalidInput::check(errors)?;
    let since = since.unwrap_or(Month::containing(now).start_ms);
    let until = until.unwrap_or(now);
    if until < since || until - since > 400 * DAY_MS {
        return Err(InvalidInput::field(
            "until",
            ErrorCode::OutOfRange,
            "since ≤ until, at most 400 days apart",
        )
        .into());
    }
    let tenant = state.app.tenant(principal.tenant_id).await?;
    let points = usage::series(billing, &tenant, since, until).await?;
    let mut ids: Vec<String> = points.iter().filter_map(|p| p.agent_id.clone()).collect();
    ids.sort();
    ids.dedup();
    let agents = tenant
        .db
        .read(move |conn| repo::agents::get_agents(conn, &ids))
        .await?;
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut write = |row: &[String]| {
        writer
            .write_record(row)
            .expect("invariant: writing CSV to memory cannot fail");
    };
    write(&COLUMNS.map(String::from));
    for point in points {
        let name = point
            .agent_id
            .as_ref()
            .and_then(|id| agents.iter().find(|a| &a.id == id))
            .map(|a| a.name.clone())
            .unwrap_or_default();
        write(&[
            datetime(point.day).date_naive().to_string(),
            point.agent_id.clone().unwrap_or_default(),
            super::export::safe(&name),
            point.metric.as_str().into(),
            point.quantity.to_string(),
            point.billed_quantity.to_string(),
            point.unit.into(),
            point.currency.as_str().into(),
            point.cost.to_string(),
        ]);
    }
    let bytes = writer
        .into_inner()
        .expect("invariant: flushing CSV to memory cannot fail");
    Ok(String::from_utf8(bytes).expect("invariant: CSV of strings is UTF-8"))
}
