//! GraphQL over HTTP: media types, status codes, limits, credentials, and stable error codes.

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::error_code;

const VIEWER: &str = "{ viewer { role tenant { id name slug createdAt } } }";

#[tokio::test]
async fn viewer_returns_the_keys_tenant() {
    let server = support::spawn().await;
    let acme = server.tenant("Acme Corp").await;
    let (status, body) = server.gql(Some(&acme.key), VIEWER, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["viewer"]["tenant"]["id"], acme.id.to_string());
    assert_eq!(body["data"]["viewer"]["tenant"]["name"], "Acme Corp");
    assert_eq!(body["data"]["viewer"]["tenant"]["slug"], "acme-corp");
    assert_eq!(body["data"]["viewer"]["role"], "OWNER");
    assert!(body.get("errors").is_none());
}

#[tokio::test]
async fn get_queries_work_and_get_mutations_are_405() {
    let server = support::spawn().await;
    let acme = server.tenant("Acme").await;
    let response = server
        .client
        .get(server.url("/graphql"))
        .query(&[("query", "{ viewer { tenant { name } } }")])
        .bearer_auth(&acme.key)
        .header("accept", "application/graphql-response+json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/graphql-response+json")
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"]["viewer"]["tenant"]["name"], "Acme");

    let response = server
        .client
        .get(server.url("/graphql"))
        .query(&[(
            "query",
            "mutation { updateTenant(input: {name: \"x\"}) { name } }",
        )])
        .bearer_auth(&acme.key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "POST");
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), "METHOD_NOT_ALLOWED");
    let (_, body) = server
        .gql(Some(&acme.key), "{ viewer { tenant { name } } }", json!({}))
        .await;
    assert_eq!(
        body["data"]["viewer"]["tenant"]["name"], "Acme",
        "the GET mutation changed nothing"
    );
}

/// Per the GraphQL-over-HTTP spec: with `application/graphql-response+json`, request errors are 400
/// without `data`; legacy `application/json` clients get 200.
#[tokio::test]
async fn request_errors_follow_the_media_type() {
    let server = support::spawn().await;
    let acme = server.tenant("Acme").await;
    let cases = [
        ("{ viewer { ", "GRAPHQL_PARSE_FAILED"),
        ("{ viewer { noSuchField } }", "GRAPHQL_VALIDATION_FAILED"),
        (
            "query A { viewer { role } } query B { viewer { role } }",
            "GRAPHQL_UNKNOWN_OPERATION",
        ),
    ];
    for (query, code) in cases {
        for (accept, expected_status) in [
            ("application/graphql-response+json", StatusCode::BAD_REQUEST),
            ("application/json", StatusCode::OK),
        ] {
            let response = server
                .client
                .post(server.url("/graphql"))
                .header("accept", accept)
                .bearer_auth(&acme.key)
                .json(&json!({ "query": query }))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), expected_status, "{query} with {accept}");
            assert!(
                response.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with(accept)
            );
            let body: Value = response.json().await.unwrap();
            assert_eq!(error_code(&body), code, "{query}: {body}");
            assert!(
                body.get("data").is_none(),
                "request errors carry no data: {body}"
            );
        }
    }
}

#[tokio::test]
async fn malformed_requests_get_stable_codes() {
    let server = support::spawn_with(|c| c.max_body_bytes = 4096).await;
    let post = |body: String, content_type: &'static str| {
        server
            .client
            .post(server.url("/graphql"))
            .header("content-type", content_type)
            .header("accept", "application/graphql-response+json")
            .body(body)
            .send()
    };
    let cases = [
        (
            post("{not json".into(), "application/json").await.unwrap(),
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
        ),
        (
            post("{}".into(), "application/json").await.unwrap(),
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
        ),
        (
            post("[{\"query\":\"{__typename}\"}]".into(), "application/json")
                .await
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
        ),
        (
            post(
                "{\"query\":\"{__typename}\",\"variables\":[1]}".into(),
                "application/json",
            )
            .await
            .unwrap(),
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
        ),
        (
            post("query".into(), "text/plain").await.unwrap(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            post(
                format!("{{\"query\":\"{}\"}}", "a".repeat(5000)),
                "application/json",
            )
            .await
            .unwrap(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
        ),
    ];
    for (response, status, code) in cases {
        assert_eq!(response.status(), status);
        let body: Value = response.json().await.unwrap();
        assert_eq!(error_code(&body), code, "{body}");
    }
    let response = server
        .client
        .post(server.url("/graphql"))
        .header("accept", "text/csv")
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_ACCEPTABLE);
}

#[tokio::test]
async fn depth_and_complexity_limits_are_enforced() {
    let shallow = support::spawn_with(|c| c.graphql.max_depth = 2).await;
    let acme = shallow.tenant("Acme").await;
    let (status, body) = shallow
        .gql(Some(&acme.key), "{ viewer { role } }", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "within limits: {body}");
    let (status, body) = shallow
        .gql(Some(&acme.key), "{ viewer { tenant { id } } }", json!({}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), "QUERY_TOO_DEEP", "{body}");

    let simple = support::spawn_with(|c| c.graphql.max_complexity = 30).await;
    let acme = simple.tenant("Acme").await;
    let (status, body) = simple
        .gql(
            Some(&acme.key),
            "{ apiKeys(first: 5) { nodes { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "within limits: {body}");
    let (status, body) = simple
        .gql(
            Some(&acme.key),
            "{ apiKeys(first: 100) { nodes { id name } } }",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body), "QUERY_TOO_COMPLEX", "{body}");
}

/// GraphiQL and other tools send the standard introspection query; the default limits must allow it.
#[tokio::test]
async fn introspection_fits_the_default_limits_and_graphiql_is_served() {
    let server = support::spawn().await;
    let acme = server.tenant("Acme").await;
    let (status, body) = server.gql(Some(&acme.key), INTROSPECTION, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["data"]["__schema"]["types"].as_array().unwrap().len() > 10);
    let page = server
        .client
        .get(server.url("/graphql"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.text()
            .await
            .unwrap()
            .to_lowercase()
            .contains("graphiql")
    );
}

#[tokio::test]
async fn bad_credentials_are_401_with_stable_codes() {
    let server = support::spawn().await;
    let acme = server.tenant("Acme").await;
    let mut forged = acme.key.clone();
    // Another secret that still decodes: the last of 43 base64 characters carries 2 padding bits, which
    // must be zero ('A' and 'E' both have them so; 'B' would make the key malformed rather than wrong).
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'E' } else { 'A' });
    let unknown_tenant = acme.key.replacen(
        &acme.id.to_string(),
        &voxedge::db::TenantId::generate().to_string(),
        1,
    );
    let cases = [
        ("Bearer vxk_nonsense", "MALFORMED_CREDENTIALS"),
        ("Basic dXNlcjpwYXNz", "MALFORMED_CREDENTIALS"),
        (&format!("Bearer {forged}") as &str, "INVALID_API_KEY"),
        (&format!("Bearer {unknown_tenant}"), "INVALID_API_KEY"),
    ];
    for (header, code) in cases {
        let response = server
            .client
            .post(server.url("/graphql"))
            .header("authorization", header)
            .json(&json!({ "query": "{ __typename }" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{header}");
        assert!(response.headers().contains_key("www-authenticate"));
        let body: Value = response.json().await.unwrap();
        assert_eq!(error_code(&body), code, "{header}: {body}");
    }
    // No credentials at all: anonymous, so tenant-scoped fields say UNAUTHENTICATED.
    let (status, body) = server.gql(None, VIEWER, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(error_code(&body), "UNAUTHENTICATED");
    assert_eq!(body["data"], Value::Null);
}

#[tokio::test]
async fn revoked_keys_stop_working_at_once_despite_the_cache() {
    let server = support::spawn().await;
    let acme = server.tenant("Acme").await;
    let (_, created) = server
        .gql(
            Some(&acme.key),
            "mutation { createApiKey(input: {name: \"ci\", role: DEVELOPER}) { secret apiKey { id role prefix } } }",
            json!({}),
        )
        .await;
    let secret = created["data"]["createApiKey"]["secret"]
        .as_str()
        .expect("secret")
        .to_string();
    let id = created["data"]["createApiKey"]["apiKey"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        secret.starts_with(
            created["data"]["createApiKey"]["apiKey"]["prefix"]
                .as_str()
                .unwrap()
        )
    );
    // Warm the verification cache, then revoke.
    let (status, body) = server.gql(Some(&secret), VIEWER, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["viewer"]["role"], "DEVELOPER");
    let (_, revoked) = server
        .gql(
            Some(&acme.key),
            "mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }",
            json!({ "id": id }),
        )
        .await;
    assert!(
        revoked["data"]["revokeApiKey"]["revokedAt"].is_string(),
        "{revoked}"
    );
    let (status, body) = server.gql(Some(&secret), VIEWER, json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&body), "API_KEY_REVOKED");
    // The list shows it revoked; the secret is never listed.
    let (_, listed) = server
        .gql(
            Some(&acme.key),
            "{ apiKeys { nodes { id revokedAt lastUsedAt } } }",
            json!({}),
        )
        .await;
    let keys = listed["data"]["apiKeys"]["nodes"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert!(
        keys.iter()
            .any(|k| k["id"] == id && k["revokedAt"].is_string())
    );
    assert!(!listed.to_string().contains(&secret[secret.len() - 20..]));
}

#[tokio::test]
async fn invalid_input_reports_fields_and_keeps_stored_data() {
    let server = support::spawn().await;
    let acme = server.tenant("Acme").await;
    let (status, body) = server
        .gql(
            Some(&acme.key),
            "mutation { updateTenant(input: {name: \"   \"}) { name } }",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(error_code(&body), "INVALID_INPUT");
    assert_eq!(
        body["errors"][0]["extensions"]["fields"][0]["field"],
        "input.name"
    );
    let (_, body) = server
        .gql(
            Some(&acme.key),
            "mutation { createApiKey(input: {name: \"x\", role: SUPERUSER}) { secret } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), "GRAPHQL_VALIDATION_FAILED", "{body}");
    let (_, body) = server
        .gql(
            Some(&acme.key),
            "{ apiKeys(first: 1000) { nodes { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), "INVALID_INPUT", "{body}");
    let (_, body) = server.gql(Some(&acme.key), VIEWER, json!({})).await;
    assert_eq!(body["data"]["viewer"]["tenant"]["name"], "Acme");
}

#[tokio::test]
async fn a_viewer_key_cannot_manage_keys_or_escalate() {
    let server = support::spawn().await;
    let acme = server.tenant("Acme").await;
    let viewer = server.key(acme.id, voxedge::model::Role::Viewer).await;
    let developer = server.key(acme.id, voxedge::model::Role::Developer).await;
    let (_, body) = server
        .gql(Some(&viewer), "{ apiKeys { nodes { id } } }", json!({}))
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN");
    let (_, body) = server
        .gql(
            Some(&developer),
            "mutation { createApiKey(input: {name: \"x\", role: OWNER}) { secret } }",
            json!({}),
        )
        .await;
    assert_eq!(
        error_code(&body),
        "FORBIDDEN",
        "a developer cannot mint an owner key"
    );
    let (_, body) = server
        .gql(
            Some(&developer),
            "mutation { updateTenant(input: {name: \"Pwned\"}) { name } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), "FORBIDDEN");
}

#[tokio::test]
async fn unknown_routes_are_json_404_with_a_request_id() {
    let server = support::spawn().await;
    let response = server
        .client
        .get(server.url("/nope"))
        .header("x-request-id", "test-123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(response.headers()["x-request-id"], "test-123");
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), "NOT_FOUND");
}

const INTROSPECTION: &str = r#"
query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } }
}
"#;
