import { useState } from "react";
import { useQuery, useSignedIn } from "../../api/hooks";
import { can } from "../../api/roles";
import { ErrorNotice } from "../../components/ErrorNotice";
import { PageHeader } from "../../components/PageHeader";
import { Pager, usePager, type PageInfo } from "../../components/Pager";
import { formatTime } from "../../format";
import { Link } from "../../router";
import { AGENTS } from "./queries";

interface AgentRow {
  id: string;
  name: string;
  activeVersion: number;
  archivedAt: string | null;
  updatedAt: string;
  config: { language: string; llm: { primary: { provider: string; model: string } } };
}

export function AgentsPage() {
  const session = useSignedIn();
  const [includeArchived, setIncludeArchived] = useState(false);
  const pager = usePager();
  const { data, error, loading } = useQuery<{ agents: { nodes: AgentRow[]; pageInfo: PageInfo } }>(AGENTS, {
    first: 25,
    after: pager.after,
    includeArchived,
  });
  const agents = data?.agents.nodes ?? [];
  return (
    <>
      <PageHeader title="Agents">
        <label className="inline">
          <input
            type="checkbox"
            checked={includeArchived}
            onChange={(e) => {
              setIncludeArchived(e.target.checked);
              pager.reset();
            }}
          />
          Show archived
        </label>
        {can(session.role, "EditAgents") && (
          <Link to="/agents/new" className="button primary">
            New agent
          </Link>
        )}
      </PageHeader>
      <ErrorNotice error={error} />
      {!loading && !error && agents.length === 0 && (
        <div className="empty">
          No agents yet.{" "}
          {can(session.role, "EditAgents") ? <Link to="/agents/new">Create the first one.</Link> : null}
        </div>
      )}
      {agents.length > 0 && (
        <table className="table">
          <thead>
            <tr>
              <th>Name</th>
              <th>Model</th>
              <th>Language</th>
              <th>Version</th>
              <th>Updated</th>
            </tr>
          </thead>
          <tbody>
            {agents.map((a) => (
              <tr key={a.id}>
                <td>
                  <Link to={`/agents/${a.id}`}>{a.name}</Link>
                  {a.archivedAt && <span className="badge badge-archived">Archived</span>}
                </td>
                <td>
                  {a.config.llm.primary.provider} / {a.config.llm.primary.model}
                </td>
                <td>{a.config.language}</td>
                <td>v{a.activeVersion}</td>
                <td>{formatTime(a.updatedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager pager={pager} pageInfo={data?.agents.pageInfo} />
    </>
  );
}
