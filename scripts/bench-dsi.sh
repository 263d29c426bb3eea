#!/usr/bin/env bash
# Generative retrieval (issue 25), measured beside BM25 and dense on the same queries, alone and
# fused, with and without a reranker; written to results/dsi.md with the machine and date.
#  - SciFact: DSI trained on the training judgments and on indexing examples (openings, spans,
#    pseudo-queries) for every document; scored on the 300 test queries.
#  - Cranfield: no training queries at all (`query_examples = false`): indexing examples only;
#    a fifth of the queries pick the best epoch; scored on all 225.
# Each model's training examples/s (median over its steps) and decode ms per query are reported.
#
#   bash scripts/bench-dsi.sh                                  # CPU, DSI_EPOCHS (4) epochs
#   DSI_DEVICE=cuda DSI_EPOCHS=30 bash scripts/bench-dsi.sh    # builds dowse with --features cuda
#   RERANKER=DIR bash scripts/bench-dsi.sh                     # adds hybrid and hybrid3 reranked
#   RERANKER=DIR RERANK_DEPTH=20 bash scripts/bench-dsi.sh     # the cross-encoder rescores each top 20 (default 100)
#   DOWSE=path/to/dowse bash scripts/bench-dsi.sh              # that binary instead of building one
#   DSI_COLLECTIONS=cranfield bash scripts/bench-dsi.sh         # one collection (the report keeps the other's runs)
# The reranker of results/dsi.md, trained on SciFact's training queries (Cranfield never seen):
#   dowse mine --data ../shared/data/scifact --negatives 32 --out mined.jsonl
#   python3 scripts/train-pytorch-cross-encoder.py mined.jsonl reranker --negatives 3 --max-steps 204
# A model already trained in $CARGO_TARGET_DIR/bench-dsi is reused, and so is every run already
# evaluated with it; delete the model to retrain (which drops its collection's runs).
set -euo pipefail
cd "$(dirname "$0")/.."
shared="${DOWSE_SHARED:-$(cd .. && pwd)/shared}"
target="${CARGO_TARGET_DIR:-target}"
work="$target/bench-dsi"
device="${DSI_DEVICE:-cpu}"
epochs="${DSI_EPOCHS:-4}"
base="${DSI_BASE:-models/student}"
depth="${RERANK_DEPTH:-100}"
mkdir -p "$work/eval" results
dowse="${DOWSE:-$target/release/dowse}"
if [ -z "${DOWSE:-}" ]; then
    features=()
    [ "$device" = cuda ] && features=(--features cuda)
    cargo build --release --quiet --bin dowse "${features[@]}"
fi
minilm="$("$dowse" model fetch)"

# The checked-in defaults with the epochs (no early stop before them), the validation share and
# whether the training queries are examples too.
config() {
    sed -e "s/^epochs = .*/epochs = $epochs/" -e "s/^patience = .*/patience = $epochs/" \
        -e "s/^validation_fraction = [0-9.]*/validation_fraction = $2/" -e "s/^query_examples = [a-z]*/query_examples = $3/" \
        configs/dsi.toml >"$work/$1.toml"
}

# Trains collection $1's model (data $2) unless it is there; a new model drops the old one's runs.
# `dowse train` writes its best epoch so far after every epoch, so it trains into a staging folder
# that becomes the model only when the training ends: an interrupted one is never reused.
train() {
    [ -d "$work/dsi-$1" ] && return
    rm -rf "$work/eval/$1-"* "$work/dsi-$1.training"
    "$dowse" train dsi --data "$2" --base "$base" --config "$work/$1.toml" --device "$device" --out "$work/dsi-$1.training" 2>"$work/train-$1.log"
    mv "$work/dsi-$1.training" "$work/dsi-$1"
}

# `dowse eval` of collection $1 (data $2) on its test queries as run $3, with the flags that
# follow: metrics.json in $work/eval/$1-$3, the log (DSI's decode line) beside it. A run already
# there is kept unless it was reranked to another depth than RERANK_DEPTH.
evaluate() {
    local collection=$1 data=$2 run=$3 metrics="$work/eval/$1-$3/metrics.json"
    shift 3
    if [ -f "$metrics" ]; then
        python3 -c 'import json, sys; d = json.load(open(sys.argv[1])).get("rerank_depth"); sys.exit(d is not None and d != int(sys.argv[2]))' \
            "$metrics" "$depth" && return
        rm -rf "$work/eval/$collection-$run"
    fi
    "$dowse" eval --data "$data" --split test --model "$minilm" --device "$device" --out "$work/eval/$collection-$run" "$@" \
        2>"$work/eval/$collection-$run.log" >/dev/null
}

config scifact 0.1 true
config cranfield 0.2 false
for collection in ${DSI_COLLECTIONS:-scifact cranfield}; do
    data="$shared/data/$collection"
    dsi="$work/dsi-$collection"
    train "$collection" "$data"
    evaluate "$collection" "$data" bm25-plain --retriever bm25
    evaluate "$collection" "$data" dense-plain --retriever dense
    evaluate "$collection" "$data" dsi-plain --retriever dsi --dsi "$dsi"
    for ranked in plain ${RERANKER:+rerank}; do
        flags=()
        [ "$ranked" = rerank ] && flags=(--rerank "$RERANKER" --rerank-depth "$depth")
        evaluate "$collection" "$data" "hybrid-$ranked" --retriever hybrid "${flags[@]}"
        evaluate "$collection" "$data" "hybrid3-$ranked" --retriever hybrid3 --dsi "$dsi" "${flags[@]}"
    done
done

python3 scripts/bench-dsi-report.py "$work" "$device" "$base" "${RERANKER:-}" >"$work/dsi.md"
mv "$work/dsi.md" results/dsi.md
cat results/dsi.md
