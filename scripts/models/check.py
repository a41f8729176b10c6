"""Checks that the ONNX models in a models directory load and do their job, with onnxruntime (the version voxedge
loads), numpy and espeak-ng; prints each model's inputs and outputs and what it computed. docs/models.md records
the results. Run through scripts/check-models, which provides the venv.

Test speech is made on the spot: espeak-ng for the VAD, the Piper voice for the turn model. Whisper models are
checked with `cargo run --release --example transcribe` instead (whisper.cpp is not an ONNX model).
"""

import json
import subprocess
import sys
import unicodedata
import wave
from pathlib import Path

import numpy as np
import onnxruntime as ort


def session(path):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    s = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    print(f"\n== {path.name} ({path.stat().st_size:,} bytes)")
    for i in s.get_inputs():
        print(f"   input  {i.name:16} {i.type:16} {i.shape}")
    for o in s.get_outputs():
        print(f"   output {o.name:16} {o.type:16} {o.shape}")
    return s


def espeak_wav_16k(text, voice="en-us"):
    """espeak-ng speech as float32 at 16 kHz (espeak-ng speaks at 22050 Hz; sox resamples)."""
    raw = subprocess.run(["espeak-ng", "-v", voice, "--stdout", text], check=True, capture_output=True).stdout
    pcm = subprocess.run(
        ["sox", "-t", "wav", "-", "-t", "raw", "-r", "16000", "-c", "1", "-b", "16", "-e", "signed", "-"],
        input=raw, check=True, capture_output=True,
    ).stdout
    return np.frombuffer(pcm, np.int16).astype(np.float32) / 32768


def resample(audio, rate_in, rate_out):
    pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16).tobytes()
    out = subprocess.run(
        ["sox", "-t", "raw", "-r", str(rate_in), "-c", "1", "-b", "16", "-e", "signed", "-",
         "-t", "raw", "-r", str(rate_out), "-c", "1", "-b", "16", "-e", "signed", "-"],
        input=pcm, check=True, capture_output=True,
    ).stdout
    return np.frombuffer(out, np.int16).astype(np.float32) / 32768


def write_wav(path, audio, rate):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(audio, -1, 1) * 32767).astype(np.int16).tobytes())


# --- Silero VAD -------------------------------------------------------------------------------------------------

def check_vad(path):
    s = session(path)
    speech = espeak_wav_16k("The quick brown fox jumps over the lazy dog.")
    silence = np.zeros(16000, np.float32)
    audio = np.concatenate([silence, speech, silence])
    state = np.zeros((2, 1, 128), np.float32)
    context = np.zeros(64, np.float32)
    probs = []
    for start in range(0, len(audio) - 511, 512):
        chunk = audio[start : start + 512]
        x = np.concatenate([context, chunk])[None, :]  # 64 samples of context + 512 new ones
        out, state = s.run(None, {"input": x, "state": state, "sr": np.array(16000, np.int64)})
        probs.append(float(out[0, 0]))
        context = chunk[-64:]
    probs = np.array(probs)
    lead, tail = probs[: 16000 // 512 - 1], probs[-(16000 // 512) + 1 :]
    body = probs[16000 // 512 + 2 : -(16000 // 512) - 2]
    print(f"   {len(speech) / 16000:.2f} s of espeak-ng speech between 1 s silences, 32 ms chunks:")
    print(f"   speech probability: silence before max {lead.max():.3f}, during speech mean {body.mean():.3f},"
          f" silence after max {tail.max():.3f}")
    assert lead.max() < 0.2 and body.mean() > 0.5, "VAD does not separate speech from silence"


# --- Piper ------------------------------------------------------------------------------------------------------

def piper_phoneme_ids(text, config):
    ipa = subprocess.run(
        ["espeak-ng", "-q", "--ipa", "-v", config["espeak"]["voice"], text], check=True, capture_output=True, text=True
    ).stdout
    id_map = config["phoneme_id_map"]
    ids = list(id_map["^"]) + list(id_map["_"])
    # espeak-ng puts one clause a line; Piper joins them with spaces. Phonemes are NFD code points.
    phonemes = unicodedata.normalize("NFD", " ".join(line.strip() for line in ipa.splitlines() if line.strip()))
    skipped = set()
    for ph in phonemes:
        if ph in id_map:
            ids += list(id_map[ph]) + list(id_map["_"])
        else:
            skipped.add(ph)
    ids += list(id_map["$"])
    return np.array([ids], np.int64), phonemes, skipped


def piper_synthesize(s, config, text):
    ids, _, _ = piper_phoneme_ids(text, config)
    inference = config["inference"]
    scales = np.array([inference["noise_scale"], inference["length_scale"], inference["noise_w"]], np.float32)
    feeds = {"input": ids, "input_lengths": np.array([ids.shape[1]], np.int64), "scales": scales}
    if any(i.name == "sid" for i in s.get_inputs()):
        feeds["sid"] = np.array([0], np.int64)
    return s.run(None, feeds)[0].reshape(-1)


def check_piper(path, out_dir):
    config = json.loads(path.with_suffix(".onnx.json").read_text())
    s = session(path)
    rate = config["audio"]["sample_rate"]
    text = "Thanks for calling. How can I help you today?"
    ids, phonemes, skipped = piper_phoneme_ids(text, config)
    audio = piper_synthesize(s, config, text)
    rms = float(np.sqrt(np.mean(audio**2)))
    wav = out_dir / f"{path.stem}.wav"
    write_wav(wav, audio, rate)
    print(f"   espeak-ng voice {config['espeak']['voice']}, {rate} Hz, scales {config['inference']}")
    print(f"   '{text}' -> {ids.shape[1]} phoneme ids ({phonemes!r}; unmapped: {sorted(skipped) or 'none'})")
    print(f"   -> {len(audio) / rate:.2f} s of audio, RMS {rms:.3f}; written to {wav}")
    assert 1.0 < len(audio) / rate < 8.0 and rms > 0.01, "Piper output is not speech-like"
    return config, s


# --- Smart Turn v3 ----------------------------------------------------------------------------------------------

def mel_filters(sr=16000, n_fft=400, n_mels=80):
    """Slaney-style mel filterbank (librosa's default, what Whisper's feature extractor uses): [n_mels, n_fft/2+1]."""

    def hz_to_mel(f):
        f = np.asarray(f, np.float64)
        return np.where(f >= 1000, 15 + np.log(np.maximum(f, 1e-9) / 1000) / (np.log(6.4) / 27), 3 * f / 200)

    def mel_to_hz(m):
        m = np.asarray(m, np.float64)
        return np.where(m >= 15, 1000 * np.exp((np.log(6.4) / 27) * (m - 15)), 200 * m / 3)

    fft_freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(0), hz_to_mel(sr / 2), n_mels + 2))
    lower = (fft_freqs[None, :] - edges[:-2, None]) / (edges[1:-1] - edges[:-2])[:, None]
    upper = (edges[2:, None] - fft_freqs[None, :]) / (edges[2:] - edges[1:-1])[:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    return weights * (2.0 / (edges[2:] - edges[:-2]))[:, None]


def whisper_features_8s(audio):
    """Smart Turn's input: Whisper log-mel of the last 8 s (zero-padded in front), waveform normalised first."""
    n = 8 * 16000
    x = audio[-n:] if len(audio) >= n else np.concatenate([np.zeros(n - len(audio), np.float32), audio])
    x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)
    padded = np.pad(x.astype(np.float64), 200, mode="reflect")
    window = np.hanning(401)[:-1]  # periodic Hann
    frames = np.lib.stride_tricks.sliding_window_view(padded, 400)[::160]
    power = np.abs(np.fft.rfft(frames * window, axis=-1)) ** 2  # [801, 201]
    log_mel = np.log10(np.maximum(mel_filters() @ power.T, 1e-10))[:, :-1]  # [80, 800]
    log_mel = np.maximum(log_mel, log_mel.max() - 8.0)
    return ((log_mel + 4.0) / 4.0).astype(np.float32)


def check_smart_turn(path, piper):
    s = session(path)
    if piper is None:
        print("   (no Piper voice to make test speech; loaded only)")
        return
    config, voice = piper
    rate = config["audio"]["sample_rate"]
    results = []
    for label, text in (("complete", "Can you tell me what time the store opens tomorrow?"),
                        ("cut off", "Can you tell me what time the")):
        audio = resample(piper_synthesize(voice, config, text), rate, 16000)
        if label == "cut off":
            audio = audio[: int(len(audio) * 0.8)]  # stop mid-word, as a caller pausing would
        features = whisper_features_8s(audio)
        probability = float(s.run(None, {"input_features": features[None]})[0].reshape(-1)[0])
        results.append(probability)
        print(f"   {label:8} '{text}' ({len(audio) / 16000:.1f} s): end-of-turn probability {probability:.3f}")
    assert 0.0 <= min(results) and max(results) <= 1.0, "Smart Turn output is not a probability"


# --- all-MiniLM-L6-v2 -------------------------------------------------------------------------------------------

def wordpiece(text, vocab, max_len=256):
    """BERT uncased tokenization: lower-case, strip accents, split on whitespace and punctuation, WordPiece."""
    text = "".join(c for c in unicodedata.normalize("NFD", text.lower()) if unicodedata.category(c) != "Mn")
    words, word = [], ""
    for c in text:
        if c.isspace() or unicodedata.category(c).startswith("P") or (33 <= ord(c) <= 47) or (58 <= ord(c) <= 64):
            if word:
                words.append(word)
            word = ""
            if not c.isspace():
                words.append(c)
        else:
            word += c
    if word:
        words.append(word)
    ids = [vocab["[CLS]"]]
    for w in words:
        start, pieces = 0, []
        while start < len(w):
            end = len(w)
            while end > start and (w[start:end] if start == 0 else "##" + w[start:end]) not in vocab:
                end -= 1
            if end == start:
                pieces = [vocab["[UNK]"]]
                break
            pieces.append(vocab[w[start:end] if start == 0 else "##" + w[start:end]])
            start = end
        ids += pieces
    return ids[: max_len - 1] + [vocab["[SEP]"]]


def check_embeddings(path, vocab_path):
    s = session(path)
    vocab = {token: i for i, token in enumerate(vocab_path.read_text().splitlines())}
    sentences = ["I'd like to book a table for two tonight.",
                 "Can I reserve a table for two people this evening?",
                 "The invoice for last month is overdue."]
    vectors = []
    for text in sentences:
        ids = np.array([wordpiece(text, vocab)], np.int64)
        mask = np.ones_like(ids)
        hidden = s.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
        pooled = (hidden * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)  # mean over tokens
        vectors.append(pooled[0] / np.linalg.norm(pooled[0]))
    similar, different = float(vectors[0] @ vectors[1]), float(vectors[0] @ vectors[2])
    print(f"   {len(vocab)} vocabulary entries; sentence vectors of {vectors[0].shape[0]} dimensions")
    print(f"   cosine: paraphrase {similar:.3f}, unrelated {different:.3f}")
    assert vectors[0].shape == (384,) and similar > different + 0.3, "embeddings do not separate meaning"


def main(models_dir, out_dir):
    models_dir, out_dir = Path(models_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    print(f"onnxruntime {ort.__version__}, numpy {np.__version__}")
    if (models_dir / "silero_vad.onnx").exists():
        check_vad(models_dir / "silero_vad.onnx")
    piper = None
    for voice in sorted(models_dir.glob("*.onnx")):
        if voice.with_suffix(".onnx.json").exists():
            piper = piper or check_piper(voice, out_dir)
    if (models_dir / "smart-turn-v3.2-cpu.onnx").exists():
        check_smart_turn(models_dir / "smart-turn-v3.2-cpu.onnx", piper)
    if (models_dir / "all-MiniLM-L6-v2-int8.onnx").exists():
        check_embeddings(models_dir / "all-MiniLM-L6-v2-int8.onnx", models_dir / "all-MiniLM-L6-v2-vocab.txt")
    print("\nall checks passed")


if __name__ == "__main__":
    main(*sys.argv[1:3])
