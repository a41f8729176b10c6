import { useState, type FormEvent } from "react";
import { errorAt, fieldErrors, type ApiError } from "../../api/errors";
import { ErrorNotice } from "../../components/ErrorNotice";
import { Field } from "../../components/Field";
import { enumLabel } from "../../format";
import { WEBHOOK_EVENTS, type Endpoint, type WebhookEvent } from "./queries";

export type EndpointInput = Pick<Endpoint, "url" | "description" | "events" | "enabled">;

/** URL, description, events and on/off of an endpoint; used to create and to edit. */
export function EndpointForm({
  initial,
  submitLabel,
  onSubmit,
  error,
  pending,
}: {
  initial?: EndpointInput;
  submitLabel: string;
  onSubmit: (input: EndpointInput) => Promise<boolean>;
  error?: ApiError;
  pending: boolean;
}) {
  const blank: EndpointInput = { url: "", description: "", events: ["CALL_ENDED"], enabled: true };
  const [form, setForm] = useState<EndpointInput>(initial ?? blank);
  const errors = fieldErrors(error);
  const toggle = (event: WebhookEvent) =>
    setForm((f) => ({
      ...f,
      events: f.events.includes(event) ? f.events.filter((e) => e !== event) : [...f.events, event],
    }));
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    // Only the input's fields: `initial` may be a whole endpoint (with its id and creation time).
    const { url, description, events, enabled } = form;
    if ((await onSubmit({ url, description, events, enabled })) && !initial) setForm(blank);
  };
  return (
    <form onSubmit={submit} noValidate>
      <ErrorNotice error={error} />
      <div className="grid">
        <Field label="URL" error={errors.url} hint="http(s) URL that receives signed POSTs." wide>
          <input value={form.url} onChange={(e) => setForm({ ...form, url: e.target.value })} placeholder="https://example.com/voxedge" />
        </Field>
        <Field label="Description" error={errors.description} wide>
          <input value={form.description} onChange={(e) => setForm({ ...form, description: e.target.value })} />
        </Field>
        <div className="field field-wide">
          <span className="label">Events</span>
          <div className="row">
            {WEBHOOK_EVENTS.map((event) => (
              <label key={event} className="inline">
                <input type="checkbox" checked={form.events.includes(event)} onChange={() => toggle(event)} />
                {enumLabel(event)}
              </label>
            ))}
          </div>
          {errorAt(errors, "events") && <div className="field-error">{errorAt(errors, "events")}</div>}
        </div>
        <label className="inline">
          <input type="checkbox" checked={form.enabled} onChange={(e) => setForm({ ...form, enabled: e.target.checked })} />
          Enabled
        </label>
      </div>
      <button type="submit" className="primary" disabled={pending}>
        {pending ? "Saving…" : submitLabel}
      </button>
    </form>
  );
}
