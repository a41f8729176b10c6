import { useState } from "react";
import { useMutation, useQuery } from "../../api/hooks";
import { ConfirmButton } from "../../components/ConfirmButton";
import { ErrorNotice } from "../../components/ErrorNotice";
import { Pager, usePager } from "../../components/Pager";
import { formatTime } from "../../format";
import type { AgentFieldsFragment } from "../../gql/graphql";
import { AGENT_VERSIONS, ROLLBACK_AGENT } from "./queries";
import { VersionDiff } from "./VersionDiff";

/** Every saved version, newest first: compare one with the active version, or roll back to it. */
export function VersionHistory({
  agent,
  editable,
  onRolledBack,
}: {
  agent: AgentFieldsFragment;
  editable: boolean;
  onRolledBack: (agent: AgentFieldsFragment) => void;
}) {
  const pager = usePager();
  const { data, error } = useQuery(AGENT_VERSIONS, { id: agent.id, first: 20, after: pager.after });
  const rollback = useMutation(ROLLBACK_AGENT);
  const [comparing, setComparing] = useState<number>();
  const versions = data?.agent?.versions.nodes ?? [];

  const rollBackTo = async (version: number) => {
    const result = await rollback.run({ id: agent.id, version });
    if (result) onRolledBack(result.rollbackAgent);
  };

  return (
    <aside className="card versions" aria-label="Version history">
      <h2>Version history</h2>
      <ErrorNotice error={error ?? rollback.error} />
      <ol className="version-list">
        {versions.map((v) => (
          <li key={v.version} data-testid={`version-${v.version}`}>
            <div className="version-head">
              <strong>v{v.version}</strong>
              {v.version === agent.activeVersion && <span className="badge badge-active">Active</span>}
              <span className="muted">{formatTime(v.createdAt)}</span>
            </div>
            {v.note && <div className="version-note">{v.note}</div>}
            <div className="muted small">by {v.createdBy}</div>
            {v.version !== agent.activeVersion && (
              <div className="row">
                <button
                  type="button"
                  className="link"
                  onClick={() => setComparing(comparing === v.version ? undefined : v.version)}
                >
                  {comparing === v.version ? "Hide changes" : "Compare with active"}
                </button>
                {editable && (
                  <ConfirmButton
                    danger={false}
                    confirm={`Make a copy of v${v.version} the active version?`}
                    disabled={rollback.pending}
                    onConfirm={() => rollBackTo(v.version)}
                  >
                    Roll back
                  </ConfirmButton>
                )}
              </div>
            )}
            {comparing === v.version && <VersionDiff agent={agent} version={v.version} />}
          </li>
        ))}
      </ol>
      <Pager pager={pager} pageInfo={data?.agent?.versions.pageInfo} />
    </aside>
  );
}
