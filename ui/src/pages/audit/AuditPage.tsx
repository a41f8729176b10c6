import { useState } from "react";
import { useQuery } from "../../api/hooks";
import { LoadError, Skeleton } from "../../components/Loading";
import { PageHeader } from "../../components/PageHeader";
import { Pager, usePager } from "../../components/Pager";
import { formatTime, shortId } from "../../format";
import { graphql } from "../../gql";

const AUDIT_LOG = graphql(`
  query AuditLog($first: Int!, $after: String) {
    auditLog(first: $first, after: $after) {
      nodes { id at actor action target outcome errorCode ip userAgent }
      pageInfo { hasNextPage endCursor }
    }
  }
`);

const MEMBER_EMAILS = graphql(`query MemberEmails { members(first: 100) { nodes { id email } } }`);

/**
 * Rows that only say a signed-in browser renewed its access token. They are routine (every open tab
 * makes one every quarter of an hour) and drown the changes people look for, so they are hidden
 * unless asked for. Failed refreshes are never hidden: a reused refresh token is a warning sign.
 */
function isRoutineRefresh(entry: { action: string; outcome: string }): boolean {
  return entry.action === "refreshSession" && entry.outcome === "success";
}

export function AuditPage() {
  const pager = usePager();
  const log = useQuery(AUDIT_LOG, { first: 50, after: pager.after });
  const members = useQuery(MEMBER_EMAILS);
  const [showRefreshes, setShowRefreshes] = useState(false);
  const emails = new Map(members.data?.members.nodes.map((m) => [`user:${m.id}`, m.email]));
  const actor = (a: string) => emails.get(a) ?? (a.startsWith("api_key:") ? `API key ${shortId(a.slice(8))}` : a);

  const entries = log.data?.auditLog.nodes ?? [];
  const shown = showRefreshes ? entries : entries.filter((e) => !isRoutineRefresh(e));
  const hidden = entries.length - shown.length;

  return (
    <>
      <PageHeader title="Audit log">
        <label className="inline">
          <input type="checkbox" checked={showRefreshes} onChange={(e) => setShowRefreshes(e.target.checked)} />
          Show session refreshes
        </label>
        <button type="button" onClick={log.reload}>
          Refresh
        </button>
      </PageHeader>
      <p className="muted">Every change, sign-in and sign-out in this workspace, newest first.</p>
      {log.error && <LoadError error={log.error} onRetry={log.reload} />}
      {!log.data && !log.error && <Skeleton rows={8} label="Loading the audit log" />}
      {log.data && shown.length === 0 && <div className="empty">Nothing on this page.</div>}
      {shown.length > 0 && (
        <table className="table cards audit">
          <thead>
            <tr>
              <th>When</th>
              <th>Who</th>
              <th>What</th>
              <th>Target</th>
              <th>Outcome</th>
              <th>From</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((e) => (
              <tr key={e.id} className={e.outcome === "failure" ? "row-failure" : undefined} data-testid="audit-row">
                <td data-label="When">{formatTime(e.at)}</td>
                <td data-label="Who" className="wrap-anywhere" title={e.actor}>
                  {actor(e.actor)}
                </td>
                <td data-label="What" className="card-title">
                  {e.action}
                </td>
                <td data-label="Target" className="wrap-anywhere">
                  {e.target ? <code>{e.target}</code> : "—"}
                </td>
                <td data-label="Outcome">
                  {e.outcome}
                  {e.errorCode && <code> {e.errorCode}</code>}
                </td>
                <td data-label="From" className="small wrap-anywhere" title={e.userAgent ?? undefined}>
                  {e.ip ?? "—"}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {hidden > 0 && (
        <p className="muted small" data-testid="hidden-refreshes">
          {hidden} session {hidden === 1 ? "refresh" : "refreshes"} hidden on this page.
        </p>
      )}
      <Pager pager={pager} pageInfo={log.data?.auditLog.pageInfo} />
    </>
  );
}
