#!/usr/bin/env bash
# The test command: fetches the model, the web tools and ONNX Runtime if needed, then runs every test of the
# workspace, natively and (dowse-core's bundle reader) in headless Chromium.
# Tests read ../shared (override with DOWSE_SHARED) and the model in $DOWSE_HOME (default ~/.cache/dowse).
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/xdg-runtime-$(id -u)}"
mkdir -p -m 700 "$XDG_RUNTIME_DIR"
started=$(date +%s)
step() { echo "-- [test.sh $(( $(date +%s) - started ))s] $*"; }
step "the test build"
# The test build first, then the model through its own dowse binary: `cargo run --bin dowse` alone
# would build dowse-core and the trainer a second time with other features (minutes on 2 cores).
cargo test --release --workspace --no-run
"${CARGO_TARGET_DIR:-target}/release/dowse" model fetch >/dev/null
step "web tools, playwright-core and onnxruntime, where missing"
# The browser tests need wasm-bindgen-cli and wasm-opt (installed if missing), Debian's chromium and
# chromium-driver, and playwright-core (npm) to drive Chromium.
bash scripts/web-tools.sh
(cd tests/e2e && npm ci --no-audit --no-fund --silent)
# The ONNX export test runs the exported graphs in ONNX Runtime (PyPI's onnxruntime, with numpy).
python3 -c "import onnxruntime" 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check onnxruntime==1.32.0
step "the workspace's tests"
cargo test --release --workspace
step "dowse-core in Chromium's WebAssembly"
# dowse-core's bundle reader and searcher in headless Chromium's WebAssembly, with the features
# of the encoder's worker (web/Cargo.toml), whose build this reuses.
cargo test --release -p dowse-web --target wasm32-unknown-unknown --features encoder --test wasm_bundle
step "dowse-core without its networks, for wasm32"
# dowse-core without its networks (no Burn, tokenizers or gemm), as a keyword-first browser module builds it.
cargo check --release -p dowse-core --no-default-features --target wasm32-unknown-unknown
step "done"
