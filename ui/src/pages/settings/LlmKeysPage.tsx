import { useRef, useState, type FormEvent } from "react";
import { Link } from "react-router";
import { fieldErrors } from "../../api/errors";
import { useMutation, useQuery, useSignedIn } from "../../api/hooks";
import { can } from "../../api/roles";
import { ConfirmButton } from "../../components/ConfirmButton";
import { ErrorNotice } from "../../components/ErrorNotice";
import { Field } from "../../components/Field";
import { LoadError, Skeleton } from "../../components/Loading";
import { PageHeader } from "../../components/PageHeader";
import { formatTime } from "../../format";
import { graphql } from "../../gql";
import { KEYLESS_PROVIDERS, PROVIDERS } from "../agents/agentConfig";

export const LLM_KEYS = graphql(`query LlmKeys { llmKeys { provider apiKeyLast4 createdAt updatedAt } }`);
const AGENT_PROVIDERS = graphql(`
  query AgentProviders {
    agents(first: 100) { nodes { id name config { llm { primary { provider } fallbacks { provider } } } } }
  }
`);
const SET_LLM_KEY = graphql(`
  mutation SetLlmKey($input: SetLlmKeyInput!) { setLlmKey(input: $input) { provider apiKeyLast4 createdAt updatedAt } }
`);
const DELETE_LLM_KEY = graphql(`mutation DeleteLlmKey($provider: String!) { deleteLlmKey(provider: $provider) }`);

/** The workspace's keys for LLM providers: agents name a provider, the key comes from here. */
export function LlmKeysPage() {
  const session = useSignedIn();
  const editable = can(session.role, "EditAgents");
  const keys = useQuery(LLM_KEYS);
  const agents = useQuery(AGENT_PROVIDERS);
  const remove = useMutation(DELETE_LLM_KEY);
  const [chosenProvider, setProvider] = useState<string>();
  const [notice, setNotice] = useState<string>();
  const keyInput = useRef<HTMLInputElement>(null);

  // provider → agents that use it (primary or fallback)
  const users = new Map<string, string[]>();
  for (const agent of agents.data?.agents.nodes ?? []) {
    const names = new Set([agent.config.llm.primary.provider, ...agent.config.llm.fallbacks.map((f) => f.provider)]);
    for (const p of names) users.set(p, [...(users.get(p) ?? []), agent.name]);
  }
  const withKey = new Set(keys.data?.llmKeys.map((k) => k.provider));
  const missing = [...users.keys()].filter((p) => !withKey.has(p) && !KEYLESS_PROVIDERS.includes(p));
  // The form starts at the key most needed: one agents use but lack, else any provider without one.
  const provider = chosenProvider ?? missing[0] ?? PROVIDERS.find((p) => !withKey.has(p)) ?? PROVIDERS[0];

  const replace = (p: string) => {
    setProvider(p);
    keyInput.current?.focus();
  };

  return (
    <>
      <PageHeader title="LLM keys" />
      <p className="muted">
        Each <Link to="/agents">agent</Link> names its language model's provider; its calls use this workspace's key
        for that provider. Keys are stored encrypted and never shown again — only their last four characters.
      </p>
      {missing.length > 0 && keys.data && (
        <div className="notice notice-warn" role="status" data-testid="missing-keys">
          {missing.map((p) => (
            <div key={p}>
              No key for <strong>{p}</strong>, which {users.get(p)!.join(", ")} {users.get(p)!.length === 1 ? "uses" : "use"}
              : their calls cannot get answers from it.
            </div>
          ))}
        </div>
      )}
      {notice && (
        <div className="notice notice-ok" role="status">
          {notice}
        </div>
      )}
      {editable && (
        <SetKeyForm
          provider={provider}
          onProvider={setProvider}
          inputRef={keyInput}
          replacing={withKey.has(provider)}
          onSaved={(p, last4) => {
            setNotice(`Saved the ${p} key ending in ${last4}.`);
            keys.reload();
          }}
        />
      )}
      <ErrorNotice error={remove.error} />
      {keys.error && <LoadError error={keys.error} onRetry={keys.reload} />}
      {!keys.data && !keys.error && <Skeleton rows={3} label="Loading keys" />}
      {keys.data && keys.data.llmKeys.length === 0 && <div className="empty">No keys yet.</div>}
      {keys.data && keys.data.llmKeys.length > 0 && (
        <table className="table cards">
          <thead>
            <tr>
              <th>Provider</th>
              <th>Key</th>
              <th>Used by</th>
              <th>Updated</th>
              <th>
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {keys.data.llmKeys.map((k) => (
              <tr key={k.provider} data-testid="llm-key-row">
                <td data-label="Provider" className="card-title">
                  {k.provider}
                </td>
                <td data-label="Key">
                  <code data-testid="llm-key-last4">…{k.apiKeyLast4}</code>
                </td>
                <td data-label="Used by">{users.get(k.provider)?.join(", ") ?? "No agent yet"}</td>
                <td data-label="Updated">{formatTime(k.updatedAt)}</td>
                <td className="actions">
                  {editable && (
                    <>
                      <button type="button" onClick={() => replace(k.provider)}>
                        Replace
                      </button>
                      <ConfirmButton
                        confirm={`Delete the ${k.provider} key? Agents using it stop getting answers.`}
                        onConfirm={async () => {
                          if (await remove.run({ provider: k.provider })) {
                            setNotice(`Deleted the ${k.provider} key.`);
                            keys.reload();
                          }
                        }}
                      >
                        Delete
                      </ConfirmButton>
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

function SetKeyForm({
  provider,
  onProvider,
  inputRef,
  replacing,
  onSaved,
}: {
  provider: string;
  onProvider: (provider: string) => void;
  inputRef: React.RefObject<HTMLInputElement | null>;
  replacing: boolean;
  onSaved: (provider: string, last4: string) => void;
}) {
  const [apiKey, setApiKey] = useState("");
  const set = useMutation(SET_LLM_KEY);
  const errors = fieldErrors(set.error);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const data = await set.run({ input: { provider, apiKey } });
    if (data) {
      setApiKey("");
      onSaved(data.setLlmKey.provider, data.setLlmKey.apiKeyLast4);
    }
  };
  return (
    <form className="card" onSubmit={submit} noValidate aria-labelledby="set-key-title">
      <h2 id="set-key-title">{replacing ? `Replace the ${provider} key` : "Add a key"}</h2>
      <ErrorNotice error={set.error} />
      <div className="grid grid-compact">
        <Field label="Provider" error={errors.provider}>
          <select value={provider} onChange={(e) => onProvider(e.target.value)}>
            {PROVIDERS.map((p) => (
              <option key={p}>{p}</option>
            ))}
          </select>
        </Field>
        <Field label="API key" error={errors.apiKey} hint="Sent to the provider as a Bearer token.">
          <input
            ref={inputRef}
            type="password"
            autoComplete="off"
            spellCheck={false}
            value={apiKey}
            onChange={(e) => setApiKey(e.target.value)}
          />
        </Field>
        <div className="field field-submit">
          <button type="submit" className="primary" disabled={set.pending || apiKey.trim() === ""}>
            {set.pending ? "Saving…" : replacing ? "Replace key" : "Save key"}
          </button>
        </div>
      </div>
    </form>
  );
}
