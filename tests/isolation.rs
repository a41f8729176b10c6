//! Tenant isolation, attacked from the outside: tenant B tries every root field of the schema with
//! tenant A's ids and tokens, using every credential B could hold (its API key, a user's access token,
//! a live-call session token, forged variants) and none. The schema is enumerated from the SDL, so new
//! fields are attacked automatically; a field the generator cannot build a call for fails the test
//! unless listed in `UNEXERCISED` with a reason.
//!
//! What B knows of A (its ids, the prefix of one of its keys, even A's access and session tokens) is
//! used as arguments; what B must never see is A's other data (names, emails, other ids). Echoes of
//! B's own input are therefore not leaks. Afterwards A's data must be exactly as before.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use async_graphql::parser::parse_schema;
use async_graphql::parser::types::{
    BaseType, FieldDefinition, Type, TypeKind, TypeSystemDefinition,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::ws::{Ended, GqlWs};
use voxedge::model::Role;

/// Root fields the generator may skip, with why. Empty: every field is attacked.
const UNEXERCISED: &[(&str, &str)] = &[];

const A_TWILIO_SID: &str = "AC5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";
const A_TWILIO_TOKEN: &str = "7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e";

const A_SNAPSHOT: &str = "{ viewer { tenant { id name slug plan region } }
  members(first: 100) { nodes { id email name role joinedAt } }
  invites(first: 100) { nodes { id email role expiresAt } }
  apiKeys(first: 100) { nodes { id name role createdBy expiresAt revokedAt } }
  auditLog(first: 100) { nodes { id action actor target outcome } }
  agents(first: 100, includeArchived: true) { nodes { id name activeVersion archivedAt config { systemPrompt } } }
  calls(first: 100) { nodes { id status endedReason transcript(first: 100) { nodes { seq text } } events(first: 100) { nodes { seq type } } } }
  webhookEndpoints(first: 100) { nodes { id url enabled events } }
  twilioAccount { accountSid authTokenLast4 createdAt updatedAt }
  phoneNumbers(first: 100) { nodes { id number label agentId updatedAt } } }";

struct Schema {
    types: BTreeMap<String, TypeKind>,
}

impl Schema {
    fn load() -> Self {
        let doc = parse_schema(voxedge::graphql::sdl()).expect("the SDL parses");
        let types = doc
            .definitions
            .into_iter()
            .filter_map(|d| match d {
                TypeSystemDefinition::Type(t) => Some((t.node.name.node.to_string(), t.node.kind)),
                _ => None,
            })
            .collect();
        Self { types }
    }

    fn root_fields(&self, root: &str) -> Vec<FieldDefinition> {
        match self.types.get(root) {
            Some(TypeKind::Object(o)) => o.fields.iter().map(|f| f.node.clone()).collect(),
            _ => Vec::new(),
        }
    }

    /// A literal for a value of `ty`, with every ID and String set to `candidate`.
    fn value(&self, ty: &Type, candidate: &str) -> Result<String, String> {
        let name = match &ty.base {
            BaseType::List(inner) => return Ok(format!("[{}]", self.value(inner, candidate)?)),
            BaseType::Named(name) => name.to_string(),
        };
        match name.as_str() {
            "ID" | "String" => Ok(serde_json::to_string(candidate).expect("a string")),
            "Int" => Ok("100".into()),
            "Float" => Ok("1.0".into()),
            "Boolean" => Ok("true".into()),
            "DateTime" => Ok("\"2099-01-01T00:00:00Z\"".into()),
            "JSON" => Ok(format!(
                "{{ probe: {} }}",
                serde_json::to_string(candidate).expect("a string")
            )),
            other => match self.types.get(other) {
                Some(TypeKind::Enum(e)) => Ok(e.values[0].node.value.node.to_string()),
                Some(TypeKind::InputObject(input)) => {
                    let fields: Result<Vec<String>, String> = input
                        .fields
                        .iter()
                        .map(|f| {
                            Ok(format!(
                                "{}: {}",
                                f.node.name.node,
                                self.value(&f.node.ty.node, candidate)?
                            ))
                        })
                        .collect();
                    Ok(format!("{{{}}}", fields?.join(", ")))
                }
                _ => Err(format!("no value generator for type {other}")),
            },
        }
    }

    /// Every argument-free leaf below `ty`, a few levels deep.
    fn selection(&self, ty: &Type, depth: usize) -> String {
        let mut base = &ty.base;
        while let BaseType::List(inner) = base {
            base = &inner.base;
        }
        let BaseType::Named(name) = base else {
            unreachable!()
        };
        let Some(TypeKind::Object(object)) = self.types.get(name.as_str()) else {
            return String::new();
        };
        let mut parts = Vec::new();
        for field in &object.fields {
            let field = &field.node;
            if !field.arguments.is_empty() {
                continue;
            }
            let inner = self.selection(&field.ty.node, depth + 1);
            let is_object = matches!(
                self.types.get(named(&field.ty.node)),
                Some(TypeKind::Object(_))
            );
            if !is_object {
                parts.push(field.name.node.to_string());
            } else if depth < 3 && !inner.is_empty() {
                parts.push(format!("{} {inner}", field.name.node));
            }
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!("{{ {} }}", parts.join(" "))
        }
    }

    /// The operation attacking `field` with `candidate` in every ID and String slot; optional arguments
    /// are filled too, or left out when `all` is false (so that e.g. lists run with their defaults).
    fn operation(
        &self,
        kind: &str,
        field: &FieldDefinition,
        candidate: &str,
        all: bool,
    ) -> Result<String, String> {
        let args: Result<Vec<String>, String> = field
            .arguments
            .iter()
            .filter(|a| all || !a.node.ty.node.nullable)
            .map(|a| {
                Ok(format!(
                    "{}: {}",
                    a.node.name.node,
                    self.value(&a.node.ty.node, candidate)?
                ))
            })
            .collect();
        let args = args?;
        let args = if args.is_empty() {
            String::new()
        } else {
            format!("({})", args.join(", "))
        };
        Ok(format!(
            "{kind} {{ {}{args} {} }}",
            field.name.node,
            self.selection(&field.ty.node, 1)
        ))
    }
}

fn named(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(name) => name.as_str(),
        BaseType::List(inner) => named(inner),
    }
}

fn takes_text(schema: &Schema, field: &FieldDefinition) -> bool {
    fn walk(schema: &Schema, ty: &Type) -> bool {
        match named(ty) {
            "ID" | "String" => true,
            other => match schema.types.get(other) {
                Some(TypeKind::InputObject(i)) => {
                    i.fields.iter().any(|f| walk(schema, &f.node.ty.node))
                }
                _ => false,
            },
        }
    }
    field
        .arguments
        .iter()
        .any(|a| walk(schema, &a.node.ty.node))
}

fn text_of(body: &Value, key: &str) -> String {
    body.pointer(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{key} in {body}"))
        .to_string()
}

#[tokio::test]
async fn tenant_b_cannot_reach_tenant_a_through_any_field() {
    let server = support::spawn_with(|c| {
        c.rate_limits.graphql = voxedge::ratelimit::PlanLimits {
            free: 0,
            pro: 0,
            enterprise: 0,
        };
        c.rate_limits.ws_connects = c.rate_limits.graphql;
        c.rate_limits.anonymous_per_ip = 0;
        c.rate_limits.login_account.max_failures = 0;
        c.rate_limits.login_ip.max_failures = 0;
        c.graphql.max_complexity = 100_000;
    })
    .await;

    // Tenant A: an owner, a developer, a pending invite, keys, a session token, audit entries.
    let a_owner = server
        .sign_up("alpha-owner@alpha-iso.test", "Alpha Isolation Zq7")
        .await;
    let a_id: voxedge::db::TenantId = a_owner.tenant_id.parse().unwrap();
    let a_key = server.key(a_id, Role::Owner).await;
    let invite = "mutation($e: String!) { inviteMember(input: {email: $e, role: DEVELOPER}) { token invite { id } } }";
    let (_, body) = server
        .gql(
            Some(&a_key),
            invite,
            json!({ "e": "alpha-dev@alpha-iso.test" }),
        )
        .await;
    let dev_token = text_of(&body, "/data/inviteMember/token");
    let (_, body) = server
        .gql(None, "mutation($t: String!) { acceptInvite(input: {token: $t, password: \"correct horse battery staple\"}) { user { id } } }", json!({ "t": dev_token }))
        .await;
    let a_dev_id = text_of(&body, "/data/acceptInvite/user/id");
    let (_, body) = server
        .gql(
            Some(&a_key),
            invite,
            json!({ "e": "alpha-pending@alpha-iso.test" }),
        )
        .await;
    let a_invite_id = text_of(&body, "/data/inviteMember/invite/id");
    let (_, body) = server
        .gql(Some(&a_key), "mutation { createApiKey(input: {name: \"alpha-secret-key-name\", role: VIEWER}) { apiKey { id prefix } } }", json!({}))
        .await;
    let a_key_id = text_of(&body, "/data/createApiKey/apiKey/id");
    let a_key_prefix = text_of(&body, "/data/createApiKey/apiKey/prefix");
    let (_, body) = server
        .gql(Some(&a_key), "mutation { createSessionToken(agentId: \"alpha_agent_77\", ttlSeconds: 600) { token } }", json!({}))
        .await;
    let a_session = text_of(&body, "/data/createSessionToken/token");
    // A's voice data: an agent, a call with a transcript, a (disabled, so quiet) webhook endpoint.
    let a_agent_id = server
        .create_agent(
            &a_key,
            "alpha-agent-name-q9",
            json!({ "systemPrompt": "alpha prompt marmalade" }),
        )
        .await;
    let a_call_id = server
        .create_call(
            &a_key,
            &a_agent_id,
            json!({ "direction": "INBOUND", "transport": "PHONE", "from": "+14155550177" }),
        )
        .await;
    let (_, body) = server
        .gql(Some(&a_key), "mutation($c: ID!) { addTranscriptSegments(callId: $c, segments: [{seq: 1, speaker: CALLER, text: \"the quokka met a xylophonist\", startMs: 0, endMs: 900}]) { seq } }", json!({ "c": a_call_id }))
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let (_, body) = server
        .gql(Some(&a_key), "mutation { createWebhookEndpoint(input: {url: \"http://alpha-hook.invalid/h\", events: [CALL_ENDED], enabled: false}) { secret endpoint { id } } }", json!({}))
        .await;
    let a_endpoint_id = text_of(&body, "/data/createWebhookEndpoint/endpoint/id");
    let a_webhook_secret = text_of(&body, "/data/createWebhookEndpoint/secret");
    // A's telephony: a Twilio account and a number routed to its agent.
    let (_, body) = server
        .gql(
            Some(&a_key),
            "mutation($i: SetTwilioAccountInput!) { setTwilioAccount(input: $i) { accountSid } }",
            json!({ "i": { "accountSid": A_TWILIO_SID, "authToken": A_TWILIO_TOKEN } }),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let (_, body) = server
        .gql(Some(&a_key), "mutation($a: ID!) { addPhoneNumber(input: {number: \"+14155550188\", agentId: $a, label: \"alpha-line-label\"}) { id } }", json!({ "a": a_agent_id }))
        .await;
    let a_number_id = text_of(&body, "/data/addPhoneNumber/id");
    let (_, before) = server.gql(Some(&a_key), A_SNAPSHOT, json!({})).await;
    assert!(before.get("errors").is_none(), "{before}");

    // What B knows of A (used as arguments) and what B must never see.
    let known = [
        a_owner.tenant_id.clone(),
        a_owner.user_id.clone(),
        a_key_id.clone(),
        a_key_prefix,
        a_invite_id,
        a_owner.access.clone(),
        a_session.clone(),
        a_agent_id,
        a_call_id,
        a_endpoint_id,
        a_number_id,
        // A word of A's transcript, as a search term B might guess.
        "quokka".to_string(),
    ];
    let mut secret: BTreeSet<String> = [
        "Alpha Isolation Zq7",
        "alpha-isolation-zq7",
        "alpha-iso.test",
        "alpha-secret-key-name",
        "alpha_agent_77",
        "alpha-agent-name-q9",
        "alpha prompt marmalade",
        "xylophonist",
        "alpha-hook.invalid",
        "4155550177",
        "4155550188",
        "alpha-line-label",
        A_TWILIO_SID,
        A_TWILIO_TOKEN,
    ]
    .into_iter()
    .map(String::from)
    .collect();
    secret.insert(a_dev_id.clone());
    secret.insert(a_webhook_secret);
    for entry in before["data"]["auditLog"]["nodes"].as_array().unwrap() {
        secret.insert(entry["id"].as_str().unwrap().to_string());
    }
    for key in before["data"]["apiKeys"]["nodes"].as_array().unwrap() {
        if key["id"] != a_key_id.as_str() {
            secret.insert(key["id"].as_str().unwrap().to_string());
        }
    }

    // Tenant B and every credential it could present.
    let b_owner = server
        .sign_up("beta-owner@beta-iso.test", "Beta Isolation")
        .await;
    let b_id: voxedge::db::TenantId = b_owner.tenant_id.parse().unwrap();
    let b_key = server.key(b_id, Role::Owner).await;
    let (_, body) = server
        .gql(
            Some(&b_key),
            "mutation { createSessionToken(agentId: \"beta_agent\", ttlSeconds: 600) { token } }",
            json!({}),
        )
        .await;
    let b_session = text_of(&body, "/data/createSessionToken/token");
    let forged_key = b_key.replacen(&b_owner.tenant_id, &a_owner.tenant_id, 1);
    let forged_jwt = {
        use base64::Engine as _;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let parts: Vec<&str> = b_owner.access.split('.').collect();
        let mut claims: Value = serde_json::from_slice(&engine.decode(parts[1]).unwrap()).unwrap();
        claims["tid"] = json!(a_owner.tenant_id);
        format!(
            "{}.{}.{}",
            parts[0],
            engine.encode(claims.to_string()),
            parts[2]
        )
    };
    let credentials: Vec<(&str, Option<String>)> = vec![
        ("B api key", Some(b_key)),
        ("B user token", Some(b_owner.access.clone())),
        ("B session token", Some(b_session)),
        ("B key re-pointed at A", Some(forged_key)),
        ("B token re-pointed at A", Some(forged_jwt)),
        ("anonymous", None),
    ];

    let schema = Schema::load();
    let mut attempts = 0usize;
    let mut unexercised = Vec::new();
    let check = |what: &str, text: &str| {
        for s in &secret {
            assert!(!text.contains(s.as_str()), "{what} leaked {s:?}: {text}");
        }
    };
    for (kind, root) in [
        ("query", "Query"),
        ("mutation", "Mutation"),
        ("subscription", "Subscription"),
    ] {
        for field in schema.root_fields(root) {
            let mut candidates: Vec<(&str, bool)> = if takes_text(&schema, &field) {
                known.iter().map(|k| (k.as_str(), true)).collect()
            } else {
                vec![("", true)]
            };
            if field.arguments.iter().any(|a| a.node.ty.node.nullable) {
                candidates.extend(known.iter().map(|k| (k.as_str(), false)));
            }
            for (candidate, all) in candidates {
                let operation = match schema.operation(kind, &field, candidate, all) {
                    Ok(op) => op,
                    Err(why) => {
                        unexercised.push(format!("{}: {why}", field.name.node));
                        break;
                    }
                };
                for (who, credential) in &credentials {
                    attempts += 1;
                    let what = format!("{who} → {operation}");
                    if kind == "subscription" {
                        let auth = credential
                            .as_ref()
                            .map(|c| json!({ "Authorization": format!("Bearer {c}") }))
                            .unwrap_or(json!({}));
                        match GqlWs::connect(&server.ws_url("/graphql"), auth).await {
                            Ok(mut ws) => {
                                ws.subscribe("1", &operation, json!({})).await;
                                let message = ws.next_message().await.expect("a reply");
                                check(&what, &message.to_string());
                                if let Some(tenant) =
                                    message.pointer("/payload/data/heartbeat/tenantId")
                                {
                                    assert_eq!(tenant, &json!(b_owner.tenant_id), "{what}");
                                }
                            }
                            Err(Ended::Closed { code, reason }) => {
                                assert_eq!(code, 4403, "{what}: {reason}");
                                check(&what, &reason);
                            }
                            Err(other) => panic!("{what}: {other:?}"),
                        }
                    } else {
                        let (status, body) = server
                            .gql(credential.as_deref(), &operation, json!({}))
                            .await;
                        assert!(
                            status.is_client_error() || status == StatusCode::OK,
                            "{what}: {status} {body}"
                        );
                        check(&what, &body.to_string());
                    }
                }
            }
        }
    }
    let allowed: BTreeSet<&str> = UNEXERCISED.iter().map(|(f, _)| *f).collect();
    let missed: Vec<&String> = unexercised
        .iter()
        .filter(|u| !allowed.contains(u.split(':').next().unwrap()))
        .collect();
    assert!(
        missed.is_empty(),
        "fields the attack could not exercise: {missed:?}"
    );

    // A is exactly as it was, and its credentials still work.
    let (_, after) = server.gql(Some(&a_key), A_SNAPSHOT, json!({})).await;
    assert_eq!(before, after, "tenant A's data changed");
    let (status, _) = server
        .gql(Some(&a_owner.access), "{ viewer { role } }", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let grant = server
        .state
        .auth
        .verify_session_token(&a_session)
        .await
        .expect("A's session token");
    assert_eq!(grant.tenant_id, a_id);
    eprintln!(
        "isolation: {attempts} attempts across {} credentials, {} secrets checked",
        credentials.len(),
        secret.len()
    );
}
