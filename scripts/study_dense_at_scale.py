"""How a large site's dense search could fetch fewer bytes: design studies for issue 24's
100,000-page target (results/bundle.md), on the synthetic site of scripts/bench-scale.sh (the same
pages, same seed). Each page and SciFact's test queries are encoded by the shipped static encoder
(models/query, as bench-scale.sh indexes: the mean of its int8 rows, its map, unit length), and
each query's exact top 10 is the reference. A page stands for a passage. Two studies:

- `partitions`: the sign codes split by spherical k-means into P partitions. For each P, the
  fewest partitions a query must open so that its exact top 10 lies in them (mean over the
  queries less two standard errors at least the target), and the codes that fetches (32 bytes a
  passage, as format 7 stores 256 rotated bits) beside the centroids (int8, a byte a dimension).
- `rescoring`: the vector chunks (k-means clusters of about 54 passages, as the file cap makes
  them at 100,000 pages) fetched for rescoring, chosen two ways: (i) as format 7 does, the chunks
  of the top R passages by their sign-code scores (256 bits: the top principal directions rotated
  by ITQ); (ii) the chunks ranked by their best passage's sign-code score, the top C fetched and
  every passage in them rescored. Each way's recall@10 and the passages it fetches, R and C
  rising until recall reaches 0.98 (mean less two standard errors) or the list ends.

Needs numpy, faiss-cpu, tokenizers and safetensors (PyPI).
Usage: python3 scripts/study_dense_at_scale.py partitions|rescoring [pages ...]   (default 10000 100000)
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


def covered(found, exact):
    """Each query's share of its exact top 10 among `found`, and whether the mean less two
    standard errors reaches 0.98."""
    share = np.array([len(set(f) & set(e)) / 10 for f, e in zip(found, exact)])
    return share, share.mean() - 2 * share.std(ddof=1) / np.sqrt(len(share)) >= 0.98


def partitions(pages, passages, exact):
    root = int(round(2 * np.sqrt(pages) / 8)) * 8  # about 2 sqrt(pages) partitions, a multiple of 8
    for parts in [root // 2, root, root * 2]:
        kmeans = faiss.Kmeans(passages.shape[1], parts, niter=12, spherical=True, seed=1)
        kmeans.train(passages)
        assign = kmeans.index.search(passages, 1)[1][:, 0]
        sizes = np.bincount(assign, minlength=parts)
        order = np.argsort(-(queries @ kmeans.centroids.T), axis=1)
        rank = np.argsort(order, axis=1)
        needed = np.array([[rank[q, assign[p]] for p in exact[q]] for q in range(len(queries))])
        for target in [0.98, 0.99]:
            for nprobe in range(1, parts + 1):
                share = (needed < nprobe).mean(1)
                if share.mean() - 2 * share.std(ddof=1) / np.sqrt(len(share)) >= target:
                    break
            opened = np.median([sizes[order[q, :nprobe]].sum() for q in range(len(queries))])
            print(
                f"| {pages:,} | {parts} | {target} | {nprobe} ({nprobe / parts:.0%}) | {opened:,.0f} ({opened / pages:.0%}) "
                f"| {opened * CODE_BYTES / 1e3:,.0f} kB | {parts * passages.shape[1] / 1e3:,.0f} kB | {pages * CODE_BYTES / 1e3:,.0f} kB |",
                flush=True,
            )


def rescoring(pages, passages, exact):
    n = len(passages)
    mean = passages.mean(0)
    sample = passages[np.random.default_rng(1).choice(n, min(n, 10_000), replace=False)] - mean
    axes = np.linalg.svd(sample, full_matrices=False)[2][: 8 * CODE_BYTES]
    rotation = np.linalg.qr(np.random.default_rng(2).standard_normal((len(axes), len(axes))))[0]
    projected = sample @ axes.T
    for _ in range(50):  # ITQ: the rotation whose signs lose the least of the projected vectors
        u, _, vt = np.linalg.svd(projected.T @ np.sign(projected @ rotation))
        rotation = u @ vt
    signs = np.sign((passages - mean) @ axes.T @ rotation)
    scores = ((queries - mean) @ axes.T @ rotation) @ signs.T
    kmeans = faiss.Kmeans(passages.shape[1], n // 54, niter=8, spherical=True, seed=1, min_points_per_centroid=1)
    kmeans.train(passages)
    chunk = kmeans.index.search(passages, 1)[1][:, 0]
    members = [np.where(chunk == c)[0] for c in range(n // 54)]
    best = lambda found, q: found[np.argsort(-(passages[found] @ queries[q]))[:10]]
    order = np.argsort(-scores, axis=1)
    for depth in [100, 200, 300, 500, 700, 1000, 1500, 2000, 3000]:
        chunks = [np.unique(chunk[order[q, :depth]]) for q in range(len(queries))]
        share, enough = covered([best(order[q, :depth], q) for q in range(len(queries))], exact)
        fetched = np.median([sum(len(members[c]) for c in cs) for cs in chunks])
        print(f"| {pages:,} | (i) top R passages | R = {depth} | {share.mean():.4f} | {np.median([len(c) for c in chunks]):.0f} | {fetched:,.0f} |", flush=True)
        if enough:
            break
    ranked = []
    for q in range(len(queries)):
        top = np.full(len(members), -np.inf)
        np.maximum.at(top, chunk, scores[q])
        ranked.append(np.argsort(-top))
    for count in [20, 40, 60, 80, 100, 130, 160, 200, 250, 300, 400]:
        found = [np.concatenate([members[c] for c in ranked[q][:count]]) for q in range(len(queries))]
        share, enough = covered([best(f, q) for q, f in enumerate(found)], exact)
        print(f"| {pages:,} | (ii) top C chunks | C = {count} | {share.mean():.4f} | {count} | {np.median([len(f) for f in found]):,.0f} |", flush=True)
        if enough:
            break


study = sys.argv[1] if len(sys.argv) > 1 else ""
if study not in ("partitions", "rescoring"):
    sys.exit(__doc__)
test = {line.split("\t")[0] for line in list(open(f"{data}/qrels/test.tsv"))[1:]}
queries = encode([json.loads(l)["text"] for l in open(f"{data}/queries.jsonl") if json.loads(l)["_id"] in test])
if study == "partitions":
    print(f"{len(queries)} SciFact test queries; the exact top 10 must lie in the partitions opened")
    print()
    print("| pages | partitions | target | partitions opened | passages opened, median | codes fetched | centroids | codes whole |")
    print("|---|---|---|---|---|---|---|---|")
else:
    print(f"{len(queries)} SciFact test queries; recall@10 against exact search, chunks and passages fetched (medians)")
    print()
    print("| pages | chosen by | how many | recall@10 | chunks fetched | passages fetched |")
    print("|---|---|---|---|---|---|")
for pages in [int(p) for p in sys.argv[2:]] or [10_000, 100_000]:
    passages = encode(site(pages))
    exact = np.argsort(-(queries @ passages.T), axis=1)[:, :10]
    (partitions if study == "partitions" else rescoring)(pages, passages, exact)
