import { useState } from "react";
import { Link } from "react-router";
import { useSubscription } from "../../api/live";
import { ErrorNotice } from "../../components/ErrorNotice";
import { StatusBadge } from "../../components/StatusBadge";
import { callerLabel } from "./callText";
import { ACTIVE_CALLS, type CallSummary } from "./queries";

/** Calls queued, ringing or in progress right now, kept current by the `activeCalls` subscription. */
export function ActiveCalls() {
  const [calls, setCalls] = useState<CallSummary[]>([]);
  const live = useSubscription(ACTIVE_CALLS, {}, (data) => setCalls(data.activeCalls));
  return (
    <section className="card live-panel" aria-label="Active calls">
      <h2>
        <span className={`dot dot-${live.status}`} /> Live now
        <span className="muted small"> {calls.length} active</span>
      </h2>
      <ErrorNotice error={live.error} />
      {calls.length > 0 && (
        <ul className="live-list">
          {calls.map((c) => (
            <li key={c.id}>
              <StatusBadge value={c.status} /> <Link to={`/calls/${c.id}`}>{c.agent.name}</Link>{" "}
              <span className="muted">{c.direction === "INBOUND" ? callerLabel(c) : c.to ?? "unknown callee"}</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
