// An agent's configuration as the API returns it, as the form edits it (text, so half-typed numbers
// survive), and as the API takes it back. Field keys match the API's error paths without `input.`.

import type { FieldErrors } from "../../api/errors";
import type { AgentConfigFieldsFragment, AgentConfigInput, ToolKind } from "../../gql/graphql";

export type AgentConfig = AgentConfigFieldsFragment;

export const PROVIDERS = ["openai", "groq", "together", "ollama", "vllm", "custom"];
/** Providers usually run locally, where no API key is needed. */
export const KEYLESS_PROVIDERS = ["ollama", "vllm", "custom"];
export const TOOL_KINDS: ToolKind[] = ["WEBHOOK", "END_CALL", "TRANSFER_CALL"];

type LlmTarget = AgentConfig["llm"]["primary"];

export interface TargetForm {
  provider: string;
  model: string;
  /** Empty: the provider's public endpoint. */
  baseUrl: string;
}

export interface ToolForm {
  kind: ToolKind;
  name: string;
  description: string;
  /** JSON Schema text. */
  parameters: string;
  url: string;
  method: "GET" | "POST";
  timeoutMs: string;
  destinations: { name: string; phoneNumber: string }[];
}

export interface AgentForm {
  name: string;
  systemPrompt: string;
  firstMessage: string;
  language: string;
  voiceId: string;
  speed: string;
  primary: TargetForm;
  fallbacks: TargetForm[];
  temperature: string;
  maxTokens: string;
  apologyMessage: string;
  tools: ToolForm[];
  maxDurationSecs: string;
  silenceTimeoutSecs: string;
  /** One phrase per line. */
  endPhrases: string;
  silenceReprompt: string;
  interruptionEnabled: boolean;
  minWords: string;
  minDurationMs: string;
  threshold: string;
  prefixPaddingMs: string;
  silenceDurationMs: string;
}

/** The API's defaults (see the schema's input descriptions). */
export function newAgentForm(): AgentForm {
  return {
    name: "",
    systemPrompt: "",
    firstMessage: "",
    language: "en",
    voiceId: "en_US-joe-medium",
    speed: "1",
    primary: { provider: "openai", model: "gpt-4o-mini", baseUrl: "" },
    fallbacks: [],
    temperature: "0.7",
    maxTokens: "400",
    apologyMessage: "",
    tools: [],
    maxDurationSecs: "1800",
    silenceTimeoutSecs: "30",
    endPhrases: "",
    silenceReprompt: "",
    interruptionEnabled: true,
    minWords: "1",
    minDurationMs: "300",
    threshold: "0.5",
    prefixPaddingMs: "300",
    silenceDurationMs: "500",
  };
}

export function newTool(kind: ToolKind): ToolForm {
  return {
    kind,
    name: kind === "END_CALL" ? "end_call" : kind === "TRANSFER_CALL" ? "transfer_call" : "",
    description: "",
    parameters: kind === "WEBHOOK" ? '{\n  "type": "object",\n  "properties": {}\n}' : "",
    url: "",
    method: "POST",
    timeoutMs: "5000",
    destinations: kind === "TRANSFER_CALL" ? [{ name: "", phoneNumber: "" }] : [],
  };
}

export function formFromConfig(name: string, c: AgentConfig): AgentForm {
  const target = (t: LlmTarget): TargetForm => ({ ...t });
  return {
    name,
    systemPrompt: c.systemPrompt,
    firstMessage: c.firstMessage ?? "",
    language: c.language,
    voiceId: c.voice.voiceId,
    speed: String(c.voice.speed),
    primary: target(c.llm.primary),
    fallbacks: c.llm.fallbacks.map(target),
    temperature: String(c.llm.temperature),
    maxTokens: String(c.llm.maxTokens),
    apologyMessage: c.llm.apologyMessage,
    tools: c.tools.map((t) => ({
      kind: t.kind,
      name: t.name,
      description: t.description,
      parameters: t.parameters == null ? "" : JSON.stringify(t.parameters, null, 2),
      url: t.url ?? "",
      method: t.method ?? "POST",
      timeoutMs: t.timeoutMs == null ? "" : String(t.timeoutMs),
      destinations: t.destinations.map((d) => ({ ...d })),
    })),
    maxDurationSecs: String(c.endCall.maxDurationSecs),
    silenceTimeoutSecs: String(c.endCall.silenceTimeoutSecs),
    endPhrases: c.endCall.endPhrases.join("\n"),
    silenceReprompt: c.endCall.silenceReprompt,
    interruptionEnabled: c.interruption.enabled,
    minWords: String(c.interruption.minWords),
    minDurationMs: String(c.interruption.minDurationMs),
    threshold: String(c.turnDetection.threshold),
    prefixPaddingMs: String(c.turnDetection.prefixPaddingMs),
    silenceDurationMs: String(c.turnDetection.silenceDurationMs),
  };
}

export interface AgentInput {
  name: string;
  config: AgentConfigInput;
}

/**
 * The form as `{ name, config }` input. Only what the API cannot be asked (is this text a number? is
 * it JSON?) is checked here; every rule about values is the API's, reported back by field.
 */
export function formToInput(form: AgentForm): { input?: AgentInput; errors: FieldErrors } {
  const errors: FieldErrors = {};
  const number = (key: string, text: string, integer: boolean): number | null => {
    if (text.trim() === "") return null;
    const value = Number(text);
    if (!Number.isFinite(value)) errors[key] = "must be a number";
    else if (integer && !Number.isInteger(value)) errors[key] = "must be a whole number";
    return value;
  };
  const target = (t: TargetForm) => ({ provider: t.provider, model: t.model, baseUrl: t.baseUrl.trim() || null });
  const tools = form.tools.map((t, i) => {
    const at = `config.tools[${i}]`;
    let parameters: unknown = null;
    if (t.kind === "WEBHOOK" && t.parameters.trim()) {
      try {
        parameters = JSON.parse(t.parameters);
      } catch {
        errors[`${at}.parameters`] = "is not valid JSON";
      }
    }
    return {
      kind: t.kind,
      name: t.name,
      description: t.description,
      parameters,
      url: t.kind === "WEBHOOK" ? t.url : null,
      method: t.kind === "WEBHOOK" ? t.method : null,
      timeoutMs: t.kind === "WEBHOOK" ? number(`${at}.timeoutMs`, t.timeoutMs, true) : null,
      destinations: t.kind === "TRANSFER_CALL" ? t.destinations : [],
    };
  });
  const config: AgentConfigInput = {
    systemPrompt: form.systemPrompt,
    firstMessage: form.firstMessage.trim() ? form.firstMessage : null,
    language: form.language.trim() || null,
    voice: { voiceId: form.voiceId.trim() || null, speed: number("config.voice.speed", form.speed, false) },
    llm: {
      primary: target(form.primary),
      fallbacks: form.fallbacks.map(target),
      temperature: number("config.llm.temperature", form.temperature, false),
      maxTokens: number("config.llm.maxTokens", form.maxTokens, true),
      // Empty: the server's default apology.
      apologyMessage: form.apologyMessage.trim() || null,
    },
    tools,
    endCall: {
      maxDurationSecs: number("config.endCall.maxDurationSecs", form.maxDurationSecs, true),
      silenceTimeoutSecs: number("config.endCall.silenceTimeoutSecs", form.silenceTimeoutSecs, true),
      endPhrases: form.endPhrases
        .split("\n")
        .map((p) => p.trim())
        .filter(Boolean),
      silenceReprompt: form.silenceReprompt.trim() || null,
    },
    interruption: {
      enabled: form.interruptionEnabled,
      minWords: number("config.interruption.minWords", form.minWords, true),
      minDurationMs: number("config.interruption.minDurationMs", form.minDurationMs, true),
    },
    turnDetection: {
      threshold: number("config.turnDetection.threshold", form.threshold, false),
      prefixPaddingMs: number("config.turnDetection.prefixPaddingMs", form.prefixPaddingMs, true),
      silenceDurationMs: number("config.turnDetection.silenceDurationMs", form.silenceDurationMs, true),
    },
  };
  if (Object.keys(errors).length) return { errors };
  return { input: { name: form.name, config }, errors };
}
