#!/usr/bin/env bash
# Trains one model on SciFact and records it:
# `scripts/train.sh dssm|two-tower|cross-encoder|bi-encoder|distill [OUT]`.
# `dowse train MODEL` (or `dowse distill`) with `configs/MODEL.toml` (CONFIG=file overrides) on the
# train judgments (10% of the queries held out for validation), then the model, BM25 and both
# fused on the 300 test queries (a cross-encoder: BM25 and hybrid with their top 100 reranked).
# The cross-encoder, the bi-encoder and the student learn from hard negatives mined first with
# `dowse mine --negatives 32` (TEACHER=DIR scores them with another model, e.g. a cross-encoder for the
# student's Margin-MSE). Appends the numbers, the training time and the model's size to
# results/train.md with the machine and the date. DEVICE=cuda (a `--features cuda` build) or wgpu
# picks the backend; BASE=DIR starts from another model folder than all-MiniLM-L6-v2 (a student
# narrowed from a trained one: `BASE=models/student CONFIG=configs/student-narrow.toml`). The DSSM takes about a minute on 2 cores, the two-tower LSTM about 15; the
# BERT-based models want a GPU for full runs.
set -euo pipefail
cd "$(dirname "$0")/.."
model="${1:?usage: scripts/train.sh dssm|two-tower|cross-encoder|bi-encoder|distill [OUT]}"
config="${CONFIG:-configs/$model.toml}"
device="${DEVICE:-cpu}"
target="${CARGO_TARGET_DIR:-target}"
features=()
if [ "$device" = cuda ]; then features=(--features cuda); fi
cargo build --release --workspace "${features[@]}"
dowse="$target/release/dowse"
data="${DOWSE_SHARED:-../shared}/data/scifact"
out="${2:-$(mktemp -d)/$model-scifact}"
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
started=$(date +%s)
extra=()
if [ -n "${BASE:-}" ]; then extra=(--base "$BASE"); fi
command=(train "$model")
if [ "$model" = distill ]; then command=(distill); fi
case "$model" in
cross-encoder | bi-encoder | distill)
    teacher=()
    if [ -n "${TEACHER:-}" ]; then teacher=(--teacher "$TEACHER"); fi
    "$dowse" mine --data "$data" --negatives 32 --out "$out.mined.jsonl" --device "$device" "${teacher[@]}" 2> "$out.mine.log" || { cat "$out.mine.log"; exit 1; }
    extra+=(--negatives "$out.mined.jsonl")
    ;;
esac
"$dowse" "${command[@]}" --data "$data" --out "$out" --config "$config" --device "$device" "${extra[@]}" 2> "$out.log" || { cat "$out.log"; exit 1; }
seconds=$(( $(date +%s) - started ))
best=$(sed -n 's/^best validation nDCG@10 \([0-9.]*\) at epoch \([0-9]*\)$/\1 (epoch \2)/p' "$out.log")
row() {
    local retriever="$1" label="$2"
    shift 2
    "$dowse" eval --data "$data" --retriever "$retriever" --device "$device" --out "$out.eval-${label//[^a-zA-Z0-9]/_}" "$@" 2>/dev/null >/dev/null
    python3 - "$out.eval-${label//[^a-zA-Z0-9]/_}/metrics.json" "$label" <<'PY'
import json, sys
mean = json.load(open(sys.argv[1]))["mean"]
names = ["ndcg_cut_10", "recall_1", "recall_5", "mrr_cut_10", "recall_100"]
print("| " + sys.argv[2] + " | " + " | ".join(f"{mean[n]:.4f}" for n in names) + " |")
PY
}
{
    echo
    echo "## $model, $(date -u +%Y-%m-%d) on $(nproc) cores of ${cpu:-unknown CPU}, $device backend"
    echo
    echo "\`scripts/train.sh $model\`: \`dowse ${command[*]} --config $config${BASE:+ --base $BASE}\` on SciFact's train judgments"
    echo "(809 queries, 10% held out), trained in ${seconds} s; best validation nDCG@10 ${best}."
    echo "Weights $(du -h --apparent-size "$out/model.safetensors" | cut -f1). SciFact test, 300 queries, 5,183 documents:"
    echo
    echo '| retriever | nDCG@10 | R@1 | R@5 | MRR@10 | R@100 |'
    echo '|---|---|---|---|---|---|'
    if [ "$model" = cross-encoder ]; then
        row bm25 "BM25"
        row bm25 "BM25, top 100 reranked" --rerank "$out" --rerank-depth 100
        row hybrid "MiniLM + BM25 (RRF), top 100 reranked" --rerank "$out" --rerank-depth 100
    else
        row dense "$model (dense)" --model "$out" --no-cache
        row bm25 "BM25"
        row hybrid "$model + BM25 (RRF)" --model "$out" --no-cache
    fi
} | tee -a results/train.md
