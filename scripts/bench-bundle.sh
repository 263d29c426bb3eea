#!/usr/bin/env bash
# Bundles on SciFact: fragment bytes per 1,000 passages and nDCG@10 for each vector quantization
# (through `dowse index` and `dowse eval --bundle`, exactly as bundles ship), then HNSW build time, recall@10
# and per-query latency against hnsw_rs (criterion, tests/benches/hnsw.rs), dowse-core's
# partitioned search (k-means partitions), the sign codes and rescoring that bundles ship, and
# hnswlib and FAISS (PyPI `hnswlib`, `faiss-cpu`) on the same vectors, each single thread, with
# the queries/s each reaches at recall@10 0.98. Appends everything to results/bundle.md with the
# machine and the date. Passage embeddings come from the cache after the
# first run (the first encodes about 10,000 passages: 20 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
cargo build --release -p dowse-trainer
dowse="$target/release/dowse"
data="${DOWSE_SHARED:-../shared}/data/scifact"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
{
    echo
    echo "## $(date -u +%Y-%m-%d) on $(nproc) cores of ${cpu:-unknown CPU}, $(free -g | awk '/Mem:/{print $2}') GiB"
    echo
    echo "SciFact corpus (5,183 documents) in 256-piece passages, \`dowse index\`'s default bundle (MiniLM passages,"
    echo "the adapted static query encoder), each quantization; nDCG@10 on the 300 test queries through"
    echo "\`dowse eval --bundle\` (documents ranked by their best passage). Bytes per 1,000 passages count every"
    echo "fragment and the root (BM25, documents, sign codes, vectors; the model and the map are apart)."
    echo
    echo '| vectors | bytes/vector | fragments | fragments + root per 1,000 passages | rescore depth | dense nDCG@10 | hybrid nDCG@10 |'
    echo '|---|---|---|---|---|---|---|'
} > "$work/table.md"
for quant in f32 f16 int8 binary; do
    "$dowse" index --input "$data" --out "$work/$quant" --quant "$quant" 2> "$work/index-$quant.log"
    dense=$("$dowse" eval --data "$data" --bundle "$work/$quant" --retriever dense 2>/dev/null | awk '$1=="dense"{print $3}')
    hybrid=$("$dowse" eval --data "$data" --bundle "$work/$quant" --retriever hybrid 2>/dev/null | awk '$1=="hybrid"{print $3}')
    python3 - "$work/$quant" "$quant" "$dense" "$hybrid" >> "$work/table.md" <<'PY'
import json, os, sys
manifest = json.load(open(os.path.join(sys.argv[1], "manifest.json")))
folder = os.path.join(sys.argv[1], "fragments")
total = sum(os.path.getsize(os.path.join(folder, name)) for name in os.listdir(folder))
n = manifest["passages"]
bytes_per_vector = {"f32": 4, "f16": 2, "int8": 1, "binary": 1 / 8}[sys.argv[2]] * manifest["model"]["dim"]
print(f"| {sys.argv[2]} | {bytes_per_vector:g} | {manifest['fragments']['count']} | {total * 1000 / n / 1024:.0f} KiB "
      f"({total / n:.0f} B/passage) | {manifest['fragments']['rescore']} | {sys.argv[3]} | {sys.argv[4]} |")
PY
done
log="$work/bench.log"
DOWSE_BENCH_VECTORS="$work/vectors" cargo bench -p dowse-tests --bench hnsw -- --warm-up-time 1 --measurement-time 5 2>&1 | tee "$log"
python3 -m pip install --quiet hnswlib faiss-cpu numpy 2>/dev/null || true
partitions=$(awk '/^partitions /{print $4}' "$log")
python3 scripts/bench_ann.py "$work/vectors" "$partitions" | tee -a "$log"
{
    echo
    awk '/^build [0-9]+ passages /{print "HNSW build (hnsw_rs, parallel insertion, " $2 " passages): " $4 " s"}' "$log"
    echo
    echo 'Single thread, per query (criterion mean), recall@10 against exact search over the f32 vectors:'
    echo
    echo '| ef | dowse f32: time, recall | dowse int8: time, recall | hnsw_rs: time, recall |'
    echo '|---|---|---|---|'
    awk '/^recall ef /{r[$3]=$5" "$7" "$9}
         /^hnsw_search\//{split($1,p,"/"); name=p[2]; ef=p[3]; seen=0}
         /time:/ && !seen {for (i=1;i<=NF;i++) if ($i=="time:") t[name"/"ef]=$(i+3)" "$(i+4); seen=1}
         END {split("16 32 64 128 256", efs, " ");
              for (i=1;i<=5;i++) {e=efs[i]; split(r[e], rr, " ");
                print "| " e " | " t["dowse-f32/"e] ", " rr[1] " | " t["dowse-int8/"e] ", " rr[2] " | " t["hnsw_rs/"e] ", " rr[3] " |"}}' "$log"
    echo
    python3 - "$log" <<'PY'
import re, sys
units = {"ns": 1e-3, "µs": 1.0, "us": 1.0, "ms": 1e3, "s": 1e6}
recall, micros, name = {}, {}, None
for line in open(sys.argv[1]):
    words = line.split()
    if m := re.match(r"recall ef (\d+) dowse-f32 (\S+) dowse-int8 (\S+) hnsw_rs (\S+)", line):
        for who, r in zip(["dowse-hnsw-f32", "dowse-hnsw-int8", "hnsw_rs-f32"], m.groups()[1:]):
            recall[(who, f"ef={m[1]}")] = float(r)
    elif m := re.match(r"recall nprobe (\d+) dowse-partitions-int8 (\S+)", line):
        recall[("dowse-partitions-int8", f"nprobe={m[1]}")] = float(m[2])
    elif m := re.match(r"recall rescore (\d+) dowse-signcodes-int8 (\S+)", line):
        recall[("dowse-signcodes-int8", f"rescore={m[1]}")] = float(m[2])
    elif m := re.match(r"ann (\S+) (\S+) recall (\S+) time (\S+) µs", line):
        recall[(m[1], m[2])], micros[(m[1], m[2])] = float(m[3]), float(m[4])
    if words and re.match(r"(hnsw|partitions|signcodes)_search/", words[0]):
        group, who, parameter = words[0].split("/")
        int8, setting = {"hnsw_search": ("dowse-hnsw-int8", "ef="), "partitions_search": ("dowse-partitions-int8", "nprobe="),
                         "signcodes_search": ("dowse-signcodes-int8", "rescore=")}[group]
        who = {"dowse-f32": "dowse-hnsw-f32", "dowse-int8": int8, "hnsw_rs": "hnsw_rs-f32"}[who]
        name = (who, setting + parameter)
    if "time:" in words and name:
        at = words.index("time:")
        micros[name] = float(words[at + 3]) * units[words[at + 4]]
        name = None
print("Every searcher and setting, single thread, one query per call (SciFact's 300 test queries,")
print("MiniLM vectors; dowse's times are criterion means, the others' a mean of three passes):")
print()
print("| searcher | setting | recall@10 | µs / query |")
print("|---|---|---|---|")
for (who, p), r in recall.items():
    t = micros.get((who, p))
    print(f"| {who} | {p} | {r:.4f} | {t:.1f} |" if t else f"| {who} | {p} | {r:.4f} | |")
print()
print("Queries/s at recall@10 >= 0.98 against exact search, single thread, one query per call (the")
print("cheapest setting that reaches it; SciFact's 300 test queries, MiniLM vectors):")
print()
print("| searcher | setting | recall@10 | µs / query | queries/s |")
print("|---|---|---|---|---|")
for who in dict.fromkeys(w for w, _ in recall):
    settings = [(p, recall[(w, p)], micros.get((w, p))) for w, p in recall if w == who]
    reached = [s for s in settings if s[1] >= 0.98 and s[2]]
    if reached:
        p, r, t = min(reached, key=lambda s: s[2])
        print(f"| {who} | {p} | {r:.4f} | {t:.1f} | {1e6 / t:,.0f} |")
    else:
        print(f"| {who} | none reached 0.98 | | | |")
PY
} >> "$work/table.md"
cat "$work/table.md" >> results/bundle.md
cat "$work/table.md"
