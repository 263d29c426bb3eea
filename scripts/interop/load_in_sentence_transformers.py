"""Loads folders `dowse export` wrote with sentence-transformers (PyTorch) and compares what it
computes with the folders' own ONNX graphs in ONNX Runtime (which tests/export.rs holds to
dowse's outputs): part of scripts/bench-interop.sh, not CI (torch is large).

    python3 -m pip install torch sentence-transformers
    python3 scripts/interop/load_in_sentence_transformers.py SHARED WORK

SentenceTransformer(dir) for the sentence encoders in WORK (all-MiniLM-L6-v2 exported, MiniLM
with dowse's int8 rows exported, and dowse's static query encoder exported: StaticEmbedding, Dense,
Normalize), CrossEncoder(dir) for WORK/models/cross-encoder-onnx.
Prints markdown rows for results/interop.md.
"""

import json
import sys

import numpy as np
import onnxruntime
import sentence_transformers
import torch
from sentence_transformers import CrossEncoder, SentenceTransformer
from tokenizers import Tokenizer

shared, work = sys.argv[1], sys.argv[2]
golden = json.load(open(f"{shared}/fixtures/minilm_golden.json"))["items"]
texts = [item["text"] for item in golden]


def cosine(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def onnx_vectors(folder, model):
    graph = onnxruntime.InferenceSession(f"{folder}/onnx/model.onnx", providers=["CPUExecutionProvider"])
    out = []
    for text in texts:
        features = model.tokenize([text])
        feeds = {"input_ids": features["input_ids"].numpy(), "attention_mask": features["attention_mask"].numpy(),
                 "token_type_ids": features["token_type_ids"].numpy()}
        out.append(graph.run(["sentence_embedding"], feeds)[0][0])
    return out


def static_onnx_vectors(folder):
    """The static encoder's graph on the folder's own tokenizer.json, cut where dowse cuts."""
    graph = onnxruntime.InferenceSession(f"{folder}/onnx/model.onnx", providers=["CPUExecutionProvider"])
    tokenizer = Tokenizer.from_file(f"{folder}/tokenizer.json")
    tokenizer.no_padding()
    tokenizer.enable_truncation(json.load(open(f"{folder}/config.json"))["max_len"])
    out = []
    for text in texts:
        ids = np.array([tokenizer.encode(text).ids], np.int64)
        out.append(graph.run(["sentence_embedding"], {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0][0])
    return out


print(f"\nsentence-transformers {sentence_transformers.__version__} (torch {torch.__version__}) loading the exported folders,")
print("against the same folder's f32 graph in ONNX Runtime, on the 17 golden fixture texts:\n")
print("| folder | loaded as | lowest cosine (or largest logit difference) |")
print("|---|---|---|")
for name, folder in [("all-MiniLM-L6-v2", f"{work}/models/minilm-onnx"), ("MiniLM, dowse int8 rows", f"{work}/site/models/minilm")]:
    model = SentenceTransformer(folder, device="cpu")
    vectors = model.encode(texts, normalize_embeddings=True)
    lowest = min(cosine(a, b) for a, b in zip(vectors, onnx_vectors(folder, model)))
    print(f"| {name} | `SentenceTransformer(dir)`, max_seq_length {model.max_seq_length} | {lowest:.6f} |")

folder = f"{work}/site/models/query"
model = SentenceTransformer(folder, device="cpu")
vectors = model.encode(texts)
lowest = min(cosine(a, b) for a, b in zip(vectors, static_onnx_vectors(folder)))
print(f"| dowse's static query encoder | `SentenceTransformer(dir)`: StaticEmbedding, Dense, Normalize | {lowest:.6f} |")

folder = f"{work}/models/cross-encoder-onnx"
reranker = CrossEncoder(folder, device="cpu")
pairs = [(a, b) for a, b in zip(texts, texts[1:])]
features = reranker.tokenizer([a for a, _ in pairs], [b for _, b in pairs], padding=True, truncation=True, max_length=256,
                              return_tensors="pt")
with torch.no_grad():
    logits = reranker.model(**features).logits[:, 0].numpy()
graph = onnxruntime.InferenceSession(f"{folder}/onnx/model.onnx", providers=["CPUExecutionProvider"])
feeds = {k: features[k].numpy() for k in ("input_ids", "attention_mask", "token_type_ids")}
onnx_logits = graph.run(["logits"], feeds)[0][:, 0]
print(f"| a cross-encoder (MiniLM + a fixed one-label head) | `CrossEncoder(dir)` | {np.abs(logits - onnx_logits).max():.2e} |")
