"""Writes scripts/bench-interop.sh's section of results/interop.md from what it measured.

Usage: python3 scripts/interop/report.py SHARED WORK   (WORK: the script's work folder)
"""

import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import zlib

import numpy as np
import onnxruntime
from onnxruntime.quantization import QuantType, quantize_dynamic
from tokenizers import Tokenizer

shared, work = sys.argv[1], sys.argv[2]
PROVIDERS = ["CPUExecutionProvider"]


def session(path):
    return onnxruntime.InferenceSession(path, providers=PROVIDERS)


def encode(graph, ids):
    """One text at a time, as a search box encodes, through an ONNX sentence encoder."""
    names = [i.name for i in graph.get_inputs()]
    feeds = {"input_ids": np.array([ids], np.int64), "attention_mask": np.ones((1, len(ids)), np.int64),
             "token_type_ids": np.zeros((1, len(ids)), np.int64)}
    return graph.run(["sentence_embedding"], {n: feeds[n] for n in names})[0][0]


def cosine(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def p90(values):
    return float(np.percentile(values, 90))


cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
chromium = subprocess.run(["/usr/bin/chromium", "--version"], capture_output=True, text=True).stdout.strip()
print(f"\n## {datetime.date.today()} on {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores of {cpu}")
print(f"\n`bash scripts/bench-interop.sh`; ONNX Runtime {onnxruntime.__version__}, {chromium}, Transformers.js 4.3.2.\n")

# 1. all-MiniLM-L6-v2 exported, in ONNX Runtime, against sentence-transformers' own vectors.
golden = json.load(open(f"{shared}/fixtures/minilm_golden.json"))["items"]
exported = f"{work}/models/minilm-onnx/onnx"
quantize_dynamic(f"{exported}/model.onnx", f"{work}/models/ort-quantize-dynamic.onnx", weight_type=QuantType.QInt8, per_channel=True)
print("all-MiniLM-L6-v2 through `dowse export`, run by ONNX Runtime one text at a time, against the vectors")
print("sentence-transformers gives for the 17 golden fixture texts (cosine; the empty text apart):\n")
print("| graph | bytes | lowest cosine, 16 texts | mean cosine | the empty text |")
print("|---|---|---|---|---|")

for label, path in [("dowse export, f32 (onnx/model.onnx)", f"{exported}/model.onnx"),
                    ("dowse export --int8 (onnx/model_quantized.onnx: per-token int8 activations)", f"{exported}/model_quantized.onnx"),
                    ("ONNX Runtime's quantize_dynamic of the f32 graph (per-tensor uint8 activations, per-channel int8 weights)",
                     f"{work}/models/ort-quantize-dynamic.onnx")]:
    graph = session(path)
    cosines = [(item["text"], cosine(encode(graph, item["input_ids"]), item["embedding"])) for item in golden]
    texts = [c for t, c in cosines if t]
    empty = next(c for t, c in cosines if not t)
    print(f"| {label} | {os.path.getsize(path):,} | {min(texts):.5f} | {statistics.mean(texts):.5f} | {empty:.5f} |")

# 2. The browser, side by side.
queries = json.load(open(f"{work}/queries.json"))
reference = {}
for model, max_len in [("minilm", 256), ("query", 64)]:
    tokenizer = Tokenizer.from_file(f"{work}/site/models/{model}/tokenizer.json")
    tokenizer.enable_truncation(max_len)
    tokenizer.no_padding()
    graph = session(f"{work}/site/models/{model}/onnx/model.onnx")
    reference[model] = [encode(graph, tokenizer.encode(q).ids) for q in queries]

# dowse's encoder on the wire: the worker script, the model's files, the static encoder's table
# shards (named in its head fragment's metadata), and the worker's module, which the worker
# fetches itself (so the page's resource timings miss it; the script measured it with curl).
worker_bytes = {}
for line in open(f"{work}/worker-bytes.txt"):
    module, size = line.split()
    worker_bytes[module] = worker_bytes.get(module, 0) + int(size)


def encoder_files(model):
    manifest = json.load(open(f"{work}/bundle-{model}/manifest.json"))
    names = ["dowse-worker.js", "/bundle/model/"]
    head = manifest["model"].get("pieces")
    if head:
        raw = zlib.decompress(open(f"{work}/bundle-{model}/fragments/{head}", "rb").read(), -15)
        size = int.from_bytes(raw[:8], "little")
        shards = json.loads(raw[8:8 + size])["__metadata__"]["dowse.piece_shards"].split(",")
        names += [f"/{name}" for name in [head] + shards]
    return names, worker_bytes["dowse-static" if head else "dowse-encoder"]


print("\nQuery encoders in headless Chromium, 50 Cranfield queries (40 long questions, 10 of two to four words),")
print("one at a time after a first one; both sides served by `dowse serve` (gzip/br on the wire), one")
print("thread each (no cross-origin isolation). dowse: tokenize + encode as its app times them; cold:")
print("page load to the first hybrid result, bundle included. Transformers.js: `pipeline('feature-extraction')`")
print("with mean pooling and normalize; cold: pipeline load + first vector. Bytes: the encoder's runtime and")
print("model on the wire for the cold load (dowse's whole cold load in brackets, app and bundle included).")
print("Cosine: each query's vector against dowse's (through the f32 export), lowest over the 50.\n")
print("| model | encoder | median ms / query | p90 ms | cold ms | encoder bytes (runtime + model) | lowest cosine |")
print("|---|---|---|---|---|---|---|")
names = {"minilm": "all-MiniLM-L6-v2 int8", "query": "dowse's static query encoder"}
for line in open(f"{work}/runs.jsonl"):
    run = json.loads(line)
    report = run["report"]
    model = names[run["model"]]
    if run["side"] == "dowse":
        label = f"dowse, {'WebGPU' if run['webgpu'] else 'CPU path'} ({report.get('backend', '?')})"
        times = [t["tokenize"] + t["encode"] for t in report["timings"]]
        files, module = encoder_files(run["model"])
        encoder = module + sum(r["bytes"] for r in report["cold_resources"] if any(f in r["name"] for f in files))
        print(f"| {model} | {label} | {statistics.median(times):.2f} | {p90(times):.2f} | {report['cold_ms']} | "
              f"{encoder:,} ({report['cold_bytes'] + module:,}) | (itself) |")
        continue
    label = f"Transformers.js {run['dtype']}, {run['device']}"
    if "error" in report:
        print(f"| {model} | {label} | failed: {report['error'][:120]} | | | | |")
        continue
    times = report["times"]
    total = sum(r["bytes"] for r in report["resources"])
    lowest = min(cosine(v, r) for v, r in zip(report["vectors"], reference[run["model"]]))
    print(f"| {model} | {label} | {statistics.median(times):.2f} | {p90(times):.2f} | {report['first_vector_ms']:.0f} | "
          f"{total:,} | {lowest:.5f} |")
