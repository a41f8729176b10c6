//! [`ConfigDraft`]: an [`AgentConfigInput`] with its defaults applied and every field validated, all problems
//! reported at once as field errors.

use async_graphql::Json;

use super::input::*;
use super::validate::{Check, SealHeader, validate_tool};
use crate::error::{ErrorCode, InvalidInput};
use crate::model::agent::*;

/// A checked configuration whose tools may still have to take their headers from the current version.
#[derive(Debug)]
pub struct ConfigDraft {
    config: AgentConfig,
    /// Tools (by position) that left their headers out.
    keep_headers: Vec<usize>,
}

impl ConfigDraft {
    /// The configuration as it is stored: a tool that left its headers out keeps those of the same-named
    /// webhook tool in `current` (none for a new agent or a new tool).
    pub fn complete(mut self, current: Option<&AgentConfig>) -> AgentConfig {
        for i in self.keep_headers {
            let kept = current
                .and_then(|c| c.tool(&self.config.tools[i].name))
                .filter(|t| t.kind == ToolKind::Webhook)
                .map(|t| t.headers.clone())
                .unwrap_or_default();
            self.config.tools[i].headers = kept;
        }
        self.config
    }

    /// The checked configuration (tools that left their headers out have none yet).
    pub fn config(&self) -> &AgentConfig {
        &self.config
    }
}

impl AgentConfigInput {
    /// Applies defaults and validates (field paths under `prefix`, e.g. `input.config`), then seals tool header
    /// values with `seal`.
    pub fn into_draft(
        self,
        prefix: &str,
        seal: &SealHeader<'_>,
    ) -> Result<ConfigDraft, InvalidInput> {
        let mut check = Check { errors: Vec::new() };
        let at = |field: &str| format!("{prefix}.{field}");
        check.text(&at("systemPrompt"), &self.system_prompt, 1, 20_000);
        check.template(&at("systemPrompt"), &self.system_prompt);
        if let Some(first) = &self.first_message {
            check.text(&at("firstMessage"), first, 1, 2_000);
            check.template(&at("firstMessage"), first);
        }
        if let Some(message) = &self.voicemail_message {
            check.text(&at("voicemailMessage"), message.trim(), 1, 2_000);
            check.template(&at("voicemailMessage"), message);
        }
        let voicemail_in = self.voicemail.unwrap_or_default();
        let defaults = VoicemailSettings::default();
        let voicemail = VoicemailSettings {
            detection: voicemail_in.detection.unwrap_or(defaults.detection),
            action: voicemail_in.action.unwrap_or(defaults.action),
            max_greeting_secs: voicemail_in
                .max_greeting_secs
                .unwrap_or(defaults.max_greeting_secs),
        };
        check.range_i(
            &at("voicemail.maxGreetingSecs"),
            voicemail.max_greeting_secs,
            5,
            120,
        );
        if voicemail.action == VoicemailAction::LeaveMessage && self.voicemail_message.is_none() {
            check.fail(
                at("voicemailMessage"),
                ErrorCode::Required,
                "LEAVE_MESSAGE needs the message to leave",
            );
        }
        let analysis = self
            .analysis
            .map_or_else(AnalysisSettings::default, |a| AnalysisSettings {
                enabled: a.enabled.unwrap_or(true),
                success_criteria: a.success_criteria,
                extraction_schema: a.extraction_schema,
            });
        if let Some(criteria) = &analysis.success_criteria {
            check.text(&at("analysis.successCriteria"), criteria.trim(), 1, 2_000);
        }
        if let Some(Json(schema)) = &analysis.extraction_schema
            && (schema.get("type") != Some(&serde_json::json!("object"))
                || jsonschema::meta::validate(schema).is_err())
        {
            check.fail(
                at("analysis.extractionSchema"),
                ErrorCode::InvalidJsonSchema,
                "must be a valid JSON Schema of type object",
            );
        }
        let language = self.language.unwrap_or_else(|| "en".into());
        let language_ok = !language.is_empty()
            && language.len() <= 35
            && language.split('-').all(|part| {
                (1..=8).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_alphanumeric())
            });
        if !language_ok {
            check.fail(
                at("language"),
                ErrorCode::InvalidLanguage,
                "must be a BCP 47 tag such as en or en-US",
            );
        }

        let voice_in = self.voice.unwrap_or_default();
        let voice = VoiceSettings {
            voice_id: voice_in
                .voice_id
                .unwrap_or_else(|| "en_US-joe-medium".into()),
            speed: voice_in.speed.unwrap_or(1.0),
        };
        check.text(&at("voice.voiceId"), &voice.voice_id, 1, 100);
        check.range_f(&at("voice.speed"), voice.speed, 0.5, 2.0);

        let llm_in = self.llm.unwrap_or_default();
        let target = |field: String, input: LlmTargetInput, check: &mut Check| {
            if !KNOWN_PROVIDERS.contains(&input.provider.as_str()) {
                check.fail(
                    format!("{field}.provider"),
                    ErrorCode::UnknownProvider,
                    format!("must be one of {}", KNOWN_PROVIDERS.join(", ")),
                );
            }
            check.text(&format!("{field}.model"), &input.model, 1, 200);
            let base_url = input
                .base_url
                .or_else(|| default_base_url(&input.provider).map(str::to_owned));
            match &base_url {
                Some(url) => check.http_url(&format!("{field}.baseUrl"), url),
                None => check.fail(
                    format!("{field}.baseUrl"),
                    ErrorCode::Required,
                    "this provider needs a base URL",
                ),
            }
            LlmTarget {
                provider: input.provider,
                model: input.model,
                base_url: base_url.unwrap_or_default(),
            }
        };
        let primary_in = llm_in.primary.unwrap_or(LlmTargetInput {
            provider: "openai".into(),
            model: "gpt-4o-mini".into(),
            base_url: None,
        });
        let primary = target(at("llm.primary"), primary_in, &mut check);
        if llm_in.fallbacks.len() > 3 {
            check.fail(
                at("llm.fallbacks"),
                ErrorCode::TooMany,
                "at most 3 fallbacks",
            );
        }
        let fallbacks = llm_in
            .fallbacks
            .into_iter()
            .enumerate()
            .map(|(i, f)| target(at(&format!("llm.fallbacks[{i}]")), f, &mut check))
            .collect();
        let llm = LlmSettings {
            primary,
            fallbacks,
            temperature: llm_in.temperature.unwrap_or(0.7),
            max_tokens: llm_in.max_tokens.unwrap_or(400),
            apology_message: llm_in.apology_message.unwrap_or_else(default_apology),
        };
        check.text(
            &at("llm.apologyMessage"),
            llm.apology_message.trim(),
            1,
            500,
        );
        check.range_f(&at("llm.temperature"), llm.temperature, 0.0, 2.0);
        check.range_i(&at("llm.maxTokens"), llm.max_tokens, 1, 4096);

        if self.tools.len() > 32 {
            check.fail(at("tools"), ErrorCode::TooMany, "at most 32 tools");
        }
        let mut tools = Vec::with_capacity(self.tools.len());
        let mut keep_headers = Vec::new();
        for (i, tool) in self.tools.into_iter().enumerate() {
            let field = at(&format!("tools[{i}]"));
            if tools.iter().any(|t: &Tool| t.name == tool.name) {
                check.fail(
                    format!("{field}.name"),
                    ErrorCode::Duplicate,
                    "tool names must be unique",
                );
            }
            let (tool, keep) = validate_tool(&mut check, &field, tool, seal);
            if keep {
                keep_headers.push(i);
            }
            tools.push(tool);
        }

        let end_in = self.end_call.unwrap_or_default();
        let end_call = EndCallRules {
            max_duration_secs: end_in.max_duration_secs.unwrap_or(1800),
            silence_timeout_secs: end_in.silence_timeout_secs.unwrap_or(30),
            end_phrases: end_in.end_phrases,
            silence_reprompt: end_in
                .silence_reprompt
                .unwrap_or_else(default_silence_reprompt),
        };
        check.text(
            &at("endCall.silenceReprompt"),
            end_call.silence_reprompt.trim(),
            1,
            500,
        );
        check.range_i(
            &at("endCall.maxDurationSecs"),
            end_call.max_duration_secs,
            1,
            14_400,
        );
        check.range_i(
            &at("endCall.silenceTimeoutSecs"),
            end_call.silence_timeout_secs,
            5,
            600,
        );
        if end_call.end_phrases.len() > 20 {
            check.fail(
                at("endCall.endPhrases"),
                ErrorCode::TooMany,
                "at most 20 end phrases",
            );
        }
        for (i, phrase) in end_call.end_phrases.iter().enumerate() {
            check.text(
                &at(&format!("endCall.endPhrases[{i}]")),
                phrase.trim(),
                1,
                100,
            );
        }

        let int_in = self.interruption.unwrap_or_default();
        let interruption = InterruptionSettings {
            enabled: int_in.enabled.unwrap_or(true),
            min_words: int_in.min_words.unwrap_or(1),
            min_duration_ms: int_in.min_duration_ms.unwrap_or(300),
        };
        check.range_i(&at("interruption.minWords"), interruption.min_words, 0, 10);
        check.range_i(
            &at("interruption.minDurationMs"),
            interruption.min_duration_ms,
            0,
            5000,
        );

        let td_in = self.turn_detection.unwrap_or_default();
        let turn_detection = TurnDetection {
            threshold: td_in.threshold.unwrap_or(0.5),
            prefix_padding_ms: td_in.prefix_padding_ms.unwrap_or(300),
            silence_duration_ms: td_in.silence_duration_ms.unwrap_or(500),
        };
        check.range_f(
            &at("turnDetection.threshold"),
            turn_detection.threshold,
            0.1,
            0.99,
        );
        check.range_i(
            &at("turnDetection.prefixPaddingMs"),
            turn_detection.prefix_padding_ms,
            0,
            2000,
        );
        check.range_i(
            &at("turnDetection.silenceDurationMs"),
            turn_detection.silence_duration_ms,
            100,
            5000,
        );

        if !check.errors.is_empty() {
            return Err(InvalidInput(check.errors));
        }
        let config = AgentConfig {
            system_prompt: self.system_prompt,
            first_message: self.first_message,
            language,
            voice,
            llm,
            tools,
            end_call: EndCallRules {
                end_phrases: end_call
                    .end_phrases
                    .into_iter()
                    .map(|p| p.trim().to_string())
                    .collect(),
                ..end_call
            },
            interruption,
            turn_detection,
            voicemail,
            voicemail_message: self.voicemail_message,
            analysis,
            record_calls: self.record_calls.unwrap_or(true),
        };
        Ok(ConfigDraft {
            config,
            keep_headers,
        })
    }

    /// [`Self::into_draft`] for a new agent, in tests (header values are "sealed" as they are).
    #[cfg(test)]
    pub fn into_config(self, prefix: &str) -> Result<AgentConfig, InvalidInput> {
        Ok(self
            .into_draft(prefix, &|_, value| value.to_owned())?
            .complete(None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal() -> AgentConfigInput {
        AgentConfigInput {
            system_prompt: "You are helpful.".into(),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_fill_a_minimal_input() {
        let config = minimal().into_config("config").unwrap();
        assert_eq!(config.language, "en");
        assert_eq!(config.llm.primary.base_url, "https://api.openai.com/v1");
        assert_eq!(config.turn_detection.silence_duration_ms, 500);
        assert!(config.interruption.enabled);
    }

    #[test]
    fn every_problem_is_reported_with_its_field() {
        let mut input = minimal();
        input.system_prompt = String::new();
        input.llm = Some(LlmSettingsInput {
            temperature: Some(3.0),
            ..Default::default()
        });
        input.tools = vec![
            ToolInput {
                kind: ToolKind::Webhook,
                name: "lookup order".into(),
                description: String::new(),
                parameters: Some(Json(serde_json::json!({ "type": "not-a-type" }))),
                url: Some("ftp://x".into()),
                method: None,
                timeout_ms: Some(10),
                destinations: vec![],
                headers: Some(vec![ToolHeaderInput {
                    name: "Host".into(),
                    value: "evil".into(),
                }]),
            },
            ToolInput {
                kind: ToolKind::TransferCall,
                name: "transfer".into(),
                description: String::new(),
                parameters: None,
                url: None,
                method: None,
                timeout_ms: None,
                destinations: vec![TransferDestinationInput {
                    name: "sales".into(),
                    phone_number: "555-1234".into(),
                }],
                headers: None,
            },
        ];
        let err = input.into_config("input.config").unwrap_err();
        let fields: Vec<(&str, ErrorCode)> =
            err.0.iter().map(|f| (f.field.as_str(), f.code)).collect();
        for expected in [
            ("input.config.systemPrompt", ErrorCode::Required),
            ("input.config.llm.temperature", ErrorCode::OutOfRange),
            ("input.config.tools[0].name", ErrorCode::InvalidName),
            ("input.config.tools[0].url", ErrorCode::InvalidUrl),
            (
                "input.config.tools[0].parameters",
                ErrorCode::InvalidJsonSchema,
            ),
            ("input.config.tools[0].timeoutMs", ErrorCode::OutOfRange),
            (
                "input.config.tools[0].headers[0].name",
                ErrorCode::InvalidName,
            ),
            (
                "input.config.tools[1].destinations[0].phoneNumber",
                ErrorCode::InvalidPhoneNumber,
            ),
        ] {
            assert!(
                fields.contains(&expected),
                "{expected:?} missing from {fields:?}"
            );
        }
    }
}
