//! Conversions between storage formats and GraphQL scalars.

use chrono::{DateTime, TimeZone, Utc};

/// Unix milliseconds (the storage format) as a GraphQL `DateTime`.
pub fn datetime(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}
