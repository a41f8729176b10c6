import { useCallback, useState, type ReactNode } from "react";
import { Link } from "react-router";
import { useQuery } from "../../api/hooks";
import { useSubscription } from "../../api/live";
import { ErrorNotice } from "../../components/ErrorNotice";
import { LoadError, Skeleton } from "../../components/Loading";
import { PageHeader } from "../../components/PageHeader";
import { StatusBadge } from "../../components/StatusBadge";
import { enumLabel, formatDuration, formatTime } from "../../format";
import { callerLabel, callProblems, endedReasonLabel } from "./callText";
import { CALL, CALL_UPDATED, TRANSCRIPT_SEGMENTS, type CallDetail, type Segment } from "./queries";
import { Timeline } from "./Timeline";
import { Transcript } from "./Transcript";

const FINAL = new Set(["COMPLETED", "FAILED", "NO_ANSWER", "BUSY", "CANCELED"]);

/** One call: its facts, transcript and timeline, updated live while the page is open. */
export function CallPage({ id }: { id: string }) {
  const query = useQuery(CALL, { id });
  const { data, error } = query;
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
  const callLive = useSubscription(CALL_UPDATED, { id }, (d) => setUpdate(d.callUpdated), loaded);
  // From the start (afterSeq 0): replayed segments dedupe by seq, and replacements of early ones arrive.
  const transcriptLive = useSubscription(
    TRANSCRIPT_SEGMENTS,
    { id, afterSeq: 0 },
    (d) => merge([d.transcriptSegments]),
    loaded,
  );

  if (error || !data) {
    return (
      <>
        <PageHeader title="Call" />
        {error ? <LoadError error={error} onRetry={query.reload} /> : <Skeleton rows={8} label="Loading the call" />}
      </>
    );
  }
  if (!data.call) {
    return (
      <>
        <PageHeader title="Call not found" />
        <div className="empty">
          No such call. <Link to="/calls">All calls</Link>
        </div>
      </>
    );
  }

  const call = update ?? data.call;
  const stored = new Map(data.call.transcript.nodes.map((s) => [s.seq, s]));
  const transcript = [...new Map([...stored, ...segments]).values()].sort((a, b) => a.seq - b.seq);
  const ongoing = !FINAL.has(call.status);
  const problems = callProblems(call.events.nodes);

  return (
    <>
      <PageHeader
        docTitle={`Call with ${call.agent.name}`}
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
      {problems.length > 0 && (
        <div className="notice notice-warn" role="status" data-testid="call-problems">
          <strong>What went wrong</strong>
          <ul>
            {problems.map((p) => (
              <li key={p.key}>
                {p.text} {p.fix && <Link to={p.fix.to}>{p.fix.label}</Link>}
              </li>
            ))}
          </ul>
        </div>
      )}
      <dl className="facts card">
        <Fact label="Status" value={enumLabel(call.status)} testId="call-status" />
        <Fact label="Ended because" value={endedReasonLabel(call.endedReason)} testId="call-ended-reason" />
        <Fact label="Direction" value={`${enumLabel(call.direction)} · ${call.transport === "WEB" ? "Web" : "Phone"}`} />
        <Fact label="From" value={callerLabel(call)} />
        <Fact label="To" value={call.to ?? "—"} />
        {call.transport === "WEB" && call.from && <Fact label="User agent" value={<span className="small">{call.from}</span>} wide />}
        <Fact
          label="Agent"
          value={<Link to={`/agents/${call.agent.id}`}>{`${call.agent.name} (v${call.agentVersion.version})`}</Link>}
        />
        <Fact label="Created" value={formatTime(call.createdAt)} />
        <Fact label="Answered" value={formatTime(call.answeredAt)} />
        <Fact label="Ended" value={formatTime(call.endedAt)} />
        <Fact label="Duration" value={formatDuration(call.durationMs)} />
        <Fact label="Id" value={<code>{call.id}</code>} />
      </dl>
      <div className="two-columns">
        <Transcript segments={transcript} ongoing={ongoing} />
        <Timeline events={call.events.nodes} metadata={call.metadata} />
      </div>
    </>
  );
}

function Fact({ label, value, testId, wide }: { label: string; value: ReactNode; testId?: string; wide?: boolean }) {
  return (
    <div className={wide ? "fact-wide" : undefined}>
      <dt>{label}</dt>
      <dd data-testid={testId}>{value}</dd>
    </div>
  );
}
