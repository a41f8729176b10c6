import workletUrl from "./mic-worklet.js?url";
import { MicrophoneError } from "./microphone";
import { decodePcm16, level, Resampler, WIRE_RATE } from "./pcm";

/**
 * The browser's side of a voice call: the microphone, captured by an AudioWorklet and resampled to
 * 24 kHz, and a player for the agent's 24 kHz audio that can be cut off when the caller interrupts.
 */
export class CallAudio {
  private readonly context: AudioContext;
  private stream?: MediaStream;
  private capture?: AudioWorkletNode;
  private playHead = 0;
  private readonly playing = new Set<AudioBufferSourceNode>();

  private constructor(context: AudioContext) {
    this.context = context;
  }

  /** Must run from a user gesture (browsers start audio only then). */
  static async open(): Promise<CallAudio> {
    const context = new AudioContext();
    await context.resume();
    return new CallAudio(context);
  }

  /** Starts the microphone; `onChunk` gets 24 kHz samples about every 20 ms, and their level. */
  async startMicrophone(onChunk: (samples: Float32Array, level: number) => void): Promise<void> {
    // Outside secure contexts `navigator.mediaDevices` does not exist at all.
    if (!navigator.mediaDevices?.getUserMedia) {
      throw new MicrophoneError("insecure", "navigator.mediaDevices is not available on this page");
    }
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({
        audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      });
    } catch (err) {
      throw MicrophoneError.from(err);
    }
    await this.context.audioWorklet.addModule(workletUrl);
    const resampler = new Resampler(this.context.sampleRate, WIRE_RATE);
    const source = this.context.createMediaStreamSource(this.stream);
    this.capture = new AudioWorkletNode(this.context, "voxedge-mic", { numberOfInputs: 1, numberOfOutputs: 1 });
    this.capture.port.onmessage = (event: MessageEvent<Float32Array>) => {
      const samples = resampler.process(event.data);
      onChunk(samples, level(samples));
    };
    source.connect(this.capture);
    // Connected to the output (it writes silence) so the graph keeps pulling it.
    this.capture.connect(this.context.destination);
  }

  /** Queues agent audio (base64 PCM16, 24 kHz) right after what is already queued. */
  play(base64: string): void {
    const samples = decodePcm16(base64);
    if (samples.length === 0) return;
    const buffer = this.context.createBuffer(1, samples.length, WIRE_RATE);
    buffer.copyToChannel(samples, 0);
    const source = this.context.createBufferSource();
    source.buffer = buffer;
    source.connect(this.context.destination);
    const at = Math.max(this.context.currentTime + 0.02, this.playHead);
    source.start(at);
    this.playHead = at + buffer.duration;
    this.playing.add(source);
    source.onended = () => this.playing.delete(source);
  }

  /** Whether agent audio is still queued or playing. */
  isPlaying(): boolean {
    return this.playing.size > 0;
  }

  /** Stops the agent's audio at once (the caller started talking). */
  clearPlayback(): void {
    for (const source of this.playing) source.stop();
    this.playing.clear();
    this.playHead = 0;
  }

  async close(): Promise<void> {
    this.clearPlayback();
    this.capture?.port.close();
    this.capture?.disconnect();
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    await this.context.close();
  }
}
