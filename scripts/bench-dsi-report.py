"""results/dsi.md from what scripts/bench-dsi.sh left in WORK: each collection's training log and
metrics.csv, and one metrics.json (and log) per evaluated run; a reranked run's depth is read
from its metrics.json.

    python3 scripts/bench-dsi-report.py WORK DEVICE BASE [RERANKER]
"""
import csv
import json
import os
import platform
import re
import statistics
import subprocess
import sys

work, device, base, reranker = (sys.argv[1:] + [""])[:4]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
date = subprocess.check_output(["date", "-u", "+%Y-%m-%d"]).decode().strip()
METRICS = [("ndcg_cut_10", "nDCG@10"), ("recall_1", "R@1"), ("recall_10", "R@10"), ("recall_100", "R@100"), ("mrr_cut_10", "MRR@10")]

print("# Generative retrieval (DSI) beside BM25 and dense\n")
print(f"Measured {date} on {os.cpu_count()} cores of {cpu}, device `{device}`, by `bash scripts/bench-dsi.sh` "
      f"(DSI_BASE={base}{f', RERANKER={reranker}' if reranker else ''}); each collection "
      "names the epochs its model trained.\n")
print("Dense is all-MiniLM-L6-v2 (exact cosine); hybrid fuses BM25 and dense with RRF (k = 60); hybrid3 adds the DSI "
      f"model's top 100 (beam 100) as a third list. Reranked rows have the cross-encoder rescore each ranking's top N "
      "(N in the row). "
      "Decode is DSI's ms per query once loaded, one query at a time. What the numbers say, and why: "
      "[docs/numbers.md](../docs/numbers.md), Generative retrieval.\n")
for collection in ["scifact", "cranfield"]:
    if not os.path.exists(f"{work}/dsi-{collection}/metrics.csv"):
        print(f"## {collection}\n\nNot measured in this run.\n")
        continue
    log = list(csv.DictReader(open(f"{work}/dsi-{collection}/metrics.csv")))
    speeds = [float(r["value"]) for r in log if r["metric"] == "samples_per_s"]
    validation = [float(r["value"]) for r in log if r["metric"] == "val_ndcg_cut_10"]
    described = next((l.strip() for l in open(f"{work}/train-{collection}.log") if "semantic IDs" in l), "")
    print(f"## {collection}\n")
    print(f"`dowse train dsi`: {described}  ")
    print(f"{len(validation)} epochs; validation nDCG@10 by epoch {', '.join(f'{v:.4f}' for v in validation)}; "
          f"median {statistics.median(speeds):.1f} training examples/s.\n")
    print("| retriever | " + " | ".join(name for _, name in METRICS) + " | decode ms/query |")
    print("|---" * (len(METRICS) + 2) + "|")
    for ranked in ["plain", "rerank"]:
        for retriever in ["bm25", "dense", "dsi", "hybrid", "hybrid3"]:
            run = f"{work}/eval/{collection}-{retriever}-{ranked}"
            if not os.path.exists(f"{run}/metrics.json"):
                continue
            report = json.load(open(f"{run}/metrics.json"))
            decode = re.search(r"decoded in ([0-9.]+) ms", open(f"{run}.log").read())
            cells = " | ".join(f"{report['mean'][key]:.4f}" for key, _ in METRICS)
            depth = report.get("rerank_depth")
            name = f"{report['retriever']} (top {depth})" if depth else report["retriever"]
            print(f"| {name} | {cells} | {decode.group(1) if decode else ''} |")
    print()
