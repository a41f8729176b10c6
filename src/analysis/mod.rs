//! Post-call analysis: once an answered call ends, the agent's own LLM (its provider chain, the tenant's keys,
//! through [`crate::brain`]) reads the transcript and returns a summary, a success evaluation against the agent's
//! success criteria, the caller's sentiment, and data extracted into the agent's JSON Schema.
//!
//! The job's state is the call's row in `call_analyses`, written in the transaction that ends the call, so
//! nothing is lost to a restart; `region.db`'s `analysis_queue` names tenants with work (see [`AnalysisQueue`]).
//! The [`Analyst`] runs due jobs: a model that does not answer is retried with backoff; an answer that does not
//! match the schema gets one retry with the validation errors, then the analysis is stored as failed. Results go
//! on the call (`Call.analysis`), out as a `call.analyzed` webhook, and the tokens into usage like any LLM call.
//!
//! This file is the pure part: the prompt, the schema an answer must match, reading an answer.

mod queue;
mod worker;

pub use queue::AnalysisQueue;
pub use worker::{Analyst, AnalystParts};

use serde_json::{Value, json};

use crate::model::agent::AnalysisSettings;
use crate::model::analysis::Sentiment;
use crate::model::{Speaker, Variables};
use crate::repo::calls::{CallRow, SegmentRow};

/// What a valid answer holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Findings {
    pub summary: String,
    /// `None` when the agent has no success criteria.
    pub success: Option<bool>,
    pub success_reason: Option<String>,
    pub sentiment: Sentiment,
    /// `None` when the agent has no extraction schema.
    pub extraction: Option<Value>,
}

/// The system prompt: what to judge and the one JSON object to answer with.
pub fn instructions(settings: &AnalysisSettings) -> String {
    let mut text = String::from(
        "You analyse a finished phone call between a voice agent and a caller. Answer with one JSON object and \
         nothing else (no prose, no code fence). Its keys:\n\
         - \"summary\": what happened on the call, in 1 to 4 sentences;\n\
         - \"sentiment\": the caller's overall sentiment, one of \"positive\", \"neutral\", \"negative\";\n",
    );
    if let Some(criteria) = &settings.success_criteria {
        text.push_str(&format!(
            "- \"success\": true if the call met the success criteria below, otherwise false;\n\
             - \"successReason\": one sentence saying why.\n\
             Success criteria: {}\n",
            criteria.trim()
        ));
    }
    if let Some(schema) = &settings.extraction_schema {
        text.push_str(&format!(
            "- \"extraction\": the data asked for, as an object matching this JSON Schema (leave out what the \
             call did not say, unless the schema requires it):\n{}\n",
            schema.0
        ));
    }
    text
}

/// The user message: the call's facts and its final transcript.
pub fn transcript(call: &CallRow, variables: &Variables, segments: &[SegmentRow]) -> String {
    let mut text = format!(
        "Call {} ({}), ended: {}.\n",
        call.id,
        call.direction.as_str(),
        call.ended_reason.as_deref().unwrap_or("unknown")
    );
    if !variables.is_empty() {
        text.push_str(&format!("Call variables: {}\n", variables.to_json()));
    }
    text.push_str("Transcript:\n");
    let lines = segments
        .iter()
        .filter(|s| s.is_final && !s.text.trim().is_empty());
    let mut any = false;
    for segment in lines {
        any = true;
        let who = match segment.speaker {
            Speaker::Caller => "Caller",
            Speaker::Agent => "Agent",
        };
        let secs = segment.start_ms / 1000;
        text.push_str(&format!(
            "[{:02}:{:02}] {who}: {}\n",
            secs / 60,
            secs % 60,
            segment.text.trim()
        ));
    }
    if !any {
        text.push_str("(nobody said anything)\n");
    }
    text
}

/// The JSON Schema of a complete answer for these settings (the agent's extraction schema nested in it).
pub fn answer_schema(settings: &AnalysisSettings) -> Value {
    let mut required = vec!["summary", "sentiment"];
    let mut properties = json!({
        "summary": { "type": "string", "minLength": 1 },
        "sentiment": { "enum": Sentiment::ALL.map(Sentiment::as_str) },
    });
    if settings.success_criteria.is_some() {
        required.extend(["success", "successReason"]);
        properties["success"] = json!({ "type": "boolean" });
        properties["successReason"] = json!({ "type": "string" });
    }
    if let Some(schema) = &settings.extraction_schema {
        required.push("extraction");
        properties["extraction"] = schema.0.clone();
    }
    json!({ "type": "object", "required": required, "properties": properties })
}

/// Why a model's answer cannot be used, in words the model can act on (it is told this and asked again).
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    #[error("the answer holds no JSON object")]
    NoObject,
    #[error("the answer is not valid JSON ({0})")]
    NotJson(#[from] serde_json::Error),
    /// The first few problems, each as `path: what`.
    #[error("the answer does not match the schema: {}", .0.join("; "))]
    Schema(Vec<String>),
}

/// Reads a model's answer: the JSON object in it, checked against `validator` (built from [`answer_schema`]).
pub fn read_answer(text: &str, validator: &jsonschema::Validator) -> Result<Findings, AnswerError> {
    // Models often wrap JSON in a code fence or a sentence despite being asked not to; the object is what counts.
    let body = match (text.find('{'), text.rfind('}')) {
        (Some(start), Some(end)) if start < end => &text[start..=end],
        _ => return Err(AnswerError::NoObject),
    };
    let value: Value = serde_json::from_str(body)?;
    let problems: Vec<String> = validator
        .iter_errors(&value)
        .take(5)
        .map(|e| {
            let path = e.instance_path().as_str();
            let path = if path.is_empty() { "(root)" } else { path };
            format!("{path}: {e}")
        })
        .collect();
    if !problems.is_empty() {
        return Err(AnswerError::Schema(problems));
    }
    let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
    Ok(Findings {
        summary: text("summary").unwrap_or_default(),
        success: value.get("success").and_then(Value::as_bool),
        success_reason: text("successReason"),
        sentiment: text("sentiment")
            .and_then(|s| Sentiment::parse(&s))
            .unwrap_or(Sentiment::Neutral),
        extraction: value.get("extraction").cloned(),
    })
}

#[cfg(test)]
mod tests {
    use async_graphql::Json;

    use super::*;

    fn settings() -> AnalysisSettings {
        AnalysisSettings {
            enabled: true,
            success_criteria: Some("An appointment was booked.".into()),
            extraction_schema: Some(Json(json!({
                "type": "object",
                "required": ["name"],
                "properties": { "name": { "type": "string" }, "appointment_time": { "type": "string" } },
            }))),
        }
    }

    fn validator() -> jsonschema::Validator {
        jsonschema::validator_for(&answer_schema(&settings())).unwrap()
    }

    #[test]
    fn a_fenced_answer_matching_the_schema_is_read() {
        let answer = "```json\n{\"summary\": \"Booked.\", \"sentiment\": \"positive\", \"success\": true, \
                      \"successReason\": \"A time was agreed.\", \"extraction\": {\"name\": \"Ann\"}}\n```";
        let findings = read_answer(answer, &validator()).unwrap();
        assert_eq!(findings.summary, "Booked.");
        assert_eq!(findings.success, Some(true));
        assert_eq!(findings.sentiment, Sentiment::Positive);
        assert_eq!(findings.extraction, Some(json!({"name": "Ann"})));
    }

    #[test]
    fn answers_that_do_not_match_say_why() {
        let v = validator();
        assert!(
            read_answer("no idea", &v)
                .unwrap_err()
                .to_string()
                .contains("no JSON object")
        );
        assert!(
            read_answer("{not json}", &v)
                .unwrap_err()
                .to_string()
                .contains("not valid JSON")
        );
        let missing_name = r#"{"summary": "x", "sentiment": "happy", "success": true, "successReason": "y",
                               "extraction": {}}"#;
        let why = read_answer(missing_name, &v).unwrap_err().to_string();
        assert!(why.contains("/extraction") && why.contains("name"), "{why}");
        assert!(why.contains("/sentiment"), "{why}");
    }

    #[test]
    fn without_criteria_or_schema_only_summary_and_sentiment_are_asked() {
        let plain = AnalysisSettings {
            enabled: true,
            ..AnalysisSettings::default()
        };
        let prompt = instructions(&plain);
        assert!(!prompt.contains("successReason") && !prompt.contains("extraction"));
        let v = jsonschema::validator_for(&answer_schema(&plain)).unwrap();
        let findings = read_answer(r#"{"summary": "Hi.", "sentiment": "neutral"}"#, &v).unwrap();
        assert_eq!((findings.success, findings.extraction), (None, None));
    }
}
