#!/usr/bin/env bash
# Bundles on SciFact: bytes per 1,000 passages and nDCG@10 for each vector quantization (through
# `dowse index` and `dowse eval --bundle`, exactly as bundles ship), then HNSW build time, recall@10
# and per-query latency against hnsw_rs (criterion, tests/benches/hnsw.rs). Appends everything to
# results/bundle.md with the machine and the date. Passage embeddings come from the cache after the
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
    echo "SciFact corpus (5,183 documents) in 256-piece passages, all-MiniLM-L6-v2, M 16, ef_construction 200,"
    echo "search ef 64; nDCG@10 on the 300 test queries through \`dowse eval --bundle\` (documents ranked by"
    echo "their best passage). Bytes per 1,000 passages count vectors + graph + BM25 postings (model and"
    echo "document text excluded; they are listed apart)."
    echo
    echo '| vectors | bytes/vector | vectors+graph+postings per 1,000 passages | documents.bin | dense nDCG@10 | hybrid nDCG@10 |'
    echo '|---|---|---|---|---|---|'
} > "$work/table.md"
for quant in f32 f16 int8 binary; do
    "$dowse" index --input "$data" --out "$work/$quant" --quant "$quant" 2> "$work/index-$quant.log"
    dense=$("$dowse" eval --data "$data" --bundle "$work/$quant" --retriever dense 2>/dev/null | awk '$1=="dense"{print $3}')
    hybrid=$("$dowse" eval --data "$data" --bundle "$work/$quant" --retriever hybrid 2>/dev/null | awk '$1=="hybrid"{print $3}')
    python3 - "$work/$quant/manifest.json" "$quant" "$dense" "$hybrid" >> "$work/table.md" <<'PY'
import json, sys
manifest = json.load(open(sys.argv[1]))
sizes = {f["path"]: f["bytes"] for f in manifest["files"]}
n = manifest["passages"]
search = sizes["vectors.bin"] + sizes["graph.bin"] + sizes["bm25.bin"]
bytes_per_vector = {"f32": 4, "f16": 2, "int8": 1, "binary": 1 / 8}[sys.argv[2]] * manifest["model"]["dim"]
print(f"| {sys.argv[2]} | {bytes_per_vector:g} | {search * 1000 / n / 1024:.0f} KiB ({search / n:.0f} B/passage) | "
      f"{sizes['documents.bin'] * 1000 / n / 1024:.0f} KiB | {sys.argv[3]} | {sys.argv[4]} |")
PY
done
log="$work/bench.log"
cargo bench -p dowse-tests --bench hnsw -- --warm-up-time 1 --measurement-time 5 2>&1 | tee "$log"
{
    echo
    awk '/^build /{print "HNSW build (hnsw_rs, parallel insertion, " $2 " passages): " $4 " s"}' "$log"
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
} >> "$work/table.md"
cat "$work/table.md" >> results/bundle.md
cat "$work/table.md"
