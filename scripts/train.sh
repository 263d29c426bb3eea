#!/usr/bin/env bash
# Trains one model on SciFact and records it: `scripts/train.sh dssm|two-tower [OUT]`.
# `dowse train MODEL --config configs/MODEL.toml` on the train judgments (10% of the queries held
# out for validation), then the model, BM25 and both fused on the 300 test queries. Appends the
# numbers, the training time and the model's size to results/train.md with the machine and the
# date. The DSSM takes about a minute on 2 cores, the two-tower LSTM about 15.
set -euo pipefail
cd "$(dirname "$0")/.."
model="${1:?usage: scripts/train.sh dssm|two-tower [OUT]}"
target="${CARGO_TARGET_DIR:-target}"
cargo build --release -p dowse-trainer
dowse="$target/release/dowse"
data="${DOWSE_SHARED:-../shared}/data/scifact"
out="${2:-$(mktemp -d)/$model-scifact}"
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
started=$(date +%s)
"$dowse" train "$model" --data "$data" --out "$out" --config "configs/$model.toml" 2> "$out.log" || { cat "$out.log"; exit 1; }
seconds=$(( $(date +%s) - started ))
best=$(sed -n 's/^best validation nDCG@10 \([0-9.]*\) at epoch \([0-9]*\)$/\1 (epoch \2)/p' "$out.log")
row() {
    "$dowse" eval --data "$data" --retriever "$1" --model "$out" --no-cache --out "$out.eval-$1" 2>/dev/null >/dev/null
    python3 - "$out.eval-$1/metrics.json" "$2" <<'PY'
import json, sys
mean = json.load(open(sys.argv[1]))["mean"]
names = ["ndcg_cut_10", "recall_1", "recall_5", "mrr_cut_10", "recall_100"]
print("| " + sys.argv[2] + " | " + " | ".join(f"{mean[n]:.4f}" for n in names) + " |")
PY
}
{
    echo
    echo "## $model, $(date -u +%Y-%m-%d) on $(nproc) cores of ${cpu:-unknown CPU}, CPU backend"
    echo
    echo "\`scripts/train.sh $model\`: \`dowse train $model --config configs/$model.toml\` on SciFact's train judgments"
    echo "(809 queries, 10% held out), trained in ${seconds} s; best validation nDCG@10 ${best}."
    echo "Weights $(du -h --apparent-size "$out/model.safetensors" | cut -f1). SciFact test, 300 queries, 5,183 documents:"
    echo
    echo '| retriever | nDCG@10 | R@1 | R@5 | MRR@10 | R@100 |'
    echo '|---|---|---|---|---|---|'
    row dense "$model (dense)"
    row bm25 "BM25"
    row hybrid "$model + BM25 (RRF)"
} | tee -a results/train.md
