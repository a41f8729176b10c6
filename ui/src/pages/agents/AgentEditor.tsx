import { useState, type FormEvent, type ReactNode } from "react";
import { fieldErrors, type ApiError } from "../../api/errors";
import { ErrorNotice } from "../../components/ErrorNotice";
import { formToInput, type AgentForm, type AgentInput } from "./agentConfig";
import { AgentFormFields } from "./AgentFormFields";

/**
 * The agent form with its save bar. Errors beside the fields come from the API (`extensions.fields`),
 * plus the few the browser can tell before sending (a number that is not one, JSON that is not JSON).
 */
export function AgentEditor({
  initial,
  readOnly,
  submitLabel,
  onSubmit,
  error,
  pending,
  saveBarExtra,
}: {
  initial: AgentForm;
  readOnly: boolean;
  submitLabel: string;
  onSubmit: (input: AgentInput) => void;
  error?: ApiError;
  pending: boolean;
  saveBarExtra?: ReactNode;
}) {
  const [form, setForm] = useState(initial);
  const [localErrors, setLocalErrors] = useState({});
  const errors = { ...fieldErrors(error), ...localErrors };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const { input, errors } = formToInput(form);
    setLocalErrors(errors);
    if (input) onSubmit(input);
  };

  return (
    <form onSubmit={submit} noValidate className="agent-form">
      <fieldset disabled={readOnly}>
        <AgentFormFields form={form} update={setForm} errors={errors} />
      </fieldset>
      {!readOnly && (
        <div className="save-bar">
          <ErrorNotice error={error} />
          {Object.keys(localErrors).length > 0 && (
            <div className="notice notice-error" role="alert">
              Some fields need attention.
            </div>
          )}
          <div className="row">
            {saveBarExtra}
            <button type="submit" className="primary" disabled={pending}>
              {pending ? "Saving…" : submitLabel}
            </button>
          </div>
        </div>
      )}
    </form>
  );
}
