"""Model folders scripts/bench-interop.sh derives from all-MiniLM-L6-v2 (Hugging Face layout):

    python3 scripts/interop/models.py int8 MINILM OUT            # dowse's int8 rows, as `dowse distill --int8` writes
    python3 scripts/interop/models.py cross-encoder MINILM OUT   # MiniLM + a fixed one-label head (as the tests' one)
"""

import json
import shutil
import struct
import sys

import numpy as np


def read(path):
    raw = open(path, "rb").read()
    size = struct.unpack("<Q", raw[:8])[0]
    header, data = json.loads(raw[8:8 + size]), raw[8 + size:]
    meta = header.pop("__metadata__", {}) or {}
    tensors = {}
    for name, entry in header.items():
        start, end = entry["data_offsets"]
        tensors[name] = (entry["dtype"], entry["shape"], data[start:end])
    return tensors, meta


def write(path, tensors, meta):
    header, offset, blobs = {"__metadata__": meta}, 0, []
    for name in sorted(tensors):
        dtype, shape, blob = tensors[name]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)) + encoded + b"".join(blobs))


def int8_rows(tensors):
    out = {}
    for name, (dtype, shape, blob) in tensors.items():
        if dtype == "F32" and len(shape) == 2:
            values = np.frombuffer(blob, dtype=np.float32).reshape(shape)
            scale = np.abs(values).max(axis=1) / 127.0
            codes = np.clip(np.round(values / np.where(scale > 0, scale, 1)[:, None]), -127, 127).astype(np.int8)
            out[name] = ("I8", shape, codes.tobytes())
            out[name + ".int8_scale"] = ("F32", [shape[0]], scale.astype(np.float32).tobytes())
        else:
            out[name] = (dtype, shape, blob)
    return out


def cross_encoder(tensors, config):
    hidden = config["hidden_size"]
    weight = np.array([((i * 7919) % 101) / 1000.0 - 0.05 for i in range(hidden)], np.float32)
    config["architectures"] = ["BertForSequenceClassification"]
    config["id2label"] = {"0": "LABEL_0"}
    config["label2id"] = {"LABEL_0": 0}
    tensors = dict(tensors)
    tensors["classifier.weight"] = ("F32", [1, hidden], weight.tobytes())
    tensors["classifier.bias"] = ("F32", [1], np.array([0.1], np.float32).tobytes())
    return tensors


kind, source, out = sys.argv[1:4]
shutil.copytree(source, out, ignore=lambda d, names: [n for n in names if n == "model.safetensors"])
tensors, meta = read(f"{source}/model.safetensors")
if kind == "int8":
    tensors, meta = int8_rows(tensors), {**meta, "dowse.quantization": "int8-rows", "format": "pt"}
else:
    config = json.load(open(f"{source}/config.json"))
    tensors = cross_encoder(tensors, config)
    json.dump(config, open(f"{out}/config.json", "w"), indent=2)
write(f"{out}/model.safetensors", tensors, {**meta, "format": "pt"})
