import { useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { ApiError } from "../../api/errors";
import { useQuery } from "../../api/hooks";
import { ErrorNotice } from "../../components/ErrorNotice";
import { LoadError, Skeleton } from "../../components/Loading";
import { PageHeader } from "../../components/PageHeader";
import { Pager, usePager } from "../../components/Pager";
import { StatusBadge } from "../../components/StatusBadge";
import { enumLabel, formatDuration, formatTime } from "../../format";
import { ActiveCalls } from "./ActiveCalls";
import { filterFromQuery, filterToInput, filterToQuery, type CallFilter } from "./callFilter";
import { CallFilters } from "./CallFilters";
import { callerLabel, endedReasonLabel } from "./callText";
import { downloadCallsCsv } from "./exportCsv";
import { CALLS } from "./queries";

export function CallsPage() {
  const [query] = useSearchParams();
  const navigate = useNavigate();
  // Normalised, so equal filters give equal strings (the list below restarts at page 1 on a change).
  const filterQuery = filterToQuery(filterFromQuery(query));
  const filter = filterFromQuery(new URLSearchParams(filterQuery));
  const [exporting, setExporting] = useState(false);
  const [exportError, setExportError] = useState<ApiError>();

  const apply = (next: CallFilter) => {
    const q = filterToQuery(next);
    navigate(q ? `/calls?${q}` : "/calls", { replace: true });
  };
  const exportCsv = async () => {
    setExporting(true);
    setExportError(undefined);
    try {
      await downloadCallsCsv(filterQuery);
    } catch (err) {
      setExportError(ApiError.from(err));
    } finally {
      setExporting(false);
    }
  };

  return (
    <>
      <PageHeader title="Calls">
        <button type="button" onClick={exportCsv} disabled={exporting}>
          {exporting ? "Exporting…" : "Export CSV"}
        </button>
      </PageHeader>
      <ActiveCalls />
      <CallFilters filter={filter} onApply={apply} />
      <ErrorNotice error={exportError} />
      <CallList key={`list?${filterQuery}`} filter={filter} />
    </>
  );
}

/** One filter's calls, newest first, a page at a time. */
function CallList({ filter }: { filter: CallFilter }) {
  const pager = usePager();
  const calls = useQuery(CALLS, { first: 25, after: pager.after, filter: filterToInput(filter) });
  const { data, error, loading } = calls;
  const rows = data?.calls.nodes ?? [];
  return (
    <>
      {error && <LoadError error={error} onRetry={calls.reload} />}
      {!data && !error && <Skeleton rows={6} label="Loading calls" />}
      {!loading && !error && rows.length === 0 && <div className="empty">No calls match.</div>}
      {rows.length > 0 && (
        <table className="table cards">
          <thead>
            <tr>
              <th>Started</th>
              <th>Status</th>
              <th>Agent</th>
              <th>Direction</th>
              <th>From → To</th>
              <th>Duration</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((c) => (
              <tr key={c.id} data-testid="call-row">
                <td data-label="Started" className="card-title">
                  <Link to={`/calls/${c.id}`}>{formatTime(c.createdAt)}</Link>
                </td>
                <td data-label="Status">
                  <div>
                    <StatusBadge value={c.status} />
                    {c.endedReason && <div className="muted small">{endedReasonLabel(c.endedReason)}</div>}
                  </div>
                </td>
                <td data-label="Agent">{c.agent.name}</td>
                <td data-label="Direction">
                  {enumLabel(c.direction)} · {c.transport === "WEB" ? "Web" : "Phone"}
                </td>
                <td data-label="From → To" data-testid="call-parties">
                  {callerLabel(c)} → {c.to ?? "—"}
                </td>
                <td data-label="Duration">{formatDuration(c.durationMs)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager pager={pager} pageInfo={data?.calls.pageInfo} />
    </>
  );
}
