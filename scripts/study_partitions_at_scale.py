"""Would the sign codes pay to be split into k-means partitions on a large site? A design study
for issue 24's 100,000-page target (results/bundle.md), on the synthetic site of
scripts/bench-scale.sh (the same pages, same seed): each page and SciFact's test queries encoded
by the shipped static encoder (models/query, as bench-scale.sh indexes it: the mean of its int8
rows, its map, unit length), the exact top 10 of each query, and for P partitions (spherical
k-means) the fewest partitions a query must open so that its exact top 10 lies in them, mean over
the queries less two standard errors at least the target. Prints a markdown table with the codes
such a query would fetch (32 bytes a passage, as format 7 stores 256 rotated bits) and the
centroids every query would need (int8, one byte a dimension).
Needs numpy, faiss-cpu, tokenizers and safetensors (PyPI).
Usage: python3 scripts/study_partitions_at_scale.py [pages ...]   (default 10000 100000)
"""

import json
import os
import random
import re
import sys

import faiss
import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

shared = os.environ.get("DOWSE_SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
data = f"{shared}/data/scifact"
model = os.path.join(os.path.dirname(__file__), "..", "models", "query")
CODE_BYTES = 32

weights = load_file(f"{model}/model.safetensors")
rows = lambda name: weights[name].astype(np.float32) * weights[f"{name}.int8_scale"].reshape(-1, 1)
table, projection = rows("pieces.weight"), rows("projection.weight")
tokenizer = Tokenizer.from_file(f"{model}/tokenizer.json")
tokenizer.enable_truncation(json.load(open(f"{model}/config.json"))["max_len"])


def encode(texts):
    out = np.stack([table[e.ids].mean(0) for e in tokenizer.encode_batch(texts)]) @ projection
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def site(pages):
    """scripts/bench-scale.sh's pages, title and text as one string."""
    sentences = [s for line in open(f"{data}/corpus.jsonl") for s in re.split(r"(?<=\.) ", json.loads(line)["text"]) if len(s) > 40]
    rng = random.Random(7)
    out = []
    for _ in range(pages):
        text = " ".join(rng.choice(sentences) for _ in range(rng.randint(3, 8)))
        out.append(" ".join(text.split()[:6]) + " " + text)
    return out


test = {line.split("\t")[0] for line in list(open(f"{data}/qrels/test.tsv"))[1:]}
queries = encode([json.loads(l)["text"] for l in open(f"{data}/queries.jsonl") if json.loads(l)["_id"] in test])
print(f"{len(queries)} SciFact test queries; the exact top 10 must lie in the partitions opened")
print()
print("| pages | partitions | target | partitions opened | passages opened, median | codes fetched | centroids | codes whole |")
print("|---|---|---|---|---|---|---|---|")
for pages in [int(p) for p in sys.argv[1:]] or [10_000, 100_000]:
    passages = encode(site(pages))
    exact = np.argsort(-(queries @ passages.T), axis=1)[:, :10]
    for parts in [int(round(2 * np.sqrt(pages) / 8)) * 8 // 2, int(round(2 * np.sqrt(pages) / 8)) * 8, int(round(2 * np.sqrt(pages) / 8)) * 16]:
        kmeans = faiss.Kmeans(passages.shape[1], parts, niter=12, spherical=True, seed=1)
        kmeans.train(passages)
        assign = kmeans.index.search(passages, 1)[1][:, 0]
        sizes = np.bincount(assign, minlength=parts)
        order = np.argsort(-(queries @ kmeans.centroids.T), axis=1)
        rank = np.argsort(order, axis=1)
        needed = np.array([[rank[q, assign[p]] for p in exact[q]] for q in range(len(queries))])
        for target in [0.98, 0.99]:
            for nprobe in range(1, parts + 1):
                covered = (needed < nprobe).mean(1)
                if covered.mean() - 2 * covered.std(ddof=1) / np.sqrt(len(covered)) >= target:
                    break
            opened = np.median([sizes[order[q, :nprobe]].sum() for q in range(len(queries))])
            print(
                f"| {pages:,} | {parts} | {target} | {nprobe} ({nprobe / parts:.0%}) | {opened:,.0f} ({opened / pages:.0%}) "
                f"| {opened * CODE_BYTES / 1e3:,.0f} kB | {parts * passages.shape[1] / 1e3:,.0f} kB | {pages * CODE_BYTES / 1e3:,.0f} kB |",
                flush=True,
            )
