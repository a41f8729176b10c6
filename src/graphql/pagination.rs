//! Relay-style forward pagination over keyset cursors, and the one way a list field reads a page.
//!
//! Lists are ordered by `(timestamp, id)` and a cursor is an opaque encoding of the last row's pair, so a
//! page never shifts when rows are inserted before it (unlike offsets). Page sizes are bounded. Ranked lists
//! (transcript search), which have no stable key, page with an [`OffsetCursor`] instead.

use async_graphql::OutputType;
use async_graphql::connection::{Connection, CursorType, Edge};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::db::{Database, StorageError};
use crate::error::{ApiResult, ErrorCode, InvalidInput};

pub const DEFAULT_PAGE_SIZE: usize = 20;
pub const MAX_PAGE_SIZE: usize = 100;

/// Position of a row in a `(timestamp, id)` ordering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeysetCursor {
    pub at: i64,
    pub id: String,
}

/// A cursor that does not decode, or one past the last position a page can start from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidCursor {
    #[error("invalid cursor")]
    Malformed,
    #[error("cursor out of range")]
    OutOfRange,
}

/// Cursors only ever arrive as a list's `after` argument.
impl From<InvalidCursor> for InvalidInput {
    fn from(err: InvalidCursor) -> Self {
        InvalidInput::field("after", ErrorCode::InvalidCursor, err.to_string())
    }
}

impl KeysetCursor {
    /// The position as the `(timestamp, id)` pair repositories take.
    pub fn pair(&self) -> (i64, &str) {
        (self.at, self.id.as_str())
    }
}

impl CursorType for KeysetCursor {
    type Error = InvalidCursor;

    fn decode_cursor(s: &str) -> Result<Self, Self::Error> {
        let decode = || {
            let text = String::from_utf8(URL_SAFE_NO_PAD.decode(s).ok()?).ok()?;
            let (at, id) = text.split_once(':')?;
            Some(Self {
                at: at.parse().ok()?,
                id: id.to_string(),
            })
        };
        decode().ok_or(InvalidCursor::Malformed)
    }

    fn encode_cursor(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}:{}", self.at, self.id))
    }
}

/// Offset cursors for search results (ranked lists have no stable key): the position of the last
/// result seen. Positions are at most `i64::MAX - 1`, so the next page's offset (one more) is still one
/// SQLite takes; anything else is refused as `INVALID_CURSOR`, never wrapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetCursor(pub usize);

impl OffsetCursor {
    /// The offset of the first result after this one.
    pub fn next_offset(self) -> Option<usize> {
        self.0.checked_add(1).filter(|n| i64::try_from(*n).is_ok())
    }

    /// Where a page starts: the first result, or the one after the `after` cursor.
    pub fn start(after: Option<&str>) -> Result<usize, InvalidInput> {
        match after {
            None => Ok(0),
            Some(cursor) => Ok(Self::decode_cursor(cursor)?
                .next_offset()
                .ok_or(InvalidCursor::OutOfRange)?),
        }
    }
}

impl CursorType for OffsetCursor {
    type Error = InvalidCursor;

    fn decode_cursor(s: &str) -> Result<Self, Self::Error> {
        let position = s
            .strip_prefix("o:")
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or(InvalidCursor::Malformed)?;
        usize::try_from(position)
            .ok()
            .map(Self)
            .filter(|cursor| cursor.next_offset().is_some())
            .ok_or(InvalidCursor::OutOfRange)
    }

    fn encode_cursor(&self) -> String {
        format!("o:{}", self.0)
    }
}

/// A validated page request.
#[derive(Debug, Clone)]
pub struct PageRequest {
    /// Rows to return.
    pub limit: usize,
    pub after: Option<KeysetCursor>,
}

impl PageRequest {
    /// Validates `first` (1..=100, default 20) and `after`.
    pub fn new(first: Option<i32>, after: Option<String>) -> Result<Self, InvalidInput> {
        let limit = match first {
            None => DEFAULT_PAGE_SIZE,
            Some(n) if (1..=MAX_PAGE_SIZE as i32).contains(&n) => n as usize,
            Some(_) => {
                return Err(InvalidInput::field(
                    "first",
                    ErrorCode::OutOfRange,
                    format!("must be between 1 and {MAX_PAGE_SIZE}"),
                ));
            }
        };
        let after = after.map(|s| KeysetCursor::decode_cursor(&s)).transpose()?;
        Ok(Self { limit, after })
    }

    /// Rows to fetch: one more than the page, to learn whether another page follows.
    pub fn fetch_limit(&self) -> usize {
        self.limit + 1
    }

    /// Builds the connection from up to `fetch_limit()` rows.
    pub fn connection<T, N: OutputType>(
        &self,
        mut rows: Vec<T>,
        cursor: impl Fn(&T) -> KeysetCursor,
        node: impl Fn(T) -> N,
    ) -> Connection<KeysetCursor, N> {
        let has_next_page = rows.len() > self.limit;
        rows.truncate(self.limit);
        let mut connection = Connection::new(self.after.is_some(), has_next_page);
        connection.edges.extend(
            rows.into_iter()
                .map(|row| Edge::new(cursor(&row), node(row))),
        );
        connection
    }

    /// Reads one page from `db` and builds its connection: `read` gets the position to continue after and
    /// how many rows to fetch; `cursor` says where a row is; `node` wraps it for GraphQL.
    pub async fn load<T, N>(
        self,
        db: &Database,
        read: impl FnOnce(
            &rusqlite::Connection,
            Option<KeysetCursor>,
            usize,
        ) -> Result<Vec<T>, StorageError>
        + Send
        + 'static,
        cursor: impl Fn(&T) -> KeysetCursor,
        node: impl Fn(T) -> N,
    ) -> ApiResult<Connection<KeysetCursor, N>>
    where
        T: Send + 'static,
        N: OutputType,
    {
        let (after, limit) = (self.after.clone(), self.fetch_limit());
        let rows = db.read(move |conn| read(conn, after, limit)).await?;
        Ok(self.connection(rows, cursor, node))
    }
}

/// Complexity of a connection field: its children, once per requested row.
pub fn connection_complexity(child_complexity: usize, first: Option<i32>) -> usize {
    let rows = first.map_or(DEFAULT_PAGE_SIZE, |n| {
        usize::try_from(n).unwrap_or(0).min(MAX_PAGE_SIZE)
    });
    rows.saturating_mul(child_complexity).saturating_add(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_bad_ones_are_refused() {
        let cursor = KeysetCursor {
            at: 1_700_000_000_000,
            id: "abc:def".into(),
        };
        assert_eq!(
            KeysetCursor::decode_cursor(&cursor.encode_cursor()).unwrap(),
            cursor
        );
        assert!(PageRequest::new(None, Some("not a cursor!".into())).is_err());
        assert!(PageRequest::new(Some(0), None).is_err());
        assert!(PageRequest::new(Some(101), None).is_err());
        assert_eq!(
            PageRequest::new(None, None).unwrap().limit,
            DEFAULT_PAGE_SIZE
        );
    }

    #[test]
    fn offset_cursors_never_wrap() {
        assert_eq!(OffsetCursor::decode_cursor("o:19"), Ok(OffsetCursor(19)));
        assert_eq!(OffsetCursor(19).next_offset(), Some(20));
        for bad in [
            "o:18446744073709551615",
            "o:9223372036854775807",
            "o:99999999999999999999999",
            "o:-1",
            "19",
        ] {
            assert!(OffsetCursor::decode_cursor(bad).is_err(), "{bad}");
        }
        let last = format!("o:{}", i64::MAX - 1);
        assert_eq!(
            OffsetCursor::decode_cursor(&last).unwrap().next_offset(),
            Some(i64::MAX as usize)
        );
    }
}
