//! Personal data and credentials never reach the logs: every log line this process writes is captured
//! (at trace level) while sign-up, sign-in, failed sign-ins, invitations, key and token creation run,
//! and none of the emails, passwords, phone numbers, keys or tokens involved may appear in it.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::json;
use support::{AUTH_FIELDS, PASSWORD};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn no_email_phone_password_key_or_token_is_logged() {
    let capture = Capture::default();
    // Installed before the server, so the server's own `init_tracing` keeps this one.
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
        .with_writer(capture.clone())
        .init();
    let server = support::spawn().await;
    let phone = "+44 20 7946 0958";
    let (_, body) = server
        .gql(
            None,
            &format!("mutation($i: SignUpInput!) {{ signUp(input: $i) {{ {AUTH_FIELDS} }} }}"),
            json!({ "i": { "email": "Grace.Hopper@Navy.example", "password": PASSWORD, "name": phone, "tenantName": "Compilers" } }),
        )
        .await;
    let access = body["data"]["signUp"]["accessToken"]
        .as_str()
        .expect("signed up")
        .to_string();
    let refresh = body["data"]["signUp"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, body) = server
        .login("grace.hopper@navy.example", "a wrong password here")
        .await;
    assert_eq!(support::error_code(&body), "INVALID_CREDENTIALS");
    let (_, body) = server
        .login("unknown.person@elsewhere.example", "another wrong one!")
        .await;
    assert_eq!(support::error_code(&body), "INVALID_CREDENTIALS");
    let login = server.login_ok("grace.hopper@navy.example").await;
    let (_, body) = server
        .gql(
            Some(&access),
            "mutation { createApiKey(input: {name: \"ci\", role: DEVELOPER}) { secret } }",
            json!({}),
        )
        .await;
    let key = body["data"]["createApiKey"]["secret"]
        .as_str()
        .expect("key")
        .to_string();
    server
        .gql(Some(&key), "{ viewer { role } }", json!({}))
        .await;
    let (_, body) = server
        .gql(
            Some(&key),
            "mutation { createSessionToken(agentId: \"a1\", ttlSeconds: 60) { token } }",
            json!({}),
        )
        .await;
    let session = body["data"]["createSessionToken"]["token"]
        .as_str()
        .expect("session")
        .to_string();
    let (_, body) = server
        .gql(Some(&access), "mutation { inviteMember(input: {email: \"Ada.Lovelace@Engines.example\", role: VIEWER}) { token } }", json!({}))
        .await;
    let invite = body["data"]["inviteMember"]["token"]
        .as_str()
        .expect("invite")
        .to_string();
    server
        .gql(Some(&session), "{ viewer { role } }", json!({}))
        .await;
    // Telephony: the Twilio auth token, the numbers and the stream's session token stay out of the logs.
    let twilio_token = "5e5e5e5e6f6f6f6f7a7a7a7a8b8b8b8b";
    let (_, body) = server
        .gql(Some(&key), "mutation($t: String!) { setTwilioAccount(input: {accountSid: \"AC0123456789abcdef0123456789abcdef\", authToken: $t}) { voiceUrl } }", json!({ "t": twilio_token }))
        .await;
    let voice_url = body["data"]["setTwilioAccount"]["voiceUrl"]
        .as_str()
        .expect("voice URL")
        .to_string();
    let agent = server
        .create_agent(&key, "Desk", json!({ "systemPrompt": "Hi" }))
        .await;
    let (_, body) = server
        .gql(Some(&key), "mutation($a: ID!) { addPhoneNumber(input: {number: \"+1 415 555 0142\", agentId: $a}) { id } }", json!({ "a": agent }))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let params = [
        ("CallSid", "CA42"),
        ("From", "+16505550199"),
        ("To", "+14155550142"),
    ];
    let twiml = server
        .client
        .post(&voice_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "x-twilio-signature",
            voxedge::telephony::signature::compute(
                twilio_token.as_bytes(),
                &voice_url,
                &params.map(|(k, v)| (k.to_string(), v.to_string())),
            ),
        )
        .body(serde_urlencoded::to_string(params).unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let stream_token = twiml
        .split("name=\"token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no stream token in {twiml}"))
        .to_string();
    server
        .gql(Some("Bearer-not-a-token"), "{ viewer { role } }", json!({}))
        .await;
    server
        .gql(
            None,
            "mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken } }",
            json!({ "t": refresh }),
        )
        .await;
    server
        .gql(
            None,
            "mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken } }",
            json!({ "t": refresh }),
        )
        .await;
    server.stop().await;

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("sign-in failed"),
        "the capture works: {}",
        &logs[..logs.len().min(2000)]
    );
    let lowered = logs.to_lowercase();
    let forbidden = [
        "grace.hopper",
        "navy.example",
        "unknown.person",
        "elsewhere.example",
        "ada.lovelace",
        "engines.example",
        PASSWORD,
        "a wrong password here",
        "another wrong one!",
        phone,
        "442079460958",
        &key,
        &key[key.len() - 20..],
        &access,
        &access[access.len() - 20..],
        &refresh,
        &refresh[refresh.len() - 20..],
        &login.access,
        &login.refresh,
        &session,
        &session[session.len() - 20..],
        &invite,
        &invite[invite.len() - 20..],
        twilio_token,
        "4155550142",
        "6505550199",
        &stream_token,
        &stream_token[stream_token.len() - 20..],
    ];
    for needle in forbidden {
        assert!(
            !lowered.contains(&needle.to_lowercase()),
            "{needle:?} appears in the logs"
        );
    }
}
