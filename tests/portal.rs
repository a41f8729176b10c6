//! The portal is served from `--ui-dir` with a single-page-app fallback, without shadowing the API.

mod support;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE};
use serde_json::{Value, json};

/// What a browser sends when it navigates to a page.
const NAVIGATION: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
const INDEX: &str = "<!doctype html><title>voxedge portal</title><div id=root></div>";
const SCRIPT: &str = "console.log('portal')";

/// A built portal: `index.html` and one hashed asset, as Vite lays them out.
fn built_portal() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("index.html"), INDEX).expect("write index");
    std::fs::create_dir(dir.path().join("assets")).expect("assets dir");
    std::fs::write(dir.path().join("assets/index-abc123.js"), SCRIPT).expect("write asset");
    dir
}

async fn get(
    server: &support::TestServer,
    path: &str,
    accept: &str,
) -> (StatusCode, String, String, String) {
    let response = server
        .client
        .get(server.url(path))
        .header(ACCEPT, accept)
        .send()
        .await
        .expect("request sent");
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let (content_type, cache) = (header(CONTENT_TYPE), header(CACHE_CONTROL));
    let status = response.status();
    (
        status,
        content_type,
        cache,
        response.text().await.expect("body"),
    )
}

fn error_code(body: &str) -> String {
    let body: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("JSON body: {body}"));
    support::error_code(&body).to_string()
}

#[tokio::test]
async fn serves_the_portal_with_a_spa_fallback_beside_the_api() {
    let ui = built_portal();
    let ui_dir = ui.path().to_path_buf();
    let server = support::spawn_with(|config| config.ui_dir = ui_dir).await;

    let (status, content_type, cache, body) = get(&server, "/", NAVIGATION).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert_eq!(cache, "no-cache", "index.html names the current assets");
    assert_eq!(body, INDEX);

    // A deep link into the app loads the app, which routes on the client.
    let (status, content_type, _, body) =
        get(&server, "/calls/01JABCDEF/transcript", NAVIGATION).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert_eq!(body, INDEX);

    let (status, content_type, cache, body) = get(&server, "/assets/index-abc123.js", "*/*").await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.contains("javascript"), "{content_type}");
    assert!(cache.contains("immutable"), "{cache}");
    assert_eq!(body, SCRIPT);

    // A missing asset is not papered over with index.html.
    let (status, _, _, body) = get(&server, "/assets/gone-123.js", "*/*").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&body), "NOT_FOUND");

    // The API is untouched: GraphQL answers, unknown API paths keep their JSON NOT_FOUND even when a
    // browser asks for them.
    let (status, body) = server.gql(None, "{ __typename }", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["__typename"], "Query");
    for path in ["/v1/x", "/graphql/x", "/export/nothing.csv"] {
        for accept in [NAVIGATION, "application/json"] {
            let (status, content_type, _, body) = get(&server, path, accept).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path} ({accept})");
            assert!(
                content_type.starts_with("application/json"),
                "{path}: {content_type}"
            );
            assert_eq!(error_code(&body), "NOT_FOUND", "{path}");
        }
    }
    let (status, _, _, body) = get(&server, "/healthz", NAVIGATION).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Only GET and HEAD reach the portal.
    let response = server
        .client
        .post(server.url("/agents"))
        .header(ACCEPT, NAVIGATION)
        .send()
        .await
        .expect("request sent");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    server.stop().await;
}

#[tokio::test]
async fn says_how_to_build_the_portal_when_it_is_missing() {
    let missing = tempfile::tempdir().expect("temp dir").path().join("dist");
    let server = support::spawn_with(|config| config.ui_dir = missing).await;

    for (path, accept) in [("/", NAVIGATION), ("/", "*/*"), ("/agents", NAVIGATION)] {
        let (status, content_type, _, body) = get(&server, path, accept).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(content_type.starts_with("text/plain"), "{content_type}");
        assert!(body.contains("not built"), "{body}");
        assert!(body.contains("npm run build"), "{body}");
    }
    let (status, _, _, body) = get(&server, "/v1/x", NAVIGATION).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_code(&body), "NOT_FOUND");
    let (status, body) = server.gql(None, "{ __typename }", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    server.stop().await;
}
