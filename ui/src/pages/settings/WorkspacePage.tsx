import { useState, type FormEvent } from "react";
import { fieldErrors } from "../../api/errors";
import { useMutation, useQuery, useSignedIn } from "../../api/hooks";
import { can, roleLabel } from "../../api/roles";
import { sessions } from "../../api/session";
import { ErrorNotice } from "../../components/ErrorNotice";
import { Field } from "../../components/Field";
import { LoadError, Skeleton } from "../../components/Loading";
import { PageHeader } from "../../components/PageHeader";
import { formatTime } from "../../format";
import { graphql } from "../../gql";
import type { WorkspaceQuery } from "../../gql/graphql";

const WORKSPACE = graphql(`
  query Workspace { viewer { role tenant { id slug name region plan createdAt } } }
`);
const UPDATE_TENANT = graphql(`
  mutation UpdateTenant($input: UpdateTenantInput!) { updateTenant(input: $input) { id slug name region plan createdAt } }
`);

/** The workspace (tenant): its name, where its data lives, its plan. */
export function WorkspacePage() {
  const session = useSignedIn();
  const workspace = useQuery(WORKSPACE);
  const tenant = workspace.data?.viewer.tenant;
  return (
    <>
      <PageHeader title="Workspace" />
      {workspace.error && <LoadError error={workspace.error} onRetry={workspace.reload} />}
      {!workspace.data && !workspace.error && <Skeleton rows={4} label="Loading the workspace" />}
      {tenant && (
        <>
          {can(session.role, "ManageTenant") ? (
            <RenameForm
              name={tenant.name}
              onRenamed={(t) => workspace.setData((d) => d && { viewer: { ...d.viewer, tenant: t } })}
            />
          ) : (
            <p className="muted">Owners and admins can rename the workspace.</p>
          )}
          <section className="card" aria-labelledby="workspace-facts">
            <h2 id="workspace-facts">About this workspace</h2>
            <dl className="facts">
              <div>
                <dt>Name</dt>
                <dd data-testid="workspace-name">{tenant.name}</dd>
              </div>
              <div>
                <dt>Region</dt>
                <dd data-testid="workspace-region">
                  {tenant.region ?? "Any region"}
                  <div className="muted small">
                    {tenant.region
                      ? "Calls and data of this workspace are served from here."
                      : "Not pinned: served by whichever region the server runs in."}
                  </div>
                </dd>
              </div>
              <div>
                <dt>Plan</dt>
                <dd>{tenant.plan.charAt(0).toUpperCase() + tenant.plan.slice(1)}</dd>
              </div>
              <div>
                <dt>Your role</dt>
                <dd>{roleLabel(session.role)}</dd>
              </div>
              <div>
                <dt>Created</dt>
                <dd>{formatTime(tenant.createdAt)}</dd>
              </div>
              <div>
                <dt>Short name</dt>
                <dd>
                  <code>{tenant.slug}</code>
                </dd>
              </div>
              <div className="fact-wide">
                <dt>Workspace id</dt>
                <dd>
                  <code className="wrap-anywhere">{tenant.id}</code>
                </dd>
              </div>
            </dl>
          </section>
        </>
      )}
    </>
  );
}

type Tenant = WorkspaceQuery["viewer"]["tenant"];

function RenameForm({ name, onRenamed }: { name: string; onRenamed: (tenant: Tenant) => void }) {
  const [draft, setDraft] = useState(name);
  const [saved, setSaved] = useState(false);
  const rename = useMutation(UPDATE_TENANT);
  const errors = fieldErrors(rename.error);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setSaved(false);
    const data = await rename.run({ input: { name: draft } });
    if (data) {
      onRenamed(data.updateTenant);
      sessions.renamedTenant(data.updateTenant.name);
      setSaved(true);
    }
  };
  return (
    <form className="card" onSubmit={submit} noValidate aria-labelledby="rename-title">
      <h2 id="rename-title">Name</h2>
      <ErrorNotice error={rename.error} />
      {saved && (
        <div className="notice notice-ok" role="status">
          Renamed.
        </div>
      )}
      <div className="grid grid-compact">
        <Field label="Workspace name" error={errors.name} hint="1–100 characters.">
          <input value={draft} onChange={(e) => setDraft(e.target.value)} />
        </Field>
        <div className="field field-submit">
          <button type="submit" className="primary" disabled={rename.pending || draft.trim() === name}>
            {rename.pending ? "Saving…" : "Rename"}
          </button>
        </div>
      </div>
    </form>
  );
}
