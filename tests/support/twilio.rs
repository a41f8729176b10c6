//! A local stand-in for Twilio, speaking its real protocols to the server under test:
//!
//! - the REST API: `POST Calls.json` (basic auth, form body) places a call, `GET Calls.json?To=&From=` lists
//!   calls, `GET Calls/{sid}.json` reads one, `POST Calls/{sid}.json` updates one;
//! - status callbacks (`initiated`, `ringing`, `in-progress`, `completed`, `busy`, `no-answer`, `failed`) and
//!   asynchronous answering-machine verdicts, posted to the URLs the server gave, signed with the account's auth
//!   token (`X-Twilio-Signature`, HMAC-SHA1 over the URL and the sorted parameters), computed here independently;
//! - Media Streams: an answered call opens the `<Connect><Stream>` WebSocket with its custom parameters, sends
//!   µ-law audio in 20 ms `media` messages at real-time pace, echoes `mark`s, keeps what the agent sent.
//!
//! Who answers each number is scripted per call ([`Callee`]). Every request that placed a call is kept, so tests
//! count how often each number was dialled.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use futures::{SinkExt as _, StreamExt as _};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

pub const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";
pub const AUTH_TOKEN: &str = "aaaa1111bbbb2222cccc3333dddd4444";

/// How the called party behaves.
#[derive(Debug, Clone)]
pub enum Callee {
    /// Picks up, sends `audio` (µ-law 8 kHz; silence after it) for `hold`, then hangs up.
    Answer {
        audio: Vec<u8>,
        hold: Duration,
    },
    /// An answering machine: plays `greeting` (µ-law), then records silence until the server hangs up (at most
    /// `max`); `amd` is the `AnsweredBy` Twilio reports after `amd_after`, if any.
    Machine {
        greeting: Vec<u8>,
        amd: Option<(&'static str, Duration)>,
        max: Duration,
    },
    Busy,
    NoAnswer,
    /// The call fails (e.g. an unreachable number).
    Fail,
}

impl Callee {
    /// Answers, stays silent for `hold`, hangs up.
    pub fn answer(hold: Duration) -> Self {
        Self::Answer {
            audio: Vec::new(),
            hold,
        }
    }
}

/// One call Twilio placed.
#[derive(Debug, Clone)]
pub struct FakeCall {
    pub sid: String,
    pub to: String,
    pub from: String,
    pub status: String,
    pub answered_by: Option<String>,
    /// Unix seconds.
    pub created: i64,
    /// The form it was placed with.
    pub form: Vec<(String, String)>,
    /// µ-law audio the server sent on its stream.
    pub heard: Vec<u8>,
    /// The stream's custom parameters.
    pub parameters: Value,
}

#[derive(Default)]
struct Fake {
    calls: Vec<FakeCall>,
    /// Scripts per number, used in order; `default` when none is left.
    scripts: HashMap<String, VecDeque<Callee>>,
    default: Option<Callee>,
    /// Numbers whose next placement fails with a 503 without placing anything.
    drop_next: HashMap<String, usize>,
    /// Numbers whose next placement is answered only after this delay.
    slow_next: HashMap<String, Duration>,
    /// Calls up at once now, and the most ever.
    active: usize,
    max_active: usize,
    callbacks_failed: usize,
}

/// The stand-in. Cheap to clone.
#[derive(Clone)]
pub struct FakeTwilio {
    state: Arc<Mutex<Fake>>,
    pub base: String,
    http: reqwest::Client,
}

type HmacSha1 = Hmac<sha1::Sha1>;

/// `X-Twilio-Signature` as Twilio computes it.
pub fn signature(token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort();
    let mut mac = HmacSha1::new_from_slice(token.as_bytes()).unwrap();
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn authorized(headers: &HeaderMap, account: &str) -> bool {
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT_SID}:{AUTH_TOKEN}"))
    );
    account == ACCOUNT_SID
        && headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == expected)
}

fn rfc2822(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap()
        .to_rfc2822()
}

fn call_json(call: &FakeCall) -> Value {
    json!({
        "sid": call.sid,
        "account_sid": ACCOUNT_SID,
        "to": call.to,
        "from": call.from,
        "status": call.status,
        "answered_by": call.answered_by,
        "date_created": rfc2822(call.created),
        "direction": "outbound-api",
    })
}

fn unauthorized() -> Response {
    let error = json!({ "code": 20003, "message": "Authenticate", "status": 401 });
    (StatusCode::UNAUTHORIZED, axum::Json(error)).into_response()
}

async fn create_call(
    State(fake): State<FakeTwilio>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    if !authorized(&headers, &account) {
        return unauthorized();
    }
    let form: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap();
    let to = field(&form, "To").unwrap_or_default().to_string();
    let slow = {
        let mut state = fake.state.lock().unwrap();
        if let Some(n) = state.drop_next.get_mut(&to).filter(|n| **n > 0) {
            *n -= 1;
            // As if Twilio never took it: nothing placed, the client cannot tell.
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
        state.slow_next.remove(&to)
    };
    let call = fake.place(form);
    if let Some(delay) = slow {
        // Twilio has placed the call; its answer is slow to come back.
        tokio::time::sleep(delay).await;
    }
    (StatusCode::CREATED, axum::Json(call_json(&call))).into_response()
}

async fn list_calls(
    State(fake): State<FakeTwilio>,
    Path(account): Path<String>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if !authorized(&headers, &account) {
        return unauthorized();
    }
    let state = fake.state.lock().unwrap();
    let calls: Vec<Value> = state
        .calls
        .iter()
        .rev()
        .filter(|c| query.get("To").is_none_or(|to| *to == c.to))
        .filter(|c| query.get("From").is_none_or(|from| *from == c.from))
        .map(call_json)
        .collect();
    axum::Json(json!({ "calls": calls, "page": 0 })).into_response()
}

async fn fetch_call(
    State(fake): State<FakeTwilio>,
    Path((account, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if !authorized(&headers, &account) {
        return unauthorized();
    }
    let sid = file.trim_end_matches(".json");
    match fake.call(sid) {
        Some(call) => axum::Json(call_json(&call)).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({ "code": 20404, "message": "not found", "status": 404 })),
        )
            .into_response(),
    }
}

/// `<Stream url="...">` and its `<Parameter>`s, read out of TwiML.
fn stream_of(twiml: &str) -> (String, Value) {
    let attribute = |text: &str, name: &str| -> Option<String> {
        let marker = format!("{name}=\"");
        let start = text.find(&marker)? + marker.len();
        let end = text[start..].find('"')? + start;
        Some(text[start..end].replace("&amp;", "&"))
    };
    let url = attribute(twiml, "url").expect("the TwiML streams somewhere");
    let mut parameters = serde_json::Map::new();
    for piece in twiml.split("<Parameter ").skip(1) {
        let name = attribute(piece, "name").unwrap();
        let value = attribute(piece, "value").unwrap();
        parameters.insert(name, json!(value));
    }
    (url, Value::Object(parameters))
}

impl FakeTwilio {
    /// Starts the stand-in on 127.0.0.1:0; every number is answered by `default` unless scripted.
    pub async fn start(default: Callee) -> Self {
        super::install_crypto();
        let fake = Self {
            state: Arc::new(Mutex::new(Fake {
                default: Some(default),
                ..Fake::default()
            })),
            base: String::new(),
            http: reqwest::Client::new(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let fake = Self { base, ..fake };
        let app = axum::Router::new()
            .route(
                "/2010-04-01/Accounts/{account}/Calls.json",
                post(create_call).get(list_calls),
            )
            .route(
                "/2010-04-01/Accounts/{account}/Calls/{sid}",
                get(fetch_call),
            )
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        fake
    }

    /// The next calls to `number` go as scripted, in order.
    pub fn script(&self, number: &str, callees: impl IntoIterator<Item = Callee>) {
        self.state
            .lock()
            .unwrap()
            .scripts
            .entry(number.to_string())
            .or_default()
            .extend(callees);
    }

    /// The next request to place a call to `number` fails (503) without placing it.
    pub fn drop_next(&self, number: &str) {
        *self
            .state
            .lock()
            .unwrap()
            .drop_next
            .entry(number.to_string())
            .or_default() += 1;
    }

    /// The next call to `number` is placed, but Twilio's answer takes `delay` to come back.
    pub fn slow_next(&self, number: &str, delay: Duration) {
        self.state
            .lock()
            .unwrap()
            .slow_next
            .insert(number.to_string(), delay);
    }

    /// Every call placed, in order.
    pub fn calls(&self) -> Vec<FakeCall> {
        self.state.lock().unwrap().calls.clone()
    }

    pub fn call(&self, sid: &str) -> Option<FakeCall> {
        self.calls().into_iter().find(|c| c.sid == sid)
    }

    /// How many calls were placed to `number`.
    pub fn placed_to(&self, number: &str) -> usize {
        self.calls().iter().filter(|c| c.to == number).count()
    }

    /// The most calls that were up at once.
    pub fn max_active(&self) -> usize {
        self.state.lock().unwrap().max_active
    }

    /// Calls up now.
    pub fn active(&self) -> usize {
        self.state.lock().unwrap().active
    }

    /// Waits (up to `within`) until `done` holds.
    pub async fn wait_until(&self, within: Duration, what: &str, done: impl Fn(&Self) -> bool) {
        let deadline = tokio::time::Instant::now() + within;
        while !done(self) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn place(&self, form: Vec<(String, String)>) -> FakeCall {
        let mut state = self.state.lock().unwrap();
        let to = field(&form, "To").unwrap_or_default().to_string();
        let callee = state
            .scripts
            .get_mut(&to)
            .and_then(VecDeque::pop_front)
            .or_else(|| state.default.clone())
            .unwrap_or(Callee::NoAnswer);
        let call = FakeCall {
            sid: format!("CA{:032x}", rand_u128()),
            to,
            from: field(&form, "From").unwrap_or_default().to_string(),
            status: "queued".into(),
            answered_by: None,
            created: chrono::Utc::now().timestamp(),
            form,
            heard: Vec::new(),
            parameters: Value::Null,
        };
        state.calls.push(call.clone());
        state.active += 1;
        state.max_active = state.max_active.max(state.active);
        drop(state);
        let fake = self.clone();
        let sid = call.sid.clone();
        tokio::spawn(async move { fake.drive(sid, callee).await });
        call
    }

    fn update(&self, sid: &str, change: impl FnOnce(&mut FakeCall)) -> FakeCall {
        let mut state = self.state.lock().unwrap();
        let call = state.calls.iter_mut().find(|c| c.sid == sid).unwrap();
        change(call);
        call.clone()
    }

    /// Posts a signed status callback (failures — the server is down — are counted, not retried, as Twilio does).
    async fn callback(&self, call: &FakeCall, url: &str, mut params: Vec<(String, String)>) {
        params.extend([
            ("AccountSid".to_string(), ACCOUNT_SID.to_string()),
            ("CallSid".to_string(), call.sid.clone()),
            ("To".to_string(), call.to.clone()),
            ("From".to_string(), call.from.clone()),
            ("Direction".to_string(), "outbound-api".to_string()),
            ("ApiVersion".to_string(), "2010-04-01".to_string()),
        ]);
        let signature = signature(AUTH_TOKEN, url, &params);
        let sent = self
            .http
            .post(url)
            .header("x-twilio-signature", signature)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(&params).unwrap())
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        let ok = sent.is_ok_and(|r| r.status().is_success());
        if !ok {
            self.state.lock().unwrap().callbacks_failed += 1;
        }
    }

    async fn status(&self, sid: &str, status: &str, extra: &[(&str, &str)]) {
        let call = self.update(sid, |c| c.status = status.to_string());
        let Some(url) = field(&call.form, "StatusCallback").map(str::to_string) else {
            return;
        };
        let mut params = vec![("CallStatus".to_string(), status.to_string())];
        params.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        self.callback(&call, &url, params).await;
    }

    async fn drive(&self, sid: String, callee: Callee) {
        tokio::time::sleep(Duration::from_millis(30)).await;
        self.status(&sid, "initiated", &[]).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        self.status(&sid, "ringing", &[]).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let ended = match callee {
            Callee::Busy => ("busy", vec![("SipResponseCode", "486")]),
            Callee::NoAnswer => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                ("no-answer", vec![("SipResponseCode", "487")])
            }
            Callee::Fail => ("failed", vec![("SipResponseCode", "404")]),
            Callee::Answer { audio, hold } => {
                self.status(&sid, "in-progress", &[]).await;
                self.stream(&sid, audio, hold, None, true).await;
                ("completed", vec![("CallDuration", "1")])
            }
            Callee::Machine { greeting, amd, max } => {
                self.status(&sid, "in-progress", &[]).await;
                self.stream(&sid, greeting, max, amd, false).await;
                ("completed", vec![("CallDuration", "1")])
            }
        };
        {
            let mut state = self.state.lock().unwrap();
            state.active -= 1;
        }
        let extra: Vec<(&str, &str)> = ended.1;
        self.status(&sid, ended.0, &extra).await;
    }

    /// The call's Media Stream: sends `audio` then silence, paced like a phone line, for `hold` (or until the
    /// server closes it); `hangs_up`: send `stop` at the end, as a caller hanging up does.
    async fn stream(
        &self,
        sid: &str,
        audio: Vec<u8>,
        hold: Duration,
        amd: Option<(&'static str, Duration)>,
        hangs_up: bool,
    ) {
        let call = self.call(sid).unwrap();
        let (url, parameters) = stream_of(field(&call.form, "Twiml").unwrap());
        self.update(sid, |c| c.parameters = parameters.clone());
        let Ok((socket, _)) = tokio_tungstenite::connect_async(url.as_str()).await else {
            return;
        };
        let (mut sink, mut incoming) = socket.split();
        let stream_sid = format!("MZ{}", &sid[2..]);
        let send = |value: Value| Message::Text(value.to_string().into());
        let start = json!({
            "event": "start", "sequenceNumber": "1", "streamSid": stream_sid,
            "start": {
                "accountSid": ACCOUNT_SID, "streamSid": stream_sid, "callSid": sid, "tracks": ["inbound"],
                "customParameters": parameters,
                "mediaFormat": { "encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1 }
            }
        });
        let connected = json!({ "event": "connected", "protocol": "Call", "version": "1.0.0" });
        if sink.send(send(connected)).await.is_err() || sink.send(send(start)).await.is_err() {
            return;
        }
        let amd_at = amd.map(|(verdict, after)| (verdict, tokio::time::Instant::now() + after));
        let mut amd_sent = amd_at.is_none();
        let deadline = tokio::time::Instant::now() + hold;
        let mut frames = audio
            .chunks(160)
            .map(<[u8]>::to_vec)
            .collect::<VecDeque<_>>();
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        let mut chunk = 0u64;
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if tokio::time::Instant::now() >= deadline {
                        break;
                    }
                    if let Some((verdict, at)) = amd_at && !amd_sent && tokio::time::Instant::now() >= at {
                        amd_sent = true;
                        let call = self.update(sid, |c| c.answered_by = Some(verdict.to_string()));
                        let url = field(&call.form, "AsyncAmdStatusCallback").map(str::to_string);
                        if let Some(url) = url {
                            let fake = self.clone();
                            let params = vec![
                                ("AnsweredBy".to_string(), verdict.to_string()),
                                ("MachineDetectionDuration".to_string(), "2100".to_string()),
                            ];
                            tokio::spawn(async move { fake.callback(&call, &url, params).await });
                        }
                    }
                    let frame = frames.pop_front().unwrap_or_else(|| vec![0xff; 160]);
                    chunk += 1;
                    let media = json!({
                        "event": "media", "sequenceNumber": (chunk + 1).to_string(), "streamSid": stream_sid,
                        "media": { "track": "inbound", "chunk": chunk.to_string(), "timestamp": (chunk * 20).to_string(),
                                   "payload": base64::engine::general_purpose::STANDARD.encode(&frame) }
                    });
                    if sink.send(send(media)).await.is_err() {
                        return;
                    }
                }
                message = incoming.next() => {
                    let Some(Ok(message)) = message else { return };
                    let Message::Text(text) = message else {
                        if matches!(message, Message::Close(_)) { return; }
                        continue;
                    };
                    let event: Value = serde_json::from_str(text.as_str()).unwrap();
                    match event["event"].as_str() {
                        Some("media") => {
                            let payload = event["media"]["payload"].as_str().unwrap_or_default();
                            let bytes = base64::engine::general_purpose::STANDARD.decode(payload).unwrap();
                            self.update(sid, |c| c.heard.extend(bytes));
                        }
                        Some("mark") => {
                            let echo = json!({ "event": "mark", "streamSid": stream_sid, "mark": event["mark"] });
                            let _ = sink.send(send(echo)).await;
                        }
                        _ => {}
                    }
                }
            }
        }
        if hangs_up {
            let stop = json!({ "event": "stop", "sequenceNumber": "999", "streamSid": stream_sid, "stop": { "accountSid": ACCOUNT_SID, "callSid": sid } });
            let _ = sink.send(send(stop)).await;
            // The server stores the last words, then closes.
            let _ = tokio::time::timeout(Duration::from_secs(10), async {
                while let Some(Ok(message)) = incoming.next().await {
                    if matches!(message, Message::Close(_)) {
                        break;
                    }
                }
            })
            .await;
        }
    }
}

fn rand_u128() -> u128 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    (nanos << 16) ^ u128::from(n) ^ (u128::from(std::process::id()) << 96)
}
