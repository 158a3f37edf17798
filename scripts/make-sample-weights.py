#!/usr/bin/env python3
"""Regenerates sample/tiny-model/model.safetensors and tokenizer.json deterministically.
Only needed to change the sample; the generated files are committed."""
import json, os, random, struct

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sample", "tiny-model")
rng = random.Random(20261122)
tensors = {"embeddings.word_embeddings.weight": (64, 32), "encoder.layer.0.dense.weight": (32, 32),
           "pooler.dense.bias": (32,)}
header, blobs, offset = {}, [], 0
for name, shape in tensors.items():
    n = 1
    for d in shape:
        n *= d
    data = struct.pack("<%df" % n, *[rng.uniform(-0.1, 0.1) for _ in range(n)])
    header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + len(data)]}
    blobs.append(data)
    offset += len(data)
header["__metadata__"] = {"format": "pt"}
h = json.dumps(header, separators=(",", ":")).encode()
h += b" " * ((8 - len(h) % 8) % 8)
with open(os.path.join(here, "model.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + ["tok%d" % i for i in range(59)]
tok = {"version": "1.0", "model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": {t: i for i, t in enumerate(vocab)}}}
with open(os.path.join(here, "tokenizer.json"), "w") as f:
    json.dump(tok, f, indent=1)
