//! Which media type a GraphQL-over-HTTP response is sent as, negotiated from `Accept`.

use axum::http::{HeaderMap, HeaderValue, header};

use crate::error::{ApiError, ErrorCode};

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

/// The response media type negotiated from `Accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    GraphqlResponseJson,
    Json,
}

impl Media {
    /// Picks the media type from an `Accept` header. No header, `*/*` and `application/*` get legacy JSON,
    /// which every client understands.
    pub fn negotiate(headers: &HeaderMap) -> Result<Self, ApiError> {
        let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
            return Ok(Media::Json);
        };
        let mut best: Option<(f32, Media)> = None;
        for range in accept.split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media_range = parts.next().unwrap_or_default().to_ascii_lowercase();
            let quality = parts
                .filter_map(|p| p.strip_prefix("q="))
                .find_map(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let media = match media_range.as_str() {
                GRAPHQL_RESPONSE_JSON => Media::GraphqlResponseJson,
                "application/json" | "application/*" | "*/*" => Media::Json,
                _ => continue,
            };
            // Prefer graphql-response+json on equal quality: it is the spec's recommended type.
            let better = match best {
                None => true,
                Some((q, m)) => {
                    quality > q
                        || (quality == q && media == Media::GraphqlResponseJson && m == Media::Json)
                }
            };
            if quality > 0.0 && better {
                best = Some((quality, media));
            }
        }
        best.map(|(_, m)| m).ok_or_else(|| {
            ApiError::new(
                ErrorCode::NotAcceptable,
                format!("acceptable response types: {GRAPHQL_RESPONSE_JSON}, application/json"),
            )
        })
    }

    pub fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Media::GraphqlResponseJson => "application/graphql-response+json; charset=utf-8",
            Media::Json => "application/json; charset=utf-8",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn negotiates_media_types() {
        assert_eq!(Media::negotiate(&HeaderMap::new()).unwrap(), Media::Json);
        assert_eq!(Media::negotiate(&accept("*/*")).unwrap(), Media::Json);
        assert_eq!(
            Media::negotiate(&accept(
                "application/graphql-response+json, application/json;q=0.9"
            ))
            .unwrap(),
            Media::GraphqlResponseJson
        );
        assert_eq!(
            Media::negotiate(&accept(
                "application/graphql-response+json;q=0.5, application/json"
            ))
            .unwrap(),
            Media::Json
        );
        assert_eq!(
            Media::negotiate(&accept("text/html")).unwrap_err().code,
            ErrorCode::NotAcceptable
        );
        assert_eq!(
            Media::negotiate(&accept("application/json;q=0"))
                .unwrap_err()
                .code,
            ErrorCode::NotAcceptable
        );
    }
}
