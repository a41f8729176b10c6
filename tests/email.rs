//! Email, end to end: a real SMTP server (aiosmtpd, started by the test) receives the verification, password
//! reset and invitation emails; their links work once and never twice; expired links say so; unverified accounts
//! work for a grace period and are then asked to verify; queued email survives a restart; without SMTP the links
//! come back to whoever may see them.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::smtp::{SmtpServer, link_token};
use support::{AUTH_FIELDS, PASSWORD, TestServer, error_code};

const PUBLIC_URL: &str = "https://portal.voxedge.test";

async fn mailing_server(smtp: &SmtpServer) -> TestServer {
    let url = smtp.url();
    support::spawn_with(move |config| {
        config.email.smtp_url = Some(voxedge::redact::Secret::new(url));
        config.email.from = "voxedge <no-reply@voxedge.test>".into();
        config.public_url = Some(PUBLIC_URL.into());
    })
    .await
}

async fn verify(server: &TestServer, token: &str) -> Value {
    server
        .gql(
            None,
            "mutation($t: String!) { verifyEmail(token: $t) { email emailVerified emailVerifiedAt verifyEmailBy } }",
            json!({ "t": token }),
        )
        .await
        .1
}

async fn me(server: &TestServer, access: &str) -> Value {
    let (_, body) = server
        .gql(
            Some(access),
            "{ viewer { user { email emailVerified verifyEmailBy } } }",
            json!({}),
        )
        .await;
    body["data"]["viewer"]["user"].clone()
}

#[tokio::test]
async fn sign_up_mails_a_verification_link_that_works_once() {
    let mut smtp = SmtpServer::start();
    let server = mailing_server(&smtp).await;
    let (_, body) = server
        .gql(
            None,
            &format!("mutation($i: SignUpInput!) {{ signUp(input: $i) {{ {AUTH_FIELDS} verificationLink }} }}"),
            json!({ "i": { "email": "Ada@Example.com", "password": PASSWORD, "name": "Ada <Lovelace>", "tenantName": "Engines" } }),
        )
        .await;
    let signed_up = &body["data"]["signUp"];
    assert_eq!(
        signed_up["verificationLink"],
        Value::Null,
        "emailed, not shown: {body}"
    );
    let access = signed_up["accessToken"].as_str().unwrap().to_string();
    assert_eq!(me(&server, &access).await["emailVerified"], false);

    let mail = smtp.next_mail().await;
    assert_eq!(mail["rcpt_tos"], json!(["Ada@example.com"]));
    assert_eq!(mail["mail_from"], "no-reply@voxedge.test");
    assert_eq!(mail["subject"], "Confirm your email address for voxedge");
    assert_eq!(mail["content_type"], "multipart/alternative");
    let (text, html) = (
        mail["text"].as_str().unwrap(),
        mail["html"].as_str().unwrap(),
    );
    assert!(text.contains("Hello Ada <Lovelace>,"), "{text}");
    assert!(
        html.contains("Ada &lt;Lovelace&gt;"),
        "names are escaped in HTML: {html}"
    );
    assert!(
        text.contains(&format!("{PUBLIC_URL}/verify-email?token=vxv_")),
        "{text}"
    );
    let token = link_token(text, "/verify-email");
    assert_eq!(
        token,
        link_token(html, "/verify-email"),
        "both parts carry the same link"
    );

    let body = verify(&server, &token).await;
    assert_eq!(body["data"]["verifyEmail"]["emailVerified"], true, "{body}");
    assert_eq!(body["data"]["verifyEmail"]["verifyEmailBy"], Value::Null);
    assert_eq!(me(&server, &access).await["emailVerified"], true);
    let again = verify(&server, &token).await;
    assert_eq!(error_code(&again), "LINK_ALREADY_USED", "{again}");
    let forged = verify(&server, &format!("{}x", &token[..token.len() - 1])).await;
    assert_eq!(error_code(&forged), "INVALID_TOKEN", "{forged}");
    let (_, body) = server
        .gql(
            Some(&access),
            "mutation { resendVerificationEmail { emailed } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), "CONFLICT", "already verified: {body}");
    // Verification is audited in the user's tenant.
    let (_, body) = server
        .gql(
            Some(&access),
            "{ auditLog(first: 20) { nodes { action } } }",
            json!({}),
        )
        .await;
    assert!(body.to_string().contains("\"verifyEmail\""), "{body}");
}

#[tokio::test]
async fn password_reset_links_work_once_end_every_session_and_expire() {
    let mut smtp = SmtpServer::start();
    let server = mailing_server(&smtp).await;
    let ada = server.sign_up("ada@example.com", "Engines").await;
    let _verification = smtp.next_mail().await;
    let other_device = server.login_ok("ada@example.com").await;

    let ask = |email: &'static str| {
        let server = &server;
        async move {
            server
                .gql(
                    None,
                    "mutation($e: String!) { requestPasswordReset(email: $e) { emailed } }",
                    json!({ "e": email }),
                )
                .await
                .1
        }
    };
    // An unknown address gets the same answer, and no email.
    let unknown = ask("nobody@example.com").await;
    assert_eq!(
        unknown["data"]["requestPasswordReset"]["emailed"], true,
        "{unknown}"
    );
    let body = ask("ADA@example.com").await;
    assert_eq!(
        body["data"]["requestPasswordReset"]["emailed"], true,
        "{body}"
    );
    let mail = smtp.next_mail().await;
    assert_eq!(
        mail["rcpt_tos"],
        json!(["ada@example.com"]),
        "the first email is Ada's: {mail}"
    );
    assert_eq!(mail["subject"], "Reset your voxedge password");
    let text = mail["text"].as_str().unwrap();
    assert!(text.contains("1 hour"), "{text}");
    let token = link_token(text, "/reset-password");
    assert!(token.starts_with("vxp_"));
    // Asking again within a minute sends nothing (no mail bombing).
    ask("ada@example.com").await;
    assert!(
        smtp.mail_within(Duration::from_millis(1500))
            .await
            .is_none()
    );

    let reset = |token: String, password: &'static str| {
        let server = &server;
        async move {
            server
                .gql(
                    None,
                    "mutation($i: ResetPasswordInput!) { resetPassword(input: $i) { email emailVerified } }",
                    json!({ "i": { "token": token, "password": password } }),
                )
                .await
                .1
        }
    };
    let weak = reset(token.clone(), "password123").await;
    assert_eq!(
        error_code(&weak),
        "INVALID_INPUT",
        "rules still apply: {weak}"
    );
    let body = reset(token.clone(), "a brand new passphrase").await;
    assert_eq!(
        body["data"]["resetPassword"]["email"], "ada@example.com",
        "{body}"
    );
    let again = reset(token.clone(), "yet another passphrase").await;
    assert_eq!(error_code(&again), "LINK_ALREADY_USED", "{again}");

    // Every session ended, on every device; only the new password signs in.
    for access in [&ada.access, &other_device.access] {
        let (status, body) = server
            .gql(Some(access), "{ viewer { role } }", json!({}))
            .await;
        assert_eq!(error_code(&body), "TOKEN_REVOKED", "{status} {body}");
    }
    let (_, body) = server
        .gql(
            None,
            "mutation($t: String!) { refreshSession(refreshToken: $t) { accessToken } }",
            json!({ "t": ada.refresh }),
        )
        .await;
    assert_eq!(error_code(&body), "TOKEN_REVOKED", "{body}");
    let (_, body) = server.login("ada@example.com", PASSWORD).await;
    assert_eq!(error_code(&body), "INVALID_CREDENTIALS");
    let (_, body) = server
        .login("ada@example.com", "a brand new passphrase")
        .await;
    assert!(body["data"]["login"]["accessToken"].is_string(), "{body}");

    // A link not followed within its hour has expired.
    server.state.clock.advance(Duration::from_secs(61));
    ask("ada@example.com").await;
    let token = link_token(
        smtp.next_mail().await["text"].as_str().unwrap(),
        "/reset-password",
    );
    server.state.clock.advance(Duration::from_secs(3601));
    let late = reset(token, "a third passphrase!").await;
    assert_eq!(error_code(&late), "LINK_EXPIRED", "{late}");
    assert!(
        late["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "{late}"
    );
}

#[tokio::test]
async fn invitations_are_mailed_accepted_once_and_expire() {
    let mut smtp = SmtpServer::start();
    let server = mailing_server(&smtp).await;
    let ada = server.sign_up("ada@example.com", "Engines & Co").await;
    let _verification = smtp.next_mail().await;
    let invite = |email: &'static str| {
        let server = &server;
        let access = ada.access.clone();
        async move {
            server
                .gql(
                    Some(&access),
                    "mutation($e: String!) { inviteMember(input: {email: $e, role: DEVELOPER}) { emailed link token } }",
                    json!({ "e": email }),
                )
                .await
                .1
        }
    };
    let body = invite("bob@example.com").await;
    let payload = &body["data"]["inviteMember"];
    assert_eq!(payload["emailed"], true, "{body}");
    let mail = smtp.next_mail().await;
    assert_eq!(mail["rcpt_tos"], json!(["bob@example.com"]));
    assert_eq!(
        mail["subject"],
        "You are invited to Engines & Co on voxedge"
    );
    let text = mail["text"].as_str().unwrap();
    assert!(
        text.contains("Test User invited you to join the workspace Engines & Co"),
        "{text}"
    );
    assert!(mail["html"].as_str().unwrap().contains("Engines &amp; Co"));
    let token = link_token(text, "/accept-invite");
    assert_eq!(token, payload["token"].as_str().unwrap());
    assert_eq!(
        payload["link"],
        format!("{PUBLIC_URL}/accept-invite?token={token}")
    );

    let accept = |token: String| {
        let server = &server;
        async move {
            server
                .gql(
                    None,
                    &format!("mutation($i: AcceptInviteInput!) {{ acceptInvite(input: $i) {{ {AUTH_FIELDS} }} }}"),
                    json!({ "i": { "token": token, "password": PASSWORD, "name": "Bob" } }),
                )
                .await
                .1
        }
    };
    let body = accept(token.clone()).await;
    let bob = body["data"]["acceptInvite"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"));
    assert_eq!(
        me(&server, bob).await["emailVerified"],
        true,
        "the mailed invitation proved the address"
    );
    let again = accept(token).await;
    assert_eq!(error_code(&again), "LINK_ALREADY_USED", "{again}");

    invite("carol@example.com").await;
    let token = link_token(
        smtp.next_mail().await["text"].as_str().unwrap(),
        "/accept-invite",
    );
    server
        .state
        .clock
        .advance(Duration::from_secs(7 * 24 * 3600 + 1));
    let late = accept(token).await;
    assert_eq!(error_code(&late), "LINK_EXPIRED", "{late}");
}

#[tokio::test]
async fn unverified_accounts_get_a_grace_period_then_must_verify() {
    let mut smtp = SmtpServer::start();
    let url = smtp.url();
    let server = support::spawn_with(move |config| {
        config.email.smtp_url = Some(voxedge::redact::Secret::new(url));
        config.identity.verification_grace = Duration::from_secs(24 * 3600);
    })
    .await;
    let ada = server.sign_up("ada@example.com", "Engines").await;
    let first = link_token(
        smtp.next_mail().await["text"].as_str().unwrap(),
        "/verify-email",
    );
    let agents = "{ agents(first: 5) { nodes { id } } }";
    let (_, body) = server.gql(Some(&ada.access), agents, json!({})).await;
    assert!(
        body["data"]["agents"].is_object(),
        "within the grace period: {body}"
    );
    assert!(me(&server, &ada.access).await["verifyEmailBy"].is_string());

    // A day later (and past the first link's three days) the account must verify.
    server
        .state
        .clock
        .advance(Duration::from_secs(3 * 24 * 3600 + 1));
    let (_, body) = server
        .gql(
            None,
            &format!(
                "mutation($t: String!) {{ refreshSession(refreshToken: $t) {{ {AUTH_FIELDS} }} }}"
            ),
            json!({ "t": ada.refresh }),
        )
        .await;
    let access = body["data"]["refreshSession"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, body) = server.gql(Some(&access), agents, json!({})).await;
    assert_eq!(error_code(&body), "EMAIL_NOT_VERIFIED", "{body}");
    assert_eq!(
        me(&server, &access).await["emailVerified"],
        false,
        "viewer still answers"
    );
    let body = verify(&server, &first).await;
    assert_eq!(error_code(&body), "LINK_EXPIRED", "{body}");

    let (_, body) = server
        .gql(
            Some(&access),
            "mutation { resendVerificationEmail { emailed link } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"]["resendVerificationEmail"],
        json!({ "emailed": true, "link": null })
    );
    let fresh = link_token(
        smtp.next_mail().await["text"].as_str().unwrap(),
        "/verify-email",
    );
    assert_eq!(
        verify(&server, &fresh).await["data"]["verifyEmail"]["emailVerified"],
        true
    );
    let (_, body) = server.gql(Some(&access), agents, json!({})).await;
    assert!(
        body["data"]["agents"].is_object(),
        "verified, at once: {body}"
    );
}

#[tokio::test]
async fn queued_email_waits_for_the_smtp_server_across_a_restart() {
    // A port where no SMTP server listens yet.
    let port = SmtpServer::start().port;
    let data = tempfile::tempdir().unwrap();
    let configure = move |config: &mut voxedge::config::Config| {
        config.email.smtp_url = Some(voxedge::redact::Secret::new(format!(
            "smtp://127.0.0.1:{port}"
        )));
        config.email.retry_base = Duration::from_millis(300);
    };
    let server = support::spawn_in(data.path().to_path_buf(), configure).await;
    server.sign_up("ada@example.com", "Engines").await;
    // It was tried, failed, and is waiting for a retry.
    let outbox = |server: &TestServer| {
        let catalog = server.state.catalog.clone();
        async move { catalog.read(voxedge::repo::email::counts).await.unwrap() }
    };
    for _ in 0..100 {
        let attempted = server
            .state
            .catalog
            .read(|c| {
                Ok::<_, voxedge::db::StorageError>(c.query_row(
                    "select attempts from email_outbox",
                    [],
                    |r| r.get::<_, i64>(0),
                )?)
            })
            .await
            .unwrap();
        if attempted > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        outbox(&server).await,
        [("verify_email".to_string(), "pending".to_string(), 1)]
    );
    server.stop().await;

    let mut smtp = SmtpServer::start_on(port);
    let server = support::spawn_in(data.path().to_path_buf(), configure).await;
    let mail = smtp.next_mail().await;
    assert_eq!(mail["subject"], "Confirm your email address for voxedge");
    for _ in 0..100 {
        if outbox(&server).await == [("verify_email".to_string(), "sent".to_string(), 1)] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        outbox(&server).await,
        [("verify_email".to_string(), "sent".to_string(), 1)]
    );
    let sealed: Option<String> = server
        .state
        .catalog
        .read(|c| {
            Ok::<_, voxedge::db::StorageError>(c.query_row(
                "select sealed from email_outbox",
                [],
                |r| r.get(0),
            )?)
        })
        .await
        .unwrap();
    assert_eq!(sealed, None, "a sent message is wiped from the outbox");
    server.stop().await;
}

#[tokio::test]
async fn without_smtp_links_come_back_to_whoever_may_follow_them() {
    let server = support::spawn().await;
    let (_, body) = server
        .gql(
            None,
            &format!("mutation($i: SignUpInput!) {{ signUp(input: $i) {{ {AUTH_FIELDS} verificationLink }} }}"),
            json!({ "i": { "email": "ada@example.com", "password": PASSWORD, "tenantName": "Engines" } }),
        )
        .await;
    let link = body["data"]["signUp"]["verificationLink"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"));
    assert!(
        link.starts_with(&format!("http://{}/verify-email?token=vxv_", server.addr)),
        "{link}"
    );
    let access = body["data"]["signUp"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, body) = server
        .gql(Some(&access), "mutation { inviteMember(input: {email: \"bob@example.com\", role: VIEWER}) { emailed link } }", json!({}))
        .await;
    assert_eq!(body["data"]["inviteMember"]["emailed"], false, "{body}");
    assert!(
        body["data"]["inviteMember"]["link"]
            .as_str()
            .unwrap()
            .contains("/accept-invite?token=vxi_")
    );
    // A reset link is never shown to whoever asked: it would hand them the account.
    let (_, body) = server
        .gql(
            None,
            "mutation { requestPasswordReset(email: \"ada@example.com\") { emailed } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"]["requestPasswordReset"],
        json!({ "emailed": false })
    );
    assert!(!body.to_string().contains("vxp_"));
    let (_, body) = server
        .gql(
            Some(&access),
            "mutation { resendVerificationEmail { emailed link } }",
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["resendVerificationEmail"]["emailed"], false);
    let token = link_token(
        body["data"]["resendVerificationEmail"]["link"]
            .as_str()
            .unwrap(),
        "/verify-email",
    );
    assert_eq!(
        verify(&server, &token).await["data"]["verifyEmail"]["emailVerified"],
        true
    );
    let first = link_token(link, "/verify-email");
    assert_eq!(
        error_code(&verify(&server, &first).await),
        "LINK_ALREADY_USED",
        "a newer link replaced it"
    );
    // The emails themselves were "sent" to the log.
    for _ in 0..100 {
        let counts = server
            .state
            .catalog
            .read(voxedge::repo::email::counts)
            .await
            .unwrap();
        if counts
            .iter()
            .filter(|(_, status, _)| status == "logged")
            .map(|(_, _, n)| n)
            .sum::<i64>()
            == 4
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("emails were not logged");
}

#[tokio::test]
async fn operators_can_hand_out_a_reset_link() {
    let data = tempfile::tempdir().unwrap();
    let server = support::spawn_in(data.path().to_path_buf(), |_| {}).await;
    server.sign_up("ada@example.com", "Engines").await;
    let output = support::process::run_ok(
        data.path(),
        &[
            "user",
            "reset-link",
            "--email",
            "Ada@Example.com",
            "--public-url",
            PUBLIC_URL,
        ],
    );
    let printed = support::process::stdout_json(&output);
    let link = printed["link"].as_str().unwrap();
    assert!(
        link.starts_with(&format!("{PUBLIC_URL}/reset-password?token=vxp_")),
        "{printed}"
    );
    assert!(printed["expires_at"].is_string());
    let (_, body) = server
        .gql(
            None,
            "mutation($i: ResetPasswordInput!) { resetPassword(input: $i) { email } }",
            json!({ "i": { "token": link_token(link, "/reset-password"), "password": "a brand new passphrase" } }),
        )
        .await;
    assert_eq!(
        body["data"]["resetPassword"]["email"], "ada@example.com",
        "{body}"
    );
    let output = support::process::voxedge()
        .arg("--data-dir")
        .arg(data.path())
        .args([
            "user",
            "reset-link",
            "--email",
            "nobody@example.com",
            "--public-url",
            PUBLIC_URL,
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("not found"));
}

#[tokio::test]
async fn billing_notices_reach_owners_when_an_invoice_is_issued() {
    use voxedge::billing::job::{self, JobState};
    use voxedge::billing::plans::{self, PlanChange};
    use voxedge::billing::pricing::Month;

    let mut smtp = SmtpServer::start();
    let url = smtp.url();
    let server = support::spawn_with(move |config| {
        config.email.smtp_url = Some(voxedge::redact::Secret::new(url));
        config.email.from = "voxedge <no-reply@voxedge.test>".into();
        config.public_url = Some(PUBLIC_URL.into());
        // The job runs when the test runs it; the month's draft is issued at once.
        config.billing.job_interval = Duration::from_secs(3600);
        config.billing.finalize_delay = Duration::ZERO;
    })
    .await;
    let owner = server.sign_up("owner@example.com", "Engines").await;
    let verification = smtp.next_mail().await;
    assert_eq!(
        verification["subject"],
        "Confirm your email address for voxedge"
    );
    let tenant: voxedge::db::TenantId = owner.tenant_id.parse().unwrap();
    // Pro has a monthly base fee, so the month's invoice is owed.
    plans::change(
        &server.state.billing,
        tenant,
        PlanChange::by_operator("pro"),
    )
    .await
    .expect("plan assigned");
    let billing = &server.state.billing;
    let month = Month::containing(billing.now());
    server.state.clock.advance(Duration::from_millis(
        (month.end_ms + 3_600_000 - billing.now()) as u64,
    ));
    job::run_once(
        billing,
        &server.state.tenant_opener(),
        &mut JobState::default(),
    )
    .await
    .expect("billing job runs");

    let mail = smtp.next_mail().await;
    assert_eq!(mail["rcpt_tos"], json!(["owner@example.com"]));
    let subject = mail["subject"].as_str().unwrap();
    assert!(
        subject.starts_with("Invoice ") && subject.ends_with(" for Engines"),
        "{subject}"
    );
    let text = mail["text"].as_str().unwrap();
    assert!(text.contains(" USD"), "the total, in its currency: {text}");
    assert!(
        text.contains(&format!("{PUBLIC_URL}/settings/billing")),
        "{text}"
    );
    // Running the job again issues nothing new, so nothing more is mailed.
    job::run_once(
        billing,
        &server.state.tenant_opener(),
        &mut JobState::default(),
    )
    .await
    .expect("billing job runs");
    assert!(smtp.mail_within(Duration::from_secs(2)).await.is_none());
}
