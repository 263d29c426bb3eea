"""Search quality as served: sends each test query of a BEIR folder to a running `dowse serve`
(`POST /api/search`, one request at a time) and scores the documents it answers with nDCG@10
and MRR@10 against the judgments, as trec_eval does (graded gains, log2 discount, the ideal
ranking from all judged documents, 0 for a judged query with none relevant); prints them with
the median and 99th-percentile latency. Bad judgments or an error from the server stop it with
the file and line, or the query and the server's answer.

    dowse index --input ../shared/data/scifact --out scifact-bundle
    dowse serve --bundle scifact-bundle --reranker RERANKER &
    python3 scripts/eval-serve.py ../shared/data/scifact [--url http://127.0.0.1:8080] [--mode hybrid] [--rerank]

With `--rerank` the server reranks its top 50 with the cross-encoder before the top 10 come back.
"""
import argparse
import json
import math
import statistics
import time
import urllib.error
import urllib.request
from collections import defaultdict

parser = argparse.ArgumentParser()
parser.add_argument("data")
parser.add_argument("--url", default="http://127.0.0.1:8080")
parser.add_argument("--split", default="test")
parser.add_argument("--mode", default="hybrid")
parser.add_argument("--rerank", action="store_true")
args = parser.parse_args()

judged = defaultdict(dict)
qrels = f"{args.data}/qrels/{args.split}.tsv"
with open(qrels) as f:
    next(f)
    for number, line in enumerate(f, start=2):
        fields = line.rstrip("\n").split("\t")
        if len(fields) != 3 or not fields[2].lstrip("-").isdigit():
            raise SystemExit(f"{qrels}:{number}: expected query-id, corpus-id and an integer score, tab-separated")
        judged[fields[0]][fields[1]] = int(fields[2])
with open(f"{args.data}/queries.jsonl") as f:
    queries = {q["_id"]: q["text"] for q in map(json.loads, f) if q["_id"] in judged}

ndcg, mrr, latencies = [], [], []
for query_id, text in queries.items():
    body = json.dumps({"query": text, "k": 10, "mode": args.mode, "rerank": args.rerank}).encode()
    request = urllib.request.Request(f"{args.url}/api/search", body, {"content-type": "application/json"})
    began = time.perf_counter()
    try:
        with urllib.request.urlopen(request) as response:
            answer = json.load(response)
    except urllib.error.HTTPError as error:
        raise SystemExit(f"query {query_id}: the server answered {error.code}: {error.read().decode()}")
    latencies.append((time.perf_counter() - began) * 1000)
    if answer["reranked"] != args.rerank:
        raise SystemExit(f"query {query_id}: asked rerank={args.rerank}, the server answered reranked={answer['reranked']}")
    grades = [judged[query_id].get(hit["doc_id"], 0) for hit in answer["results"]]
    ideal = sorted((g for g in judged[query_id].values() if g > 0), reverse=True)[:10]
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(grades))
    best = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    # A judged query with no relevant document scores 0, as in dowse eval (trec_eval -c).
    ndcg.append(dcg / best if best > 0 else 0.0)
    mrr.append(next((1 / (i + 1) for i, g in enumerate(grades) if g > 0), 0.0))

latencies.sort()
print(
    f"{len(queries)} queries, mode {args.mode}{' + rerank' if args.rerank else ''}: nDCG@10 {statistics.mean(ndcg):.4f}, "
    f"MRR@10 {statistics.mean(mrr):.4f}, latency p50 {latencies[len(latencies) // 2]:.1f} ms, "
    f"p99 {latencies[min(len(latencies) - 1, len(latencies) * 99 // 100)]:.1f} ms"
)
