// A browser client of the OpenAI-Realtime-compatible voice endpoint, `/v1/realtime?agent=<id>`.
// Browsers cannot set headers on a WebSocket, so the session token travels as a subprotocol
// (`openai-insecure-api-key.<token>`), as OpenAI's own browser clients do.
//
// Three ways to talk:
// - hands-free: the microphone streams all the time and the server's voice activity detection decides
//   when a turn ends (and lets the caller interrupt the agent);
// - push-to-talk: `turn_detection: null`, so the server never cuts turns itself; audio is sent only
//   while the talk button (or the space bar) is held, and releasing it commits the turn
//   (`input_audio_buffer.commit`), which the agent then answers. A noisy room cannot barge in;
// - type only: no microphone at all; typed messages (`conversation.item.create` + `response.create`).

import { CallAudio } from "./audio";
import { encodePcm16 } from "./pcm";

export type TalkStatus = "idle" | "connecting" | "connected" | "closed";
export type TalkMode = "hands-free" | "push-to-talk" | "text";

/** What the page shows: the conversation and notable protocol events. */
export type TalkEntry =
  | { kind: "caller"; id: string; text: string }
  | { kind: "agent"; id: string; text: string; done: boolean }
  | { kind: "event"; id: string; text: string }
  | { kind: "error"; id: string; text: string; code?: string };

/** An entry whose id is made up unless given. */
type NewEntry = TalkEntry extends infer E ? (E extends TalkEntry ? Omit<E, "id"> & { id?: string } : never) : never;

export interface TalkHandlers {
  onStatus: (status: TalkStatus, detail?: string) => void;
  onEntry: (entry: TalkEntry) => void;
  onLevel: (level: number) => void;
  /** The call record's id (`session.created`), to read its timeline. */
  onCallId?: (callId: string) => void;
  /** The agent finished (or stopped) a response. */
  onResponseDone?: () => void;
}

interface ServerEvent {
  type: string;
  event_id?: string;
  item_id?: string;
  response_id?: string;
  delta?: string;
  transcript?: string;
  text?: string;
  session?: { id?: string };
  response?: { id?: string; status?: string };
  error?: { message?: string; code?: string; type?: string };
}

export function realtimeUrl(agentId: string): string {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}/v1/realtime?agent=${encodeURIComponent(agentId)}`;
}

export class RealtimeTalk {
  private socket?: WebSocket;
  private audio?: CallAudio;
  private agentText = new Map<string, string>();
  private sequence = 0;
  private readonly handlers: TalkHandlers;
  private readonly mode: TalkMode;
  /** Audio goes out only once the session is configured (session.update sent). */
  private configured = false;
  /** Push-to-talk: whether the button is held, and how much was sent since it was pressed. */
  private holding = false;
  private heldChunks = 0;
  private responding = false;

  constructor(mode: TalkMode, handlers: TalkHandlers) {
    this.mode = mode;
    this.handlers = handlers;
  }

  /**
   * Opens audio (call from a click: browsers start audio only on a user gesture) and the microphone,
   * then connects with the session token. A microphone that cannot be opened fails with a
   * `MicrophoneError` before any call is made.
   */
  async start(agentId: string, sessionToken: string): Promise<void> {
    this.handlers.onStatus("connecting");
    this.audio = await CallAudio.open();
    if (this.mode !== "text") {
      try {
        await this.audio.startMicrophone((samples, level) => this.microphone(samples, level));
      } catch (err) {
        await this.stopAudio();
        this.handlers.onStatus("idle");
        throw err;
      }
    }
    const socket = new WebSocket(realtimeUrl(agentId), ["realtime", `openai-insecure-api-key.${sessionToken}`]);
    this.socket = socket;
    socket.onmessage = (message) => this.receive(message.data);
    socket.onclose = (event) => {
      this.configured = false;
      this.handlers.onStatus("closed", closeDetail(event));
      void this.stopAudio();
    };
    socket.onerror = () => this.entry({ kind: "error", text: "The connection failed." });
    await new Promise<void>((resolve, reject) => {
      socket.addEventListener("open", () => resolve(), { once: true });
      socket.addEventListener("close", (e) => reject(new Error(closeDetail(e) || "the voice endpoint refused the connection")), {
        once: true,
      });
    });
    this.handlers.onStatus("connected");
    const session: Record<string, unknown> = { input_audio_format: "pcm16", output_audio_format: "pcm16" };
    if (this.mode === "push-to-talk") session.turn_detection = null;
    this.send({ type: "session.update", session });
    this.configured = true;
  }

  /** Push-to-talk: the button went down. The agent stops speaking, and what is said now is a new turn. */
  pressTalk(): void {
    if (this.mode !== "push-to-talk" || this.holding || !this.configured) return;
    this.holding = true;
    this.heldChunks = 0;
    this.audio?.clearPlayback();
    if (this.responding) this.send({ type: "response.cancel" });
    this.send({ type: "input_audio_buffer.clear" });
  }

  /** Push-to-talk: the button came up. What was said is committed as the caller's turn. */
  releaseTalk(): void {
    if (!this.holding) return;
    this.holding = false;
    if (this.heldChunks > 0) this.send({ type: "input_audio_buffer.commit" });
  }

  /** A typed message, answered like a spoken one. */
  sendText(text: string): void {
    this.send({
      type: "conversation.item.create",
      item: { type: "message", role: "user", content: [{ type: "input_text", text }] },
    });
    this.entry({ kind: "caller", text });
    this.audio?.clearPlayback();
    if (this.responding) this.send({ type: "response.cancel" });
    this.send({ type: "response.create" });
  }

  async stop(): Promise<void> {
    if (this.socket && this.socket.readyState <= WebSocket.OPEN) this.socket.close(1000, "hung up");
    await this.stopAudio();
  }

  private microphone(samples: Float32Array, level: number): void {
    this.handlers.onLevel(level);
    if (!this.configured) return;
    if (this.mode === "push-to-talk" && !this.holding) return;
    this.heldChunks++;
    this.send({ type: "input_audio_buffer.append", audio: encodePcm16(samples) });
  }

  private async stopAudio(): Promise<void> {
    const audio = this.audio;
    this.audio = undefined;
    this.holding = false;
    await audio?.close();
    this.handlers.onLevel(0);
  }

  private send(event: Record<string, unknown>): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(event));
  }

  private receive(data: unknown): void {
    let event: ServerEvent;
    try {
      event = JSON.parse(String(data));
    } catch {
      return;
    }
    switch (event.type) {
      case "session.created":
        if (event.session?.id) this.handlers.onCallId?.(event.session.id);
        this.entry({ kind: "event", text: "Session started" });
        break;
      case "input_audio_buffer.speech_started":
        // The caller is talking: the agent stops at once.
        this.audio?.clearPlayback();
        this.entry({ kind: "event", text: "Speech started" });
        break;
      case "input_audio_buffer.speech_stopped":
        this.entry({ kind: "event", text: "Speech stopped" });
        break;
      case "conversation.item.input_audio_transcription.completed":
        this.entry({ kind: "caller", text: event.transcript ?? "", id: `caller-${event.item_id ?? this.sequence}` });
        break;
      case "conversation.item.input_audio_transcription.failed":
        this.entry({ kind: "error", text: "Your words could not be transcribed." });
        break;
      case "response.created":
        this.responding = true;
        break;
      case "response.done":
        this.responding = false;
        this.handlers.onResponseDone?.();
        break;
      case "response.output_audio.delta":
      case "response.audio.delta":
        if (event.delta) this.audio?.play(event.delta);
        break;
      case "response.output_audio_transcript.delta":
      case "response.audio_transcript.delta":
      case "response.output_text.delta":
      case "response.text.delta":
        this.agentDelta(event, false);
        break;
      case "response.output_audio_transcript.done":
      case "response.audio_transcript.done":
      case "response.output_text.done":
      case "response.text.done":
        this.agentDelta(event, true);
        break;
      case "error":
        this.entry({
          kind: "error",
          code: event.error?.code,
          text: [event.error?.code, event.error?.message].filter(Boolean).join(": ") || "error",
        });
        break;
    }
  }

  /** Agent text arrives in pieces per item; the page shows one growing line. */
  private agentDelta(event: ServerEvent, done: boolean): void {
    const id = `agent-${event.item_id ?? event.response_id ?? "current"}`;
    const final = event.transcript ?? event.text;
    const text = done && final != null ? final : (this.agentText.get(id) ?? "") + (event.delta ?? "");
    this.agentText.set(id, text);
    this.handlers.onEntry({ kind: "agent", id, text, done });
  }

  private entry(entry: NewEntry): void {
    this.handlers.onEntry({ ...entry, id: entry.id ?? `entry-${++this.sequence}` } as TalkEntry);
  }
}

/** A close frame's reason, or its code when the server gave none; empty for a normal hang-up. */
function closeDetail(event: CloseEvent): string {
  if (event.reason) return event.reason;
  return event.code === 1000 || event.code === 1005 ? "" : `closed with code ${event.code}`;
}
