import { formatTime } from "../../format";
import type { CallEvent } from "./queries";

/** The call's events, oldest first, with their data; and the caller-supplied metadata. */
export function Timeline({ events, metadata }: { events: CallEvent[]; metadata: unknown }) {
  const hasMetadata = metadata != null && typeof metadata === "object" && Object.keys(metadata).length > 0;
  return (
    <section className="card" aria-label="Timeline">
      <h2>Timeline</h2>
      <ol className="timeline">
        {events.map((e) => (
          <li key={e.seq} data-testid="event">
            <div className="timeline-head">
              <strong>{e.type.replace(/_/g, " ")}</strong>
              <span className="muted small">{formatTime(e.at)}</span>
            </div>
            {summarise(e.data) && <div className="muted small mono">{summarise(e.data)}</div>}
          </li>
        ))}
      </ol>
      {hasMetadata && (
        <>
          <h3>Metadata</h3>
          <pre className="json" tabIndex={0}>{JSON.stringify(metadata, null, 2)}</pre>
        </>
      )}
    </section>
  );
}

function summarise(data: unknown): string {
  if (data == null || (typeof data === "object" && Object.keys(data).length === 0)) return "";
  if (typeof data !== "object") return String(data);
  return Object.entries(data as Record<string, unknown>)
    .filter(([, v]) => v != null)
    .map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
    .join(" · ");
}
