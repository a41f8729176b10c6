// PCM16 at 24 kHz mono, little-endian, base64 — the audio format of the OpenAI-Realtime protocol —
// to and from the Web Audio API's Float32 samples at whatever rate the audio context runs.

export const WIRE_RATE = 24_000;

/**
 * Streaming linear-interpolation resampler: chunks may be any length, and the position and last
 * sample carry over so chunk edges leave no clicks. Without a low-pass filter, downsampling 48 kHz
 * to 24 kHz folds content above 12 kHz back, which microphone speech hardly has.
 */
export class Resampler {
  private readonly step: number;
  /** Where the next output sample lies, in input samples from the start of the next chunk (≥ -1). */
  private position = 0;
  /** The previous chunk's last sample: index -1 of the next chunk. */
  private last = 0;

  constructor(fromRate: number, toRate: number = WIRE_RATE) {
    this.step = fromRate / toRate;
  }

  process(input: Float32Array): Float32Array {
    const n = input.length;
    if (n === 0) return new Float32Array(0);
    const out = new Float32Array(Math.ceil((n - this.position) / this.step) + 1);
    let count = 0;
    let p = this.position;
    while (p <= n - 1) {
      const i = Math.floor(p);
      const frac = p - i;
      const a = i < 0 ? this.last : input[i];
      const b = i + 1 < n ? input[i + 1] : a;
      out[count++] = a + (b - a) * frac;
      p += this.step;
    }
    this.position = p - n;
    this.last = input[n - 1];
    return out.subarray(0, count);
  }
}

/** Float samples (-1..1) as base64 little-endian PCM16. */
export function encodePcm16(samples: Float32Array): string {
  const bytes = new Uint8Array(samples.length * 2);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, samples[i]));
    view.setInt16(i * 2, s < 0 ? s * 0x8000 : s * 0x7fff, true);
  }
  let binary = "";
  const CHUNK = 0x8000;
  for (let i = 0; i < bytes.length; i += CHUNK) {
    binary += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  }
  return btoa(binary);
}

/** Base64 little-endian PCM16 as float samples. */
export function decodePcm16(base64: string): Float32Array<ArrayBuffer> {
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  const view = new DataView(bytes.buffer);
  const samples = new Float32Array(Math.floor(bytes.length / 2));
  for (let i = 0; i < samples.length; i++) samples[i] = view.getInt16(i * 2, true) / 0x8000;
  return samples;
}

/** Loudness of a chunk, 0..1 (RMS), for the level meter. */
export function level(samples: Float32Array): number {
  let sum = 0;
  for (const s of samples) sum += s * s;
  return samples.length ? Math.sqrt(sum / samples.length) : 0;
}
