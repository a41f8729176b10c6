import { useState, type FormEvent } from "react";
import { Link } from "react-router";
import { fieldErrors } from "../../api/errors";
import { useMutation, useQuery, useSignedIn } from "../../api/hooks";
import { can } from "../../api/roles";
import { ConfirmButton } from "../../components/ConfirmButton";
import { CopyButton } from "../../components/CopyButton";
import { ErrorNotice } from "../../components/ErrorNotice";
import { Field } from "../../components/Field";
import { LoadError, Skeleton } from "../../components/Loading";
import { PageHeader } from "../../components/PageHeader";
import { formatTime } from "../../format";
import { graphql } from "../../gql";
import type { PhoneNumberFieldsFragment, TelephonyQuery, TwilioAccountFieldsFragment } from "../../gql/graphql";

graphql(`fragment TwilioAccountFields on TwilioAccount { accountSid authTokenLast4 voiceUrl createdAt updatedAt }`);
graphql(`fragment PhoneNumberFields on PhoneNumber { id number label agent { id name } createdAt }`);

const TELEPHONY = graphql(`
  query Telephony {
    twilioAccount { ...TwilioAccountFields }
    phoneNumbers(first: 100) { nodes { ...PhoneNumberFields } }
    agents(first: 100) { nodes { id name } }
  }
`);
const SET_TWILIO = graphql(`
  mutation SetTwilioAccount($input: SetTwilioAccountInput!) { setTwilioAccount(input: $input) { ...TwilioAccountFields } }
`);
const DELETE_TWILIO = graphql(`mutation DeleteTwilioAccount { deleteTwilioAccount }`);
const ADD_NUMBER = graphql(`
  mutation AddPhoneNumber($input: AddPhoneNumberInput!) { addPhoneNumber(input: $input) { ...PhoneNumberFields } }
`);
const UPDATE_NUMBER = graphql(`
  mutation UpdatePhoneNumber($id: ID!, $input: UpdatePhoneNumberInput!) {
    updatePhoneNumber(id: $id, input: $input) { ...PhoneNumberFields }
  }
`);
const REMOVE_NUMBER = graphql(`mutation RemovePhoneNumber($id: ID!) { removePhoneNumber(id: $id) }`);

type Agents = TelephonyQuery["agents"]["nodes"];

/** The workspace's Twilio account and the numbers whose calls its agents answer. */
export function TelephonyPage() {
  const session = useSignedIn();
  const manage = can(session.role, "ManageTelephony");
  const telephony = useQuery(TELEPHONY);
  const data = telephony.data;
  return (
    <>
      <PageHeader title="Phone numbers" />
      <p className="muted">
        Bring your own Twilio account: its numbers ring your agents. The auth token is stored encrypted and checks that
        calls really come from Twilio; it is never shown again.
      </p>
      {telephony.error && <LoadError error={telephony.error} onRetry={telephony.reload} />}
      {!data && !telephony.error && <Skeleton rows={6} label="Loading telephony settings" />}
      {data && (
        <>
          <TwilioSection
            account={data.twilioAccount ?? null}
            manage={manage}
            onChange={(account) => telephony.setData((d) => d && { ...d, twilioAccount: account })}
          />
          <NumbersSection
            numbers={data.phoneNumbers.nodes}
            agents={data.agents.nodes}
            voiceUrl={data.twilioAccount?.voiceUrl ?? null}
            manage={manage}
            reload={telephony.reload}
          />
        </>
      )}
    </>
  );
}

function TwilioSection({
  account,
  manage,
  onChange,
}: {
  account: TwilioAccountFieldsFragment | null;
  manage: boolean;
  onChange: (account: TwilioAccountFieldsFragment | null) => void;
}) {
  const [editing, setEditing] = useState(false);
  const remove = useMutation(DELETE_TWILIO);
  return (
    <section className="card" aria-labelledby="twilio-title">
      <h2 id="twilio-title">Twilio account</h2>
      <ErrorNotice error={remove.error} />
      {account ? (
        <dl className="facts" data-testid="twilio-account">
          <div>
            <dt>Account SID</dt>
            <dd>
              <code className="wrap-anywhere">{account.accountSid}</code>
            </dd>
          </div>
          <div>
            <dt>Auth token</dt>
            <dd>
              <code>…{account.authTokenLast4}</code>
            </dd>
          </div>
          <div>
            <dt>Updated</dt>
            <dd>{formatTime(account.updatedAt)}</dd>
          </div>
          <div className="fact-wide">
            <dt>Voice URL</dt>
            <dd>
              <VoiceUrl url={account.voiceUrl} />
            </dd>
          </div>
        </dl>
      ) : (
        <p className="muted" data-testid="twilio-missing">
          No Twilio account yet: phone calls to your numbers are refused until one is set.
        </p>
      )}
      {manage && !editing && (
        <div className="row">
          <button type="button" className={account ? undefined : "primary"} onClick={() => setEditing(true)}>
            {account ? "Replace account" : "Connect Twilio"}
          </button>
          {account && (
            <ConfirmButton
              confirm="Remove the account? Calls to your numbers are refused until one is set again."
              onConfirm={async () => {
                if (await remove.run()) onChange(null);
              }}
            >
              Remove account
            </ConfirmButton>
          )}
        </div>
      )}
      {manage && editing && (
        <TwilioForm
          onCancel={() => setEditing(false)}
          onSaved={(a) => {
            onChange(a);
            setEditing(false);
          }}
        />
      )}
    </section>
  );
}

function VoiceUrl({ url }: { url: string | null }) {
  if (!url) {
    return (
      <span className="muted">
        Unknown: the server does not know its public address. Start it with <code>--public-url</code>.
      </span>
    );
  }
  return (
    <div className="copy-row">
      <code className="wrap-anywhere" data-testid="voice-url">
        {url}
      </code>
      <CopyButton text={url} />
    </div>
  );
}

function TwilioForm({ onSaved, onCancel }: { onSaved: (a: TwilioAccountFieldsFragment) => void; onCancel: () => void }) {
  const [accountSid, setSid] = useState("");
  const [authToken, setToken] = useState("");
  const set = useMutation(SET_TWILIO);
  const errors = fieldErrors(set.error);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const data = await set.run({ input: { accountSid: accountSid.trim(), authToken: authToken.trim() } });
    if (data) onSaved(data.setTwilioAccount);
  };
  return (
    <form onSubmit={submit} noValidate aria-label="Twilio account">
      <ErrorNotice error={set.error} />
      <div className="grid grid-compact">
        <Field label="Account SID" error={errors.accountSid} hint="AC and 32 hex digits (Twilio console → Account Info).">
          <input value={accountSid} onChange={(e) => setSid(e.target.value)} spellCheck={false} autoComplete="off" />
        </Field>
        <Field label="Auth token" error={errors.authToken} hint="32 hex digits. Never shown again.">
          <input
            type="password"
            value={authToken}
            onChange={(e) => setToken(e.target.value)}
            spellCheck={false}
            autoComplete="off"
          />
        </Field>
      </div>
      <div className="row">
        <button type="submit" className="primary" disabled={set.pending}>
          {set.pending ? "Saving…" : "Save account"}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function NumbersSection({
  numbers,
  agents,
  voiceUrl,
  manage,
  reload,
}: {
  numbers: PhoneNumberFieldsFragment[];
  agents: Agents;
  voiceUrl: string | null;
  manage: boolean;
  reload: () => void;
}) {
  const update = useMutation(UPDATE_NUMBER);
  const remove = useMutation(REMOVE_NUMBER);
  return (
    <section className="card" aria-labelledby="numbers-title">
      <h2 id="numbers-title">Numbers</h2>
      <p className="muted">
        Calls to a number go to its agent. In the Twilio console, set each number's Voice → “A call comes in” to
        Webhook, HTTP POST, at the voice URL{voiceUrl ? ":" : " (shown once an account is connected)."}
      </p>
      {voiceUrl && <VoiceUrl url={voiceUrl} />}
      {manage &&
        (agents.length > 0 ? (
          <AddNumberForm agents={agents} onAdded={reload} />
        ) : (
          <p className="muted">
            <Link to="/agents/new">Create an agent</Link> first: every number is answered by one.
          </p>
        ))}
      <ErrorNotice error={update.error ?? remove.error} />
      {numbers.length === 0 ? (
        <p className="muted">No numbers yet.</p>
      ) : (
        <table className="table cards">
          <thead>
            <tr>
              <th>Number</th>
              <th>Label</th>
              <th>Answered by</th>
              <th>Added</th>
              <th>
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {numbers.map((n) => (
              <tr key={n.id} data-testid="phone-number-row">
                <td data-label="Number" className="card-title">
                  {n.number}
                </td>
                <td data-label="Label">
                  {manage ? (
                    <LabelEditor
                      number={n}
                      onSave={async (label) => {
                        if (await update.run({ id: n.id, input: { label } })) reload();
                      }}
                    />
                  ) : (
                    (n.label ?? "—")
                  )}
                </td>
                <td data-label="Answered by">
                  {manage ? (
                    <select
                      aria-label={`Agent answering ${n.number}`}
                      value={n.agent.id}
                      disabled={update.pending}
                      onChange={async (e) => {
                        if (await update.run({ id: n.id, input: { agentId: e.target.value } })) reload();
                      }}
                    >
                      {/* The current agent may be archived: keep it listed. */}
                      {!agents.some((a) => a.id === n.agent.id) && <option value={n.agent.id}>{n.agent.name}</option>}
                      {agents.map((a) => (
                        <option key={a.id} value={a.id}>
                          {a.name}
                        </option>
                      ))}
                    </select>
                  ) : (
                    <Link to={`/agents/${n.agent.id}`}>{n.agent.name}</Link>
                  )}
                </td>
                <td data-label="Added">{formatTime(n.createdAt)}</td>
                <td className="actions">
                  {manage && (
                    <ConfirmButton
                      confirm="Stop routing this number?"
                      onConfirm={async () => {
                        if (await remove.run({ id: n.id })) reload();
                      }}
                    >
                      Remove
                    </ConfirmButton>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function LabelEditor({ number, onSave }: { number: PhoneNumberFieldsFragment; onSave: (label: string | null) => void }) {
  const [label, setLabel] = useState(number.label ?? "");
  const changed = label.trim() !== (number.label ?? "");
  return (
    <form
      className="inline-form"
      onSubmit={(e) => {
        e.preventDefault();
        onSave(label.trim() || null);
      }}
    >
      <input aria-label={`Label of ${number.number}`} value={label} placeholder="No label" onChange={(e) => setLabel(e.target.value)} />
      {changed && (
        <button type="submit" className="small-button">
          Save
        </button>
      )}
    </form>
  );
}

function AddNumberForm({ agents, onAdded }: { agents: Agents; onAdded: () => void }) {
  const [number, setNumber] = useState("");
  const [agentId, setAgentId] = useState(agents[0]?.id ?? "");
  const [label, setLabel] = useState("");
  const add = useMutation(ADD_NUMBER);
  const errors = fieldErrors(add.error);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const data = await add.run({ input: { number, agentId, label: label.trim() || null } });
    if (data) {
      setNumber("");
      setLabel("");
      onAdded();
    }
  };
  return (
    <form className="subcard" onSubmit={submit} noValidate aria-label="Add a number">
      <ErrorNotice error={add.error} />
      <div className="grid grid-compact">
        <Field label="Phone number" error={errors.number} hint="E.164, e.g. +14155550123.">
          <input type="tel" value={number} onChange={(e) => setNumber(e.target.value)} autoComplete="off" />
        </Field>
        <Field label="Agent" error={errors.agentId}>
          <select value={agentId} onChange={(e) => setAgentId(e.target.value)}>
            {agents.map((a) => (
              <option key={a.id} value={a.id}>
                {a.name}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Label" error={errors.label} hint="Optional, e.g. Sales.">
          <input value={label} onChange={(e) => setLabel(e.target.value)} />
        </Field>
        <div className="field field-submit">
          <button type="submit" className="primary" disabled={add.pending}>
            {add.pending ? "Adding…" : "Add number"}
          </button>
        </div>
      </div>
    </form>
  );
}
