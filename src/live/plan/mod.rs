//! Where an agent's configuration becomes a call: [`CallPlan::new`] turns the agent's active version (and the
//! secrets it uses — the tenant's LLM keys, its tools' headers — and the call's variables) into everything a live
//! call runs with: turn detection, the brain's provider chain and tools, the voice, barge-in and end-call rules,
//! the texts with their `{{variables}}` filled in, and what to do on an answering machine. [`OutboundDial`] is the
//! same for placing a call: which variables it needs and whether Twilio should listen for a machine. It is pure:
//! no I/O, no clock. The session reads the plan, never the agent's configuration.

mod brain;
mod variables;

pub use brain::analysis_spec;
pub use variables::{OutboundDial, PlanError};

use variables::fill;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::agents::ActiveAgent;
use crate::agents::llm_keys::OpenKey;
use crate::agents::tool_headers::OpenHeaders;
use crate::brain::AgentSpec;
use crate::db::TenantId;
use crate::live::LlmSettings;
use crate::live::voicemail::ScreeningRules;
use crate::model::agent::VoicemailAction;
use crate::model::{AgentConfig, Variables};
use crate::voice::TurnConfig;

/// The secrets a call's agent uses, opened for it when it is admitted.
#[derive(Debug, Default)]
pub struct CallSecrets {
    /// The tenant's LLM keys by provider name.
    pub llm_keys: HashMap<String, OpenKey>,
    /// Webhook tools' request headers by tool name.
    pub tool_headers: HashMap<String, OpenHeaders>,
}

/// Everything a live call needs from its agent, decided once when the call is admitted.
#[derive(Debug, Clone)]
pub struct CallPlan {
    pub agent_id: String,
    /// The agent version the call runs (and is pinned to).
    pub version: i64,
    /// Server turn detection (the client may change it, or turn it off, during the call).
    pub turns: TurnConfig,
    /// How the agent thinks; `Err(why)` when its LLM settings cannot work, and the caller hears the apology.
    pub brain: Result<Arc<AgentSpec>, String>,
    pub system_prompt: String,
    /// Said when the call connects.
    pub first_message: Option<String>,
    /// Said when no LLM provider answers.
    pub apology: String,
    pub voice: VoicePlan,
    pub barge_in: BargeIn,
    pub ending: EndRules,
    /// Transfer destinations: what the model calls them → E.164 numbers.
    pub transfers: Vec<(String, String)>,
    /// Shown to Realtime clients in `session.created`.
    pub temperature: f64,
    /// Listen for an answering machine before speaking (outbound phone calls whose agent detects voicemail).
    pub voicemail: Option<VoicemailPlan>,
    /// The call's variables, as filled into the texts above.
    pub variables: Variables,
    /// Record the call (the agent has not opted out).
    pub record: bool,
}

/// What the call brings to its plan: its variables, and whether an answering machine may pick it up.
#[derive(Debug, Clone, Default)]
pub struct CallFacts {
    pub variables: Variables,
    /// An outbound phone call (the only kind a machine answers).
    pub outbound_phone: bool,
}

/// Answering-machine handling.
#[derive(Debug, Clone, PartialEq)]
pub struct VoicemailPlan {
    /// `None`: hang up; `Some(message)`: leave it after the beep.
    pub message: Option<String>,
    /// How the first seconds of audio are judged.
    pub screening: ScreeningRules,
}

/// How the agent sounds.
#[derive(Debug, Clone, PartialEq)]
pub struct VoicePlan {
    pub voice_id: String,
    /// 1.0 is the voice's natural pace.
    pub speed: f32,
}

/// When the caller's speech stops the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BargeIn {
    /// Off: the caller's words while the agent speaks are answered once it has finished.
    pub enabled: bool,
    /// The agent stops once the caller has spoken this long over it.
    pub after_speaking: Option<Duration>,
    /// The agent stops when an utterance of at least this many words is transcribed.
    pub min_words: Option<usize>,
}

/// When the call ends on the agent's side.
#[derive(Debug, Clone, PartialEq)]
pub struct EndRules {
    pub max_duration: Duration,
    /// Caller silence before one reprompt, then hanging up.
    pub silence_timeout: Duration,
    pub silence_reprompt: String,
    /// Caller phrases that end the call.
    pub end_phrases: Vec<String>,
}

impl CallPlan {
    /// The plan for a call with `agent` in `tenant`, whose LLM providers and tools get `secrets`. Refused when
    /// the agent's texts use variables the call does not have.
    pub fn new(
        agent: &ActiveAgent,
        tenant: TenantId,
        secrets: &CallSecrets,
        llm: &LlmSettings,
        call: CallFacts,
    ) -> Result<Self, PlanError> {
        let config = &agent.version.config;
        let interruption = &config.interruption;
        let end_call = &config.end_call;
        let variables = call.variables;
        let mut missing = Vec::new();
        let system_prompt = fill(&config.system_prompt, &variables, &mut missing);
        let first_message = config
            .first_message
            .as_deref()
            .filter(|text| !text.trim().is_empty())
            .map(|text| fill(text, &variables, &mut missing));
        let voicemail =
            (call.outbound_phone && config.voicemail.detection).then(|| VoicemailPlan {
                message: match config.voicemail.action {
                    VoicemailAction::HangUp => None,
                    VoicemailAction::LeaveMessage => config
                        .voicemail_message
                        .as_deref()
                        .map(|text| fill(text, &variables, &mut missing)),
                },
                screening: ScreeningRules {
                    max_greeting: Duration::from_secs(
                        config.voicemail.max_greeting_secs.max(1) as u64
                    ),
                    ..ScreeningRules::default()
                },
            });
        if !missing.is_empty() {
            missing.sort();
            return Err(PlanError::MissingVariables(missing));
        }
        Ok(Self {
            agent_id: agent.agent.id.clone(),
            version: agent.version.version,
            turns: turn_config(config),
            brain: brain::call_spec(config, tenant, secrets, llm)
                .map(Arc::new)
                .map_err(|e| e.to_string()),
            system_prompt,
            first_message,
            apology: config.llm.apology_message.clone(),
            voice: VoicePlan {
                voice_id: config.voice.voice_id.clone(),
                speed: config.voice.speed as f32,
            },
            barge_in: BargeIn {
                enabled: interruption.enabled,
                after_speaking: match (interruption.min_duration_ms, interruption.min_words) {
                    (ms, _) if ms > 0 => Some(Duration::from_millis(ms as u64)),
                    // No threshold of either kind: the first sound of speech stops the agent.
                    (_, 0) => Some(Duration::ZERO),
                    _ => None,
                },
                min_words: usize::try_from(interruption.min_words)
                    .ok()
                    .filter(|&n| n > 0),
            },
            ending: EndRules {
                max_duration: Duration::from_secs(end_call.max_duration_secs.max(1) as u64),
                silence_timeout: Duration::from_secs(end_call.silence_timeout_secs.max(1) as u64),
                silence_reprompt: end_call.silence_reprompt.clone(),
                end_phrases: end_call.end_phrases.clone(),
            },
            transfers: config
                .tools
                .iter()
                .flat_map(|t| &t.destinations)
                .map(|d| (d.name.clone(), d.phone_number.clone()))
                .collect(),
            temperature: config.llm.temperature,
            voicemail,
            variables,
            record: config.record_calls,
        })
    }

    /// The number of a transfer destination, by the name the model gave it (or its number).
    pub fn transfer_number(&self, destination: &str) -> Option<&str> {
        self.transfers
            .iter()
            .find(|(name, number)| name == destination || number == destination)
            .map(|(_, number)| number.as_str())
    }
}

/// The agent's turn-detection settings, as the turn detector takes them.
fn turn_config(config: &AgentConfig) -> TurnConfig {
    let settings = &config.turn_detection;
    TurnConfig {
        threshold: settings.threshold as f32,
        prefix_padding_ms: settings.prefix_padding_ms.max(0) as u32,
        silence_duration_ms: settings.silence_duration_ms.max(0) as u32,
        ..TurnConfig::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::AgentConfigInput;
    use crate::error::{ErrorCode, Reportable as _};
    use crate::model::agent::{EndCallRules, InterruptionSettings};
    use crate::redact::Secret;
    use crate::repo::agents::{AgentRow, VersionRow};

    fn agent(config: AgentConfig) -> ActiveAgent {
        ActiveAgent {
            agent: AgentRow {
                id: "a1".into(),
                name: "Ada".into(),
                active_version: 3,
                archived_at: None,
                created_at: 0,
                updated_at: 0,
            },
            version: VersionRow {
                agent_id: "a1".into(),
                version: 3,
                name: "Ada".into(),
                config,
                note: None,
                created_by: "test".into(),
                created_at: 0,
            },
        }
    }

    fn settings() -> LlmSettings {
        LlmSettings {
            connect_timeout: Duration::from_secs(2),
            first_token_timeout: Duration::from_secs(4),
            breaker: crate::brain::BreakerConfig::default(),
        }
    }

    fn config() -> AgentConfig {
        AgentConfigInput {
            system_prompt: "You are helpful.".into(),
            first_message: Some("  ".into()),
            ..Default::default()
        }
        .into_config("config")
        .unwrap()
    }

    #[test]
    fn the_plan_carries_the_agents_settings() {
        let mut config = config();
        config.turn_detection.silence_duration_ms = 700;
        config.end_call = EndCallRules {
            max_duration_secs: 60,
            silence_timeout_secs: 9,
            end_phrases: vec!["goodbye".into()],
            silence_reprompt: "Hello?".into(),
        };
        let plan = CallPlan::new(
            &agent(config),
            TenantId::generate(),
            &CallSecrets::default(),
            &settings(),
            CallFacts::default(),
        )
        .unwrap();
        assert_eq!((plan.agent_id.as_str(), plan.version), ("a1", 3));
        assert_eq!(plan.turns.silence_duration_ms, 700);
        assert!(plan.brain.is_ok());
        assert_eq!(
            plan.first_message, None,
            "a blank first message is no first message"
        );
        assert_eq!(plan.ending.max_duration, Duration::from_secs(60));
        assert_eq!(plan.ending.silence_timeout, Duration::from_secs(9));
        assert_eq!(plan.ending.end_phrases, ["goodbye"]);
    }

    #[test]
    fn barge_in_thresholds() {
        let plan_with = |enabled, min_words, min_duration_ms| {
            let mut config = config();
            config.interruption = InterruptionSettings {
                enabled,
                min_words,
                min_duration_ms,
            };
            CallPlan::new(
                &agent(config),
                TenantId::generate(),
                &CallSecrets::default(),
                &settings(),
                CallFacts::default(),
            )
            .unwrap()
            .barge_in
        };
        let by_duration = plan_with(true, 2, 300);
        assert_eq!(by_duration.after_speaking, Some(Duration::from_millis(300)));
        assert_eq!(by_duration.min_words, Some(2));
        assert_eq!(plan_with(true, 0, 0).after_speaking, Some(Duration::ZERO));
        let by_words = plan_with(true, 3, 0);
        assert_eq!(
            (by_words.after_speaking, by_words.min_words),
            (None, Some(3))
        );
        assert!(!plan_with(false, 0, 0).enabled);
    }

    #[test]
    fn tenant_keys_reach_only_their_provider_and_its_endpoints() {
        let key = |base_url: Option<&str>| OpenKey {
            key: Secret::new("sk_123".to_string()),
            base_url: base_url.map(str::to_owned),
        };
        let keyed = |config: AgentConfig, keys: Vec<(&str, OpenKey)>| {
            let secrets = CallSecrets {
                llm_keys: keys.into_iter().map(|(p, k)| (p.to_string(), k)).collect(),
                ..CallSecrets::default()
            };
            let plan = CallPlan::new(
                &agent(config),
                TenantId::generate(),
                &secrets,
                &settings(),
                CallFacts::default(),
            )
            .unwrap();
            plan.brain.unwrap().providers()[0].config.api_key.clone()
        };
        // Default: openai at its public endpoint.
        assert_eq!(
            keyed(config(), vec![("groq", key(None))]),
            None,
            "another provider's key"
        );
        assert_eq!(
            keyed(config(), vec![("openai", key(None))]).as_deref(),
            Some("sk_123")
        );
        // The agent's editor points openai somewhere else: the key stays home.
        let mut elsewhere = config();
        elsewhere.llm.primary.base_url = "https://collector.example.com/v1".into();
        assert_eq!(keyed(elsewhere.clone(), vec![("openai", key(None))]), None);
        // Unless that is where an admin bound the key.
        let bound = key(Some("https://collector.example.com/v1"));
        assert_eq!(
            keyed(elsewhere, vec![("openai", bound)]).as_deref(),
            Some("sk_123")
        );
    }

    #[test]
    fn webhook_tools_get_their_headers() {
        let mut config = config();
        config.tools.push(crate::model::agent::Tool {
            kind: crate::model::agent::ToolKind::Webhook,
            name: "lookup".into(),
            description: String::new(),
            parameters: None,
            url: Some("https://example.com/x".into()),
            method: None,
            timeout_ms: None,
            destinations: Vec::new(),
            headers: Vec::new(),
        });
        let secrets = CallSecrets {
            tool_headers: HashMap::from([(
                "lookup".to_string(),
                vec![(
                    "Authorization".to_string(),
                    Secret::new("Bearer t".to_string()),
                )],
            )]),
            ..CallSecrets::default()
        };
        let plan = CallPlan::new(
            &agent(config),
            TenantId::generate(),
            &secrets,
            &settings(),
            CallFacts::default(),
        )
        .unwrap();
        let brain = plan.brain.unwrap();
        let debug = format!("{:?}", brain.tools());
        assert!(
            debug.contains("authorization") && !debug.contains("Bearer t"),
            "{debug}"
        );
    }

    #[test]
    fn variables_fill_every_text_and_missing_ones_refuse_the_call() {
        let mut config = config();
        config.system_prompt = "You call {{first_name}} about {{topic}}.".into();
        config.first_message = Some("Hi {{first_name}}!".into());
        config.voicemail.action = VoicemailAction::LeaveMessage;
        config.voicemail_message =
            Some("Please call back, {{first_name}}. {{caller_number}}".into());
        let variables = Variables(
            [("first_name", "Ada"), ("topic", "your visit")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        let plan_for = |variables: Variables, outbound_phone| {
            CallPlan::new(
                &agent(config.clone()),
                TenantId::generate(),
                &CallSecrets::default(),
                &settings(),
                CallFacts {
                    variables,
                    outbound_phone,
                },
            )
        };
        let plan = plan_for(variables.clone(), false).unwrap();
        assert_eq!(plan.system_prompt, "You call Ada about your visit.");
        assert_eq!(plan.first_message.as_deref(), Some("Hi Ada!"));
        assert_eq!(plan.voicemail, None, "only outbound phone calls screen");
        let err = plan_for(variables.clone(), true).unwrap_err();
        assert_eq!(
            err,
            PlanError::MissingVariables(vec!["caller_number".into()])
        );
        assert_eq!(err.code(), ErrorCode::MissingVariables);
        let with_number = variables.with_phone_numbers(Some("+14155550100"), None);
        let plan = plan_for(with_number, true).unwrap();
        assert_eq!(
            plan.voicemail.unwrap().message.as_deref(),
            Some("Please call back, Ada. +14155550100")
        );
        let err = plan_for(Variables::new(), false).unwrap_err();
        assert_eq!(
            err,
            PlanError::MissingVariables(vec!["first_name".into(), "topic".into()])
        );
    }
}
