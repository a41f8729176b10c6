//! A tenant lives in one region, whatever region a request enters by.

use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, Mac as _};
use reqwest::StatusCode;
use serde_json::{Value, json};
use voxedge::audio::AudioFormat;

use crate::cluster::{Cluster, wait_for};
use crate::openai_server::{OpenAiServer, Scripted};
use crate::support::voice::{
    JFK_PHRASE, RealtimeAuth, append_audio, jfk_encoded, normalise, realtime_at, transcript_text,
    twilio_at, twilio_media, voice_config,
};

/// How far behind the primary a region's catalog replica may be (Litestream ships every second, the follower
/// looks every half second): the bound the README states.
const LAG_BOUND: Duration = Duration::from_secs(5);

const AUTH_FIELDS: &str = "accessToken refreshToken tenant { id region } role";
const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "aaaa1111bbbb2222cccc3333dddd4444";
const NUMBER: &str = "+14155550123";

fn twilio_signature(url: &str, params: &[(&str, &str)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort();
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(TOKEN.as_bytes()).unwrap();
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn text(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("a string: {value}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tenant_signed_up_for_fra_through_iad_is_served_by_fra_alone() {
    let llm = OpenAiServer::with_script([
        Scripted::text("The library opens at nine."),
        Scripted::text("Until six."),
        Scripted::text("Goodbye."),
        Scripted::text("Hello."),
        Scripted::text("Yes."),
        Scripted::text("No."),
    ])
    .await;
    let cluster = Cluster::start(&["iad", "fra"], |region, config| {
        if region == "fra" {
            config.voice = voice_config();
        }
    })
    .await;

    // Sign-up is a catalog write: through the iad entry it is served by iad, the primary, and the tenant is made
    // in fra as asked.
    let signed_up = cluster
        .gql_ok(
            "iad",
            None,
            &format!("mutation($i: SignUpInput!) {{ signUp(input: $i) {{ {AUTH_FIELDS} }} }}"),
            json!({ "i": { "email": "ada@example.com", "password": crate::support::PASSWORD, "tenantName": "Acme", "region": "fra" } }),
        )
        .await["signUp"]
        .clone();
    assert_eq!(cluster.route_of("/graphql"), ["iad"]);
    assert_eq!(signed_up["tenant"]["region"], "fra");
    let tenant = text(&signed_up["tenant"]["id"]);
    let access = text(&signed_up["accessToken"]);

    // Everything of the tenant, entering by iad, is replayed to fra — at once, even before fra's catalog replica
    // has the session (fra waits for it).
    let agent = cluster
        .gql_ok(
            "iad",
            Some(&access),
            "mutation($c: AgentConfigInput!) { createAgent(input: {name: \"Desk\", config: $c}) { id } }",
            json!({ "c": { "systemPrompt": "You are the front desk of the city library.", "llm": { "primary": { "provider": "custom", "model": "m", "baseUrl": llm.base_url() } } } }),
        )
        .await["createAgent"]["id"]
        .clone();
    let agent = text(&agent);
    assert_eq!(cluster.route_of("/graphql"), ["iad", "fra"]);
    let session = cluster
        .gql_ok(
            "iad",
            Some(&access),
            "mutation($a: ID!) { createSessionToken(agentId: $a) { token } }",
            json!({ "a": agent }),
        )
        .await;
    let session = text(&session["createSessionToken"]["token"]);

    // A live Realtime call, entering by iad: the upgrade is replayed to fra before it happens.
    let url = format!("{}/v1/realtime?agent={agent}", cluster.proxy.ws_url("iad"));
    let mut call = realtime_at(&url, RealtimeAuth::Subprotocol(&session), false).await;
    assert_eq!(cluster.route_of("/v1/realtime"), ["iad", "fra"]);
    assert_eq!(
        cluster.proxy.hops("/v1/realtime")[0].status,
        101,
        "upgraded by fra"
    );
    call.until("session.created").await;
    append_audio(&mut call, &jfk_encoded(AudioFormat::Pcm16, 1500), 4800).await;
    // The voice activity detector may hear the phrase as more than one turn: every transcript counts, and a
    // reply must complete.
    let (mut heard, mut answered) = (String::new(), false);
    while !(normalise(&heard).contains(JFK_PHRASE) && answered) {
        let event = call
            .next()
            .await
            .unwrap_or_else(|c| panic!("closed ({c:?}); heard {heard:?}, answered {answered}"));
        assert_ne!(event["type"], "error", "{event}");
        if event["type"] == "conversation.item.input_audio_transcription.completed" {
            heard.push(' ');
            heard.push_str(&text(&event["transcript"]));
        }
        answered |= event["type"] == "response.done" && event["response"]["status"] == "completed";
    }
    drop(call);

    // Telephony: Twilio's signed webhook and then its Media Stream, both entering by iad.
    cluster
        .gql_ok(
            "iad",
            Some(&access),
            "mutation($i: SetTwilioAccountInput!) { setTwilioAccount(input: $i) { accountSid } }",
            json!({ "i": { "accountSid": SID, "authToken": TOKEN } }),
        )
        .await;
    cluster
        .gql_ok(
            "iad",
            Some(&access),
            "mutation($i: AddPhoneNumberInput!) { addPhoneNumber(input: $i) { id } }",
            json!({ "i": { "number": NUMBER, "agentId": agent } }),
        )
        .await;
    let voice = format!("{}/v1/twilio/{tenant}/voice", cluster.proxy.url("iad"));
    let params = [
        ("AccountSid", SID),
        ("CallSid", "CA0123456789abcdef0123456789abcdef"),
        ("From", "+14155550100"),
        ("To", NUMBER),
    ];
    let twiml = cluster
        .client
        .post(&voice)
        .header("x-twilio-signature", twilio_signature(&voice, &params))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(params).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(twiml.status(), StatusCode::OK);
    let twiml = twiml.text().await.unwrap();
    assert_eq!(
        cluster.route_of(&format!("/v1/twilio/{tenant}/voice")),
        ["iad", "fra"]
    );
    let stream = format!("{}/v1/twilio/{tenant}/stream", cluster.proxy.ws_url("iad"));
    assert!(
        twiml.contains(&format!("<Stream url=\"{stream}\">")),
        "{twiml}"
    );
    let token = twiml
        .split("<Parameter name=\"token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("a token parameter in {twiml}"));
    let mut phone = twilio_at(
        &stream,
        json!({ "token": token, "from": "+14155550100", "to": NUMBER, "callSid": "CA0123456789abcdef0123456789abcdef" }),
    )
    .await;
    assert_eq!(
        cluster.route_of(&format!("/v1/twilio/{tenant}/stream")),
        ["iad", "fra"]
    );
    twilio_media(&mut phone, &jfk_encoded(AudioFormat::G711Ulaw, 1500)).await;
    // Audio went faster than real time; a real line keeps carrying (silent) audio while it is transcribed.
    let query = "{ calls(first: 1) { edges { node { id transport transcript(first: 20) { edges { node { speaker text } } } } } } }";
    let started = std::time::Instant::now();
    loop {
        twilio_media(&mut phone, &[0xff; 800]).await;
        let data = cluster.gql_ok("iad", Some(&access), query, json!({})).await;
        let call = &data["calls"]["edges"][0]["node"];
        if call["transport"] == "PHONE" && normalise(&transcript_text(call)).contains(JFK_PHRASE) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the phone call was not transcribed: {data}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    phone
        .send(json!({ "event": "stop", "streamSid": "MZ00000000000000000000000000000001", "stop": { "callSid": "CA0123456789abcdef0123456789abcdef" } }))
        .await;
    phone.until_closed().await;

    // Every request of the tenant, whatever the entry, was answered by fra, and fra alone holds its file.
    for hop in cluster.proxy.log() {
        if hop.path.contains(&tenant) || hop.path.starts_with("/v1/") {
            assert_eq!(
                hop.regions.last().map(String::as_str),
                Some("fra"),
                "{hop:?}"
            );
        }
    }
    let file = format!("tenants/{tenant}.db");
    assert!(cluster.region("fra").data_dir.join(&file).is_file());
    assert!(
        !cluster.region("iad").data_dir.join(&file).exists(),
        "iad wrote the tenant's file"
    );
    let calls = cluster
        .gql_ok(
            "fra",
            Some(&access),
            "{ calls(first: 10) { edges { node { transport } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        calls["calls"]["edges"].as_array().unwrap().len(),
        2,
        "{calls}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_catalog_replica_keeps_up_and_tenants_it_does_not_know_yet_go_to_the_primary() {
    let cluster = Cluster::start(&["iad", "fra"], |_, _| {}).await;
    let iad = &cluster.region("iad").server;
    let fra = &cluster.region("fra").server;

    // A tenant created in the primary, used through fra at once: fra's replica may not know it yet, so fra
    // replays to the primary (which knows it, and is its home).
    let made = voxedge::edge::provision::provision(&iad.state.edge, "Globex", None, "region", true)
        .await
        .expect("tenant created in the primary");
    let key = made.owner_key.expect("an owner key");
    let id = made.record.id;
    let data = cluster
        .gql_ok(
            "fra",
            Some(&key),
            "{ viewer { tenant { id region } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["viewer"]["tenant"]["id"], id.to_string());
    assert_eq!(data["viewer"]["tenant"]["region"], "iad");
    assert_eq!(cluster.route_of("/graphql"), ["fra", "iad"]);

    // The catalog replica in fra catches up within the bound; how long it took is the lag.
    let (_, took) = wait_for(
        "the new tenant in fra's catalog replica",
        LAG_BOUND,
        || async {
            fra.state
                .catalog
                .read(move |c| voxedge::repo::tenants::get(c, id))
                .await
                .ok()
                .flatten()
        },
    )
    .await;
    eprintln!(
        "catalog replica: a new tenant reached fra {} ms after it was made",
        took.as_millis()
    );

    // Lag as both regions report it: the heartbeat the replica holds is recent.
    for server in [iad, fra] {
        let (ready, took) = wait_for("a lag reading", Duration::from_secs(10), || async {
            let body: Value = cluster
                .client
                .get(server.url("/readyz"))
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            body["replication"]["catalog"]["lag_seconds"]
                .is_number()
                .then_some(body)
        })
        .await;
        let lag = ready["replication"]["catalog"]["lag_seconds"]
            .as_f64()
            .unwrap();
        eprintln!(
            "{} reports a catalog lag of {lag:.2} s (first reading after {} ms)",
            ready["replication"]["region"],
            took.as_millis()
        );
        assert!(lag <= LAG_BOUND.as_secs_f64(), "{ready}");
        let metrics = cluster
            .client
            .get(server.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains("voxedge_replication_lag_seconds{database=\"catalog\"}"),
            "{metrics}"
        );
    }

    // Catalog writes entering by fra are made by the primary; a login there works.
    cluster
        .gql_ok(
            "fra",
            None,
            &format!("mutation($i: SignUpInput!) {{ signUp(input: $i) {{ {AUTH_FIELDS} }} }}"),
            json!({ "i": { "email": "grace@example.com", "password": crate::support::PASSWORD, "tenantName": "Initech" } }),
        )
        .await;
    assert_eq!(cluster.route_of("/graphql"), ["fra", "iad"]);
    let login = cluster
        .gql_ok(
            "fra",
            None,
            &format!("mutation($i: LoginInput!) {{ login(input: $i) {{ {AUTH_FIELDS} }} }}"),
            json!({ "i": { "email": "grace@example.com", "password": crate::support::PASSWORD } }),
        )
        .await;
    assert_eq!(cluster.route_of("/graphql"), ["fra", "iad"]);
    // Signed up through fra without asking: the tenant lives in fra, where the request came in.
    assert_eq!(login["login"]["tenant"]["region"], "fra");
    let access = text(&login["login"]["accessToken"]);
    let audit = cluster
        .gql_ok(
            "iad",
            Some(&access),
            "{ auditLog(first: 10) { edges { node { action } } } }",
            json!({}),
        )
        .await;
    assert_eq!(cluster.route_of("/graphql"), ["iad", "fra"]);
    let actions: Vec<&str> = audit["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["node"]["action"].as_str())
        .collect();
    // Sign-up and sign-in ran in iad; their audit entries are in the tenant's own file, in fra.
    assert!(
        actions.contains(&"signIn") && actions.contains(&"signUp"),
        "{actions:?}"
    );

    // Exports are the tenant's too.
    let export = cluster
        .client
        .get(format!("{}/export/calls.csv", cluster.proxy.url("iad")))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(export.status(), StatusCode::OK);
    assert_eq!(cluster.route_of("/export/calls.csv"), ["iad", "fra"]);
    assert!(export.text().await.unwrap().starts_with("id,"));

    // A GraphQL subscription socket names its tenant in the URL, and is upgraded in the tenant's region.
    let url = format!(
        "{}/graphql?tenant={}",
        cluster.proxy.ws_url("iad"),
        text(&login["login"]["tenant"]["id"])
    );
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url)
            .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("subscription socket");
    assert_eq!(cluster.route_of("/graphql?tenant="), ["iad", "fra"]);
    use futures::{SinkExt as _, StreamExt as _};
    socket
        .send(tokio_tungstenite::tungstenite::Message::Text(
            json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {access}") } }).to_string().into(),
        ))
        .await
        .unwrap();
    let ack = tokio::time::timeout(Duration::from_secs(10), socket.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(ack.to_string().contains("connection_ack"), "{ack}");
}
