import { errorAt, type FieldErrors } from "../../api/errors";
import { Field } from "../../components/Field";
import { enumLabel } from "../../format";
import { newTool, TOOL_KINDS, type AgentForm, type ToolForm } from "./agentConfig";
import type { FormUpdate } from "./AgentFormFields";

/** Functions the model may call: webhooks, end call, transfer call. */
export function ToolsEditor({ form, update, errors }: { form: AgentForm; update: FormUpdate; errors: FieldErrors }) {
  const setTool = (i: number, tool: ToolForm) =>
    update((f) => ({ ...f, tools: f.tools.map((t, j) => (j === i ? tool : t)) }));
  return (
    <section className="card">
      <h2>Tools</h2>
      {form.tools.length === 0 && <p className="muted">No tools: the agent only talks.</p>}
      {form.tools.map((tool, i) => (
        <div className="subcard" key={i}>
          <ToolFields tool={tool} onChange={(t) => setTool(i, t)} errors={errors} at={`config.tools[${i}]`} />
          <button
            type="button"
            className="link danger"
            onClick={() => update((f) => ({ ...f, tools: f.tools.filter((_, j) => j !== i) }))}
          >
            Remove tool
          </button>
        </div>
      ))}
      <div className="row">
        {TOOL_KINDS.map((kind) => (
          <button key={kind} type="button" onClick={() => update((f) => ({ ...f, tools: [...f.tools, newTool(kind)] }))}>
            Add {enumLabel(kind).toLowerCase()} tool
          </button>
        ))}
      </div>
    </section>
  );
}

function ToolFields({
  tool,
  onChange,
  errors,
  at,
}: {
  tool: ToolForm;
  onChange: (tool: ToolForm) => void;
  errors: FieldErrors;
  at: string;
}) {
  const set = (key: keyof ToolForm) => (e: { target: { value: string } }) => onChange({ ...tool, [key]: e.target.value });
  const setDestination = (i: number, key: "name" | "phoneNumber", value: string) =>
    onChange({ ...tool, destinations: tool.destinations.map((d, j) => (j === i ? { ...d, [key]: value } : d)) });
  return (
    <div className="grid">
      <Field label="Kind" error={errors[`${at}.kind`]}>
        <select value={tool.kind} disabled>
          <option value={tool.kind}>{enumLabel(tool.kind)}</option>
        </select>
      </Field>
      <Field label="Function name" error={errors[`${at}.name`]} hint="Letters, digits, _ and -.">
        <input value={tool.name} onChange={set("name")} />
      </Field>
      <Field label="When to use it" error={errors[`${at}.description`]} wide>
        <input value={tool.description} onChange={set("description")} />
      </Field>
      {tool.kind === "WEBHOOK" && (
        <>
          <Field label="URL" error={errors[`${at}.url`]} wide>
            <input value={tool.url} onChange={set("url")} placeholder="https://example.com/tools/lookup" />
          </Field>
          <Field label="Method" error={errors[`${at}.method`]}>
            <select value={tool.method} onChange={set("method")}>
              <option>POST</option>
              <option>GET</option>
            </select>
          </Field>
          <Field label="Timeout (ms)" error={errors[`${at}.timeoutMs`]}>
            <input type="number" value={tool.timeoutMs} onChange={set("timeoutMs")} />
          </Field>
          <Field label="Arguments (JSON Schema)" error={errors[`${at}.parameters`]} wide>
            <textarea rows={5} className="mono" value={tool.parameters} onChange={set("parameters")} />
          </Field>
        </>
      )}
      {tool.kind === "TRANSFER_CALL" && (
        <div className="field-wide">
          <h3>Destinations</h3>
          {errorAt(errors, `${at}.destinations`) && !tool.destinations.length && (
            <div className="field-error">{errorAt(errors, `${at}.destinations`)}</div>
          )}
          {tool.destinations.map((d, i) => (
            <div className="grid" key={i}>
              <Field label="Name" error={errors[`${at}.destinations[${i}].name`]}>
                <input value={d.name} onChange={(e) => setDestination(i, "name", e.target.value)} placeholder="sales" />
              </Field>
              <Field label="Phone number" error={errors[`${at}.destinations[${i}].phoneNumber`]} hint="E.164, e.g. +14155550123">
                <input value={d.phoneNumber} onChange={(e) => setDestination(i, "phoneNumber", e.target.value)} />
              </Field>
            </div>
          ))}
          <button
            type="button"
            onClick={() => onChange({ ...tool, destinations: [...tool.destinations, { name: "", phoneNumber: "" }] })}
          >
            Add destination
          </button>
        </div>
      )}
    </div>
  );
}
