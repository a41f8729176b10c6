import { useState } from "react";
import { Link } from "react-router";
import { useQuery, useSignedIn } from "../../api/hooks";
import { can } from "../../api/roles";
import { LoadError, Skeleton } from "../../components/Loading";
import { PageHeader } from "../../components/PageHeader";
import { Pager, usePager } from "../../components/Pager";
import { formatTime } from "../../format";
import { GettingStarted } from "./GettingStarted";
import { AGENTS } from "./queries";

export function AgentsPage() {
  const session = useSignedIn();
  const [includeArchived, setIncludeArchived] = useState(false);
  const pager = usePager();
  const agentsQuery = useQuery(AGENTS, { first: 25, after: pager.after, includeArchived });
  const { data, error, loading } = agentsQuery;
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
      {can(session.role, "EditAgents") && <GettingStarted />}
      {error && <LoadError error={error} onRetry={agentsQuery.reload} />}
      {!data && !error && <Skeleton rows={5} label="Loading agents" />}
      {!loading && !error && agents.length === 0 && (
        <div className="empty">
          No agents yet.{" "}
          {can(session.role, "EditAgents") ? <Link to="/agents/new">Create the first one.</Link> : null}
        </div>
      )}
      {agents.length > 0 && (
        <table className="table cards">
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
                <td data-label="Name" className="card-title">
                  <Link to={`/agents/${a.id}`}>{a.name}</Link>
                  {a.archivedAt && <span className="badge badge-archived">Archived</span>}
                </td>
                <td data-label="Model">
                  {a.config.llm.primary.provider} / {a.config.llm.primary.model}
                </td>
                <td data-label="Language">{a.config.language}</td>
                <td data-label="Version">v{a.activeVersion}</td>
                <td data-label="Updated">{formatTime(a.updatedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager pager={pager} pageInfo={data?.agents.pageInfo} />
    </>
  );
}
