//! Twilio's voice webhook, signed like Twilio signs it.

use voxedge::db::TenantId;

use crate::support;
use crate::*;

const NUMBER: &str = "+14155550100";
const CALLER: &str = "+14155550111";

/// A tenant with an account, an agent and [`NUMBER`] routed to it. Returns (tenant, key, agent id).
async fn configured(server: &TestServer, sid: &str, token: &str) -> (TenantId, String, String) {
    let tenant = server.tenant("Acme").await;
    set_account(server, &tenant.key, sid, token).await;
    let agent_id = agent(server, &tenant.key, "Front desk").await;
    add_number(server, &tenant.key, NUMBER, &agent_id).await;
    (tenant.id, tenant.key, agent_id)
}

fn voice_path(tenant: TenantId) -> String {
    format!("/v1/twilio/{tenant}/voice")
}

fn assert_hangup(answer: &Answer, message: &str) {
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(
        answer.content_type.starts_with("text/xml"),
        "{}",
        answer.content_type
    );
    assert!(
        answer
            .body
            .contains(&format!("<Say>{message}</Say><Hangup/>")),
        "{}",
        answer.body
    );
    assert!(!answer.body.contains("<Stream"));
}

#[tokio::test]
async fn a_signed_call_connects_to_its_agents_stream_with_a_session_token() {
    let server =
        support::spawn_with(|c| c.public_url = Some("https://voxedge.example".into())).await;
    let (tenant, _, agent_id) = configured(&server, SID_A, TOKEN_A).await;
    let path = voice_path(tenant);
    let params = call_params(NUMBER, CALLER);

    let answer = signed_post(
        &server,
        TOKEN_A,
        &format!("https://voxedge.example{path}"),
        &path,
        &params,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(
        answer.content_type.starts_with("text/xml"),
        "{}",
        answer.content_type
    );
    assert!(
        answer.body.contains(&format!(
            "<Response><Connect><Stream url=\"wss://voxedge.example/v1/twilio/{tenant}/stream\">"
        )),
        "{}",
        answer.body
    );
    assert!(
        answer.body.ends_with("</Stream></Connect></Response>"),
        "{}",
        answer.body
    );
    assert_eq!(answer.parameter("from"), CALLER);
    assert_eq!(answer.parameter("to"), NUMBER);
    assert_eq!(
        answer.parameter("callSid"),
        "CA0123456789abcdef0123456789abcdef"
    );
    let grant = server
        .state
        .auth
        .verify_session_token(&answer.parameter("token"))
        .await
        .expect("the stream token verifies");
    assert_eq!(
        (grant.tenant_id, grant.agent_id.as_str()),
        (tenant, agent_id.as_str())
    );
    assert_eq!(grant.issued_by, "twilio");
    let ttl = grant.expires_at - chrono::Utc::now().timestamp();
    assert!((60..=120).contains(&ttl), "token lives {ttl} s");

    // Twilio's libraries accept the default port shown or not; so do we.
    let answer = signed_post(
        &server,
        TOKEN_A,
        &format!("https://voxedge.example:443{path}"),
        &path,
        &params,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    // The configured public URL wins over the Host header.
    let answer = signed_post(
        &server,
        TOKEN_A,
        &format!("http://{}{path}", server.addr),
        &path,
        &params,
    )
    .await;
    assert_eq!(
        (answer.status, answer.code()),
        (StatusCode::FORBIDDEN, "INVALID_SIGNATURE".into())
    );
}

#[tokio::test]
async fn without_a_public_url_the_signed_url_comes_from_host_and_forwarded_proto() {
    let server = support::spawn().await;
    let (tenant, _, _) = configured(&server, SID_A, TOKEN_A).await;
    let path = voice_path(tenant);
    let params = call_params(NUMBER, CALLER);

    let answer = signed_post(
        &server,
        TOKEN_A,
        &format!("http://{}{path}", server.addr),
        &path,
        &params,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let stream = format!(
        "<Stream url=\"ws://{}/v1/twilio/{tenant}/stream\">",
        server.addr
    );
    assert!(answer.body.contains(&stream), "{}", answer.body);

    // The query string is part of the signed URL.
    let with_query = format!("{path}?source=console&n=1");
    let answer = signed_post(
        &server,
        TOKEN_A,
        &format!("http://{}{with_query}", server.addr),
        &with_query,
        &params,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let answer = signed_post(
        &server,
        TOKEN_A,
        &format!("http://{}{path}", server.addr),
        &with_query,
        &params,
    )
    .await;
    assert_eq!(
        answer.status,
        StatusCode::FORBIDDEN,
        "query left out of the signature"
    );

    // Behind a TLS-terminating proxy.
    let url = format!("https://{}{path}", server.addr);
    let signature = twilio_signature(TOKEN_A, &url, &params);
    let answer = post_voice(
        &server,
        &path,
        &params,
        Some(&signature),
        &[("x-forwarded-proto", "https")],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(answer.body.contains(&format!(
        "<Stream url=\"wss://{}/v1/twilio/{tenant}/stream\">",
        server.addr
    )));
}

#[tokio::test]
async fn bad_signatures_and_unknown_tenants_are_refused_alike() {
    let server = support::spawn().await;
    let (tenant, _, _) = configured(&server, SID_A, TOKEN_A).await;
    let path = voice_path(tenant);
    let url = format!("http://{}{path}", server.addr);
    let params = call_params(NUMBER, CALLER);

    let wrong_token = signed_post(&server, TOKEN_B, &url, &path, &params).await;
    assert_eq!(wrong_token.status, StatusCode::FORBIDDEN);
    assert_eq!(wrong_token.code(), "INVALID_SIGNATURE");
    let missing = post_voice(&server, &path, &params, None, &[]).await;
    assert_eq!(
        (missing.status, missing.body.as_str()),
        (StatusCode::FORBIDDEN, wrong_token.body.as_str())
    );
    let garbage = post_voice(&server, &path, &params, Some("bm9wZQ=="), &[]).await;
    assert_eq!(garbage.body, wrong_token.body);

    // Signed for one set of parameters, sent with another.
    let signature = twilio_signature(TOKEN_A, &url, &params);
    let mut tampered = params.clone();
    tampered.retain(|(k, _)| *k != "From");
    tampered.push(("From", "+19995550000"));
    let answer = post_voice(&server, &path, &tampered, Some(&signature), &[]).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (StatusCode::FORBIDDEN, wrong_token.body.as_str())
    );
    let mut extra = params.clone();
    extra.push(("Digits", "1"));
    let answer = post_voice(&server, &path, &extra, Some(&signature), &[]).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);

    // Unknown and malformed tenant ids look exactly like a bad signature.
    let ghost = voice_path(TenantId::generate());
    let answer = signed_post(
        &server,
        TOKEN_A,
        &format!("http://{}{ghost}", server.addr),
        &ghost,
        &params,
    )
    .await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (StatusCode::FORBIDDEN, wrong_token.body.as_str())
    );
    let bogus = "/v1/twilio/..%2F..%2Fcatalog/voice";
    let answer = signed_post(
        &server,
        TOKEN_A,
        &format!("http://{}{bogus}", server.addr),
        bogus,
        &params,
    )
    .await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (StatusCode::FORBIDDEN, wrong_token.body.as_str())
    );

    // A tenant without an account is told so; a body that is not a form is refused before anything.
    let bare = server.tenant("Bare").await;
    let bare_path = voice_path(bare.id);
    let answer = signed_post(
        &server,
        TOKEN_A,
        &format!("http://{}{bare_path}", server.addr),
        &bare_path,
        &params,
    )
    .await;
    assert_eq!(
        (answer.status, answer.code()),
        (StatusCode::NOT_FOUND, "TELEPHONY_NOT_CONFIGURED".into())
    );
    let json = server
        .client
        .post(server.url(&path))
        .header("x-twilio-signature", twilio_signature(TOKEN_A, &url, &[]))
        .json(&json!({ "To": NUMBER }))
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn unrouted_numbers_and_archived_agents_get_a_message_and_a_hang_up() {
    let server = support::spawn().await;
    let (tenant, key, agent_id) = configured(&server, SID_A, TOKEN_A).await;
    let path = voice_path(tenant);
    let url = format!("http://{}{path}", server.addr);

    let answer = signed_post(
        &server,
        TOKEN_A,
        &url,
        &path,
        &call_params("+14155550999", CALLER),
    )
    .await;
    assert_hangup(
        &answer,
        "Sorry, this number is not connected to an agent. Goodbye.",
    );
    let answer = signed_post(
        &server,
        TOKEN_A,
        &url,
        &path,
        &call_params("client:alice", CALLER),
    )
    .await;
    assert_hangup(
        &answer,
        "Sorry, this number is not connected to an agent. Goodbye.",
    );

    let (_, body) = server
        .gql(
            Some(&key),
            "mutation($id: ID!) { archiveAgent(id: $id) { id } }",
            json!({ "id": agent_id }),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let answer = signed_post(&server, TOKEN_A, &url, &path, &call_params(NUMBER, CALLER)).await;
    assert_hangup(
        &answer,
        "Sorry, this agent is not available right now. Goodbye.",
    );
}

#[tokio::test]
async fn a_tenants_voice_url_routes_only_its_own_numbers() {
    let server = support::spawn().await;
    let (a, _, _) = configured(&server, SID_A, TOKEN_A).await;
    let b = server.tenant("Beta").await;
    set_account(&server, &b.key, SID_B, TOKEN_B).await;
    let b_agent = agent(&server, &b.key, "Beta desk").await;
    add_number(&server, &b.key, "+14155550200", &b_agent).await;
    let (a_path, b_path) = (voice_path(a), voice_path(b.id));
    let a_url = format!("http://{}{a_path}", server.addr);
    let b_url = format!("http://{}{b_path}", server.addr);
    let b_call = call_params("+14155550200", CALLER);

    let answer = signed_post(&server, TOKEN_A, &a_url, &a_path, &b_call).await;
    assert_hangup(
        &answer,
        "Sorry, this number is not connected to an agent. Goodbye.",
    );
    let answer = signed_post(&server, TOKEN_B, &b_url, &a_path, &b_call).await;
    assert_eq!(
        answer.status,
        StatusCode::FORBIDDEN,
        "B's signature on A's URL"
    );
    let answer = signed_post(&server, TOKEN_B, &a_url, &a_path, &b_call).await;
    assert_eq!(
        answer.status,
        StatusCode::FORBIDDEN,
        "B's token for A's URL"
    );

    let answer = signed_post(&server, TOKEN_B, &b_url, &b_path, &b_call).await;
    let grant = server
        .state
        .auth
        .verify_session_token(&answer.parameter("token"))
        .await
        .unwrap();
    assert_eq!((grant.tenant_id, grant.agent_id), (b.id, b_agent));
}

#[tokio::test]
async fn webhooks_count_against_the_tenants_request_budget() {
    let server = support::spawn_with(|c| c.rate_limits.graphql.free = 5).await;
    // Three GraphQL requests set the tenant up; two calls fit in the remaining budget.
    let (tenant, _, _) = configured(&server, SID_A, TOKEN_A).await;
    let path = voice_path(tenant);
    let url = format!("http://{}{path}", server.addr);
    for _ in 0..2 {
        let answer = signed_post(&server, TOKEN_A, &url, &path, &call_params(NUMBER, CALLER)).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    }
    let answer = signed_post(&server, TOKEN_A, &url, &path, &call_params(NUMBER, CALLER)).await;
    assert_eq!(
        (answer.status, answer.code()),
        (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED".into())
    );
    // Unsigned requests never spend the budget.
    let unsigned = post_voice(&server, &path, &call_params(NUMBER, CALLER), None, &[]).await;
    assert_eq!(unsigned.status, StatusCode::FORBIDDEN);
}
