import { useState } from "react";
import { ApiError } from "../../api/errors";
import { useQuery } from "../../api/hooks";
import { ErrorNotice } from "../../components/ErrorNotice";
import { PageHeader } from "../../components/PageHeader";
import { Pager, usePager, type PageInfo } from "../../components/Pager";
import { StatusBadge } from "../../components/StatusBadge";
import { enumLabel, formatDuration, formatTime } from "../../format";
import { Link, navigate, useLocation } from "../../router";
import { ActiveCalls } from "./ActiveCalls";
import { filterFromQuery, filterToInput, filterToQuery, type CallFilter } from "./callFilter";
import { CallFilters } from "./CallFilters";
import { downloadCallsCsv } from "./exportCsv";
import { CALLS, type CallSummary } from "./queries";

export function CallsPage() {
  const { query } = useLocation();
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
      <CallFilters key={`filters?${filterQuery}`} filter={filter} onApply={apply} />
      <ErrorNotice error={exportError} />
      <CallList key={`list?${filterQuery}`} filter={filter} />
    </>
  );
}

/** One filter's calls, newest first, a page at a time. */
function CallList({ filter }: { filter: CallFilter }) {
  const pager = usePager();
  const { data, error, loading } = useQuery<{ calls: { nodes: CallSummary[]; pageInfo: PageInfo } }>(CALLS, {
    first: 25,
    after: pager.after,
    filter: filterToInput(filter),
  });
  const calls = data?.calls.nodes ?? [];
  return (
    <>
      <ErrorNotice error={error} />
      {!loading && !error && calls.length === 0 && <div className="empty">No calls match.</div>}
      {calls.length > 0 && (
        <table className="table">
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
            {calls.map((c) => (
              <tr key={c.id}>
                <td>
                  <Link to={`/calls/${c.id}`}>{formatTime(c.createdAt)}</Link>
                </td>
                <td>
                  <StatusBadge value={c.status} />
                </td>
                <td>{c.agent.name}</td>
                <td>
                  {enumLabel(c.direction)} · {enumLabel(c.transport)}
                </td>
                <td>
                  {c.from ?? "—"} → {c.to ?? "—"}
                </td>
                <td>{formatDuration(c.durationMs)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager pager={pager} pageInfo={data?.calls.pageInfo} />
    </>
  );
}
