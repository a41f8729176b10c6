//! Personal data at rest: callers' phone numbers (calls' `from`/`to`, campaign contacts), the variables a call
//! was placed with and webhook payloads are sealed inside each tenant's SQLite file.
//!
//! Sealing happens in SQL, through functions every tenant connection gets when it opens ([`register`]), bound to
//! that tenant's id and the server's [`Secrets`]:
//!
//! - `pii_seal(value, field)` — XChaCha20-Poly1305 under the tenant-secrets key, the context
//!   `tenant:<id>:pii:<field>` as associated data (a value copied to another tenant or column does not open);
//! - `pii_open(sealed, field)` — the reverse; a value that does not open is an error, never a silent null;
//! - `pii_index(value)` — the blind index: HMAC-SHA256 under the tenant's own key
//!   ([`Secrets::blind_index_key`]) of the number in E.164 form, or null when the value is not a phone number.
//!   Equal numbers have equal indexes within a tenant, so "calls with this number" stays an indexed equality
//!   lookup, while another tenant's index of the same number is unrelated.
//!
//! Doing it in SQL keeps every repository function's shape (a plain function over a connection) and lets the
//! schema migration that introduced the sealed columns convert existing rows in the same transaction as it
//! drops the clear ones: a tenant file is either fully converted or untouched. A connection without the functions
//! (a tool opening the file directly) cannot run that migration at all, so plaintext is never left behind
//! silently. The functions are `SQLITE_DIRECTONLY`: a trigger or view planted in a file cannot call them.
//!
//! Showing numbers is the edge's business: roles with [`crate::auth::Permission::ReadPhoneNumbers`] see them
//! in full, others see [`mask`]ed forms.

use hmac::{Hmac, Mac as _};
use rusqlite::functions::{Context, FunctionFlags};
use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, Error as SqlError};
use sha2::Sha256;

use crate::db::TenantId;
use crate::secrets::{Secrets, SecretsError};

/// What viewers see in place of a value that is not a phone number (a web call's client label).
pub const HIDDEN: &str = "•••";

/// The context a sealed value is bound to.
fn context(tenant: &str, field: &str) -> String {
    format!("tenant:{tenant}:pii:{field}")
}

/// A phone number in E.164 form (`+` and 2–15 digits, no leading zero), from what people type (spaces,
/// dashes, dots and parentheses dropped); `None` when the value is not one.
pub fn normalize(value: &str) -> Option<String> {
    let compact: String = value
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let digits = compact.strip_prefix('+')?;
    let valid = (2..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    valid.then_some(compact)
}

/// The blind index of `value` under a tenant's index key, or `None` when it is not a phone number.
pub fn blind_index(key: &[u8], value: &str) -> Option<Vec<u8>> {
    let number = normalize(value)?;
    let mut mac =
        <Hmac<Sha256>>::new_from_slice(key).expect("invariant: HMAC takes keys of any length");
    mac.update(number.as_bytes());
    Some(mac.finalize().into_bytes().to_vec())
}

/// Length of the country calling code that starts `digits` (ITU-T E.164 zones: `1` and `7` are one digit; a
/// fixed set of two-digit codes; all others three).
fn country_code_len(digits: &str) -> usize {
    const TWO_DIGIT: [&str; 44] = [
        "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46",
        "47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63",
        "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
    ];
    if digits.starts_with('1') || digits.starts_with('7') {
        1
    } else if TWO_DIGIT.iter().any(|cc| digits.starts_with(cc)) {
        2
    } else {
        3
    }
}

/// A number as roles without `ReadPhoneNumbers` see it: the country code, the first digits of the national
/// number and its last four, the middle hidden — `+14155550199` → `+1 415 ••• 0199`. Short numbers show less
/// (at least three digits are always hidden); a value that is not a phone number is hidden whole ([`HIDDEN`]).
pub fn mask(value: &str) -> String {
    let Some(number) = normalize(value) else {
        return HIDDEN.to_string();
    };
    let digits = &number[1..];
    let cc_len = country_code_len(digits).min(digits.len().saturating_sub(1));
    let (cc, national) = digits.split_at(cc_len);
    let n = national.len();
    let tail = if n >= 8 { 4 } else { n.saturating_sub(3) / 2 };
    let head = n.saturating_sub(tail + 3).min(3);
    let mut out = format!("+{cc}");
    if head > 0 {
        out.push(' ');
        out.push_str(&national[..head]);
    }
    out.push(' ');
    out.push_str(HIDDEN);
    if tail > 0 {
        out.push(' ');
        out.push_str(&national[n - tail..]);
    }
    out
}

/// Why a `pii_*` function failed; SQLite reports it as the statement's error.
#[derive(Debug, thiserror::Error)]
enum PiiError {
    #[error("pii: text is not UTF-8")]
    NotUtf8(#[from] std::str::Utf8Error),
    #[error("pii: expected text")]
    NotText,
    #[error("pii: the field name is required")]
    NoField,
    #[error("pii: {field}: {source}")]
    Unseal { field: String, source: SecretsError },
    #[error("pii: sealed text is not UTF-8")]
    SealedNotUtf8(#[from] std::string::FromUtf8Error),
}

impl From<PiiError> for SqlError {
    fn from(err: PiiError) -> Self {
        SqlError::UserFunctionError(Box::new(err))
    }
}

fn text_arg<'a>(ctx: &'a Context<'_>, index: usize) -> Result<Option<&'a str>, PiiError> {
    match ctx.get_raw(index) {
        ValueRef::Null => Ok(None),
        ValueRef::Text(bytes) => Ok(Some(std::str::from_utf8(bytes)?)),
        _ => Err(PiiError::NotText),
    }
}

fn field_arg(ctx: &Context<'_>) -> Result<String, PiiError> {
    text_arg(ctx, 1)?
        .map(str::to_string)
        .ok_or(PiiError::NoField)
}

/// `pii_open(sealed, field)`: the clear text, or NULL for NULL.
fn open(secrets: &Secrets, tenant: &str, ctx: &Context<'_>) -> Result<Value, PiiError> {
    let field = field_arg(ctx)?;
    let Some(sealed) = text_arg(ctx, 0)? else {
        return Ok(Value::Null);
    };
    let clear = secrets
        .decrypt(sealed, &context(tenant, &field))
        .map_err(|source| PiiError::Unseal { field, source })?;
    Ok(Value::Text(String::from_utf8(clear.expose().clone())?))
}

/// Gives `conn` the `pii_seal`, `pii_open` and `pii_index` functions for tenant `tenant` (see the module
/// documentation). Every connection to a tenant file gets them before anything else runs on it.
pub fn register(conn: &Connection, tenant: TenantId, secrets: &Secrets) -> rusqlite::Result<()> {
    let id = tenant.to_string();
    let direct = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DIRECTONLY;
    {
        let (secrets, id) = (secrets.clone(), id.clone());
        // Not deterministic: every seal draws a new nonce.
        conn.create_scalar_function("pii_seal", 2, direct, move |ctx| {
            let field = field_arg(ctx)?;
            Ok(text_arg(ctx, 0)?
                .map(|value| secrets.encrypt(value.as_bytes(), &context(&id, &field))))
        })?;
    }
    {
        let (secrets, id) = (secrets.clone(), id.clone());
        conn.create_scalar_function(
            "pii_open",
            2,
            direct | FunctionFlags::SQLITE_DETERMINISTIC,
            move |ctx| Ok(open(&secrets, &id, ctx)?),
        )?;
    }
    let key = secrets.blind_index_key(&id);
    conn.create_scalar_function(
        "pii_index",
        1,
        direct | FunctionFlags::SQLITE_DETERMINISTIC,
        move |ctx| {
            Ok(text_arg(ctx, 0)?
                .and_then(|value| blind_index(key.expose(), value))
                .map_or(Value::Null, Value::Blob))
        },
    )
}

/// An in-memory connection with the functions of a made-up tenant, for unit tests that run tenant migrations.
#[cfg(test)]
pub fn test_connection() -> Connection {
    let conn = Connection::open_in_memory().expect("invariant: in-memory SQLite opens");
    register(&conn, TenantId::generate(), &Secrets::from_master(&[0; 32]))
        .expect("invariant: registering functions on a new connection succeeds");
    conn
}

/// [`register`] as the hook the storage layer runs on every connection to tenant `tenant`'s file.
/// Deleted content is overwritten too (`secure_delete`), so a number a migration or a deletion removed does not
/// linger in free pages of the file.
pub fn connection_init(tenant: TenantId, secrets: Secrets) -> crate::db::ConnectionInit {
    std::sync::Arc::new(move |conn| {
        conn.pragma_update(None, "secure_delete", true)?;
        register(conn, tenant, &secrets)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_normalised_to_e164() {
        assert_eq!(
            normalize(" +1 (415) 555-0199 ").as_deref(),
            Some("+14155550199")
        );
        assert_eq!(
            normalize("+44.20.7946.0958").as_deref(),
            Some("+442079460958")
        );
        for not in [
            "4155550199",
            "+0123",
            "+1",
            "browser",
            "+1415555019999999",
            "",
        ] {
            assert_eq!(normalize(not), None, "{not}");
        }
    }

    #[test]
    fn masks_keep_the_country_code_first_digits_and_last_four() {
        assert_eq!(mask("+14155550199"), "+1 415 ••• 0199");
        assert_eq!(mask("+1 415 555 0199"), "+1 415 ••• 0199");
        assert_eq!(mask("+442079460958"), "+44 207 ••• 0958");
        assert_eq!(mask("+353861234567"), "+353 86 ••• 4567");
        assert_eq!(mask("+3546123"), "+354 6 •••");
        assert_eq!(mask("+12"), "+1 •••");
        assert_eq!(mask("Mozilla/5.0"), HIDDEN);
        for number in ["+14155550199", "+442079460958", "+3546123"] {
            let digits: Vec<char> = number.chars().filter(char::is_ascii_digit).collect();
            let shown = mask(number).chars().filter(char::is_ascii_digit).count();
            assert!(shown + 3 <= digits.len(), "{number} shows {shown} digits");
        }
    }

    #[test]
    fn sql_functions_seal_open_and_index_per_tenant() {
        let secrets = Secrets::from_master(&[4; 32]);
        let (a, b) = (TenantId::generate(), TenantId::generate());
        let conn_a = Connection::open_in_memory().unwrap();
        register(&conn_a, a, &secrets).unwrap();
        let conn_b = Connection::open_in_memory().unwrap();
        register(&conn_b, b, &secrets).unwrap();

        let sealed: String = conn_a
            .query_row("select pii_seal('+14155550199', 'calls.from')", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert!(!sealed.contains("4155550199"));
        let open = |conn: &Connection, field: &str| {
            conn.query_row("select pii_open(?1, ?2)", (&sealed, field), |r| {
                r.get::<_, String>(0)
            })
        };
        assert_eq!(open(&conn_a, "calls.from").unwrap(), "+14155550199");
        assert!(open(&conn_a, "calls.to").is_err(), "bound to its field");
        assert!(open(&conn_b, "calls.from").is_err(), "bound to its tenant");

        let index = |conn: &Connection, value: &str| {
            conn.query_row("select pii_index(?1)", [value], |r| {
                r.get::<_, Option<Vec<u8>>>(0)
            })
            .unwrap()
        };
        let ia = index(&conn_a, "+14155550199");
        assert!(ia.is_some());
        assert_eq!(ia, index(&conn_a, "+1 (415) 555-0199"));
        assert_ne!(ia, index(&conn_b, "+14155550199"));
        assert_eq!(index(&conn_a, "web client"), None);
        let nulls: (Option<String>, Option<String>) = conn_a
            .query_row("select pii_seal(null, 'f'), pii_open(null, 'f')", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(nulls, (None, None));
    }
}
