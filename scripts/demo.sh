#!/usr/bin/env bash
# The main job: fetch the model, index a real collection (Cranfield, 1,400 aerodynamics
# abstracts) into a search bundle, evaluate it as it ships (225 judged queries), show a search,
# and serve it: the API at /api/... and the bundle at /bundle/ (the browser app joins with its
# issue). DATA overrides the collection (BEIR or SMART folder), ADDR the address.
set -euo pipefail
cd "$(dirname "$0")/.."
shared="${DOWSE_SHARED:-$(cd .. && pwd)/shared}"
data="${DATA:-$shared/data/cranfield}"
target="${CARGO_TARGET_DIR:-target}"
bundle="$target/demo/bundle"
cargo build --release --quiet --bin dowse
dowse="$target/release/dowse"
"$dowse" model fetch
"$dowse" index --input "$data" --out "$bundle"
for retriever in bm25 dense hybrid; do
    "$dowse" eval --data "$data" --bundle "$bundle" --retriever "$retriever" --out "$target/demo/$retriever"
done
"$dowse" search --bundle "$bundle" "heat transfer in laminar boundary layers" --k 3
echo "try: curl -s http://${ADDR:-127.0.0.1:8080}/api/search -H 'content-type: application/json' -d '{\"query\": \"supersonic flow\"}'"
exec "$dowse" serve --bundle "$bundle" --addr "${ADDR:-127.0.0.1:8080}"
