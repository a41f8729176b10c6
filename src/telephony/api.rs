//! Twilio's REST API (`/2010-04-01/Accounts/{sid}/...`, HTTP basic auth `sid:token`, form bodies, JSON answers):
//! placing a call, changing one in progress, and reading calls back — one by SID, or by their numbers — which is
//! how calls whose outcome we missed (a callback lost, a restart) are settled.

use std::time::Duration;

use serde::Deserialize;

use super::TelephonyError;

/// Twilio's REST API. Cheap to clone.
#[derive(Clone)]
pub struct TwilioApi {
    http: reqwest::Client,
    base: String,
}

/// The parts of Twilio's error body we pass on.
#[derive(Debug, Deserialize)]
struct TwilioError {
    code: Option<i64>,
    message: Option<String>,
}

/// A call as Twilio describes it (the fields we use).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct TwilioCall {
    pub sid: String,
    /// `queued`, `ringing`, `in-progress`, `completed`, `busy`, `no-answer`, `canceled`, `failed`.
    pub status: String,
    #[serde(default)]
    pub to: Option<String>,
    #[serde(default)]
    pub from: Option<String>,
    /// RFC 2822, e.g. `Tue, 31 Aug 2010 20:36:28 +0000`.
    #[serde(default)]
    pub date_created: Option<String>,
    #[serde(default)]
    pub answered_by: Option<String>,
}

impl TwilioCall {
    /// When Twilio created the call, as unix milliseconds.
    pub fn created_ms(&self) -> Option<i64> {
        let date = self.date_created.as_deref()?;
        chrono::DateTime::parse_from_rfc2822(date)
            .ok()
            .map(|t| t.timestamp_millis())
    }
}

#[derive(Debug, Deserialize)]
struct CallPage {
    #[serde(default)]
    calls: Vec<TwilioCall>,
}

/// How a request to Twilio failed.
#[derive(Debug)]
pub enum Failure {
    /// Twilio answered with an error, or we never reached it: nothing happened on Twilio's side.
    Refused(TelephonyError),
    /// The request may or may not have reached Twilio (it timed out, or the answer was lost).
    Unknown(TelephonyError),
}

impl From<Failure> for TelephonyError {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Refused(e) | Failure::Unknown(e) => e,
        }
    }
}

/// Reads one of Twilio's answers; one that does not parse is our failure to understand it.
fn parse<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T, TelephonyError> {
    serde_json::from_str(text)
        .map_err(|err| TelephonyError::Internal(format!("Twilio's {what} does not parse: {err}")))
}

impl TwilioApi {
    /// A client for the API at `base` (`https://api.twilio.com`).
    pub fn new(base: impl Into<String>, timeout: Duration) -> Self {
        crate::brain::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("voxedge/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("invariant: a client with these options always builds");
        Self {
            http,
            base: base.into(),
        }
    }

    /// Asks Twilio to place a call (`To`, `From`, `Twiml`, callbacks, ...). Returns Twilio's call SID.
    pub async fn create_call(
        &self,
        account_sid: &str,
        auth_token: &str,
        form: &[(&str, &str)],
    ) -> Result<String, Failure> {
        let text = self
            .post(account_sid, auth_token, "Calls.json", form, "call")
            .await?;
        parse::<TwilioCall>(&text, "call answer")
            .map(|call| call.sid)
            .map_err(Failure::Unknown)
    }

    /// Replaces what a call in progress runs with `twiml` (e.g. `<Dial>` to transfer it).
    pub async fn update_call(
        &self,
        account_sid: &str,
        auth_token: &str,
        call_sid: &str,
        twiml: &str,
    ) -> Result<(), TelephonyError> {
        check_sid(call_sid)?;
        let path = format!("Calls/{call_sid}.json");
        self.post(
            account_sid,
            auth_token,
            &path,
            &[("Twiml", twiml)],
            "call update",
        )
        .await?;
        Ok(())
    }

    /// One call, by SID.
    pub async fn fetch_call(
        &self,
        account_sid: &str,
        auth_token: &str,
        call_sid: &str,
    ) -> Result<TwilioCall, TelephonyError> {
        check_sid(call_sid)?;
        let text = self
            .get(
                account_sid,
                auth_token,
                &format!("Calls/{call_sid}.json"),
                &[],
            )
            .await?;
        parse(&text, "call")
    }

    /// The latest calls from `from` to `to` (newest first, one page).
    pub async fn find_calls(
        &self,
        account_sid: &str,
        auth_token: &str,
        to: &str,
        from: &str,
    ) -> Result<Vec<TwilioCall>, TelephonyError> {
        let query = [("To", to), ("From", from), ("PageSize", "50")];
        let text = self
            .get(account_sid, auth_token, "Calls.json", &query)
            .await?;
        Ok(parse::<CallPage>(&text, "call list")?.calls)
    }

    fn url(&self, account_sid: &str, path: &str) -> String {
        format!("{}/2010-04-01/Accounts/{account_sid}/{path}", self.base)
    }

    async fn get(
        &self,
        account_sid: &str,
        auth_token: &str,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<String, TelephonyError> {
        let request = self
            .http
            .get(self.url(account_sid, path))
            .query(query)
            .basic_auth(account_sid, Some(auth_token));
        Ok(self.send(request, "call lookup").await?)
    }

    /// POSTs a form to `path`; returns the body of a success.
    async fn post(
        &self,
        account_sid: &str,
        auth_token: &str,
        path: &str,
        form: &[(&str, &str)],
        what: &str,
    ) -> Result<String, Failure> {
        let body = serde_urlencoded::to_string(form)
            .map_err(|err| Failure::Refused(TelephonyError::Internal(err.to_string())))?;
        let request = self
            .http
            .post(self.url(account_sid, path))
            .basic_auth(account_sid, Some(auth_token))
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body);
        self.send(request, what).await
    }

    async fn send(&self, request: reqwest::RequestBuilder, what: &str) -> Result<String, Failure> {
        let response = request.send().await.map_err(|err| {
            tracing::warn!(error = %err, "Twilio API unreachable");
            let error = TelephonyError::Provider("Twilio could not be reached; try again".into());
            // A refused connection never carried the request; anything later might have.
            if err.is_connect() {
                Failure::Refused(error)
            } else {
                Failure::Unknown(error)
            }
        })?;
        let status = response.status();
        let text = response.text().await.map_err(|_| {
            Failure::Unknown(TelephonyError::Provider(
                "Twilio's answer was cut off; try again".into(),
            ))
        })?;
        if status.is_success() {
            return Ok(text);
        }
        let detail: Option<TwilioError> = serde_json::from_str(&text).ok();
        let (code, message) = detail.map_or((None, None), |d| (d.code, d.message));
        tracing::warn!(status = status.as_u16(), twilio_code = ?code, "Twilio refused a {what}");
        let error = TelephonyError::Provider(format!(
            "Twilio refused the {what} ({}{}): {}",
            status.as_u16(),
            code.map(|c| format!(", error {c}")).unwrap_or_default(),
            message.unwrap_or_else(|| "no reason given".into())
        ));
        // A 5xx may come from a proxy after Twilio acted; only a 4xx is a sure refusal.
        Err(if status.is_server_error() {
            Failure::Unknown(error)
        } else {
            Failure::Refused(error)
        })
    }
}

fn check_sid(call_sid: &str) -> Result<(), TelephonyError> {
    if !call_sid.starts_with("CA") || !call_sid.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(TelephonyError::Provider(format!(
            "not a Twilio call SID: {call_sid}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twilio_dates_are_rfc_2822() {
        let call = TwilioCall {
            sid: "CA1".into(),
            status: "queued".into(),
            to: None,
            from: None,
            date_created: Some("Tue, 31 Aug 2010 20:36:28 +0000".into()),
            answered_by: None,
        };
        assert_eq!(call.created_ms(), Some(1_283_286_988_000));
    }
}
