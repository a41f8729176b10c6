//! Tools the model may call: tenant HTTP webhooks and the built-in call controls.
//!
//! Schemas are compiled once per agent ([`ToolSet::new`]), so a bad schema is a configuration error
//! rather than a failure in the middle of a call, and every call's arguments are checked before any
//! webhook sees them.

use std::fmt;
use std::sync::Arc;

use serde_json::{Value, json};

use super::conversation::estimate_tokens;
use super::error::BrainError;
use super::webhook::{WebhookTarget, WebhookTool};

/// Name of the built-in tool that ends the call.
pub const END_CALL: &str = "end_call";
/// Name of the built-in tool that transfers the call.
pub const TRANSFER_CALL: &str = "transfer_call";
/// Name of the built-in tool that presses phone keys.
pub const SEND_DTMF: &str = "send_dtmf";

/// One tool as configured on an agent.
#[derive(Debug, Clone)]
pub enum ToolSpec {
    /// A tenant webhook.
    Webhook(WebhookTool),
    /// Built-in `end_call(reason?)`: the pipeline hangs up after speaking the reply.
    EndCall,
    /// Built-in `transfer_call(to, reason?)`; a non-empty list restricts `to` to those destinations.
    TransferCall {
        /// Allowed destinations (numbers, SIP URIs or queue names); empty allows any string.
        destinations: Vec<String>,
    },
    /// Built-in `send_dtmf(digits)`: the keys are played as tones in the agent's audio, in order with its words.
    SendDtmf,
}

#[derive(Debug)]
enum ToolKind {
    Webhook(Box<WebhookTarget>),
    EndCall,
    TransferCall,
    SendDtmf,
}

struct CompiledTool {
    name: String,
    kind: ToolKind,
    validator: jsonschema::Validator,
}

/// What a model's tool call turned out to ask for, after validation.
#[derive(Debug)]
pub(crate) enum Invocation<'a> {
    Webhook {
        target: &'a WebhookTarget,
        args: Value,
    },
    EndCall {
        reason: Option<String>,
    },
    TransferCall {
        to: String,
        reason: Option<String>,
    },
    SendDtmf {
        digits: String,
    },
    /// Unknown tool or invalid arguments: this text goes back to the model instead of a result.
    Refused(String),
}

/// An agent's compiled tools. Cheap to clone.
#[derive(Clone, Default)]
pub struct ToolSet {
    tools: Arc<[CompiledTool]>,
    /// The request's `tools` array, built once.
    definitions: Arc<[Value]>,
    definition_tokens: usize,
}

impl fmt::Debug for ToolSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.tools.iter().map(|t| (&t.name, &t.kind)))
            .finish()
    }
}

impl ToolSet {
    /// No tools: requests are sent without a `tools` field.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Checks names and URLs and compiles every schema.
    pub fn new(specs: Vec<ToolSpec>) -> Result<Self, BrainError> {
        let mut tools: Vec<CompiledTool> = Vec::with_capacity(specs.len());
        let mut definitions = Vec::with_capacity(specs.len());
        for spec in specs {
            let (name, description, parameters, kind) = match spec {
                ToolSpec::Webhook(w) => {
                    if [END_CALL, TRANSFER_CALL, SEND_DTMF].contains(&w.name.as_str()) {
                        return Err(config(&w.name, "name is reserved for a built-in tool"));
                    }
                    let target = w.target()?;
                    (
                        w.name,
                        w.description,
                        w.parameters,
                        ToolKind::Webhook(Box::new(target)),
                    )
                }
                ToolSpec::EndCall => (
                    END_CALL.to_owned(),
                    "End the phone call. Use it once the conversation is over or the caller wants \
                     to hang up, after saying goodbye."
                        .to_owned(),
                    json!({
                        "type": "object",
                        "properties": {
                            "reason": {"type": "string", "description": "Why the call ends."}
                        },
                        "additionalProperties": false
                    }),
                    ToolKind::EndCall,
                ),
                ToolSpec::TransferCall { destinations } => {
                    let mut to =
                        json!({"type": "string", "description": "Where to transfer the caller."});
                    if !destinations.is_empty() {
                        to["enum"] = json!(destinations);
                    }
                    (
                        TRANSFER_CALL.to_owned(),
                        "Transfer the caller to a person or another line. Tell the caller you are \
                         transferring them before using it."
                            .to_owned(),
                        json!({
                            "type": "object",
                            "properties": {
                                "to": to,
                                "reason": {"type": "string", "description": "Why the caller is transferred."}
                            },
                            "required": ["to"],
                            "additionalProperties": false
                        }),
                        ToolKind::TransferCall,
                    )
                }
                ToolSpec::SendDtmf => (
                    SEND_DTMF.to_owned(),
                    "Press keys on the phone keypad, e.g. to choose an option in a phone menu. The tones \
                     play after what you say before calling it. `w` waits half a second."
                        .to_owned(),
                    json!({
                        "type": "object",
                        "properties": {
                            "digits": {
                                "type": "string",
                                "pattern": "^[0-9*#A-Dw]{1,32}$",
                                "description": "Keys to press in order: 0-9, *, #, A-D; w pauses 0.5 s."
                            }
                        },
                        "required": ["digits"],
                        "additionalProperties": false
                    }),
                    ToolKind::SendDtmf,
                ),
            };
            check_name(&name)?;
            if tools.iter().any(|t| t.name == name) {
                return Err(config(&name, "tool name is used twice"));
            }
            if parameters.get("type").and_then(Value::as_str) != Some("object") {
                return Err(config(
                    &name,
                    "parameters must be a JSON Schema of type object",
                ));
            }
            let validator = jsonschema::validator_for(&parameters)
                .map_err(|e| config(&name, &format!("invalid parameters schema: {e}")))?;
            definitions.push(json!({
                "type": "function",
                "function": {"name": name, "description": description, "parameters": parameters}
            }));
            tools.push(CompiledTool {
                name,
                kind,
                validator,
            });
        }
        let definition_tokens = definitions
            .iter()
            .map(|d| estimate_tokens(&d.to_string()))
            .sum();
        Ok(Self {
            tools: tools.into(),
            definitions: definitions.into(),
            definition_tokens,
        })
    }

    /// Whether the agent has no tools.
    pub fn is_empty(&self) -> bool {
        self.tools.is_empty()
    }

    /// Tool names, in configuration order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tools.iter().map(|t| t.name.as_str())
    }

    pub(crate) fn definitions(&self) -> &[Value] {
        &self.definitions
    }

    /// Estimated prompt tokens the tool definitions cost on every request.
    pub(crate) fn definition_tokens(&self) -> usize {
        self.definition_tokens
    }

    /// Validates a call's raw argument text and says what to do with it.
    pub(crate) fn resolve(&self, name: &str, arguments: &str) -> Invocation<'_> {
        let Some(tool) = self.tools.iter().find(|t| t.name == name) else {
            return Invocation::Refused(format!(
                "unknown tool {name:?}; use one of the tools offered"
            ));
        };
        // Models send "" for a function without parameters.
        let args = if arguments.trim().is_empty() {
            Ok(json!({}))
        } else {
            serde_json::from_str::<Value>(arguments)
        };
        let args = match args {
            Ok(args) => args,
            Err(e) => {
                return Invocation::Refused(format!(
                    "arguments for {name} are not valid JSON ({e}); call it again with a JSON object"
                ));
            }
        };
        let problems: Vec<String> = tool
            .validator
            .iter_errors(&args)
            .take(5)
            .map(|e| {
                let path = e.instance_path().as_str();
                let path = if path.is_empty() { "(root)" } else { path };
                format!("{path}: {e}")
            })
            .collect();
        if !problems.is_empty() {
            return Invocation::Refused(format!(
                "invalid arguments for {name}: {}; call it again with arguments matching its schema",
                problems.join("; ")
            ));
        }
        let text = |key: &str| args.get(key).and_then(Value::as_str).map(str::to_owned);
        match &tool.kind {
            ToolKind::Webhook(target) => Invocation::Webhook { target, args },
            ToolKind::EndCall => Invocation::EndCall {
                reason: text("reason"),
            },
            ToolKind::TransferCall => match text("to") {
                Some(to) => Invocation::TransferCall {
                    to,
                    reason: text("reason"),
                },
                // The schema requires a string `to`; this arm only guards a schema edit.
                None => Invocation::Refused(format!("{TRANSFER_CALL} needs a destination `to`")),
            },
            ToolKind::SendDtmf => match text("digits") {
                Some(digits) => Invocation::SendDtmf { digits },
                // The schema requires the digits; this arm only guards a schema edit.
                None => Invocation::Refused(format!("{SEND_DTMF} needs `digits`")),
            },
        }
    }
}

pub(crate) fn config(tool: &str, what: &str) -> BrainError {
    BrainError::Config(format!("tool {tool}: {what}"))
}

/// OpenAI's rule for function names; other providers accept the same set.
fn check_name(name: &str) -> Result<(), BrainError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(config(
            name,
            "name must be 1-64 characters of A-Z a-z 0-9 _ -",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weather() -> ToolSpec {
        ToolSpec::Webhook(WebhookTool::new(
            "get_weather",
            "Current weather for a city.",
            json!({
                "type": "object",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
                "required": ["city"]
            }),
            "http://127.0.0.1:9/weather",
        ))
    }

    #[test]
    fn valid_arguments_resolve_to_the_webhook() {
        let tools = ToolSet::new(vec![weather(), ToolSpec::EndCall]).expect("valid tools");
        assert!(matches!(
            tools.resolve("get_weather", r#"{"city":"Oslo","days":2}"#),
            Invocation::Webhook { args, .. } if args["city"] == "Oslo"
        ));
        assert_eq!(tools.definitions().len(), 2);
        assert!(tools.definition_tokens() > 0);
    }

    #[test]
    fn invalid_arguments_are_refused_with_the_reason() {
        let tools = ToolSet::new(vec![weather()]).expect("valid tools");
        let Invocation::Refused(text) = tools.resolve("get_weather", r#"{"days":0}"#) else {
            panic!("missing city must be refused");
        };
        assert!(text.contains("city"), "{text}");
        assert!(text.contains("/days"), "{text}");
        assert!(
            matches!(tools.resolve("get_weather", "{\"city\":"), Invocation::Refused(t) if t.contains("not valid JSON"))
        );
        assert!(
            matches!(tools.resolve("nope", "{}"), Invocation::Refused(t) if t.contains("unknown tool"))
        );
    }

    #[test]
    fn builtins_resolve_to_call_control() {
        let tools = ToolSet::new(vec![
            ToolSpec::EndCall,
            ToolSpec::TransferCall {
                destinations: vec!["sales".into(), "support".into()],
            },
        ])
        .expect("valid tools");
        assert!(matches!(
            tools.resolve(END_CALL, ""),
            Invocation::EndCall { reason: None }
        ));
        assert!(matches!(
            tools.resolve(TRANSFER_CALL, r#"{"to":"sales","reason":"wants a quote"}"#),
            Invocation::TransferCall { to, reason: Some(_) } if to == "sales"
        ));
        assert!(matches!(
            tools.resolve(TRANSFER_CALL, r#"{"to":"ceo"}"#),
            Invocation::Refused(_)
        ));
    }

    #[test]
    fn send_dtmf_takes_keypad_digits_only() {
        let tools = ToolSet::new(vec![ToolSpec::SendDtmf]).expect("valid tools");
        assert!(matches!(
            tools.resolve(SEND_DTMF, r#"{"digits":"1w23#"}"#),
            Invocation::SendDtmf { digits } if digits == "1w23#"
        ));
        for bad in [r#"{"digits":"12x"}"#, r#"{"digits":""}"#, "{}"] {
            assert!(
                matches!(tools.resolve(SEND_DTMF, bad), Invocation::Refused(_)),
                "{bad}"
            );
        }
    }

    #[test]
    fn bad_configuration_is_rejected() {
        let bad_schema = ToolSpec::Webhook(WebhookTool::new(
            "x",
            "",
            json!({"type": "object", "properties": {"a": {"type": "no-such-type"}}}),
            "http://127.0.0.1:9/",
        ));
        assert!(ToolSet::new(vec![bad_schema]).is_err());
        assert!(ToolSet::new(vec![weather(), weather()]).is_err());
        assert!(ToolSet::new(vec![ToolSpec::EndCall, ToolSpec::EndCall]).is_err());
        let mut reserved = WebhookTool::new("end_call", "", json!({"type": "object"}), "http://x/");
        assert!(ToolSet::new(vec![ToolSpec::Webhook(reserved.clone())]).is_err());
        reserved.name = "has space".into();
        assert!(ToolSet::new(vec![ToolSpec::Webhook(reserved)]).is_err());
        let remote_ref = ToolSpec::Webhook(WebhookTool::new(
            "r",
            "",
            json!({"type": "object", "$ref": "https://example.com/schema.json"}),
            "http://127.0.0.1:9/",
        ));
        assert!(
            ToolSet::new(vec![remote_ref]).is_err(),
            "schemas never fetch remote refs"
        );
    }
}
