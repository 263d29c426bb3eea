#!/usr/bin/env bash
# Interop numbers (issue 26), written to results/interop.md with the machine and date:
#  1. ONNX Runtime (PyPI) on `dowse export`'s graphs of all-MiniLM-L6-v2: cosine to
#     sentence-transformers' own vectors (../shared/fixtures/minilm_golden.json), f32 and int8,
#     beside ONNX Runtime's own quantize_dynamic of the same f32 graph.
#  2. The browser, side by side in one headless Chromium run: dowse's query encoder (its app, CPU
#     path and WebGPU) against Transformers.js 4.3.2 (npm, local files, WASM and WebGPU backends)
#     on the same exported models (MiniLM in int8, and the static query encoder that dowse ships),
#     over 50 Cranfield queries: per-query encode ms (median, p90), cold start, bytes of runtime
#     and model on the wire, and Transformers.js's vectors against dowse's (through the f32 export,
#     which tests/export.rs holds to cosine >= 0.9999 of dowse).
# Both sides are served by `dowse serve`, so compression and caching are the same.
# Needs what scripts/test.sh needs (wasm-bindgen-cli, chromium, tests/e2e/node_modules, onnxruntime) and the
# registries (npm's @huggingface/transformers, PyPI's onnx and tokenizers).
set -euo pipefail
cd "$(dirname "$0")/.."
shared="${DOWSE_SHARED:-$(cd .. && pwd)/shared}"
target="${CARGO_TARGET_DIR:-target}"
work="$target/bench-interop"
rm -rf "$work/site" "$work/models"
mkdir -p "$work/site/transformers" "$work/site/ort" "$work/models" results
bash scripts/build-app.sh dist
cargo build --release --quiet --bin dowse
dowse="$target/release/dowse"
minilm="$("$dowse" model fetch)"
python3 -m pip install --quiet --disable-pip-version-check onnx tokenizers
npm install --prefix "$work/npm" --ignore-scripts --no-audit --no-fund --silent @huggingface/transformers@4.3.2
cp "$work/npm/node_modules/@huggingface/transformers/dist/transformers.min.js" "$work/site/transformers/"
cp "$work/npm/node_modules/onnxruntime-web/dist/"ort-wasm-simd-threaded*.{mjs,wasm} "$work/site/ort/"
cp scripts/interop/transformers-js.html "$work/site/index.html"

# MiniLM with dowse's int8 rows (what `dowse distill --int8` writes): the same int8 weights as
# the exported int8 graph, so both sides run one model. And a cross-encoder for CrossEncoder(dir).
python3 scripts/interop/models.py int8 "$minilm" "$work/models/minilm-int8"
python3 scripts/interop/models.py cross-encoder "$minilm" "$work/models/cross-encoder"
"$dowse" export --model "$work/models/minilm-int8" --int8 --out "$work/site/models/minilm" >/dev/null
"$dowse" export --model models/query --int8 --out "$work/site/models/query" >/dev/null
"$dowse" export --model "$minilm" --int8 --out "$work/models/minilm-onnx" >/dev/null
"$dowse" export --model "$work/models/cross-encoder" --out "$work/models/cross-encoder-onnx" >/dev/null

# dowse's bundles of Cranfield with the same query encoders: MiniLM int8 (symmetric), and the
# shipped static encoder as it is (--no-adapt: adapting would make it another model).
"$dowse" index --input "$shared/data/cranfield" --model "$work/models/minilm-int8" --out "$work/bundle-minilm" 2>/dev/null
"$dowse" index --input "$shared/data/cranfield" --no-adapt --out "$work/bundle-query" 2>/dev/null

queries=$(python3 scripts/browser-bench-queries.py "$shared/data/cranfield/cran.qry")
echo "$queries" >"$work/queries.json"

serve() {
    "$dowse" serve --bundle "$1" --dist "$2" --addr 127.0.0.1:0 >"$work/serve.out" 2>/dev/null &
    server=$!
    for _ in $(seq 100); do grep -q "listening on" "$work/serve.out" && break; sleep 0.1; done
    url="$(sed -n 's/^listening on //p' "$work/serve.out")/"
}
trap 'kill ${server:-} 2>/dev/null || true' EXIT

: >"$work/runs.jsonl"
for model in minilm query; do
    serve "$work/bundle-$model" dist
    # The encoder's worker fetches its module itself, outside the page's resource timings: its
    # bytes on the wire, as Chromium asks for them.
    for module in dowse-static dowse-encoder; do
        for file in "$module.js" "${module}_bg.wasm"; do
            curl -s -o /dev/null -H "Accept-Encoding: gzip, deflate, br, zstd" -w "$module %{size_download}\n" "$url$file"
        done
    done >"$work/worker-bytes.txt"
    for webgpu in false true; do
        report=$(cd tests/e2e && node search.mjs "{\"url\": \"$url\", \"query\": \"supersonic flow over a wedge\", \"webgpu\": $webgpu, \"resources\": true, \"queries\": $queries}")
        echo "{\"side\": \"dowse\", \"model\": \"$model\", \"webgpu\": $webgpu, \"report\": $report}" >>"$work/runs.jsonl"
    done
    kill $server; wait $server 2>/dev/null || true
    serve "$work/bundle-$model" "$work/site"
    for run in "q8 wasm" "fp32 wasm" "q8 webgpu" "fp32 webgpu"; do
        set -- $run
        report=$(cd tests/e2e && node transformers-js.mjs "{\"url\": \"$url\", \"model\": \"$model\", \"dtype\": \"$1\", \"device\": \"$2\", \"queries\": $queries}")
        echo "{\"side\": \"transformers.js\", \"model\": \"$model\", \"dtype\": \"$1\", \"device\": \"$2\", \"report\": $report}" >>"$work/runs.jsonl"
    done
    kill $server; wait $server 2>/dev/null || true
done

python3 scripts/interop/report.py "$shared" "$work" >"$work/interop.md"
if python3 -c "import torch, sentence_transformers" 2>/dev/null; then
    python3 scripts/interop/load_in_sentence_transformers.py "$shared" "$work" >>"$work/interop.md"
else
    echo -e "\nsentence-transformers is not installed here (python3 -m pip install torch sentence-transformers): not loaded." >>"$work/interop.md"
fi
cat "$work/interop.md" >>results/interop.md
echo "appended to results/interop.md"
