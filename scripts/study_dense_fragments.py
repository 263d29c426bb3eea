"""How many bytes a dense query must fetch from a bundle split into fragments, for recall@10 0.98
against exact search: a design study for the fragmented bundle (issue 24), on the vectors
tests/benches/hnsw.rs writes (DOWSE_BENCH_VECTORS: SciFact's passages and test queries, MiniLM).
Prints markdown tables:

1. partitions (spherical k-means) of int8 vectors, full or PCA-reduced dimension: the fewest
   partitions a query must open for recall@10 0.98 (or the recall at the most it may open);
2. 1-bit codes of every passage scanned with the float query, then the top R rescored with their
   full vectors: how much of the exact top 10 is among the R;
3. for that rescoring, the full vectors stored in chunks of passages of one k-means cluster: how
   many chunks (and bytes) the top R candidates touch.

Usage: python3 scripts/study_dense_fragments.py DIR
"""

import sys

import faiss
import numpy as np

directory = sys.argv[1]
dim = int(open(f"{directory}/dim.txt").read())
passages = np.fromfile(f"{directory}/passages.f32", dtype="<f4").reshape(-1, dim)
queries = np.fromfile(f"{directory}/queries.f32", dtype="<f4").reshape(-1, dim)
n = len(passages)
exact = np.argsort(-(queries @ passages.T), axis=1)[:, :10]


def recall(found):
    return np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, exact)])


def clusters(size):
    k = int(np.ceil(n / size))
    kmeans = faiss.Kmeans(dim, k, niter=20, seed=1, spherical=True, verbose=False)
    kmeans.cp.min_points_per_centroid = 1
    kmeans.train(passages)
    assign = kmeans.index.search(passages, 1)[1][:, 0]
    centroids = kmeans.centroids / np.linalg.norm(kmeans.centroids, axis=1, keepdims=True)
    return k, assign, centroids


mean = passages.mean(0)
axes = np.linalg.svd(passages - mean, full_matrices=False)[2]
print(f"{n} passages, {len(queries)} queries, {dim} dimensions")
print()
print("| passages per partition | partitions | vector dims (int8) | partitions opened | recall@10 | bytes per query |")
print("|---|---|---|---|---|---|")
for size in [64, 128, 256]:
    k, assign, centroids = clusters(size)
    order = np.argsort(-(queries @ centroids.T), axis=1)
    for dims in [128, dim]:
        if dims < dim:
            rows, asked = (passages - mean) @ axes[:dims].T, (queries - mean) @ axes[:dims].T
        else:
            rows, asked = passages, queries
        scale = np.abs(rows).max(1, keepdims=True) / 127
        rows = np.round(rows / scale) * scale
        for nprobe in [1, 2, 4, 8, 16, 32, 64, 128]:
            nprobe = min(nprobe, k)
            found = []
            for q in range(len(queries)):
                candidates = np.where(np.isin(assign, order[q, :nprobe]))[0]
                found.append(candidates[np.argsort(-(rows[candidates] @ asked[q]))[:10]])
            r = recall(found)
            if r >= 0.98 or nprobe == k or nprobe == 128:
                print(f"| {size} | {k} | {dims} | {nprobe} | {r:.4f} | {nprobe * size * (dims + 8) / 1024:.0f} KiB |")
                break

codes = np.sign(passages)
scores = queries @ codes.T
print()
print(f"1-bit codes of every passage: {n * dim // 8 / 1024:.0f} KiB, fetched once.")
print()
print("| rescored top R | exact top 10 among them |")
print("|---|---|")
for rescored in [10, 50, 100, 200]:
    top = np.argsort(-scores, axis=1)[:, :rescored]
    print(f"| {rescored} | {recall(top):.4f} |")
print()
print("| passages per chunk of full int8 vectors | rescored top R | chunks touched, median / p90 | bytes, median |")
print("|---|---|---|---|")
for size in [16, 32, 64]:
    _, assign, _ = clusters(size)
    for rescored in [50, 100]:
        top = np.argsort(-scores, axis=1)[:, :rescored]
        touched = [len(set(assign[t])) for t in top]
        print(f"| {size} | {rescored} | {np.median(touched):.0f} / {np.percentile(touched, 90):.0f} | "
              f"{np.median(touched) * size * (dim + 8) / 1024:.0f} KiB |")
