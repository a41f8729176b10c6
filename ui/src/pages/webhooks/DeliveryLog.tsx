import { useState } from "react";
import { useSearchParams } from "react-router";
import { useMutation, useQuery } from "../../api/hooks";
import { ErrorNotice } from "../../components/ErrorNotice";
import { LoadError, Skeleton } from "../../components/Loading";
import { Pager, usePager } from "../../components/Pager";
import { StatusBadge } from "../../components/StatusBadge";
import { formatTime } from "../../format";
import { DELIVERIES, RETRY_DELIVERY, type Delivery } from "./queries";

type StatusFilter = "" | Delivery["status"];

/** Deliveries to one endpoint, newest first; failed ones can be given one more attempt. */
export function DeliveryLog({ endpointId }: { endpointId: string }) {
  const [query] = useSearchParams();
  const [status, setStatus] = useState<StatusFilter>(query.get("status") === "FAILED" ? "FAILED" : "");
  const pager = usePager();
  const deliveries = useQuery(DELIVERIES, { id: endpointId, first: 25, after: pager.after, status: status || null });
  const retry = useMutation(RETRY_DELIVERY);
  const [open, setOpen] = useState<string>();
  const rows = deliveries.data?.webhookEndpoint?.deliveries.nodes ?? [];

  return (
    <section className="card">
      <div className="row spread">
        <h2>Deliveries</h2>
        <div className="row">
          <select
            aria-label="Delivery status"
            value={status}
            onChange={(e) => {
              setStatus(e.target.value as StatusFilter);
              pager.reset();
            }}
          >
            <option value="">All</option>
            <option value="PENDING">Pending</option>
            <option value="DELIVERED">Delivered</option>
            <option value="FAILED">Failed</option>
          </select>
          <button type="button" onClick={deliveries.reload}>
            Refresh
          </button>
        </div>
      </div>
      <ErrorNotice error={retry.error} />
      {deliveries.error && <LoadError error={deliveries.error} onRetry={deliveries.reload} />}
      {!deliveries.data && !deliveries.error && <Skeleton rows={3} label="Loading deliveries" />}
      {rows.length === 0 && !deliveries.loading && !deliveries.error && <p className="muted">No deliveries.</p>}
      {rows.length > 0 && (
        <table className="table cards">
          <thead>
            <tr>
              <th>Event</th>
              <th>Status</th>
              <th>Attempts</th>
              <th>Last answer</th>
              <th>Created</th>
              <th>
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((d) => (
              <DeliveryRow
                key={d.id}
                delivery={d}
                open={open === d.id}
                onToggle={() => setOpen(open === d.id ? undefined : d.id)}
                onRetry={async () => {
                  if (await retry.run({ id: d.id })) deliveries.reload();
                }}
                retrying={retry.pending}
              />
            ))}
          </tbody>
        </table>
      )}
      <Pager pager={pager} pageInfo={deliveries.data?.webhookEndpoint?.deliveries.pageInfo} />
    </section>
  );
}

function DeliveryRow({
  delivery: d,
  open,
  onToggle,
  onRetry,
  retrying,
}: {
  delivery: Delivery;
  open: boolean;
  onToggle: () => void;
  onRetry: () => void;
  retrying: boolean;
}) {
  return (
    <>
      <tr data-testid="delivery-row">
        <td data-label="Event" className="card-title">
          <button type="button" className="link" onClick={onToggle} aria-expanded={open}>
            {d.eventType}
          </button>
        </td>
        <td data-label="Status">
          <StatusBadge value={d.status} />
        </td>
        <td data-label="Attempts">{d.attempts}</td>
        <td data-label="Last answer" className="wrap-anywhere">
          {d.lastStatusCode ? `HTTP ${d.lastStatusCode}` : ""}
          {d.lastError && <div className="muted small">{d.lastError}</div>}
          {d.status === "PENDING" && d.nextAttemptAt && (
            <div className="muted small">next try {formatTime(d.nextAttemptAt)}</div>
          )}
        </td>
        <td data-label="Created">{formatTime(d.createdAt)}</td>
        <td className="actions">
          {d.status === "FAILED" && (
            <button type="button" onClick={onRetry} disabled={retrying}>
              Retry now
            </button>
          )}
        </td>
      </tr>
      {open && (
        <tr className="payload-row">
          <td colSpan={6}>
            <pre className="json" tabIndex={0}>{pretty(d.payload)}</pre>
          </td>
        </tr>
      )}
    </>
  );
}

function pretty(payload: string): string {
  try {
    return JSON.stringify(JSON.parse(payload), null, 2);
  } catch {
    return payload;
  }
}
