import { useQuery } from "../../api/hooks";
import { ErrorNotice } from "../../components/ErrorNotice";
import { PageHeader } from "../../components/PageHeader";
import { Pager, usePager, type PageInfo } from "../../components/Pager";
import { formatTime } from "../../format";

interface AuditEntry {
  id: string;
  at: string;
  actor: string;
  action: string;
  target: string | null;
  outcome: string;
  errorCode: string | null;
  ip: string | null;
  userAgent: string | null;
}

const AUDIT_LOG = `query AuditLog($first: Int!, $after: String) {
  auditLog(first: $first, after: $after) {
    nodes { id at actor action target outcome errorCode ip userAgent }
    pageInfo { hasNextPage endCursor }
  }
}`;

export function AuditPage() {
  const pager = usePager();
  const log = useQuery<{ auditLog: { nodes: AuditEntry[]; pageInfo: PageInfo } }>(AUDIT_LOG, {
    first: 50,
    after: pager.after,
  });
  return (
    <>
      <PageHeader title="Audit log">
        <button type="button" onClick={log.reload}>
          Refresh
        </button>
      </PageHeader>
      <p className="muted">Every change, sign-in and sign-out in this workspace, newest first.</p>
      <ErrorNotice error={log.error} />
      <table className="table">
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
          {log.data?.auditLog.nodes.map((e) => (
            <tr key={e.id} className={e.outcome === "failure" ? "row-failure" : undefined}>
              <td>{formatTime(e.at)}</td>
              <td>
                <code>{e.actor}</code>
              </td>
              <td>{e.action}</td>
              <td>{e.target ? <code>{e.target}</code> : "—"}</td>
              <td>
                {e.outcome}
                {e.errorCode && <code className="muted"> {e.errorCode}</code>}
              </td>
              <td className="muted small" title={e.userAgent ?? undefined}>
                {e.ip ?? "—"}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <Pager pager={pager} pageInfo={log.data?.auditLog.pageInfo} />
    </>
  );
}
