//! Rate limits and sign-in lock-outs through the real server, with time moved by the server clock
//! instead of slept.

mod support;

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{PASSWORD, TestServer, error_code};
use voxedge::ratelimit::PlanLimits;

const VIEWER: &str = "{ viewer { role } }";

/// A GraphQL POST returning status, `Retry-After` and body.
async fn post(
    server: &TestServer,
    credential: Option<&str>,
    query: &str,
    variables: Value,
) -> (StatusCode, Option<u64>, Value) {
    let mut request = server
        .client
        .post(server.url("/graphql"))
        .header("accept", "application/graphql-response+json")
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(credential) = credential {
        request = request.bearer_auth(credential);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let retry = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    (status, retry, response.json().await.unwrap())
}

#[tokio::test]
async fn tenants_are_limited_by_plan_and_recover_as_time_passes() {
    let server = support::spawn_with(|c| {
        c.rate_limits.graphql = PlanLimits {
            free: 3,
            pro: 5,
            enterprise: 0,
        }
    })
    .await;
    let acme = server.tenant("Acme").await;
    let globex = server.tenant("Globex").await;
    let conn = rusqlite::Connection::open(server.data_dir.join("catalog.db")).unwrap();
    conn.execute(
        "update tenants set plan = 'pro' where id = ?1",
        [globex.id.to_string()],
    )
    .unwrap();

    for _ in 0..3 {
        let (status, _, body) = post(&server, Some(&acme.key), VIEWER, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, retry, body) = post(&server, Some(&acme.key), VIEWER, json!({})).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(error_code(&body), "RATE_LIMITED");
    let retry = retry.expect("Retry-After");
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(body["errors"][0]["extensions"]["retryAfter"], retry);

    // Another tenant, on the pro plan, has its own and larger budget.
    for _ in 0..5 {
        let (status, _, _) = post(&server, Some(&globex.key), VIEWER, json!({})).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, _, _) = post(&server, Some(&globex.key), VIEWER, json!({})).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);

    server.state.clock.advance(Duration::from_secs(retry));
    let (status, _, _) = post(&server, Some(&acme.key), VIEWER, json!({})).await;
    assert_eq!(status, StatusCode::OK, "the budget refills with time");
}

#[tokio::test]
async fn websocket_connects_and_anonymous_requests_are_limited() {
    let server = support::spawn_with(|c| {
        c.rate_limits.ws_connects = PlanLimits {
            free: 2,
            pro: 2,
            enterprise: 2,
        };
        c.rate_limits.anonymous_per_ip = 2;
    })
    .await;
    let acme = server.tenant("Acme").await;
    let auth = json!({ "Authorization": format!("Bearer {}", acme.key) });
    for _ in 0..2 {
        support::ws::GqlWs::connect(&server.ws_url("/graphql"), auth.clone())
            .await
            .expect("accepted");
    }
    match support::ws::GqlWs::connect(&server.ws_url("/graphql"), auth.clone()).await {
        Err(support::ws::Ended::Closed { code, reason }) => {
            assert_eq!(code, 4429);
            assert!(reason.starts_with("RATE_LIMITED"), "{reason}");
        }
        _ => panic!("the third connect is refused"),
    }
    server.state.clock.advance(Duration::from_secs(60));
    support::ws::GqlWs::connect(&server.ws_url("/graphql"), auth)
        .await
        .expect("accepted again");

    for _ in 0..2 {
        let (status, _, _) = post(&server, None, "{ __typename }", json!({})).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, retry, body) = post(&server, None, "{ __typename }", json!({})).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED")
    );
    assert!(retry.is_some());
}

const LOGIN: &str = "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { accessToken } }";

#[tokio::test]
async fn repeated_failed_sign_ins_lock_the_account_out_for_a_while() {
    let server = support::spawn_with(|c| {
        c.rate_limits.login_account.max_failures = 3;
        c.rate_limits.login_account.lockout = Duration::from_secs(600);
    })
    .await;
    server.sign_up("ada@example.com", "Acme").await;
    server.sign_up("bob@example.com", "Globex").await;
    for _ in 0..3 {
        let (status, _, body) = post(
            &server,
            None,
            LOGIN,
            json!({ "e": "ada@example.com", "p": "wrong horse battery" }),
        )
        .await;
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::OK, "INVALID_CREDENTIALS")
        );
    }
    // Locked: even the right password is refused, with a 429 and how long to wait.
    let (status, retry, body) = post(
        &server,
        None,
        LOGIN,
        json!({ "e": "ADA@example.com", "p": PASSWORD }),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED"),
        "{body}"
    );
    assert!(retry.is_some_and(|r| r > 500 && r <= 600), "{retry:?}");
    // Other accounts are unaffected.
    let (status, _, _) = post(
        &server,
        None,
        LOGIN,
        json!({ "e": "bob@example.com", "p": PASSWORD }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    server.state.clock.advance(Duration::from_secs(601));
    let (status, _, body) = post(
        &server,
        None,
        LOGIN,
        json!({ "e": "ada@example.com", "p": PASSWORD }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["data"]["login"]["accessToken"].is_string());
}

#[tokio::test]
async fn one_ip_failing_across_many_accounts_is_locked_out() {
    let server = support::spawn_with(|c| c.rate_limits.login_ip.max_failures = 4).await;
    server.sign_up("ada@example.com", "Acme").await;
    for i in 0..4 {
        let (_, _, body) = post(
            &server,
            None,
            LOGIN,
            json!({ "e": format!("guess{i}@example.com"), "p": PASSWORD }),
        )
        .await;
        assert_eq!(error_code(&body), "INVALID_CREDENTIALS");
    }
    let (status, _, body) = post(
        &server,
        None,
        LOGIN,
        json!({ "e": "ada@example.com", "p": PASSWORD }),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED")
    );
    server.state.clock.advance(Duration::from_secs(15 * 60));
    let (status, _, _) = post(
        &server,
        None,
        LOGIN,
        json!({ "e": "ada@example.com", "p": PASSWORD }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}
