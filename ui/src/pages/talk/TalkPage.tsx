import { useEffect, useRef, useState } from "react";
import { ApiError } from "../../api/errors";
import { useMutation, useQuery } from "../../api/hooks";
import { ErrorNotice } from "../../components/ErrorNotice";
import { PageHeader } from "../../components/PageHeader";
import { formatTime } from "../../format";
import { useLocation } from "../../router";
import { RealtimeTalk, type TalkEntry, type TalkStatus } from "./realtime";

const AGENTS = `query TalkAgents { agents(first: 100) { nodes { id name } } }`;
const SESSION_TOKEN = `mutation CreateSessionToken($agentId: ID!, $ttlSeconds: Int!) {
  createSessionToken(agentId: $agentId, ttlSeconds: $ttlSeconds) { token expiresAt agentId }
}`;

/** Talk to an agent from the browser: microphone in, the agent's voice out, over the live-call protocol. */
export function TalkPage() {
  const { query } = useLocation();
  const agents = useQuery<{ agents: { nodes: { id: string; name: string }[] } }>(AGENTS);
  const mint = useMutation<{ createSessionToken: { token: string; expiresAt: string } }>(SESSION_TOKEN);
  const [agentId, setAgentId] = useState(query.get("agent") ?? "");
  const [status, setStatus] = useState<{ status: TalkStatus; detail?: string }>({ status: "idle" });
  const [entries, setEntries] = useState<TalkEntry[]>([]);
  const [level, setLevel] = useState(0);
  const [tokenExpiry, setTokenExpiry] = useState<string>();
  const [startError, setStartError] = useState<ApiError>();
  const talk = useRef<RealtimeTalk | undefined>(undefined);

  const options = agents.data?.agents.nodes ?? [];
  const chosen = agentId || options[0]?.id || "";
  useEffect(() => () => void talk.current?.stop(), []);

  const start = async () => {
    setEntries([]);
    setStartError(undefined);
    const minted = await mint.run({ agentId: chosen, ttlSeconds: 120 });
    if (!minted) return;
    setTokenExpiry(minted.createSessionToken.expiresAt);
    const session = new RealtimeTalk({
      onStatus: (s, detail) => setStatus({ status: s, detail }),
      onLevel: setLevel,
      onEntry: (entry) =>
        setEntries((list) => {
          const i = list.findIndex((e) => e.id === entry.id);
          return i < 0 ? [...list, entry].slice(-200) : list.map((e, j) => (j === i ? entry : e));
        }),
    });
    talk.current = session;
    try {
      await session.start(chosen, minted.createSessionToken.token);
    } catch (err) {
      setStartError(new ApiError("NETWORK", err instanceof Error ? err.message : String(err)));
      await session.stop();
    }
  };
  const hangUp = async () => {
    await talk.current?.stop();
    talk.current = undefined;
  };
  const busy = status.status === "connecting" || status.status === "connected";

  return (
    <>
      <PageHeader title="Talk to agent" />
      <p className="muted">
        Your microphone streams to the agent over the live-call WebSocket with a short-lived session token; its
        voice plays here.
      </p>
      <section className="card talk-controls">
        <label>
          Agent
          <select value={chosen} onChange={(e) => setAgentId(e.target.value)} disabled={busy}>
            {options.map((a) => (
              <option key={a.id} value={a.id}>
                {a.name}
              </option>
            ))}
          </select>
        </label>
        {busy ? (
          <button type="button" className="danger" onClick={hangUp}>
            Hang up
          </button>
        ) : (
          <button type="button" className="primary" onClick={start} disabled={!chosen || mint.pending}>
            Start talking
          </button>
        )}
        <span className="talk-status" data-testid="talk-status">
          <span className={`dot dot-${status.status}`} /> {status.status}
          {status.detail && <span className="muted"> — {status.detail}</span>}
        </span>
        <meter className="level" min={0} max={0.3} value={level} aria-label="Microphone level" />
      </section>
      {options.length === 0 && agents.data && <div className="empty">Create an agent first.</div>}
      <ErrorNotice error={mint.error ?? startError} />
      {tokenExpiry && (
        <p className="muted small" data-testid="session-token">
          Session token valid until {formatTime(tokenExpiry)}.
        </p>
      )}
      <section className="card" aria-label="Conversation">
        <h2>Conversation</h2>
        {entries.length === 0 && <p className="muted">Press “Start talking” and say hello.</p>}
        <ol className="talk-log">
          {entries.map((e) => (
            <li key={e.id} className={`talk-${e.kind}`} data-testid={`talk-${e.kind}`}>
              {e.kind === "caller" && <strong>You: </strong>}
              {e.kind === "agent" && <strong>Agent: </strong>}
              {e.text}
            </li>
          ))}
        </ol>
      </section>
    </>
  );
}
