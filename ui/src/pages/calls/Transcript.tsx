import { formatOffset } from "../../format";
import type { Segment } from "./queries";

/** What was said, in order; text that may still change is shown as such. */
export function Transcript({ segments, ongoing }: { segments: Segment[]; ongoing: boolean }) {
  return (
    <section className="card" aria-label="Transcript">
      <h2>Transcript</h2>
      {segments.length === 0 && (
        <p className="muted">{ongoing ? "Waiting for someone to speak…" : "Nothing was said."}</p>
      )}
      <ol className="transcript">
        {segments.map((s) => (
          <li
            key={s.seq}
            className={`turn turn-${s.speaker.toLowerCase()}${s.isFinal ? "" : " turn-partial"}`}
            data-testid="segment"
          >
            <div className="turn-meta">
              <strong>{s.speaker === "CALLER" ? "Caller" : "Agent"}</strong>
              <span className="muted">{formatOffset(s.startMs)}</span>
              {s.confidence != null && <span className="muted">{Math.round(s.confidence * 100)}%</span>}
              {!s.isFinal && <span className="muted">(still recognising)</span>}
            </div>
            <div className="turn-text">{s.text}</div>
          </li>
        ))}
      </ol>
    </section>
  );
}
