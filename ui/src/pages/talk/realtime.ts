// A browser client of the OpenAI-Realtime-compatible voice endpoint, `/v1/realtime?agent=<id>`.
// Browsers cannot set headers on a WebSocket, so the session token travels as a subprotocol
// (`openai-insecure-api-key.<token>`), as OpenAI's own browser clients do.

import { CallAudio } from "./audio";
import { encodePcm16 } from "./pcm";

export type TalkStatus = "idle" | "connecting" | "connected" | "closed";

/** What the page shows: the conversation and notable protocol events. */
export type TalkEntry =
  | { kind: "caller"; id: string; text: string }
  | { kind: "agent"; id: string; text: string; done: boolean }
  | { kind: "event"; id: string; text: string }
  | { kind: "error"; id: string; text: string };

export interface TalkHandlers {
  onStatus: (status: TalkStatus, detail?: string) => void;
  onEntry: (entry: TalkEntry) => void;
  onLevel: (level: number) => void;
}

interface ServerEvent {
  type: string;
  event_id?: string;
  item_id?: string;
  response_id?: string;
  delta?: string;
  transcript?: string;
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

  constructor(handlers: TalkHandlers) {
    this.handlers = handlers;
  }

  /** Opens audio (call from a click), connects with the session token, and streams the microphone. */
  async start(agentId: string, sessionToken: string): Promise<void> {
    this.handlers.onStatus("connecting");
    this.audio = await CallAudio.open();
    const socket = new WebSocket(realtimeUrl(agentId), ["realtime", `openai-insecure-api-key.${sessionToken}`]);
    this.socket = socket;
    socket.onmessage = (message) => this.receive(message.data);
    socket.onclose = (event) => {
      this.handlers.onStatus("closed", event.reason || (event.code === 1000 ? "" : `closed with code ${event.code}`));
      void this.stopAudio();
    };
    socket.onerror = () => this.entry({ kind: "error", text: "The connection failed." });
    await new Promise<void>((resolve, reject) => {
      socket.addEventListener("open", () => resolve(), { once: true });
      socket.addEventListener("close", () => reject(new Error("the voice endpoint refused the connection")), {
        once: true,
      });
    });
    this.handlers.onStatus("connected");
    this.send({ type: "session.update", session: { input_audio_format: "pcm16", output_audio_format: "pcm16" } });
    await this.audio.startMicrophone((samples, level) => {
      this.handlers.onLevel(level);
      this.send({ type: "input_audio_buffer.append", audio: encodePcm16(samples) });
    });
  }

  async stop(): Promise<void> {
    if (this.socket && this.socket.readyState <= WebSocket.OPEN) this.socket.close(1000, "hung up");
    await this.stopAudio();
  }

  private async stopAudio(): Promise<void> {
    const audio = this.audio;
    this.audio = undefined;
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
          text: [event.error?.code, event.error?.message].filter(Boolean).join(": ") || "error",
        });
        break;
    }
  }

  /** Agent text arrives in pieces per item; the page shows one growing line. */
  private agentDelta(event: ServerEvent, done: boolean): void {
    const id = `agent-${event.item_id ?? event.response_id ?? "current"}`;
    const text = done && event.transcript != null ? event.transcript : (this.agentText.get(id) ?? "") + (event.delta ?? "");
    this.agentText.set(id, text);
    this.handlers.onEntry({ kind: "agent", id, text, done });
  }

  private entry(entry: Omit<TalkEntry, "id"> & { id?: string }): void {
    this.handlers.onEntry({ ...entry, id: entry.id ?? `entry-${++this.sequence}` } as TalkEntry);
  }
}
