"""bm25s (PyPI) on the documents and queries tests/benches/bm25.rs wrote (DOWSE_BENCH_TEXTS):
index time, and queries/s for the top 10, one query per call (as a search box asks) and all
queries in one call, single thread. Its own tokenizer with English stopwords and PyStemmer's
Snowball English stemmer; Lucene's BM25 with k1 0.9, b 0.4, as dowse.

Usage: python3 scripts/bench_bm25s.py DIR
"""

import json
import sys
import time

import bm25s
import Stemmer

directory = sys.argv[1]
docs = [json.loads(line)["text"] for line in open(f"{directory}/docs.jsonl")]
queries = [json.loads(line)["text"] for line in open(f"{directory}/queries.jsonl")]
stemmer = Stemmer.Stemmer("english")

started = time.perf_counter()
retriever = bm25s.BM25(method="lucene", k1=0.9, b=0.4)
retriever.index(bm25s.tokenize(docs, stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False)
print(f"bm25s index {len(docs)} documents {time.perf_counter() - started:.2f} s")

rounds = 3
started = time.perf_counter()
for _ in range(rounds):
    for query in queries:
        tokens = bm25s.tokenize([query], stopwords="en", stemmer=stemmer, show_progress=False)
        retriever.retrieve(tokens, k=10, show_progress=False, n_threads=1)
per_call = (time.perf_counter() - started) / (rounds * len(queries))
print(f"bm25s one query per call {per_call * 1e6:.1f} µs, {1 / per_call:,.0f} queries/s")

started = time.perf_counter()
for _ in range(rounds):
    tokens = bm25s.tokenize(queries, stopwords="en", stemmer=stemmer, show_progress=False)
    retriever.retrieve(tokens, k=10, show_progress=False, n_threads=1)
batched = (time.perf_counter() - started) / (rounds * len(queries))
print(f"bm25s all queries in one call {batched * 1e6:.1f} µs a query, {1 / batched:,.0f} queries/s")
