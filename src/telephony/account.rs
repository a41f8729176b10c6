//! The tenant's Twilio account: its SID in clear, its auth token sealed with [`Secrets`].

use super::TelephonyError;
use super::values::{AccountSid, AuthToken};
use crate::clock::now_ms;
use crate::db::{Database, StorageError, TenantId};
use crate::error::InvalidInput;
use crate::redact::Secret;
use crate::repo;
use crate::repo::telephony::TwilioAccountRow;
use crate::secrets::Secrets;

/// What the auth token is bound to when sealed: a ciphertext copied into another tenant's file does not
/// decrypt there.
fn token_context(tenant: TenantId) -> String {
    format!("tenant:{tenant}:twilio_auth_token")
}

/// A Twilio account as clients give it.
pub struct AccountInput {
    pub account_sid: String,
    pub auth_token: Secret<String>,
}

/// Validates and stores the account, replacing any previous one. The token is sealed before it leaves
/// this function; the returned row holds only the sealed form.
pub async fn set_account(
    db: &Database,
    secrets: &Secrets,
    tenant: TenantId,
    input: AccountInput,
) -> Result<TwilioAccountRow, TelephonyError> {
    let sid = AccountSid::parse(&input.account_sid, "input.accountSid");
    let token = AuthToken::parse(input.auth_token.expose(), "input.authToken");
    let (sid, token) = match (sid, token) {
        (Ok(sid), Ok(token)) => (sid, token),
        (sid, token) => {
            let errors = [sid.err(), token.err()].into_iter().flatten().collect();
            return Err(InvalidInput(errors).into());
        }
    };
    let now = now_ms();
    let row = TwilioAccountRow {
        account_sid: sid.as_str().to_string(),
        auth_token: secrets.encrypt(token.expose().as_bytes(), &token_context(tenant)),
        auth_token_last4: token.last4(),
        created_at: now,
        updated_at: now,
    };
    let stored = db
        .write(move |tx| {
            repo::telephony::put_account(tx, &row)?;
            repo::telephony::get_account(tx)
        })
        .await?;
    stored
        .ok_or_else(|| TelephonyError::Internal("twilio account vanished after writing it".into()))
}

pub async fn get_account(db: &Database) -> Result<Option<TwilioAccountRow>, TelephonyError> {
    Ok(db.read(repo::telephony::get_account).await?)
}

/// Removes the account; returns it if there was one. Phone numbers stay, so setting an account again
/// brings them back to life.
pub async fn delete_account(db: &Database) -> Result<Option<TwilioAccountRow>, TelephonyError> {
    Ok(db
        .write(|tx| {
            let row = repo::telephony::get_account(tx)?;
            repo::telephony::delete_account(tx)?;
            Ok::<_, StorageError>(row)
        })
        .await?)
}

/// The account's auth token in clear, for checking Twilio's signatures and calling its API.
pub fn open_token(
    secrets: &Secrets,
    tenant: TenantId,
    row: &TwilioAccountRow,
) -> Result<Secret<Vec<u8>>, TelephonyError> {
    secrets
        .decrypt(&row.auth_token, &token_context(tenant))
        .map_err(|err| {
            TelephonyError::Internal(format!("twilio auth token of tenant {tenant}: {err}"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_bound_to_their_tenant() {
        let secrets = Secrets::from_master(&[3; 32]);
        let (a, b) = (TenantId::generate(), TenantId::generate());
        let row = TwilioAccountRow {
            account_sid: "AC".into(),
            auth_token: secrets.encrypt(b"0123456789abcdef0123456789abcdef", &token_context(a)),
            auth_token_last4: "cdef".into(),
            created_at: 0,
            updated_at: 0,
        };
        assert_eq!(
            open_token(&secrets, a, &row).unwrap().expose(),
            b"0123456789abcdef0123456789abcdef"
        );
        assert!(open_token(&secrets, b, &row).is_err());
    }
}
