#!/usr/bin/env bash
# The DSSM on SciFact: trains with configs/dssm.toml on the train judgments (10% of the queries
# held out for validation), then evaluates the model, BM25 and both fused on the 300 test
# queries. Appends the numbers, the training time and the model's size to results/train.md with
# the machine and the date. About a minute on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
cargo build --release -p dowse-trainer
dowse="$target/release/dowse"
data="${DOWSE_SHARED:-../shared}/data/scifact"
out="${1:-$(mktemp -d)/dssm-scifact}"
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
started=$(date +%s)
"$dowse" train dssm --data "$data" --out "$out" --config configs/dssm.toml 2> "$out.log" || { cat "$out.log"; exit 1; }
seconds=$(( $(date +%s) - started ))
best=$(sed -n 's/^best validation nDCG@10 \([0-9.]*\) at epoch \([0-9]*\)$/\1 (epoch \2)/p' "$out.log")
row() {
    "$dowse" eval --data "$data" --retriever "$1" --model "$out" --no-cache 2>/dev/null | awk -v name="$2" '$1=="'"$1"'"{printf "| %s | %s | %s | %s | %s |\n", name, $3, $4, $5, $6}'
}
{
    echo
    echo "## DSSM, $(date -u +%Y-%m-%d) on $(nproc) cores of ${cpu:-unknown CPU}, CPU backend"
    echo
    echo "\`scripts/train-dssm.sh\`: \`dowse train dssm --config configs/dssm.toml\` on SciFact's train judgments"
    echo "(809 queries, 10% held out), trained in ${seconds} s; best validation nDCG@10 ${best}."
    echo "Model folder $(du -sh --apparent-size "$out/model.safetensors" | cut -f1) of weights, $(wc -l < "$out/vocab.txt") trigrams."
    echo "SciFact test, 300 queries, 5,183 documents:"
    echo
    echo '| retriever | nDCG@10 | MRR@10 | MAP | R@100 |'
    echo '|---|---|---|---|---|'
    row dense "DSSM (dense)"
    row bm25 "BM25"
    row hybrid "DSSM + BM25 (RRF)"
} | tee -a results/train.md
