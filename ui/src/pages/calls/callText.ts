// How a call is described to a person: why it ended, who called, and what went wrong on its timeline.

import type { CallEvent, CallSummary } from "./queries";

/** `endedReason` codes (README "How calls end", plus `twilio_refused` from placeCall) in words. */
const ENDED_REASONS: Record<string, string> = {
  client_closed: "The caller hung up",
  caller_hangup: "The caller hung up",
  connection_lost: "Connection lost",
  server_shutdown: "The server was restarting",
  max_duration: "Reached the maximum call length",
  silence_timeout: "The caller stayed silent",
  end_phrase: "The caller said an end phrase",
  agent_hangup: "The agent hung up",
  transferred: "Transferred",
  client_too_slow: "The caller's connection was too slow",
  message_too_large: "The caller's app sent a message that was too large",
  protocol_error: "The caller's app broke the protocol",
  internal_error: "An error on the server",
  transfer_failed: "The transfer failed",
  twilio_refused: "Twilio refused to place the call",
};

export function endedReasonLabel(reason: string | null | undefined): string {
  if (!reason) return "—";
  return ENDED_REASONS[reason] ?? capitalise(reason.replace(/_/g, " "));
}

const USER_AGENT = /Mozilla\/|AppleWebKit|Gecko\/|Chrome\/|Safari\//;

/**
 * The caller, as the list shows it. Web calls carry the client's user agent as `from`: a browser
 * is shown as "Browser (Chrome)", with the full text kept for the call page.
 */
export function callerLabel(call: Pick<CallSummary, "transport" | "from">): string {
  if (call.transport !== "WEB") return call.from ?? "—";
  if (!call.from) return "Browser";
  if (USER_AGENT.test(call.from)) {
    const name = browserName(call.from);
    return name ? `Browser (${name})` : "Browser";
  }
  return call.from.length > 40 ? `${call.from.slice(0, 39)}…` : call.from;
}

function browserName(ua: string): string | undefined {
  if (/Edg\//.test(ua)) return "Edge";
  if (/Firefox\//.test(ua)) return "Firefox";
  if (/Chrome\/|Chromium\//.test(ua)) return "Chrome";
  if (/Safari\//.test(ua)) return "Safari";
  return undefined;
}

/** A problem found on a call's timeline, with what to do about it. */
export interface CallProblem {
  /** Stable key: the event type, and the provider code for provider failures. */
  key: string;
  text: string;
  /** Where the fix is, if the portal has a place for it. */
  fix?: { label: string; to: string };
}

const LLM_KEYS = { label: "Settings → LLM keys", to: "/settings/llm-keys" };

/**
 * The provider of a timeline entry in words. The server names it as its circuit breaker does,
 * `<tenant>/<provider>#<position>:<model>` (position 0 is the primary, then the fallbacks).
 */
export function providerLabel(name: string): string {
  const parsed = /^[^/]*\/(.+)#(\d+):(.*)$/.exec(name);
  if (!parsed) return name ? `The ${name} model` : "The language model";
  const [, provider, position, model] = parsed;
  const which = position === "0" ? "primary" : `fallback ${position}`;
  return `The ${provider} model ${model} (${which})`;
}

/** What `llm_provider_failed.code` means, for the provider named. */
function providerFailure(provider: string, code: string): CallProblem {
  return { ...describeFailure(provider, code), key: `llm_provider_failed:${provider}:${code}` };
}

function describeFailure(provider: string, code: string): CallProblem {
  const p = providerLabel(provider);
  switch (code) {
    case "provider_unreachable":
      return {
        key: `llm_provider_failed:${code}`,
        text: `${p} could not be reached (connection refused, timed out or no such host). Check the agent's base URL and that the provider is running.`,
      };
    case "provider_status":
      return {
        key: `llm_provider_failed:${code}`,
        text: `${p} refused the request — most often the API key is missing or wrong.`,
        fix: LLM_KEYS,
      };
    case "first_token_timeout":
    case "timeout":
      return { key: `llm_provider_failed:${code}`, text: `${p} took too long to answer.` };
    case "circuit_open":
      return {
        key: `llm_provider_failed:${code}`,
        text: `${p} was skipped: it failed several times in a row moments ago (it is tried again shortly).`,
      };
    case "config":
      return { key: `llm_provider_failed:${code}`, text: `${p} is not configured correctly (for example its base URL).` };
    default:
      return { key: `llm_provider_failed:${code}`, text: `${p} failed while answering (${code.replace(/_/g, " ")}).` };
  }
}

/** Problems on a call's timeline, once each, in the order they first happened. */
export function callProblems(events: Pick<CallEvent, "type" | "data">[]): CallProblem[] {
  const found = new Map<string, CallProblem>();
  const add = (problem: CallProblem) => {
    if (!found.has(problem.key)) found.set(problem.key, problem);
  };
  for (const event of events) {
    const data = (event.data ?? {}) as Record<string, unknown>;
    switch (event.type) {
      case "llm_provider_failed":
        add(providerFailure(String(data.provider ?? ""), String(data.code ?? "provider_error")));
        break;
      case "llm_unavailable": {
        const reason = String(data.reason ?? "");
        add(
          reason === "every provider failed"
            ? {
                key: "llm_unavailable",
                text: "The agent could not answer: every language model it may use failed, so the caller heard its apology instead.",
                fix: LLM_KEYS,
              }
            : {
                key: "llm_unavailable",
                text: `The agent could not answer: its language model is not usable (${reason || "no reason given"}).`,
                fix: LLM_KEYS,
              },
        );
        break;
      }
      case "tts_failed":
        add({ key: "tts_failed", text: "Speech synthesis failed: the agent's words were sent as text only." });
        break;
    }
  }
  return [...found.values()];
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
