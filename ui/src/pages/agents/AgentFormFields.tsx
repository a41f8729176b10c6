import { errorAt, type FieldErrors } from "../../api/errors";
import { Field } from "../../components/Field";
import type { AgentForm } from "./agentConfig";
import { LlmFields } from "./LlmFields";
import { ToolsEditor } from "./ToolsEditor";

export type FormUpdate = (update: (form: AgentForm) => AgentForm) => void;

/** Every setting of an agent, grouped as a person thinks about them. */
export function AgentFormFields({
  form,
  update,
  errors,
}: {
  form: AgentForm;
  update: FormUpdate;
  errors: FieldErrors;
}) {
  const text = (key: keyof AgentForm) => ({
    value: form[key] as string,
    onChange: (e: { target: { value: string } }) => update((f) => ({ ...f, [key]: e.target.value })),
  });
  return (
    <>
      <section className="card">
        <h2>Basics</h2>
        <div className="grid">
          <Field label="Name" error={errors.name}>
            <input {...text("name")} />
          </Field>
          <Field label="Language" error={errors["config.language"]} hint="BCP 47 tag, e.g. en or en-US.">
            <input {...text("language")} />
          </Field>
          <Field label="System prompt" error={errors["config.systemPrompt"]} wide>
            <textarea rows={6} {...text("systemPrompt")} />
          </Field>
          <Field
            label="First message"
            error={errors["config.firstMessage"]}
            hint="Said when the call connects. Empty: the agent waits for the caller."
            wide
          >
            <input {...text("firstMessage")} />
          </Field>
        </div>
      </section>

      <section className="card">
        <h2>Voice</h2>
        <div className="grid">
          <Field label="Voice" error={errors["config.voice.voiceId"]} hint="A TTS voice installed on the server.">
            <input {...text("voiceId")} />
          </Field>
          <Field label="Speed" error={errors["config.voice.speed"]} hint="0.5–2.0; 1 is natural.">
            <input type="number" step="0.05" {...text("speed")} />
          </Field>
        </div>
      </section>

      <LlmFields form={form} update={update} errors={errors} />
      <ToolsEditor form={form} update={update} errors={errors} />

      <section className="card">
        <h2>Ending the call</h2>
        <div className="grid">
          <Field label="Longest call (s)" error={errors["config.endCall.maxDurationSecs"]}>
            <input type="number" {...text("maxDurationSecs")} />
          </Field>
          <Field label="Silence timeout (s)" error={errors["config.endCall.silenceTimeoutSecs"]} hint="One reprompt, then hang up.">
            <input type="number" {...text("silenceTimeoutSecs")} />
          </Field>
          <Field
            label="Silence reprompt"
            error={errors["config.endCall.silenceReprompt"]}
            hint="Said once after the silence timeout. Empty: “Are you still there?”"
            wide
          >
            <input {...text("silenceReprompt")} />
          </Field>
          <Field label="End phrases" error={errorAt(errors, "config.endCall.endPhrases")} hint="One per line, e.g. goodbye." wide>
            <textarea rows={3} {...text("endPhrases")} />
          </Field>
        </div>
      </section>

      <section className="card">
        <h2>Interruptions and turn detection</h2>
        <div className="grid">
          <Field label="Caller may interrupt" error={errors["config.interruption.enabled"]}>
            <input
              type="checkbox"
              checked={form.interruptionEnabled}
              onChange={(e) => update((f) => ({ ...f, interruptionEnabled: e.target.checked }))}
            />
          </Field>
          <Field label="Words before stopping" error={errors["config.interruption.minWords"]}>
            <input type="number" {...text("minWords")} />
          </Field>
          <Field label="Speech before stopping (ms)" error={errors["config.interruption.minDurationMs"]}>
            <input type="number" {...text("minDurationMs")} />
          </Field>
          <Field label="Speech threshold" error={errors["config.turnDetection.threshold"]} hint="0.1–0.99">
            <input type="number" step="0.05" {...text("threshold")} />
          </Field>
          <Field label="Prefix padding (ms)" error={errors["config.turnDetection.prefixPaddingMs"]}>
            <input type="number" {...text("prefixPaddingMs")} />
          </Field>
          <Field label="Silence ending a turn (ms)" error={errors["config.turnDetection.silenceDurationMs"]}>
            <input type="number" {...text("silenceDurationMs")} />
          </Field>
        </div>
      </section>
    </>
  );
}
