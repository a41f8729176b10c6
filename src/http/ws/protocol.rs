//! The two GraphQL-over-WebSocket protocols: what clients send and what the server answers in each.
//!
//! - `graphql-transport-ws` (the `graphql-ws` library's protocol): `subscribe` → `next`* then `complete`,
//!   or `error` when the operation cannot start (it does not parse or validate, or a limit refused it);
//!   `ping`/`pong` either way.
//! - the legacy `graphql-ws` subprotocol (Apollo's subscriptions-transport-ws): `start` → `data`* then
//!   `complete`, or `error`; `stop`; `connection_terminate`.

use async_graphql::Response;
use serde::Deserialize;
use serde_json::{Value, json};

/// Which protocol a socket speaks (the subprotocol it was upgraded with).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `graphql-transport-ws`.
    TransportWs,
    /// `graphql-ws`: subscriptions-transport-ws.
    Legacy,
}

impl Protocol {
    /// Subprotocol names in order of preference (what the upgrade offers).
    pub const NAMES: [&'static str; 2] = ["graphql-transport-ws", "graphql-ws"];

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "graphql-transport-ws" => Some(Self::TransportWs),
            "graphql-ws" => Some(Self::Legacy),
            _ => None,
        }
    }

    /// A result of operation `id`.
    pub fn next(self, id: &str, payload: &Response) -> String {
        let kind = match self {
            Self::TransportWs => "next",
            Self::Legacy => "data",
        };
        json!({ "type": kind, "id": id, "payload": payload }).to_string()
    }

    /// Operation `id` could not start: a list of GraphQL errors (`{"message", "extensions"}`).
    pub fn error(self, id: &str, errors: Value) -> String {
        json!({ "type": "error", "id": id, "payload": errors }).to_string()
    }

    /// Operation `id` is over.
    pub fn complete(self, id: &str) -> String {
        json!({ "type": "complete", "id": id }).to_string()
    }

    pub fn ack(self) -> String {
        json!({ "type": "connection_ack" }).to_string()
    }

    /// The answer to a client's `ping`.
    pub fn pong(self, payload: Option<Value>) -> String {
        match payload {
            Some(payload) => json!({ "type": "pong", "payload": payload }).to_string(),
            None => json!({ "type": "pong" }).to_string(),
        }
    }
}

/// What a client may send once the connection is acknowledged.
#[derive(Debug)]
pub enum ClientMessage {
    /// A second `connection_init`.
    Init,
    /// Start an operation (`subscribe`, legacy `start`).
    Subscribe {
        id: String,
        payload: Payload,
    },
    /// Stop an operation (`complete`, legacy `stop`).
    Complete {
        id: String,
    },
    Ping {
        payload: Option<Value>,
    },
    Pong,
    /// Legacy `connection_terminate`.
    Terminate,
}

/// A GraphQL request, as the `subscribe` payload carries it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payload {
    pub query: String,
    #[serde(default)]
    pub operation_name: Option<String>,
    #[serde(default)]
    pub variables: Option<Value>,
    #[serde(default)]
    pub extensions: Option<Value>,
}

/// Why a text message is not a valid protocol message; the client is told this text with close code `4400`.
#[derive(Debug, thiserror::Error)]
pub enum InvalidMessage {
    #[error("Invalid message received: {0}")]
    Json(#[from] serde_json::Error),
    #[error("Invalid message received: bad payload: {0}")]
    Payload(serde_json::Error),
    #[error("Invalid message received: `id` must be a non-empty string")]
    Id,
    #[error("Invalid message received: unknown type `{0}`")]
    UnknownType(String),
    #[error("Invalid message received: no `type`")]
    NoType,
}

impl ClientMessage {
    /// Parses a text message; `Err` says why it is not a valid protocol message.
    pub fn parse(text: &str) -> Result<Self, InvalidMessage> {
        let value: Value = serde_json::from_str(text)?;
        let id = || {
            value["id"]
                .as_str()
                .filter(|id| !id.is_empty())
                .map(str::to_owned)
                .ok_or(InvalidMessage::Id)
        };
        match value["type"].as_str() {
            Some("connection_init") => Ok(Self::Init),
            Some("subscribe" | "start") => {
                let payload =
                    Payload::deserialize(&value["payload"]).map_err(InvalidMessage::Payload)?;
                Ok(Self::Subscribe { id: id()?, payload })
            }
            Some("complete" | "stop") => Ok(Self::Complete { id: id()? }),
            Some("ping") => Ok(Self::Ping {
                payload: value.get("payload").cloned().filter(|p| !p.is_null()),
            }),
            Some("pong") => Ok(Self::Pong),
            Some("connection_terminate") => Ok(Self::Terminate),
            Some(other) => Err(InvalidMessage::UnknownType(
                other.chars().take(40).collect(),
            )),
            None => Err(InvalidMessage::NoType),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_of_both_protocols_parse() {
        let subscribe =
            r#"{"id":"1","type":"subscribe","payload":{"query":"{ x }","variables":{"a":1}}}"#;
        match ClientMessage::parse(subscribe).unwrap() {
            ClientMessage::Subscribe { id, payload } => {
                assert_eq!((id.as_str(), payload.query.as_str()), ("1", "{ x }"));
                assert_eq!(payload.variables, Some(json!({"a": 1})));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            ClientMessage::parse(r#"{"id":"1","type":"stop"}"#),
            Ok(ClientMessage::Complete { .. })
        ));
        for bad in [
            "not json",
            r#"{"type":"subscribe","payload":{"query":"{ x }"}}"#,
            r#"{"id":"1","type":"subscribe","payload":{}}"#,
            r#"{"id":"1","type":"launch"}"#,
            r#"{"id":"1"}"#,
        ] {
            assert!(ClientMessage::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn results_are_named_as_each_protocol_names_them() {
        let response = Response::new(async_graphql::Value::Null);
        let next: Value =
            serde_json::from_str(&Protocol::TransportWs.next("7", &response)).unwrap();
        assert_eq!(
            (next["type"].as_str(), next["id"].as_str()),
            (Some("next"), Some("7"))
        );
        let data: Value = serde_json::from_str(&Protocol::Legacy.next("7", &response)).unwrap();
        assert_eq!(data["type"], "data");
        let error: Value =
            serde_json::from_str(&Protocol::TransportWs.error("7", json!([{"message": "no"}])))
                .unwrap();
        assert_eq!(error["payload"][0]["message"], "no");
    }
}
