//! `GET /export/calls.csv`: calls matching a filter as CSV, streamed page by page so an export of any
//! size uses constant memory. Same credentials and role rules as GraphQL (`ReadCalls`).
//!
//! Query parameters (all optional): `status` (comma-separated, e.g. `completed,failed`), `agentId`,
//! `direction`, `createdAfter` / `createdBefore` (RFC 3339), `text` (words in the transcript), `number` (an E.164
//! number the call was from or to). `from`/`to` are masked for roles without `ReadPhoneNumbers`, as in GraphQL.

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::HttpState;
use crate::auth::AuthError;
use crate::auth::Permission;
use crate::clock::datetime;
use crate::error::{ApiError, ErrorCode, FieldError, InvalidInput};
use crate::model::{CallStatus, Direction};
use crate::repo;
use crate::repo::calls::{CallFilter, CallRow};

const PAGE: usize = 500;
const COLUMNS: [&str; 15] = [
    "id",
    "created_at",
    "status",
    "ended_reason",
    "direction",
    "transport",
    "from",
    "to",
    "agent_id",
    "agent_name",
    "agent_version",
    "answered_at",
    "ended_at",
    "duration_ms",
    "metadata",
];

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportParams {
    status: Option<String>,
    agent_id: Option<String>,
    direction: Option<String>,
    created_after: Option<String>,
    created_before: Option<String>,
    text: Option<String>,
    number: Option<String>,
}

pub async fn calls_csv(
    State(state): State<HttpState>,
    headers: HeaderMap,
    Query(params): Query<ExportParams>,
) -> Response {
    match prepare(&state, &headers, params).await {
        Ok((db, filter, full_numbers)) => stream(db, filter, full_numbers),
        Err(err) => err.into_response(),
    }
}

async fn prepare(
    state: &HttpState,
    headers: &HeaderMap,
    params: ExportParams,
) -> Result<(crate::db::Database, CallFilter, bool), ApiError> {
    let principal = super::authenticate(&state.app, headers)
        .await?
        .ok_or(AuthError::Unauthenticated)?
        .principal;
    principal.require(Permission::ReadCalls)?;
    let full_numbers = principal.require(Permission::ReadPhoneNumbers).is_ok();
    let filter = parse_filter(params)?;
    Ok((
        state.app.tenants.get(principal.tenant_id).await?,
        filter,
        full_numbers,
    ))
}

fn parse_filter(params: ExportParams) -> Result<CallFilter, InvalidInput> {
    let mut errors = Vec::new();
    let mut fail = |field: &str, code: ErrorCode, message: String| {
        errors.push(FieldError::new(field, code, message))
    };
    let statuses = params
        .status
        .iter()
        .flat_map(|s| s.split(','))
        .filter(|s| !s.is_empty())
        .filter_map(|s| {
            CallStatus::parse(s.trim()).or_else(|| {
                fail(
                    "status",
                    ErrorCode::UnknownStatus,
                    format!("unknown status {s:?}"),
                );
                None
            })
        })
        .collect();
    let direction = params.direction.as_deref().and_then(|d| {
        Direction::parse(d).or_else(|| {
            fail(
                "direction",
                ErrorCode::UnknownDirection,
                "inbound or outbound".into(),
            );
            None
        })
    });
    let mut time = |field: &str, value: Option<String>| {
        value.and_then(|v| match chrono::DateTime::parse_from_rfc3339(&v) {
            Ok(t) => Some(t.timestamp_millis()),
            Err(_) => {
                fail(
                    field,
                    ErrorCode::InvalidDatetime,
                    "RFC 3339, e.g. 2026-01-31T12:00:00Z".into(),
                );
                None
            }
        })
    };
    let created_after = time("createdAfter", params.created_after);
    let created_before = time("createdBefore", params.created_before);
    let number = params.number.as_deref().and_then(|n| {
        crate::pii::normalize(n).or_else(|| {
            fail(
                "number",
                ErrorCode::InvalidPhoneNumber,
                "must be an E.164 number such as +14155550123".into(),
            );
            None
        })
    });
    let transcript_terms = params
        .text
        .as_deref()
        .map(crate::calls::fts_terms)
        .unwrap_or_default();
    InvalidInput::check(errors)?;
    Ok(CallFilter {
        statuses,
        agent_id: params.agent_id,
        direction,
        created_after,
        created_before,
        transcript_terms,
        number,
        ..CallFilter::default()
    })
}

fn stream(db: crate::db::Database, filter: CallFilter, full_numbers: bool) -> Response {
    let body = async_stream::stream! {
        yield Ok::<Bytes, std::io::Error>(csv_rows(std::iter::once(COLUMNS.map(String::from).to_vec())));
        let mut after = None;
        let mut agent_names: HashMap<String, String> = HashMap::new();
        loop {
            let (filter, cursor) = (filter.clone(), after.clone());
            let page = db.read(move |conn| repo::calls::list_calls(conn, &filter, cursor, PAGE)).await;
            let page = match page {
                Ok(page) => page,
                Err(err) => {
                    // Headers are gone already: end the body with an error so the client sees a broken download.
                    yield Err(std::io::Error::other(err.to_string()));
                    break;
                }
            };
            let missing: Vec<String> = page.iter().map(|c| c.agent_id.clone()).filter(|id| !agent_names.contains_key(id)).collect();
            if !missing.is_empty() {
                let agents = db.read(move |conn| repo::agents::get_agents(conn, &missing)).await.unwrap_or_default();
                agent_names.extend(agents.into_iter().map(|a| (a.id, a.name)));
            }
            yield Ok(csv_rows(page.iter().map(|call| row(call, agent_names.get(&call.agent_id), full_numbers))));
            match page.last() {
                Some(last) if page.len() == PAGE => after = Some((last.created_at, last.id.clone())),
                _ => break,
            }
        }
    };
    let mut response = Body::from_stream(body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"calls.csv\""),
    );
    response
}

fn row(call: &CallRow, agent_name: Option<&String>, full_numbers: bool) -> Vec<String> {
    let time = |ms: Option<i64>| ms.map(|ms| datetime(ms).to_rfc3339()).unwrap_or_default();
    let number = |value: Option<&str>| match value {
        Some(v) if full_numbers => safe(v),
        Some(v) => safe(&crate::pii::mask(v)),
        None => String::new(),
    };
    vec![
        call.id.clone(),
        time(Some(call.created_at)),
        call.status.as_str().into(),
        safe(call.ended_reason.as_deref().unwrap_or_default()),
        call.direction.as_str().into(),
        call.transport.as_str().into(),
        number(call.from_address.as_deref()),
        number(call.to_address.as_deref()),
        call.agent_id.clone(),
        safe(agent_name.map(String::as_str).unwrap_or_default()),
        call.agent_version.to_string(),
        time(call.answered_at),
        time(call.ended_at),
        call.duration_ms.map(|d| d.to_string()).unwrap_or_default(),
        safe(&call.metadata.to_string()),
    ]
}

/// Spreadsheets execute cells starting with these characters as formulas; prefix them with `'`.
pub(super) fn safe(value: &str) -> String {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    }
}

fn csv_rows(rows: impl IntoIterator<Item = Vec<String>>) -> Bytes {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in rows {
        writer
            .write_record(&row)
            .expect("invariant: writing CSV to memory cannot fail");
    }
    Bytes::from(
        writer
            .into_inner()
            .expect("invariant: flushing CSV to memory cannot fail"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised() {
        assert_eq!(safe("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(safe("+14155550123"), "'+14155550123");
        assert_eq!(safe("caller_hangup"), "caller_hangup");
    }

    #[test]
    fn bad_filters_are_reported_per_field() {
        let params = ExportParams {
            status: Some("completed,exploded".into()),
            agent_id: None,
            direction: Some("sideways".into()),
            created_after: Some("yesterday".into()),
            created_before: None,
            text: None,
            number: Some("555-0199".into()),
        };
        let err = parse_filter(params).unwrap_err();
        let fields: Vec<&str> = err.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["status", "direction", "createdAfter", "number"]);
    }
}
