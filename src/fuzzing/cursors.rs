//! Harness for pagination: page requests and the two cursor kinds clients echo back.

use async_graphql::connection::CursorType;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::Input;
use crate::error::{ErrorCode, InvalidInput};
use crate::graphql::pagination::{
    KeysetCursor, MAX_PAGE_SIZE, OffsetCursor, PageRequest, connection_complexity,
};

/// `first`/`after` as a client sends them: arbitrary strings, keyset cursors built from any `(timestamp, id)`,
/// offset cursors around the largest offset SQLite takes.
///
/// Invariants: a page request is valid (1–100 rows) or refused on `first` (`OUT_OF_RANGE`) or `after`
/// (`INVALID_CURSOR`); a cursor that decodes encodes back to one that decodes the same; every cursor the server
/// encodes decodes exactly; an offset cursor that decodes has a next offset within `i64`; complexity never
/// overflows.
pub fn cursors(data: &[u8]) {
    let mut input = Input::new(data);
    let first = match input.below(4) {
        0 => None,
        1 => Some(input.u32() as i32),
        _ => Some(i32::from(input.u8()) - 20),
    };
    let child = input.u32() as usize;
    let complexity = connection_complexity(child, first);
    assert!(complexity >= 1);

    let after = match input.u8() {
        0..=63 => String::from_utf8_lossy(input.rest()).into_owned(),
        64..=127 => {
            let at = input.u64() as i64;
            let id = String::from_utf8_lossy(input.rest()).into_owned();
            let cursor = KeysetCursor { at, id };
            let encoded = cursor.encode_cursor();
            assert_eq!(KeysetCursor::decode_cursor(&encoded).as_ref(), Ok(&cursor));
            encoded
        }
        128..=191 => {
            // Offsets near the top of the range, where wrapping would bite.
            let offset = (i64::MAX as u64).wrapping_sub(u64::from(input.u16()) % 300);
            let offset = if input.bool() { offset } else { input.u64() };
            let cursor = OffsetCursor(offset as usize);
            let encoded = cursor.encode_cursor();
            let decoded = OffsetCursor::decode_cursor(&encoded);
            assert_eq!(decoded.is_ok(), offset < i64::MAX as u64, "{encoded}");
            encoded
        }
        _ => {
            let mut raw = b"o:".to_vec();
            raw.extend_from_slice(input.rest());
            let text = String::from_utf8_lossy(&raw).into_owned();
            if input.bool() {
                URL_SAFE_NO_PAD.encode(text)
            } else {
                text
            }
        }
    };

    match PageRequest::new(first, Some(after.clone())) {
        Ok(page) => {
            assert!((1..=MAX_PAGE_SIZE).contains(&page.limit));
            assert_eq!(page.fetch_limit(), page.limit + 1);
            let cursor = page.after.expect("invariant: `after` was given");
            let again = KeysetCursor::decode_cursor(&cursor.encode_cursor());
            assert_eq!(again.as_ref(), Ok(&cursor), "{after:?}");
        }
        Err(InvalidInput(errors)) => {
            assert_eq!(errors.len(), 1);
            let error = &errors[0];
            match error.field.as_str() {
                "first" => assert_eq!(error.code, ErrorCode::OutOfRange),
                "after" => assert_eq!(error.code, ErrorCode::InvalidCursor),
                other => panic!("error on {other}"),
            }
        }
    }

    if let Ok(cursor) = OffsetCursor::decode_cursor(&after) {
        let next = cursor
            .next_offset()
            .expect("a decoded cursor has a next offset");
        assert!(i64::try_from(next).is_ok());
        assert_eq!(
            OffsetCursor::decode_cursor(&cursor.encode_cursor()),
            Ok(cursor)
        );
    }
}
