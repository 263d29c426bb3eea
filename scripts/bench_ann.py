"""hnswlib and FAISS on the vectors tests/benches/hnsw.rs wrote (DOWSE_BENCH_VECTORS): for each
parameter, recall@10 against exact search and microseconds per query, single thread, one query
per call (as a search box asks). Prints `recall` and `time` lines that scripts/bench-bundle.sh
turns into a table beside dowse's own.

Usage: python3 scripts/bench_ann.py DIR PARTITIONS
"""

import sys
import time

import faiss
import hnswlib
import numpy as np

directory, partitions = sys.argv[1], int(sys.argv[2])
dim = int(open(f"{directory}/dim.txt").read())
passages = np.fromfile(f"{directory}/passages.f32", dtype="<f4").reshape(-1, dim)
queries = np.fromfile(f"{directory}/queries.f32", dtype="<f4").reshape(-1, dim)
faiss.omp_set_num_threads(1)
exact = np.argsort(-(queries @ passages.T), axis=1, kind="stable")[:, :10]


def measure(name, parameter, search):
    found = [search(q) for q in queries]
    recall = np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, exact)])
    rounds, started = 3, time.perf_counter()
    for _ in range(rounds):
        for q in queries:
            search(q)
    micros = (time.perf_counter() - started) / (rounds * len(queries)) * 1e6
    print(f"ann {name} {parameter} recall {recall:.4f} time {micros:.1f} µs", flush=True)


started = time.perf_counter()
graph = hnswlib.Index(space="ip", dim=dim)
graph.init_index(max_elements=len(passages), M=16, ef_construction=200, random_seed=1)
graph.set_num_threads(1)
graph.add_items(passages)
print(f"build hnswlib {time.perf_counter() - started:.2f} s")
for ef in [16, 32, 64, 128, 256]:
    graph.set_ef(ef)
    measure("hnswlib-f32", f"ef={ef}", lambda q: graph.knn_query(q, k=10)[0][0])

flat = faiss.IndexFlatIP(dim)
started = time.perf_counter()
ivf = faiss.IndexIVFFlat(flat, dim, partitions, faiss.METRIC_INNER_PRODUCT)
ivf.train(passages)
ivf.add(passages)
print(f"build faiss-ivf {time.perf_counter() - started:.2f} s")
for nprobe in [1, 2, 4, 8, 16, 32]:
    ivf.nprobe = nprobe
    measure("faiss-ivf-f32", f"nprobe={nprobe}", lambda q: ivf.search(q[None, :], 10)[1][0])

started = time.perf_counter()
hnsw = faiss.IndexHNSWFlat(dim, 16, faiss.METRIC_INNER_PRODUCT)
hnsw.hnsw.efConstruction = 200
hnsw.add(passages)
print(f"build faiss-hnsw {time.perf_counter() - started:.2f} s")
for ef in [16, 32, 64, 128, 256]:
    hnsw.hnsw.efSearch = ef
    measure("faiss-hnsw-f32", f"ef={ef}", lambda q: hnsw.search(q[None, :], 10)[1][0])
