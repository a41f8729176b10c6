// Why the microphone could not be opened, in words, with what to do. getUserMedia fails with a
// DOMException whose name says why; none of these is a network problem.

export type MicrophoneProblem = "missing" | "blocked" | "busy" | "insecure" | "other";

export class MicrophoneError extends Error {
  readonly problem: MicrophoneProblem;

  constructor(problem: MicrophoneProblem, detail: string) {
    super(detail);
    this.name = "MicrophoneError";
    this.problem = problem;
  }

  static from(err: unknown): MicrophoneError {
    const name = err instanceof DOMException || err instanceof Error ? err.name : "";
    const detail = err instanceof Error ? err.message : String(err);
    switch (name) {
      case "NotFoundError":
      case "OverconstrainedError":
        return new MicrophoneError("missing", detail);
      case "NotAllowedError":
      case "PermissionDeniedError":
        return new MicrophoneError("blocked", detail);
      case "NotReadableError":
      case "AbortError":
        return new MicrophoneError("busy", detail);
      case "SecurityError":
        return new MicrophoneError("insecure", detail);
      default:
        return new MicrophoneError("other", detail);
    }
  }
}

export const MICROPHONE_ADVICE: Record<MicrophoneProblem, { title: string; advice: string }> = {
  missing: {
    title: "No microphone found.",
    advice: "Connect a microphone (or headset) and try again — or choose “Type only” to talk to the agent in writing.",
  },
  blocked: {
    title: "The browser blocked the microphone.",
    advice:
      "Allow microphone access for this site (the icon left of the address bar, or the browser's site settings), then try again — or choose “Type only”.",
  },
  busy: {
    title: "The microphone is in use or not working.",
    advice: "Close other apps that use it (calls, recorders), check the system's sound settings, and try again.",
  },
  insecure: {
    title: "The browser allows the microphone only on secure pages.",
    advice: "Open the portal over https (or on localhost) to talk; “Type only” works here.",
  },
  other: {
    title: "The microphone could not be started.",
    advice: "Check the system's sound settings and try again, or choose “Type only”.",
  },
};
