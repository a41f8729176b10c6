//! A minimal graphql-transport-ws client over tokio-tungstenite, speaking the protocol as the
//! `graphql-ws` library does.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub struct GqlWs {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// How a connection attempt or session ended, when it did not go as planned.
#[derive(Debug)]
pub enum Ended {
    Closed { code: u16, reason: String },
    Rejected(u16),
}

impl GqlWs {
    /// Connects and sends `connection_init` with `payload`; waits for `connection_ack`.
    pub async fn connect(url: &str, payload: Value) -> Result<Self, Ended> {
        let mut request = url.into_client_request().expect("valid URL");
        request.headers_mut().insert(
            "sec-websocket-protocol",
            "graphql-transport-ws".parse().unwrap(),
        );
        let (socket, _) = match tokio_tungstenite::connect_async(request).await {
            Ok(ok) => ok,
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                return Err(Ended::Rejected(response.status().as_u16()));
            }
            Err(err) => panic!("connect failed: {err}"),
        };
        let mut ws = Self { socket };
        ws.send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        match ws.next_message().await? {
            msg if msg["type"] == "connection_ack" => Ok(ws),
            other => panic!("expected connection_ack, got {other}"),
        }
    }

    pub async fn send(&mut self, value: Value) {
        self.socket
            .send(Message::text(value.to_string()))
            .await
            .expect("ws send");
    }

    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({ "id": id, "type": "subscribe", "payload": { "query": query, "variables": variables } }))
            .await;
    }

    /// The next protocol message (answering pings), or how the connection ended.
    pub async fn next_message(&mut self) -> Result<Value, Ended> {
        self.next_within(Duration::from_secs(10))
            .await
            .expect("a websocket message within 10 s")
    }

    /// [`GqlWs::next_message`] waiting at most `within`; `None` when nothing came.
    pub async fn next_within(&mut self, within: Duration) -> Option<Result<Value, Ended>> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .ok()?;
            match frame {
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(&text).expect("JSON message");
                    if value["type"] == "ping" {
                        self.send(json!({ "type": "pong" })).await;
                        continue;
                    }
                    return Some(Ok(value));
                }
                Some(Ok(Message::Close(frame))) => {
                    let (code, reason) = frame
                        .map(|f| (u16::from(f.code), f.reason.to_string()))
                        .unwrap_or((1005, String::new()));
                    return Some(Err(Ended::Closed { code, reason }));
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => {
                    return Some(Err(Ended::Closed {
                        code: 1006,
                        reason: "abnormal".into(),
                    }));
                }
            }
        }
    }

    /// Reads (and drops) messages until the server closes the connection: its close code and reason, or
    /// `None` if it is still open after `limit`.
    pub async fn closed_within(&mut self, limit: Duration) -> Option<(u16, String)> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_within(left).await? {
                Ok(_) => continue,
                Err(Ended::Closed { code, reason }) => return Some((code, reason)),
                Err(Ended::Rejected(status)) => panic!("rejected with {status}"),
            }
        }
    }

    /// The next message about operation `id` (others are dropped).
    pub async fn next_for(&mut self, id: &str) -> Result<Value, Ended> {
        loop {
            let message = self.next_message().await?;
            if message["id"] == id {
                return Ok(message);
            }
        }
    }
}
