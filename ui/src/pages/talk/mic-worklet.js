// Runs on the audio rendering thread: collects the microphone's 128-frame render quanta into ~20 ms
// chunks at the context's rate and posts them to the page, which resamples and sends them.
class MicCapture extends AudioWorkletProcessor {
  constructor() {
    super();
    // Kept apart from the chunk: posting transfers (detaches) the chunk's buffer, zeroing its length.
    this.size = Math.round(sampleRate / 50);
    this.chunk = new Float32Array(this.size);
    this.filled = 0;
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (channel) {
      let offset = 0;
      while (offset < channel.length) {
        const take = Math.min(channel.length - offset, this.size - this.filled);
        this.chunk.set(channel.subarray(offset, offset + take), this.filled);
        this.filled += take;
        offset += take;
        if (this.filled === this.size) {
          this.port.postMessage(this.chunk, [this.chunk.buffer]);
          this.chunk = new Float32Array(this.size);
          this.filled = 0;
        }
      }
    }
    return true;
  }
}

registerProcessor("voxedge-mic", MicCapture);
