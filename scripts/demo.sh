#!/usr/bin/env bash
# The main job, for now: fetch the model and compare BM25, dense and hybrid retrieval on a real
# collection (Cranfield, 1,400 abstracts, 225 queries). Becomes "index and serve" with the bundle
# and browser issues. DATA overrides the collection (any BEIR or SMART folder).
set -euo pipefail
cd "$(dirname "$0")/.."
shared="${DOWSE_SHARED:-$(cd .. && pwd)/shared}"
data="${DATA:-$shared/data/cranfield}"
cargo build --release --quiet --bin dowse
dowse="${CARGO_TARGET_DIR:-target}/release/dowse"
"$dowse" model fetch
for retriever in bm25 dense hybrid; do
    "$dowse" eval --data "$data" --retriever "$retriever" --out "${CARGO_TARGET_DIR:-target}/demo/$retriever"
done
