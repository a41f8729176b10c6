import type { FieldErrors } from "../../api/errors";
import { Field } from "../../components/Field";
import { PROVIDERS, type TargetForm } from "./agentConfig";
import type { AgentForm } from "./agentConfig";
import type { FormUpdate } from "./AgentFormFields";

/** The language model: primary target, fallbacks tried in order, sampling. */
export function LlmFields({ form, update, errors }: { form: AgentForm; update: FormUpdate; errors: FieldErrors }) {
  const setPrimary = (primary: TargetForm) => update((f) => ({ ...f, primary }));
  const setFallback = (i: number, target: TargetForm) =>
    update((f) => ({ ...f, fallbacks: f.fallbacks.map((t, j) => (j === i ? target : t)) }));
  return (
    <section className="card">
      <h2>Language model</h2>
      <TargetFields target={form.primary} onChange={setPrimary} errors={errors} at="config.llm.primary" />
      <div className="grid">
        <Field label="Temperature" error={errors["config.llm.temperature"]} hint="0–2">
          <input
            type="number"
            step="0.1"
            value={form.temperature}
            onChange={(e) => update((f) => ({ ...f, temperature: e.target.value }))}
          />
        </Field>
        <Field label="Max tokens per reply" error={errors["config.llm.maxTokens"]}>
          <input
            type="number"
            value={form.maxTokens}
            onChange={(e) => update((f) => ({ ...f, maxTokens: e.target.value }))}
          />
        </Field>
      </div>
      <Field
        label="Apology"
        error={errors["config.llm.apologyMessage"]}
        hint="What the caller hears when no model answers. Empty: “Sorry, I'm having trouble answering right now…”"
        wide
      >
        <input value={form.apologyMessage} onChange={(e) => update((f) => ({ ...f, apologyMessage: e.target.value }))} />
      </Field>
      <h3>Fallbacks</h3>
      <p className="muted">Tried in order when the primary fails.</p>
      {form.fallbacks.map((target, i) => (
        <div className="subcard" key={i}>
          <TargetFields
            target={target}
            onChange={(t) => setFallback(i, t)}
            errors={errors}
            at={`config.llm.fallbacks[${i}]`}
          />
          <button
            type="button"
            className="link danger"
            onClick={() => update((f) => ({ ...f, fallbacks: f.fallbacks.filter((_, j) => j !== i) }))}
          >
            Remove fallback
          </button>
        </div>
      ))}
      <button
        type="button"
        onClick={() =>
          update((f) => ({ ...f, fallbacks: [...f.fallbacks, { provider: "groq", model: "", baseUrl: "" }] }))
        }
      >
        Add fallback
      </button>
    </section>
  );
}

function TargetFields({
  target,
  onChange,
  errors,
  at,
}: {
  target: TargetForm;
  onChange: (target: TargetForm) => void;
  errors: FieldErrors;
  at: string;
}) {
  return (
    <div className="grid">
      <Field label="Provider" error={errors[`${at}.provider`]}>
        {/* A new provider has its own endpoint: the old base URL would be wrong. */}
        <select value={target.provider} onChange={(e) => onChange({ ...target, provider: e.target.value, baseUrl: "" })}>
          {PROVIDERS.map((p) => (
            <option key={p}>{p}</option>
          ))}
        </select>
      </Field>
      <Field label="Model" error={errors[`${at}.model`]}>
        <input value={target.model} onChange={(e) => onChange({ ...target, model: e.target.value })} />
      </Field>
      <Field
        label="Base URL"
        error={errors[`${at}.baseUrl`]}
        hint="Empty: the provider's public endpoint (required for vllm and custom)."
        wide
      >
        <input value={target.baseUrl} onChange={(e) => onChange({ ...target, baseUrl: e.target.value })} />
      </Field>
    </div>
  );
}
