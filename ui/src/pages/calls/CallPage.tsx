import { useCallback, useState, type ReactNode } from "react";
import { useQuery } from "../../api/hooks";
import { useSubscription } from "../../api/live";
import { ErrorNotice } from "../../components/ErrorNotice";
import { PageHeader } from "../../components/PageHeader";
import { StatusBadge } from "../../components/StatusBadge";
import { enumLabel, formatDuration, formatTime } from "../../format";
import { Link } from "../../router";
import { CALL, CALL_UPDATED, TRANSCRIPT_SEGMENTS, type CallDetail, type Segment } from "./queries";
import { Timeline } from "./Timeline";
import { Transcript } from "./Transcript";

const FINAL = new Set(["COMPLETED", "FAILED", "NO_ANSWER", "BUSY", "CANCELED"]);

/** One call: its facts, transcript and timeline, updated live while the page is open. */
export function CallPage({ id }: { id: string }) {
  const { data, error } = useQuery<{ call: (CallDetail & { transcript: { nodes: Segment[] } }) | null }>(CALL, { id });
  const [update, setUpdate] = useState<CallDetail>();
  const [segments, setSegments] = useState<Map<number, Segment>>(new Map());

  const merge = useCallback((incoming: Segment[]) => {
    // A segment with a seq already shown replaces it (a partial result becoming final).
    setSegments((current) => {
      const next = new Map(current);
      for (const s of incoming) next.set(s.seq, s);
      return next;
    });
  }, []);
  const loaded = data?.call != null;
  const callLive = useSubscription<{ callUpdated: CallDetail }>(
    CALL_UPDATED,
    { id },
    (d) => setUpdate(d.callUpdated),
    loaded,
  );
  // From the start (afterSeq 0): replayed segments dedupe by seq, and replacements of early ones arrive.
  const transcriptLive = useSubscription<{ transcriptSegments: Segment }>(
    TRANSCRIPT_SEGMENTS,
    { id, afterSeq: 0 },
    (d) => merge([d.transcriptSegments]),
    loaded,
  );

  if (error) return <ErrorNotice error={error} />;
  if (!data) return <div className="muted">Loading…</div>;
  if (!data.call) return <div className="empty">No such call. <Link to="/calls">All calls</Link></div>;

  const call = update ?? data.call;
  const stored = new Map(data.call.transcript.nodes.map((s) => [s.seq, s]));
  const transcript = [...new Map([...stored, ...segments]).values()].sort((a, b) => a.seq - b.seq);
  const ongoing = !FINAL.has(call.status);

  return (
    <>
      <PageHeader
        title={
          <>
            Call with {call.agent.name} <StatusBadge value={call.status} />
          </>
        }
      >
        {ongoing && (
          <span className="live-indicator" data-testid="live-indicator">
            <span className={`dot dot-${callLive.status}`} /> {callLive.status === "live" ? "Live" : callLive.status}
          </span>
        )}
        <Link to="/calls">All calls</Link>
      </PageHeader>
      <ErrorNotice error={callLive.error ?? transcriptLive.error} />
      <dl className="facts card">
        <Fact label="Status" value={enumLabel(call.status)} testId="call-status" />
        <Fact label="Direction" value={`${enumLabel(call.direction)} · ${enumLabel(call.transport)}`} />
        <Fact label="From" value={call.from ?? "—"} />
        <Fact label="To" value={call.to ?? "—"} />
        <Fact label="Agent" value={<Link to={`/agents/${call.agent.id}`}>{`${call.agent.name} (v${call.agentVersion.version})`}</Link>} />
        <Fact label="Created" value={formatTime(call.createdAt)} />
        <Fact label="Answered" value={formatTime(call.answeredAt)} />
        <Fact label="Ended" value={formatTime(call.endedAt)} />
        <Fact label="Duration" value={formatDuration(call.durationMs)} />
        <Fact label="Ended because" value={call.endedReason ?? "—"} />
        <Fact label="Id" value={<code>{call.id}</code>} />
      </dl>
      <div className="two-columns">
        <Transcript segments={transcript} ongoing={ongoing} />
        <Timeline events={call.events.nodes} metadata={call.metadata} />
      </div>
    </>
  );
}

function Fact({ label, value, testId }: { label: string; value: ReactNode; testId?: string }) {
  return (
    <div>
      <dt>{label}</dt>
      <dd data-testid={testId}>{value}</dd>
    </div>
  );
}
