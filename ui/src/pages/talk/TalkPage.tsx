import { useEffect, useRef, useState, type FormEvent } from "react";
import { Link, useSearchParams } from "react-router";
import { ApiError } from "../../api/errors";
import { useMutation, useQuery } from "../../api/hooks";
import { ErrorNotice } from "../../components/ErrorNotice";
import { LoadError, Skeleton } from "../../components/Loading";
import { PageHeader } from "../../components/PageHeader";
import { formatTime } from "../../format";
import { graphql } from "../../gql";
import { sessions } from "../../api/session";
import { KEYLESS_PROVIDERS } from "../agents/agentConfig";
import { callProblems, endedReasonLabel, type CallProblem } from "../calls/callText";
import { MICROPHONE_ADVICE, MicrophoneError } from "./microphone";
import { RealtimeTalk, type TalkEntry, type TalkMode, type TalkStatus } from "./realtime";

const TALK_SETUP = graphql(`
  query TalkSetup {
    agents(first: 100) { nodes { id name config { llm { primary { provider } fallbacks { provider } } } } }
    llmKeys { provider }
  }
`);
const SESSION_TOKEN = graphql(`
  mutation CreateSessionToken($agentId: ID!, $ttlSeconds: Int!) {
    createSessionToken(agentId: $agentId, ttlSeconds: $ttlSeconds) { token expiresAt agentId }
  }
`);
const CALL_TIMELINE = graphql(`
  query TalkCallTimeline($id: ID!) { call(id: $id) { id status endedReason events(first: 100) { nodes { type data } } } }
`);

const STATUS_WORDS: Record<TalkStatus, string> = {
  idle: "ready",
  connecting: "connecting…",
  connected: "connected",
  closed: "call ended",
};

const MODES: { value: TalkMode; label: string; hint: string }[] = [
  { value: "hands-free", label: "Hands-free", hint: "Just talk; the agent answers when you pause, and you can interrupt it." },
  { value: "push-to-talk", label: "Push to talk", hint: "Hold the button or the space bar while you speak: background noise is ignored." },
  { value: "text", label: "Type only", hint: "No microphone: type your messages, the agent still answers aloud." },
];

/** Talk to an agent from the browser: microphone in, the agent's voice out, over the live-call protocol. */
export function TalkPage() {
  const [query] = useSearchParams();
  const setup = useQuery(TALK_SETUP);
  const mint = useMutation(SESSION_TOKEN);
  const [agentId, setAgentId] = useState(query.get("agent") ?? "");
  const [mode, setMode] = useState<TalkMode>("hands-free");
  const [status, setStatus] = useState<{ status: TalkStatus; detail?: string }>({ status: "idle" });
  const [entries, setEntries] = useState<TalkEntry[]>([]);
  const [level, setLevel] = useState(0);
  const [tokenExpiry, setTokenExpiry] = useState<string>();
  const [startError, setStartError] = useState<ApiError>();
  const [micError, setMicError] = useState<MicrophoneError>();
  const [callId, setCallId] = useState<string>();
  const [problems, setProblems] = useState<CallProblem[]>([]);
  const [ended, setEnded] = useState<string>();
  const [holding, setHolding] = useState(false);
  const talk = useRef<RealtimeTalk | undefined>(undefined);

  const agents = setup.data?.agents.nodes ?? [];
  const chosen = agentId || agents[0]?.id || "";
  const agent = agents.find((a) => a.id === chosen);
  useEffect(() => () => void talk.current?.stop(), []);

  // What the agent's LLM chain lacks before a call even starts: a provider without a key.
  const keyed = new Set(setup.data?.llmKeys.map((k) => k.provider));
  const missingKeys = agent
    ? [agent.config.llm.primary, ...agent.config.llm.fallbacks]
        .map((t) => t.provider)
        .filter((p, i, all) => all.indexOf(p) === i && !keyed.has(p) && !KEYLESS_PROVIDERS.includes(p))
    : [];

  // The call's timeline says why an answer could not be made (the caller only hears the apology).
  const readTimeline = async (id: string) => {
    try {
      const data = await sessions.request(CALL_TIMELINE, { id });
      if (!data.call) return;
      setProblems(callProblems(data.call.events.nodes));
      if (data.call.status === "FAILED") setEnded(endedReasonLabel(data.call.endedReason));
    } catch {
      // Only an explanation is lost; the conversation itself goes on.
    }
  };
  const callIdRef = useRef<string>(undefined);

  const start = async () => {
    setEntries([]);
    setStartError(undefined);
    setMicError(undefined);
    setProblems([]);
    setEnded(undefined);
    setCallId(undefined);
    callIdRef.current = undefined;
    const minted = await mint.run({ agentId: chosen, ttlSeconds: 120 });
    if (!minted) return;
    setTokenExpiry(minted.createSessionToken.expiresAt);
    const session = new RealtimeTalk(mode, {
      onStatus: (s, detail) => {
        setStatus({ status: s, detail });
        if (s === "closed" && callIdRef.current) void readTimeline(callIdRef.current);
      },
      onLevel: setLevel,
      onEntry: (entry) =>
        setEntries((list) => {
          const i = list.findIndex((e) => e.id === entry.id);
          return i < 0 ? [...list, entry].slice(-200) : list.map((e, j) => (j === i ? entry : e));
        }),
      onCallId: (id) => {
        callIdRef.current = id;
        setCallId(id);
      },
      onResponseDone: () => {
        const id = callIdRef.current;
        if (!id) return;
        void readTimeline(id);
        // Timeline entries are written as the response runs; a late one is caught a moment later.
        setTimeout(() => void readTimeline(id), 1500);
      },
    });
    talk.current = session;
    try {
      await session.start(chosen, minted.createSessionToken.token);
    } catch (err) {
      if (err instanceof MicrophoneError) setMicError(err);
      else setStartError(new ApiError("NETWORK", err instanceof Error ? err.message : String(err)));
      await session.stop();
    }
  };
  const hangUp = async () => {
    await talk.current?.stop();
    talk.current = undefined;
    setHolding(false);
  };
  const busy = status.status === "connecting" || status.status === "connected";
  const connected = status.status === "connected";

  const press = () => {
    talk.current?.pressTalk();
    setHolding(true);
  };
  const release = () => {
    talk.current?.releaseTalk();
    setHolding(false);
  };

  // Push to talk with the space bar, unless the focus is in a text field (where space is a space).
  useEffect(() => {
    if (!connected || mode !== "push-to-talk") return;
    const typing = (e: KeyboardEvent) =>
      e.target instanceof HTMLElement && (e.target.closest("input, textarea, select, [contenteditable]") !== null);
    const down = (e: KeyboardEvent) => {
      if (e.code !== "Space" || typing(e)) return;
      e.preventDefault();
      if (!e.repeat) press();
    };
    const up = (e: KeyboardEvent) => {
      if (e.code !== "Space" || typing(e)) return;
      e.preventDefault();
      release();
    };
    window.addEventListener("keydown", down);
    window.addEventListener("keyup", up);
    return () => {
      window.removeEventListener("keydown", down);
      window.removeEventListener("keyup", up);
    };
  }, [connected, mode]);

  return (
    <>
      <PageHeader title="Talk to agent" />
      <p className="muted">
        Talk to an agent from this browser, as a caller would. The call is recorded like any other, under{" "}
        <Link to="/calls">Calls</Link>.
      </p>
      {setup.error && <LoadError error={setup.error} onRetry={setup.reload} />}
      {!setup.data && !setup.error && <Skeleton rows={3} label="Loading agents" />}
      {setup.data && agents.length === 0 && (
        <div className="empty">
          <Link to="/agents/new">Create an agent</Link> first.
        </div>
      )}
      {agents.length > 0 && (
        <section className="card talk-controls" aria-label="Call">
          <label>
            Agent
            <select value={chosen} onChange={(e) => setAgentId(e.target.value)} disabled={busy}>
              {agents.map((a) => (
                <option key={a.id} value={a.id}>
                  {a.name}
                </option>
              ))}
            </select>
          </label>
          <fieldset className="modes" disabled={busy}>
            <legend>How to talk</legend>
            {MODES.map((m) => (
              <label key={m.value} className="inline" title={m.hint}>
                <input type="radio" name="mode" value={m.value} checked={mode === m.value} onChange={() => setMode(m.value)} />
                {m.label}
              </label>
            ))}
          </fieldset>
          <div className="talk-actions">
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
              <span className={`dot dot-${status.status}`} /> {STATUS_WORDS[status.status]}
              {status.detail && <span className="muted"> — {status.detail}</span>}
            </span>
            {mode !== "text" && <meter className="level" min={0} max={0.3} value={level} aria-label="Microphone level" />}
          </div>
          <p className="muted small mode-hint">{MODES.find((m) => m.value === mode)?.hint}</p>
        </section>
      )}
      {missingKeys.length > 0 && !busy && (
        <div className="notice notice-warn" role="status" data-testid="talk-missing-key">
          This agent uses {missingKeys.join(" and ")}, but the workspace has no key for {missingKeys.length === 1 ? "it" : "them"}: the
          agent will only apologise. <Link to="/settings/llm-keys">Add a key in Settings → LLM keys</Link>.
        </div>
      )}
      {micError && (
        <div className="notice notice-error" role="alert" data-testid="talk-mic-error" data-problem={micError.problem}>
          <strong>{MICROPHONE_ADVICE[micError.problem].title}</strong> {MICROPHONE_ADVICE[micError.problem].advice}
        </div>
      )}
      <ErrorNotice error={mint.error ?? startError} />
      {(problems.length > 0 || ended) && (
        <div className="notice notice-warn" role="alert" data-testid="talk-problems">
          <strong>{ended ? `The call failed: ${ended}.` : "The agent could not answer properly."}</strong>
          <ul>
            {problems.map((p) => (
              <li key={p.key}>
                {p.text} {p.fix && <Link to={p.fix.to}>{p.fix.label}</Link>}
              </li>
            ))}
          </ul>
          <div className="row small">
            {callId && <Link to={`/calls/${callId}`}>See the call's timeline</Link>}
            <Link to={`/agents/${chosen}`}>Open the agent's settings</Link>
          </div>
        </div>
      )}
      {tokenExpiry && (
        <p className="muted small" data-testid="session-token">
          Session token valid until {formatTime(tokenExpiry)}.
        </p>
      )}
      {connected && mode === "push-to-talk" && (
        <button
          type="button"
          className={`talk-button${holding ? " talk-button-held" : ""}`}
          aria-pressed={holding}
          onPointerDown={(e) => {
            e.currentTarget.setPointerCapture(e.pointerId);
            press();
          }}
          onPointerUp={release}
          onPointerCancel={release}
          onContextMenu={(e) => e.preventDefault()}
        >
          {holding ? "Listening… release to send" : "Hold to talk (or hold the space bar)"}
        </button>
      )}
      {connected && <MessageForm onSend={(text) => talk.current?.sendText(text)} />}
      <section className="card" aria-labelledby="conversation-title">
        <h2 id="conversation-title">Conversation</h2>
        {entries.length === 0 && <p className="muted">Press “Start talking” and say hello.</p>}
        <ol className="talk-log" aria-live="polite">
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

/** Typing to the agent, in any mode. */
function MessageForm({ onSend }: { onSend: (text: string) => void }) {
  const [text, setText] = useState("");
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!text.trim()) return;
    onSend(text.trim());
    setText("");
  };
  return (
    <form className="card message-form" onSubmit={submit}>
      <label htmlFor="talk-message" className="visually-hidden">
        Message to the agent
      </label>
      <input id="talk-message" value={text} onChange={(e) => setText(e.target.value)} placeholder="Type a message" autoComplete="off" />
      <button type="submit" className="primary">
        Send
      </button>
    </form>
  );
}
