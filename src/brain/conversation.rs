//! The conversation so far, and how it is cut to a token budget before each request.
//!
//! Long calls outgrow any model's context, and every prompt token costs latency and money. Instead of
//! letting the provider reject the request, the oldest whole turns are dropped; the system prompt and
//! the turn being answered always stay, and a tool call never loses its result (providers reject
//! either half alone).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Estimated fixed cost of one chat message (role and framing) in tokens.
const MESSAGE_OVERHEAD: usize = 4;

/// Turns a conversation keeps, and their estimated tokens: far more than any prompt budget sends, so
/// dropping the oldest beyond them changes no request, and a call that goes on for hours (or a client
/// that keeps typing) holds bounded memory.
const MAX_TURNS: usize = 500;
const MAX_KEPT_TOKENS: usize = 200_000;

/// A cheap token estimate: one token per four bytes of UTF-8, rounded up.
///
/// Providers use different tokenizers, so an exact count for one would still be wrong for the next;
/// bytes/4 is close for English and errs high for most accented text. Budgets should keep a margin.
pub fn estimate_tokens(text: &str) -> usize {
    text.len().div_ceil(4)
}

/// One tool call the model made and the result it was given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolExchange {
    /// The call id chosen by the provider, which links the result to the call.
    pub id: String,
    /// The tool name.
    pub name: String,
    /// The arguments exactly as the model wrote them (JSON text).
    pub arguments: String,
    /// What the model is told: the webhook's response, or an error text.
    pub result: String,
}

/// One step of the conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Turn {
    /// What the caller said (the transcript of one caller turn).
    User(String),
    /// What the agent said; after a barge-in, only the part that was actually spoken.
    Assistant(String),
    /// An assistant message that called tools, with every call's result. One unit, so trimming keeps
    /// calls and results together.
    ToolRound {
        /// Text the model said along with the calls (often empty).
        text: String,
        /// The calls, in the model's order, each with its result.
        calls: Vec<ToolExchange>,
    },
}

impl Turn {
    /// This turn as Chat Completions messages.
    fn messages(&self) -> Vec<Value> {
        match self {
            Turn::User(text) => vec![json!({"role": "user", "content": text})],
            Turn::Assistant(text) => vec![json!({"role": "assistant", "content": text})],
            Turn::ToolRound { text, calls } => {
                let tool_calls: Vec<Value> = calls
                    .iter()
                    .map(|c| {
                        json!({
                            "id": c.id,
                            "type": "function",
                            "function": {"name": c.name, "arguments": c.arguments}
                        })
                    })
                    .collect();
                let content = if text.is_empty() {
                    Value::Null
                } else {
                    json!(text)
                };
                let mut out = vec![
                    json!({"role": "assistant", "content": content, "tool_calls": tool_calls}),
                ];
                out.extend(
                    calls.iter().map(
                        |c| json!({"role": "tool", "tool_call_id": c.id, "content": c.result}),
                    ),
                );
                out
            }
        }
    }

    /// Estimated prompt tokens of this turn.
    pub fn estimated_tokens(&self) -> usize {
        match self {
            Turn::User(text) | Turn::Assistant(text) => estimate_tokens(text) + MESSAGE_OVERHEAD,
            Turn::ToolRound { text, calls } => {
                let calls: usize = calls
                    .iter()
                    .map(|c| {
                        estimate_tokens(&c.id)
                            + estimate_tokens(&c.name)
                            + estimate_tokens(&c.arguments)
                            + estimate_tokens(&c.result)
                            + 2 * MESSAGE_OVERHEAD
                    })
                    .sum();
                estimate_tokens(text) + MESSAGE_OVERHEAD + calls
            }
        }
    }
}

/// The system prompt plus everything said so far in one call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    system_prompt: String,
    first_message: Option<String>,
    turns: Vec<Turn>,
}

impl Conversation {
    /// An empty conversation under `system_prompt`.
    pub fn new(system_prompt: impl Into<String>) -> Self {
        Self {
            system_prompt: system_prompt.into(),
            first_message: None,
            turns: Vec::new(),
        }
    }

    /// A conversation that starts with the agent's greeting, which the pipeline speaks itself when
    /// the call connects; it is recorded as the first assistant turn so the model knows it was said.
    pub fn with_first_message(
        system_prompt: impl Into<String>,
        first_message: impl Into<String>,
    ) -> Self {
        let first = first_message.into();
        let mut conversation = Self::new(system_prompt);
        conversation.turns.push(Turn::Assistant(first.clone()));
        conversation.first_message = Some(first);
        conversation
    }

    /// The system prompt.
    pub fn system_prompt(&self) -> &str {
        &self.system_prompt
    }

    /// The greeting, if the agent speaks first.
    pub fn first_message(&self) -> Option<&str> {
        self.first_message.as_deref()
    }

    /// All turns, oldest first.
    pub fn turns(&self) -> &[Turn] {
        &self.turns
    }

    /// Appends a turn.
    pub fn push(&mut self, turn: Turn) {
        self.turns.push(turn);
        self.bound();
    }

    /// Appends what the caller said.
    pub fn push_user(&mut self, text: impl Into<String>) {
        self.push(Turn::User(text.into()));
    }

    /// Appends what the agent said.
    pub fn push_assistant(&mut self, text: impl Into<String>) {
        self.push(Turn::Assistant(text.into()));
    }

    /// Drops the oldest turns beyond [`MAX_TURNS`] and [`MAX_KEPT_TOKENS`]; the newest turn always stays.
    fn bound(&mut self) {
        let excess = self.turns.len().saturating_sub(MAX_TURNS);
        self.turns.drain(..excess);
        let mut kept: usize = self.turns.iter().map(Turn::estimated_tokens).sum();
        let mut drop = 0;
        while kept > MAX_KEPT_TOKENS && drop + 1 < self.turns.len() {
            kept -= self.turns[drop].estimated_tokens();
            drop += 1;
        }
        self.turns.drain(..drop);
    }

    /// Replaces the agent's latest words `said` with `heard` (what the caller heard of them; empty drops the
    /// turn). Returns whether they were found.
    pub fn correct_assistant(&mut self, said: &str, heard: &str) -> bool {
        let Some(index) = self
            .turns
            .iter()
            .rposition(|t| matches!(t, Turn::Assistant(text) if text == said))
        else {
            return false;
        };
        if heard.is_empty() {
            self.turns.remove(index);
        } else {
            self.turns[index] = Turn::Assistant(heard.to_string());
        }
        true
    }

    /// Appends the turns a reply produced (see [`ReplySummary::turns`](super::ReplySummary::turns)).
    pub fn extend(&mut self, turns: impl IntoIterator<Item = Turn>) {
        self.turns.extend(turns);
        self.bound();
    }

    /// The request's messages: the system prompt, then the newest whole turns whose estimated size
    /// fits `budget` tokens together with it.
    ///
    /// Everything from the latest user turn on (the question and any tool rounds already spent on
    /// it) is always sent, even over budget, because the reply would be meaningless without it.
    /// Older turns are dropped oldest first and only whole, so a tool call keeps its result.
    pub fn messages_within(&self, budget: usize) -> Vec<Value> {
        let mut used = if self.system_prompt.is_empty() {
            0
        } else {
            estimate_tokens(&self.system_prompt) + MESSAGE_OVERHEAD
        };
        let mut start = self
            .turns
            .iter()
            .rposition(|t| matches!(t, Turn::User(_)))
            .unwrap_or(self.turns.len());
        used += self.turns[start..]
            .iter()
            .map(Turn::estimated_tokens)
            .sum::<usize>();
        while let Some(older) = start.checked_sub(1) {
            let cost = self.turns[older].estimated_tokens();
            if used + cost > budget {
                break;
            }
            used += cost;
            start = older;
        }
        let mut messages = Vec::new();
        if !self.system_prompt.is_empty() {
            messages.push(json!({"role": "system", "content": self.system_prompt}));
        }
        messages.extend(self.turns[start..].iter().flat_map(Turn::messages));
        messages
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(id: &str) -> Turn {
        Turn::ToolRound {
            text: String::new(),
            calls: vec![ToolExchange {
                id: id.into(),
                name: "lookup".into(),
                arguments: r#"{"q":"x"}"#.into(),
                result: "r".repeat(200),
            }],
        }
    }

    fn roles(messages: &[Value]) -> Vec<&str> {
        messages
            .iter()
            .map(|m| m["role"].as_str().unwrap_or("?"))
            .collect()
    }

    #[test]
    fn everything_fits_in_a_large_budget() {
        let mut c = Conversation::with_first_message("be brief", "Hi, how can I help?");
        c.push_user("weather?");
        c.push(round("call_1"));
        c.push_assistant("Sunny.");
        let m = c.messages_within(10_000);
        assert_eq!(
            roles(&m),
            [
                "system",
                "assistant",
                "user",
                "assistant",
                "tool",
                "assistant"
            ]
        );
        assert_eq!(m[4]["tool_call_id"], "call_1");
        assert_eq!(m[3]["tool_calls"][0]["function"]["name"], "lookup");
        assert_eq!(m[3]["content"], Value::Null);
    }

    #[test]
    fn trimming_keeps_system_prompt_latest_user_turn_and_pairs() {
        let mut c = Conversation::new("system prompt");
        c.push_user("old question");
        c.push(round("call_old"));
        c.push_assistant("old answer");
        c.push_user("new question");
        c.push(round("call_new"));
        let all = c.messages_within(usize::MAX);
        // Budget for everything but the first two turns' worth.
        let tail: usize = c.turns()[2..].iter().map(Turn::estimated_tokens).sum();
        let budget = estimate_tokens("system prompt") + MESSAGE_OVERHEAD + tail;
        let m = c.messages_within(budget);
        assert!(m.len() < all.len());
        assert_eq!(m[0]["role"], "system");
        assert_eq!(m[1]["content"], "old answer", "oldest turns dropped first");
        assert!(m.iter().all(|x| x["tool_call_id"] != "call_old"));
        // A tool message is always preceded by its call.
        for (i, msg) in m.iter().enumerate() {
            if msg["role"] == "tool" {
                assert!(
                    m[..i]
                        .iter()
                        .any(|p| p["tool_calls"][0]["id"] == msg["tool_call_id"])
                );
            }
        }
    }

    #[test]
    fn current_turn_survives_a_tiny_budget() {
        let mut c = Conversation::new("system prompt");
        c.push_user("old");
        c.push_assistant("old answer");
        c.push_user("the question being answered");
        c.push(round("call_now"));
        let m = c.messages_within(1);
        assert_eq!(roles(&m), ["system", "user", "assistant", "tool"]);
        assert_eq!(m[1]["content"], "the question being answered");
    }

    #[test]
    fn tool_round_is_never_split_from_its_result() {
        let mut c = Conversation::new("");
        c.push_user("q1");
        c.push(round("call_1"));
        c.push_user("q2");
        // Room for q2 plus a part of the tool round but not all of it.
        let budget = c.turns()[2].estimated_tokens() + c.turns()[1].estimated_tokens() - 1;
        let m = c.messages_within(budget);
        assert_eq!(roles(&m), ["user"]);
    }

    #[test]
    fn the_agents_latest_words_can_be_cut_to_what_was_heard() {
        let mut c = Conversation::new("");
        c.push_assistant("Hello there.");
        c.push_user("Hi");
        c.push_assistant("Hello there.");
        assert!(c.correct_assistant("Hello there.", "Hello"));
        assert_eq!(
            c.turns(),
            [
                Turn::Assistant("Hello there.".into()),
                Turn::User("Hi".into()),
                Turn::Assistant("Hello".into())
            ]
        );
        assert!(c.correct_assistant("Hello", ""), "nothing heard: no turn");
        assert_eq!(c.turns().len(), 2);
        assert!(!c.correct_assistant("never said", "x"));
    }

    #[test]
    fn token_estimate_rounds_up() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("abc"), 1);
        assert_eq!(estimate_tokens("abcde"), 2);
    }

    #[test]
    fn memory_is_bounded_oldest_first() {
        let mut c = Conversation::new("sys");
        for i in 0..2_000 {
            c.push_user(format!("question {i}"));
        }
        assert_eq!(c.turns().len(), MAX_TURNS);
        assert_eq!(c.turns().last(), Some(&Turn::User("question 1999".into())));
        let mut big = Conversation::new("sys");
        for _ in 0..100 {
            big.push_user("x".repeat(40_000));
        }
        let kept: usize = big.turns().iter().map(Turn::estimated_tokens).sum();
        assert!(kept <= MAX_KEPT_TOKENS && big.turns().len() == 19, "{kept}");
        let mut huge = Conversation::new("sys");
        huge.push_user("y".repeat(2_000_000));
        assert_eq!(huge.turns().len(), 1, "the newest turn always stays");
    }
}
