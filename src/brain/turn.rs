//! One reply, start to finish: request rounds, tool execution, failover outcome, usage.
//!
//! This is the body of the task behind a [`Reply`](super::Reply) stream. Each round sends the
//! trimmed conversation to the provider chain; tool calls are executed and fed back until the model
//! answers in words, the round limit is reached, or it takes a call-control action.

use std::sync::Arc;

use serde_json::Value;
use tokio::sync::mpsc::UnboundedSender;

use super::chain::{Breakers, RoundOutcome, run_round};
use super::chunk::Response;
use super::client::{Http, Request};
use super::config::AgentSpec;
use super::conversation::{Conversation, Turn, estimate_tokens};
use super::error::BrainError;
use super::events::{BrainEvent, Finish, ReplySummary};
use super::webhook::{CallAction, execute};

/// State shared by every reply of a [`Brain`](super::Brain).
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) http: Http,
    pub(crate) breakers: Breakers,
}

/// Where a reply's events go.
///
/// Unbounded on purpose: a reply is a few hundred small events at most, and a bounded channel
/// would stall reading the provider whenever TTS is slower than the model.
#[derive(Debug, Clone)]
pub(crate) struct Emitter(pub(crate) UnboundedSender<BrainEvent>);

impl Emitter {
    pub(crate) fn send(&self, event: BrainEvent) {
        // The receiver is gone only when the reply was dropped, and then this task is being
        // aborted; there is nobody left to tell.
        let _ = self.0.send(event);
    }

    pub(crate) fn failed(&self, provider: &str, error: BrainError, mid_stream: bool) {
        self.send(BrainEvent::ProviderFailed {
            provider: provider.to_owned(),
            error,
            mid_stream,
        });
    }
}

/// Token usage summed over a reply's requests.
#[derive(Debug, Default)]
struct Tally {
    prompt: u32,
    completion: u32,
    estimated: bool,
    answered: bool,
}

impl Tally {
    /// Adds a response's usage, estimating what the provider did not report.
    fn add(
        &mut self,
        reported: Option<(u32, u32)>,
        messages: &[Value],
        agent: &AgentSpec,
        output: &Response,
    ) {
        self.answered = true;
        let (prompt, completion) = reported.unwrap_or_else(|| {
            self.estimated = true;
            let calls: usize = output
                .tool_calls
                .iter()
                .map(|c| estimate_tokens(&c.name) + estimate_tokens(&c.arguments))
                .sum();
            (
                estimate_prompt(messages, agent),
                saturate(estimate_tokens(&output.text) + calls),
            )
        });
        self.prompt = self.prompt.saturating_add(prompt);
        self.completion = self.completion.saturating_add(completion);
    }
}

fn estimate_prompt(messages: &[Value], agent: &AgentSpec) -> u32 {
    let text: usize = messages
        .iter()
        .map(|m| estimate_tokens(&m.to_string()))
        .sum();
    saturate(text + agent.tools().definition_tokens())
}

fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Produces one reply to `conversation`, sending every event to `emit`; `Done` comes last.
pub(crate) async fn drive(
    shared: Arc<Shared>,
    agent: Arc<AgentSpec>,
    mut conversation: Conversation,
    emit: Emitter,
) {
    // Synthesised tool-call ids must not repeat across the replies of one conversation.
    let reply_id = crate::db::new_id();
    let budget = agent
        .context_tokens()
        .saturating_sub(agent.tools().definition_tokens());
    let mut turns = Vec::new();
    let mut tally = Tally::default();
    let mut provider = None;
    let mut action: Option<CallAction> = None;
    let mut spoke = false;
    let mut round = 0u32;
    let mut finish = loop {
        let messages = conversation.messages_within(budget);
        let request = Request {
            messages: &messages,
            tools: agent.tools().definitions(),
            words_only: action.is_some() || round >= agent.max_tool_rounds(),
            max_stream_bytes: agent.limits().max_stream_bytes,
        };
        let id_prefix = format!("{reply_id}_{round}");
        let response = match run_round(
            &shared.http,
            &shared.breakers,
            &agent,
            request,
            &id_prefix,
            &emit,
        )
        .await
        {
            RoundOutcome::Answered {
                provider: p,
                response,
            } => {
                provider = Some(p);
                response
            }
            RoundOutcome::BrokeMidStream { provider: p, text } => {
                provider = Some(p);
                let partial = Response {
                    text,
                    ..Response::default()
                };
                tally.add(None, &messages, &agent, &partial);
                turns.push(Turn::Assistant(partial.text));
                break Finish::ProviderFailed;
            }
            // A chosen action still happens; an apology right before hanging up would only confuse.
            RoundOutcome::AllFailed if action.is_some() => break Finish::Stop,
            RoundOutcome::AllFailed => {
                emit.send(BrainEvent::Apology(agent.apology().to_owned()));
                turns.push(Turn::Assistant(agent.apology().to_owned()));
                break Finish::AllProvidersFailed;
            }
        };
        tally.add(response.usage, &messages, &agent, &response);
        spoke |= !response.text.trim().is_empty();

        if response.tool_calls.is_empty() || request.words_only {
            if !response.text.is_empty() {
                turns.push(Turn::Assistant(response.text));
            }
            // A model that calls tools although told not to is out of rounds; its calls are dropped.
            break if !response.tool_calls.is_empty() && action.is_none() {
                Finish::ToolRoundsExhausted
            } else if response.finish_reason.as_deref() == Some("length") {
                Finish::Length
            } else {
                Finish::Stop
            };
        }

        let said_something = !response.text.trim().is_empty();
        let executed = execute(&shared.http, agent.tools(), response.tool_calls, &emit).await;
        let turn = Turn::ToolRound {
            text: response.text,
            calls: executed.exchanges,
        };
        conversation.push(turn.clone());
        turns.push(turn);
        round += 1;
        if let Some(chosen) = executed.action {
            action = Some(chosen);
            // A model that said its goodbye along with the call is done. One that only called the
            // tool gets one words-only request, so the caller hears something before the line goes.
            if said_something {
                break Finish::Stop;
            }
        }
    };

    if finish == Finish::ToolRoundsExhausted && !spoke {
        emit.send(BrainEvent::Apology(agent.apology().to_owned()));
        turns.push(Turn::Assistant(agent.apology().to_owned()));
    }
    match action {
        Some(CallAction::EndCall { reason }) => {
            emit.send(BrainEvent::EndCall { reason });
            finish = Finish::EndCall;
        }
        Some(CallAction::TransferCall { to, reason }) => {
            emit.send(BrainEvent::TransferCall { to, reason });
            finish = Finish::TransferCall;
        }
        None => {}
    }
    if tally.answered {
        emit.send(BrainEvent::Usage {
            prompt_tokens: tally.prompt,
            completion_tokens: tally.completion,
            estimated: tally.estimated,
        });
    }
    emit.send(BrainEvent::Done(ReplySummary {
        turns,
        finish,
        provider,
    }));
}
