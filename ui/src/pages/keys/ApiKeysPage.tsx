import { useState, type FormEvent } from "react";
import { fieldErrors } from "../../api/errors";
import { useMutation, useQuery, useSignedIn } from "../../api/hooks";
import { grantableRoles, roleLabel, type Role } from "../../api/roles";
import { ConfirmButton } from "../../components/ConfirmButton";
import { ErrorNotice } from "../../components/ErrorNotice";
import { Field } from "../../components/Field";
import { PageHeader } from "../../components/PageHeader";
import { LoadError, Skeleton } from "../../components/Loading";
import { Pager, usePager } from "../../components/Pager";
import { SecretOnce } from "../../components/SecretOnce";
import { formatTime, localInputToIso } from "../../format";
import { graphql } from "../../gql";

graphql(`fragment ApiKeyFields on ApiKey { id name role prefix createdBy createdAt expiresAt lastUsedAt revokedAt }`);
const API_KEYS = graphql(`
  query ApiKeys($first: Int!, $after: String) {
    apiKeys(first: $first, after: $after) { nodes { ...ApiKeyFields } pageInfo { hasNextPage endCursor } }
  }
`);
const CREATE_API_KEY = graphql(`
  mutation CreateApiKey($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret apiKey { ...ApiKeyFields } } }
`);
const REVOKE_API_KEY = graphql(`mutation RevokeApiKey($id: ID!) { revokeApiKey(id: $id) { ...ApiKeyFields } }`);

export function ApiKeysPage() {
  const pager = usePager();
  const keys = useQuery(API_KEYS, { first: 50, after: pager.after });
  const revoke = useMutation(REVOKE_API_KEY);
  const [secret, setSecret] = useState<{ name: string; secret: string }>();
  const now = Date.now();

  return (
    <>
      <PageHeader title="API keys" />
      <p className="muted">
        Keys let your backend call the API as <code>Authorization: Bearer &lt;key&gt;</code>. A key's role is never
        above yours.
      </p>
      {secret ? (
        <SecretOnce label={`Your new key “${secret.name}”`} secret={secret.secret} onDone={() => setSecret(undefined)} />
      ) : (
        <CreateKeyForm
          onCreated={(name, value) => {
            setSecret({ name, secret: value });
            pager.reset();
            keys.reload();
          }}
        />
      )}
      <ErrorNotice error={revoke.error} />
      {keys.error && <LoadError error={keys.error} onRetry={keys.reload} />}
      {!keys.data && !keys.error && <Skeleton rows={3} label="Loading keys" />}
      {keys.data && keys.data.apiKeys.nodes.length === 0 && <div className="empty">No keys yet.</div>}
      {keys.data && keys.data.apiKeys.nodes.length > 0 && (
      <table className="table cards">
        <thead>
          <tr>
            <th>Name</th>
            <th>Role</th>
            <th>Key starts with</th>
            <th>Created</th>
            <th>Expires</th>
            <th>Last used</th>
            <th>
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {keys.data?.apiKeys.nodes.map((k) => {
            const expired = k.expiresAt != null && new Date(k.expiresAt).getTime() < now;
            return (
              <tr key={k.id} className={k.revokedAt || expired ? "dimmed" : undefined} data-testid="api-key-row">
                <td data-label="Name" className="card-title">
                  {k.name}
                </td>
                <td data-label="Role">{roleLabel(k.role)}</td>
                <td data-label="Starts with" className="wrap-anywhere">
                  <code>{k.prefix}_…</code>
                </td>
                <td data-label="Created">{formatTime(k.createdAt)}</td>
                <td data-label="Expires">{k.expiresAt ? formatTime(k.expiresAt) : "never"}</td>
                <td data-label="Last used">{formatTime(k.lastUsedAt)}</td>
                <td className="actions">
                  {k.revokedAt ? (
                    <span className="badge badge-revoked">Revoked</span>
                  ) : expired ? (
                    <span className="badge badge-revoked">Expired</span>
                  ) : (
                    <ConfirmButton
                      confirm="Revoke? It stops working at once."
                      disabled={revoke.pending}
                      onConfirm={async () => {
                        if (await revoke.run({ id: k.id })) keys.reload();
                      }}
                    >
                      Revoke
                    </ConfirmButton>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      )}
      <Pager pager={pager} pageInfo={keys.data?.apiKeys.pageInfo} />
    </>
  );
}

function CreateKeyForm({ onCreated }: { onCreated: (name: string, secret: string) => void }) {
  const session = useSignedIn();
  const roles = grantableRoles(session.role);
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>(roles.includes("DEVELOPER") ? "DEVELOPER" : roles[0]);
  const [expires, setExpires] = useState("");
  const create = useMutation(CREATE_API_KEY);
  const errors = fieldErrors(create.error);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const data = await create.run({ input: { name, role, expiresAt: localInputToIso(expires) ?? null } });
    if (data) {
      setName("");
      setExpires("");
      onCreated(data.createApiKey.apiKey.name, data.createApiKey.secret);
    }
  };
  return (
    <form className="card" onSubmit={submit} noValidate aria-label="Create API key">
      <h2>New key</h2>
      <ErrorNotice error={create.error} />
      <div className="grid grid-compact">
        <Field label="Name" error={errors.name} hint="What the key is for.">
          <input value={name} onChange={(e) => setName(e.target.value)} />
        </Field>
        <Field label="Role" error={errors.role}>
          <select value={role} onChange={(e) => setRole(e.target.value as Role)}>
            {roles.map((r) => (
              <option key={r} value={r}>
                {roleLabel(r)}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Expires" error={errors.expiresAt} hint="Empty: never.">
          <input type="datetime-local" value={expires} onChange={(e) => setExpires(e.target.value)} />
        </Field>
        <div className="field field-submit">
          <button type="submit" className="primary" disabled={create.pending}>
            {create.pending ? "Creating…" : "Create key"}
          </button>
        </div>
      </div>
    </form>
  );
}
