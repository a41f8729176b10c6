"""Whisper model files for whisper.cpp (whisper-rs 0.16 bundles whisper.cpp 1.8.3), made from registry material.

Two operations, both plain numpy so that no ML framework is needed:

- `ct2_to_ggml`: a CTranslate2 Whisper model (the faster-whisper format: `model.bin`, float16) into whisper.cpp's
  GGML file (float16 weights), with the mel filters and the tokenizer from the `openai-whisper` sdist's
  `whisper/assets`. This is what whisper.cpp's own `convert-pt-to-ggml.py` writes from a PyTorch checkpoint; the
  CTranslate2 model holds the same weights under other names, with q/k/v fused.
- `quantize`: a float16 GGML file into q8_0 or q5_0, reproducing whisper.cpp's `quantize` tool (the reference
  row quantizers of ggml, `quantize_row_q8_0_ref` / `quantize_row_q5_0_ref`): every 2-D tensor except the conv
  biases and positional embeddings, in blocks of 32 values with a float16 scale.
"""

import base64
import re
import struct
from pathlib import Path

import numpy as np

GGML_MAGIC = 0x67676D6C
# ggml_type ids and ggml_ftype ids (ggml.h), and the version whisper.cpp folds into a quantized file's ftype.
GGML_TYPE_F32, GGML_TYPE_F16, GGML_TYPE_Q5_0, GGML_TYPE_Q8_0 = 0, 1, 6, 8
QUANT_TYPES = {"q8_0": (GGML_TYPE_Q8_0, 7), "q5_0": (GGML_TYPE_Q5_0, 8)}
GGML_QNT_VERSION, GGML_QNT_VERSION_FACTOR = 2, 1000
BLOCK = 32

# Tensors whisper.cpp keeps in float32 in a float16 model, and never quantizes.
KEEP_F32 = ("encoder.conv1.bias", "encoder.conv2.bias", "encoder.positional_embedding", "decoder.positional_embedding")

CT2_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


def read_ct2(path):
    """Variables of a CTranslate2 model.bin (binary version 6) by name, aliases resolved."""
    buf = Path(path).read_bytes()
    pos = 0

    def take(fmt):
        nonlocal pos
        values = struct.unpack_from("<" + fmt, buf, pos)
        pos += struct.calcsize("<" + fmt)
        return values[0] if len(values) == 1 else values

    def string():
        nonlocal pos
        n = take("H")  # length including the trailing NUL
        s = buf[pos : pos + n - 1].decode()
        pos += n
        return s

    version = take("I")
    if version != 6:
        raise SystemExit(f"unsupported CTranslate2 model version {version} (expected 6)")
    spec = string()
    take("I")  # spec revision
    if spec != "WhisperSpec":
        raise SystemExit(f"not a Whisper model: {spec}")
    variables = {}
    for _ in range(take("I")):
        name = string()
        rank = take("B")
        shape = [take("I") for _ in range(rank)]
        dtype, nbytes = take("B"), take("I")
        if dtype not in CT2_DTYPES:
            raise SystemExit(f"{name}: CTranslate2 dtype {dtype} is not supported (a quantized model?)")
        count = nbytes // np.dtype(CT2_DTYPES[dtype]).itemsize
        variables[name] = np.frombuffer(buf, CT2_DTYPES[dtype], count, pos).reshape(shape)
        pos += nbytes
    for _ in range(take("I")):
        alias, target = string(), string()
        variables[alias] = variables[target]
    return variables


def _whisper_tensors(v):
    """(openai-whisper name, array) pairs from CTranslate2 variables."""

    def layer_norm(src, dst):
        yield dst + ".weight", v[src + "/gamma"]
        yield dst + ".bias", v[src + "/beta"]

    def linear(src, dst, bias=True):
        yield dst + ".weight", v[src + "/weight"]
        if bias:
            yield dst + ".bias", v[src + "/bias"]

    def split_rows(src, parts):
        # CTranslate2 fuses projections along the output dimension; Whisper's key projection has no bias, so
        # CTranslate2 stores zeros there.
        weight, bias = v[src + "/weight"], v[src + "/bias"]
        n = weight.shape[0] // len(parts)
        for i, dst in enumerate(parts):
            yield dst + ".weight", weight[i * n : (i + 1) * n]
            b = bias[i * n : (i + 1) * n]
            if dst.endswith(".key"):
                if np.any(b):
                    raise SystemExit(f"{src}: non-zero key bias, cannot map to Whisper")
            else:
                yield dst + ".bias", b

    def block(src, dst, cross):
        yield from split_rows(src + "/self_attention/linear_0", [dst + ".attn.query", dst + ".attn.key", dst + ".attn.value"])
        yield from linear(src + "/self_attention/linear_1", dst + ".attn.out")
        yield from layer_norm(src + "/self_attention/layer_norm", dst + ".attn_ln")
        if cross:
            yield from linear(src + "/attention/linear_0", dst + ".cross_attn.query")
            yield from split_rows(src + "/attention/linear_1", [dst + ".cross_attn.key", dst + ".cross_attn.value"])
            yield from linear(src + "/attention/linear_2", dst + ".cross_attn.out")
            yield from layer_norm(src + "/attention/layer_norm", dst + ".cross_attn_ln")
        yield from linear(src + "/ffn/linear_0", dst + ".mlp.0")
        yield from linear(src + "/ffn/linear_1", dst + ".mlp.2")
        yield from layer_norm(src + "/ffn/layer_norm", dst + ".mlp_ln")

    def layers(prefix):
        return sorted({int(m.group(1)) for k in v if (m := re.match(prefix + r"/layer_(\d+)/", k))})

    yield "encoder.conv1.weight", v["encoder/conv1/weight"]
    yield "encoder.conv1.bias", v["encoder/conv1/bias"]
    yield "encoder.conv2.weight", v["encoder/conv2/weight"]
    yield "encoder.conv2.bias", v["encoder/conv2/bias"]
    yield "encoder.positional_embedding", v["encoder/position_encodings/encodings"]
    for i in layers("encoder"):
        yield from block(f"encoder/layer_{i}", f"encoder.blocks.{i}", cross=False)
    yield from layer_norm("encoder/layer_norm", "encoder.ln_post")
    yield "decoder.token_embedding.weight", v["decoder/embeddings/weight"]
    yield "decoder.positional_embedding", v["decoder/position_encodings/encodings"]
    for i in layers("decoder"):
        yield from block(f"decoder/layer_{i}", f"decoder.blocks.{i}", cross=True)
    yield from layer_norm("decoder/layer_norm", "decoder.ln")


def _write_tensor(out, name, array, ttype):
    encoded = name.encode()
    out.write(struct.pack("<iii", array.ndim, len(encoded), ttype))
    # GGML lists dimensions innermost first.
    out.write(struct.pack(f"<{array.ndim}i", *reversed(array.shape)))
    out.write(encoded)
    out.write(np.ascontiguousarray(array).tobytes())


def ct2_to_ggml(ct2_dir, assets_dir, out_path):
    v = read_ct2(Path(ct2_dir) / "model.bin")
    n_vocab, n_text_state = v["decoder/embeddings/weight"].shape
    n_audio_ctx, n_audio_state = v["encoder/position_encodings/encodings"].shape
    n_text_ctx = v["decoder/position_encodings/encodings"].shape[0]
    n_mels = v["encoder/conv1/weight"].shape[1]
    n_audio_layer = len({k.split("/")[1] for k in v if re.match(r"encoder/layer_\d+/", k)})
    n_text_layer = len({k.split("/")[1] for k in v if re.match(r"decoder/layer_\d+/", k)})
    n_audio_head, n_text_head = int(v["encoder/num_heads"]), int(v["decoder/num_heads"])

    assets = Path(assets_dir)
    mel = np.load(assets / "mel_filters.npz")[f"mel_{n_mels}"].astype(np.float32)
    # English-only models have 51864 tokens and use the GPT-2 vocabulary; multilingual ones have 51865 or more.
    vocab_file = "multilingual.tiktoken" if n_vocab >= 51865 else "gpt2.tiktoken"
    ranked = sorted(
        (int(rank), base64.b64decode(token))
        for token, rank in (line.split() for line in (assets / vocab_file).read_text().splitlines() if line)
    )

    with open(out_path, "wb") as out:
        out.write(
            struct.pack(
                "<12i",
                GGML_MAGIC,
                n_vocab,
                n_audio_ctx,
                n_audio_state,
                n_audio_head,
                n_audio_layer,
                n_text_ctx,
                n_text_state,
                n_text_head,
                n_text_layer,
                n_mels,
                1,  # ftype: mostly float16
            )
        )
        out.write(struct.pack("<ii", *mel.shape))
        out.write(mel.tobytes())
        out.write(struct.pack("<i", len(ranked)))
        for _, token in ranked:
            out.write(struct.pack("<i", len(token)))
            out.write(token)
        count = 0
        for name, array in _whisper_tensors(v):
            if name in ("encoder.conv1.bias", "encoder.conv2.bias"):
                array = array.reshape(-1, 1)
            if array.ndim < 2 or name in KEEP_F32:
                _write_tensor(out, name, array.astype(np.float32), GGML_TYPE_F32)
            else:
                _write_tensor(out, name, array.astype(np.float16), GGML_TYPE_F16)
            count += 1
    return f"{count} tensors, {n_audio_layer}+{n_text_layer} layers, width {n_audio_state}, {n_vocab} tokens"


def _round_half_away(x):
    # C's roundf; float64 keeps `|x| + 0.5` exact for float32 inputs.
    x = x.astype(np.float64)
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def _q8_0(rows):
    x = rows.reshape(-1, BLOCK)
    d = np.abs(x).max(axis=1) / np.float32(127)
    inv = np.divide(np.float32(1), d, out=np.zeros_like(d), where=d != 0)
    q = _round_half_away(x * inv[:, None]).astype(np.int8)
    blocks = np.empty(len(x), dtype=[("d", "<f2"), ("qs", "i1", BLOCK)])
    blocks["d"], blocks["qs"] = d.astype(np.float16), q
    return blocks.tobytes()


def _q5_0(rows):
    x = rows.reshape(-1, BLOCK)
    # The scale comes from the value of largest magnitude, sign included (the first one on ties).
    peak = x[np.arange(len(x)), np.abs(x).argmax(axis=1)]
    d = peak / np.float32(-16)
    inv = np.divide(np.float32(1), d, out=np.zeros_like(d), where=d != 0)
    q = np.minimum(31, np.trunc(x * inv[:, None] + np.float32(16.5))).astype(np.uint32)
    half = BLOCK // 2
    qs = (q[:, :half] & 0x0F) | ((q[:, half:] & 0x0F) << 4)
    high = (q >> 4) & 1  # bit j of qh is the fifth bit of value j
    qh = (high << np.arange(BLOCK, dtype=np.uint32)).sum(axis=1, dtype=np.uint32)
    blocks = np.empty(len(x), dtype=[("d", "<f2"), ("qh", "<u4"), ("qs", "u1", half)])
    blocks["d"], blocks["qh"], blocks["qs"] = d.astype(np.float16), qh, qs.astype(np.uint8)
    return blocks.tobytes()


def quantize(src_path, out_path, kind):
    ggml_type, ftype = QUANT_TYPES[kind]
    quantizer = {"q8_0": _q8_0, "q5_0": _q5_0}[kind]
    buf = Path(src_path).read_bytes()
    header = list(struct.unpack_from("<12i", buf, 0))
    if header[0] != GGML_MAGIC or header[11] != 1:
        raise SystemExit(f"{src_path}: not a float16 whisper.cpp model")
    pos = 48
    n_mel, n_fft = struct.unpack_from("<ii", buf, pos)
    pos += 8 + 4 * n_mel * n_fft
    (n_tokens,) = struct.unpack_from("<i", buf, pos)
    pos += 4
    for _ in range(n_tokens):
        (n,) = struct.unpack_from("<i", buf, pos)
        pos += 4 + n
    header[11] = GGML_QNT_VERSION * GGML_QNT_VERSION_FACTOR + ftype
    quantized = 0
    with open(out_path, "wb") as out:
        out.write(struct.pack("<12i", *header))
        out.write(buf[48:pos])  # mel filters and vocabulary, unchanged
        while pos < len(buf):
            n_dims, name_len, ttype = struct.unpack_from("<iii", buf, pos)
            pos += 12
            dims = struct.unpack_from(f"<{n_dims}i", buf, pos)
            pos += 4 * n_dims
            name = buf[pos : pos + name_len].decode()
            pos += name_len
            dtype = {GGML_TYPE_F32: np.float32, GGML_TYPE_F16: np.float16}[ttype]
            count = int(np.prod(dims))
            data = np.frombuffer(buf, dtype, count, pos)
            pos += data.nbytes
            shape = tuple(reversed(dims))
            if n_dims == 2 and name not in KEEP_F32:
                if dims[0] % BLOCK:
                    raise SystemExit(f"{name}: row length {dims[0]} is not a multiple of {BLOCK}")
                out.write(struct.pack("<iii", n_dims, name_len, ggml_type))
                out.write(struct.pack(f"<{n_dims}i", *dims))
                out.write(name.encode())
                out.write(quantizer(data.astype(np.float32)))
                quantized += 1
            else:
                _write_tensor(out, name, data.reshape(shape), ttype)
    return f"{quantized} tensors quantized to {kind}"


if __name__ == "__main__":
    import sys

    usage = "usage: whisper_ggml.py ct2 CT2_DIR ASSETS_DIR OUT.bin | quantize IN.bin OUT.bin q8_0|q5_0"
    if len(sys.argv) == 5 and sys.argv[1] == "ct2":
        print(ct2_to_ggml(*sys.argv[2:5]))
    elif len(sys.argv) == 5 and sys.argv[1] == "quantize":
        print(quantize(*sys.argv[2:5]))
    else:
        raise SystemExit(usage)
