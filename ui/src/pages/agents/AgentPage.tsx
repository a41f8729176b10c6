import { useState } from "react";
import { Link } from "react-router";
import { useMutation, useQuery, useSignedIn } from "../../api/hooks";
import { can } from "../../api/roles";
import { ConfirmButton } from "../../components/ConfirmButton";
import { ErrorNotice } from "../../components/ErrorNotice";
import { LoadError, Skeleton } from "../../components/Loading";
import { PageHeader } from "../../components/PageHeader";
import { formatTime } from "../../format";
import type { AgentFieldsFragment } from "../../gql/graphql";
import { formFromConfig, type AgentInput } from "./agentConfig";
import { AgentEditor } from "./AgentEditor";
import { AGENT, ARCHIVE_AGENT, UNARCHIVE_AGENT, UPDATE_AGENT } from "./queries";
import { VersionHistory } from "./VersionHistory";

export function AgentPage({ id }: { id: string }) {
  const session = useSignedIn();
  const editable = can(session.role, "EditAgents");
  const agentQuery = useQuery(AGENT, { id });
  const { data, error, setData } = agentQuery;
  const update = useMutation(UPDATE_AGENT);
  const archive = useMutation(ARCHIVE_AGENT);
  const unarchive = useMutation(UNARCHIVE_AGENT);
  const [note, setNote] = useState("");
  const [saved, setSaved] = useState<number>();
  const show = (agent: AgentFieldsFragment) => setData(() => ({ agent }));

  if (error || !data) {
    return (
      <>
        <PageHeader title="Agent" />
        {error ? <LoadError error={error} onRetry={agentQuery.reload} /> : <Skeleton rows={8} label="Loading the agent" />}
      </>
    );
  }
  const agent = data.agent;
  if (!agent) {
    return (
      <>
        <PageHeader title="Agent not found" />
        <div className="empty">
          No such agent. <Link to="/agents">All agents</Link>
        </div>
      </>
    );
  }

  const save = async (input: AgentInput) => {
    const result = await update.run({
      id,
      input: { ...input, expectedVersion: agent.activeVersion, note: note.trim() || null },
    });
    if (result) {
      setNote("");
      setSaved(result.updateAgent.activeVersion);
      show(result.updateAgent);
    }
  };

  return (
    <>
      <PageHeader
        docTitle={`${agent.name} · Agents`}
        title={
          <>
            {agent.name}
            {agent.archivedAt && <span className="badge badge-archived">Archived</span>}
          </>
        }
      >
        {can(session.role, "CreateSessionTokens") && !agent.archivedAt && (
          <Link to={`/talk?agent=${agent.id}`} className="button">
            Talk to agent
          </Link>
        )}
        {editable &&
          (agent.archivedAt ? (
            <button
              type="button"
              disabled={unarchive.pending}
              onClick={async () => {
                const r = await unarchive.run({ id });
                if (r) show(r.unarchiveAgent);
              }}
            >
              Unarchive
            </button>
          ) : (
            <ConfirmButton
              confirm="Archive? It takes no new calls."
              disabled={archive.pending}
              onConfirm={async () => {
                const r = await archive.run({ id });
                if (r) show(r.archiveAgent);
              }}
            >
              Archive
            </ConfirmButton>
          ))}
      </PageHeader>
      <ErrorNotice error={archive.error ?? unarchive.error} />
      <p className="muted">
        Active version <strong data-testid="active-version">v{agent.activeVersion}</strong> · updated{" "}
        {formatTime(agent.updatedAt)} · id <code>{agent.id}</code>
      </p>
      {saved === agent.activeVersion && (
        <div className="notice notice-ok" role="status">
          Saved as version {saved}.
        </div>
      )}
      <div className="two-columns">
        <AgentEditor
          key={`editor-v${agent.activeVersion}`}
          initial={formFromConfig(agent.name, agent.config)}
          readOnly={!editable}
          submitLabel="Save new version"
          onSubmit={save}
          error={update.error}
          pending={update.pending}
          saveBarExtra={
            <input
              className="note"
              aria-label="What changed"
              placeholder="What changed? (optional)"
              value={note}
              onChange={(e) => setNote(e.target.value)}
            />
          }
        />
        <VersionHistory
          key={`history-v${agent.activeVersion}`}
          agent={agent}
          editable={editable}
          onRolledBack={(rolledBack) => {
            setSaved(undefined);
            update.reset();
            show(rolledBack);
          }}
        />
      </div>
    </>
  );
}
