//! Chat Completions stream chunks and the accumulator that rebuilds one response from them.
//!
//! Providers agree on the shape only loosely: tool calls arrive as index-addressed fragments
//! (OpenAI, vLLM) or whole (some Ollama versions), `index` is sometimes missing, `arguments` is
//! sometimes an object instead of a string, Groq puts usage under `x_groq`. The accumulator accepts
//! all of these.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::error::BrainError;

/// One `data:` payload of the stream.
#[derive(Debug, Deserialize)]
pub(crate) struct Chunk {
    #[serde(default)]
    choices: Vec<Choice>,
    usage: Option<WireUsage>,
    x_groq: Option<XGroq>,
    error: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct Choice {
    #[serde(default)]
    index: u32,
    delta: Option<Delta>,
    finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Delta {
    content: Option<String>,
    tool_calls: Option<Vec<ToolCallDelta>>,
}

#[derive(Debug, Deserialize)]
struct ToolCallDelta {
    index: Option<usize>,
    id: Option<String>,
    function: Option<FunctionDelta>,
}

#[derive(Debug, Deserialize)]
struct FunctionDelta {
    name: Option<String>,
    arguments: Option<Value>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u32,
    #[serde(default)]
    completion_tokens: u32,
}

#[derive(Debug, Deserialize)]
struct XGroq {
    usage: Option<WireUsage>,
}

/// A tool call whose arguments are complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawToolCall {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) arguments: String,
}

/// Token counts reported by the provider: (prompt, completion).
pub(crate) type ReportedUsage = (u32, u32);

/// Everything one streamed response said.
#[derive(Debug, Default)]
pub(crate) struct Response {
    pub(crate) text: String,
    pub(crate) tool_calls: Vec<RawToolCall>,
    pub(crate) finish_reason: Option<String>,
    pub(crate) usage: Option<ReportedUsage>,
}

/// Why a response was cut off before the provider finished it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cut {
    /// Over the byte limits (reply or stream).
    TooLarge,
    /// A tool call past the limit started.
    TooManyToolCalls,
}

#[derive(Debug, Default)]
struct PartialCall {
    id: Option<String>,
    name: String,
    arguments: String,
}

/// Rebuilds a response from chunks, handing out text as soon as it arrives.
#[derive(Debug, Default)]
pub(crate) struct Accumulator {
    text: String,
    calls: BTreeMap<usize, PartialCall>,
    finish_reason: Option<String>,
    usage: Option<ReportedUsage>,
    has_output: bool,
}

impl Accumulator {
    /// Parses one event's data and applies it; returns new reply text, if any.
    pub(crate) fn apply_data(&mut self, data: &str) -> Result<Option<String>, BrainError> {
        let chunk: Chunk = serde_json::from_str(data).map_err(|e| {
            BrainError::Protocol(format!("bad chunk ({e}): {}", shorten(data, 200)))
        })?;
        self.apply(chunk)
    }

    pub(crate) fn apply(&mut self, chunk: Chunk) -> Result<Option<String>, BrainError> {
        if let Some(error) = chunk.error {
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .map_or_else(|| error.to_string(), str::to_owned);
            return Err(BrainError::Provider(shorten(&message, 500)));
        }
        if let Some(usage) = chunk.usage.or(chunk.x_groq.and_then(|x| x.usage)) {
            self.usage = Some((usage.prompt_tokens, usage.completion_tokens));
        }
        let mut new_text: Option<String> = None;
        // Only the first choice matters: the brain never asks for n > 1.
        for choice in chunk.choices.into_iter().filter(|c| c.index == 0) {
            if let Some(reason) = choice.finish_reason {
                self.finish_reason = Some(reason);
            }
            let Some(delta) = choice.delta else { continue };
            if let Some(content) = delta.content.filter(|c| !c.is_empty()) {
                self.text.push_str(&content);
                self.has_output = true;
                match &mut new_text {
                    Some(text) => text.push_str(&content),
                    None => new_text = Some(content),
                }
            }
            for (position, call) in delta.tool_calls.into_iter().flatten().enumerate() {
                self.has_output = true;
                let slot = self
                    .calls
                    .entry(call.index.unwrap_or(position))
                    .or_default();
                if let Some(id) = call.id.filter(|id| !id.is_empty()) {
                    slot.id.get_or_insert(id);
                }
                let Some(function) = call.function else {
                    continue;
                };
                // OpenAI sends the name once, in the first fragment; servers that repeat it must
                // not get it doubled.
                if let Some(name) = function.name.filter(|n| !n.is_empty())
                    && slot.name.is_empty()
                {
                    slot.name = name;
                }
                match function.arguments {
                    Some(Value::String(fragment)) => slot.arguments.push_str(&fragment),
                    Some(Value::Null) | None => {}
                    Some(whole) => slot.arguments = whole.to_string(),
                }
            }
        }
        Ok(new_text)
    }

    /// Whether any text or tool-call fragment has arrived: the "first token".
    pub(crate) fn has_output(&self) -> bool {
        self.has_output
    }

    /// Whether the response so far is over `limits` (checked after each chunk).
    pub(crate) fn over(&self, limits: &super::config::ReplyLimits) -> Option<Cut> {
        if self.calls.len() > limits.max_tool_calls {
            return Some(Cut::TooManyToolCalls);
        }
        let calls: usize = self
            .calls
            .values()
            .map(|c| c.name.len() + c.arguments.len())
            .sum();
        (self.text.len() + calls > limits.max_bytes).then_some(Cut::TooLarge)
    }

    /// The response as far as it got when it was cut: too large keeps the text and drops the tool calls,
    /// whose arguments may be unfinished; too many tool calls keeps the text and the first `max_tool_calls`.
    pub(crate) fn finish_cut(
        mut self,
        id_prefix: &str,
        cut: Cut,
        max_tool_calls: usize,
    ) -> Response {
        match cut {
            Cut::TooLarge => {
                self.calls.clear();
                self.finish_reason = Some("length".into());
            }
            Cut::TooManyToolCalls => {
                let keep: Vec<usize> = self.calls.keys().copied().take(max_tool_calls).collect();
                self.calls.retain(|index, _| keep.contains(index));
                self.finish_reason = Some("tool_calls".into());
            }
        }
        self.finish(id_prefix)
    }

    /// Whether the provider said why it stopped, i.e. the response is complete.
    pub(crate) fn is_finished(&self) -> bool {
        self.finish_reason.is_some()
    }

    /// The whole response. Calls without an id get `call_<id_prefix>_<index>` so results can be
    /// linked to them; calls without a name are dropped (nothing could execute them).
    pub(crate) fn finish(self, id_prefix: &str) -> Response {
        let tool_calls = self
            .calls
            .into_iter()
            .filter(|(_, c)| !c.name.is_empty())
            .map(|(index, c)| RawToolCall {
                id: c.id.unwrap_or_else(|| format!("call_{id_prefix}_{index}")),
                name: c.name,
                arguments: c.arguments,
            })
            .collect();
        Response {
            text: self.text,
            tool_calls,
            finish_reason: self.finish_reason,
            usage: self.usage,
        }
    }
}

/// At most `max` bytes of `text`, cut on a character boundary.
pub(crate) fn shorten(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(acc: &mut Accumulator, data: &str) -> Option<String> {
        acc.apply_data(data).expect("valid chunk")
    }

    #[test]
    fn text_usage_and_finish() {
        let mut acc = Accumulator::default();
        assert_eq!(
            feed(
                &mut acc,
                r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#
            ),
            None
        );
        assert!(
            !acc.has_output(),
            "an empty role chunk is not a first token"
        );
        assert_eq!(
            feed(
                &mut acc,
                r#"{"choices":[{"index":0,"delta":{"content":"Hel"}}]}"#
            )
            .as_deref(),
            Some("Hel")
        );
        feed(
            &mut acc,
            r#"{"choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":null}]}"#,
        );
        feed(
            &mut acc,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
        );
        feed(
            &mut acc,
            r#"{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":2,"total_tokens":14}}"#,
        );
        assert!(acc.is_finished());
        let r = acc.finish("r0");
        assert_eq!(r.text, "Hello");
        assert_eq!(r.finish_reason.as_deref(), Some("stop"));
        assert_eq!(r.usage, Some((12, 2)));
    }

    #[test]
    fn tool_call_fragments_by_index() {
        let mut acc = Accumulator::default();
        for data in [
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"get_weather","arguments":""}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"end_call","arguments":""}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"ci"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"ty\":\"Oslo\"}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
        ] {
            assert_eq!(feed(&mut acc, data), None);
        }
        assert!(acc.has_output());
        let r = acc.finish("r0");
        assert_eq!(
            r.tool_calls,
            [
                RawToolCall {
                    id: "call_a".into(),
                    name: "get_weather".into(),
                    arguments: r#"{"city":"Oslo"}"#.into()
                },
                RawToolCall {
                    id: "call_b".into(),
                    name: "end_call".into(),
                    arguments: "{}".into()
                },
            ]
        );
    }

    #[test]
    fn whole_tool_calls_without_index_or_id() {
        let mut acc = Accumulator::default();
        feed(
            &mut acc,
            r#"{"choices":[{"delta":{"tool_calls":[{"function":{"name":"a","arguments":{"x":1}}},{"function":{"name":"b","arguments":"{}"}}]}}],"x_groq":{"usage":{"prompt_tokens":5,"completion_tokens":7}}}"#,
        );
        let r = acc.finish("r2");
        assert_eq!(r.tool_calls[0].id, "call_r2_0");
        assert_eq!(r.tool_calls[0].arguments, r#"{"x":1}"#);
        assert_eq!(r.tool_calls[1].name, "b");
        assert_eq!(r.usage, Some((5, 7)));
    }

    #[test]
    fn errors_in_the_stream() {
        let mut acc = Accumulator::default();
        assert!(matches!(
            acc.apply_data(r#"{"error":{"message":"overloaded","type":"server_error"}}"#),
            Err(BrainError::Provider(m)) if m == "overloaded"
        ));
        assert!(matches!(
            acc.apply_data("not json"),
            Err(BrainError::Protocol(_))
        ));
    }

    #[test]
    fn shorten_respects_char_boundaries() {
        assert_eq!(shorten("h\u{e9}llo", 2), "h…");
        assert_eq!(shorten("abc", 3), "abc");
    }
}
