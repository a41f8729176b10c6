import { useState } from "react";
import { useMutation, useQuery } from "../../api/hooks";
import { ErrorNotice } from "../../components/ErrorNotice";
import { Pager, usePager, type PageInfo } from "../../components/Pager";
import { StatusBadge } from "../../components/StatusBadge";
import { formatTime } from "../../format";
import { DELIVERIES, RETRY_DELIVERY, type Delivery } from "./queries";

type StatusFilter = "" | Delivery["status"];

/** Deliveries to one endpoint, newest first; failed ones can be given one more attempt. */
export function DeliveryLog({ endpointId }: { endpointId: string }) {
  const [status, setStatus] = useState<StatusFilter>("");
  const pager = usePager();
  const deliveries = useQuery<{
    webhookEndpoint: { deliveries: { nodes: Delivery[]; pageInfo: PageInfo } } | null;
  }>(DELIVERIES, { id: endpointId, first: 25, after: pager.after, status: status || null });
  const retry = useMutation<{ retryWebhookDelivery: Delivery }>(RETRY_DELIVERY);
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
      <ErrorNotice error={deliveries.error ?? retry.error} />
      {rows.length === 0 && !deliveries.loading && <p className="muted">No deliveries.</p>}
      {rows.length > 0 && (
        <table className="table">
          <thead>
            <tr>
              <th>Event</th>
              <th>Status</th>
              <th>Attempts</th>
              <th>Last answer</th>
              <th>Created</th>
              <th />
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
      <tr>
        <td>
          <button type="button" className="link" onClick={onToggle} aria-expanded={open}>
            {d.eventType}
          </button>
        </td>
        <td>
          <StatusBadge value={d.status} />
        </td>
        <td>{d.attempts}</td>
        <td>
          {d.lastStatusCode ? `HTTP ${d.lastStatusCode}` : ""}
          {d.lastError && <div className="muted small">{d.lastError}</div>}
          {d.status === "PENDING" && d.nextAttemptAt && (
            <div className="muted small">next try {formatTime(d.nextAttemptAt)}</div>
          )}
        </td>
        <td>{formatTime(d.createdAt)}</td>
        <td className="actions">
          {d.status === "FAILED" && (
            <button type="button" onClick={onRetry} disabled={retrying}>
              Retry
            </button>
          )}
        </td>
      </tr>
      {open && (
        <tr>
          <td colSpan={6}>
            <pre className="json">{pretty(d.payload)}</pre>
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
