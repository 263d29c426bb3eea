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
step "the workspace's tests, the two longest binaries beside the rest"
# cargo runs test binaries one at a time, and on 2 cores that left about a third of the CPU idle
# (Chromium, lavapipe and single-threaded stretches). A second cargo runs the two longest beside
# the rest: cargo holds its build lock only while it builds, and both select the whole workspace,
# so neither builds anything again with other features. Every other test target of the
# workspace (those that need no features) is named for the first, so a new one runs there.
beside=(train browser)
mapfile -t rest < <(cargo metadata --no-deps --format-version 1 | python3 -c '
import json, sys
beside = set(sys.argv[1:])
for package in json.load(sys.stdin)["packages"]:
    for target in package["targets"]:
        if "test" in target["kind"] and target["name"] not in beside and not target.get("required-features"):
            print("--test=" + target["name"])
' "${beside[@]}")
beside_log=$(mktemp)
cargo test --release --workspace "${beside[@]/#/--test=}" > "$beside_log" 2>&1 &
beside_pid=$!
trap 'kill "$beside_pid" 2>/dev/null || true; rm -f "$beside_log"' EXIT
rest_status=0
cargo test --release --workspace --lib --bins "${rest[@]}" || rest_status=$?
beside_status=0
wait "$beside_pid" || beside_status=$?
echo "-- the tests run beside: ${beside[*]}"
cat "$beside_log"
if (( rest_status != 0 || beside_status != 0 )); then
    echo "tests failed (above)"
    exit 1
fi
cargo test --release --workspace --doc
step "dowse-core in Chromium's WebAssembly"
# dowse-core's bundle reader and searcher in headless Chromium's WebAssembly, with the features
# of the encoder's worker (web/Cargo.toml), whose build this reuses.
cargo test --release -p dowse-web --target wasm32-unknown-unknown --features encoder --test wasm_bundle
step "dowse-core without its networks, for wasm32"
# dowse-core without its networks (no Burn, tokenizers or gemm), as a keyword-first browser module builds it.
cargo check --release -p dowse-core --no-default-features --target wasm32-unknown-unknown
step "done"
