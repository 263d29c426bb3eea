#!/usr/bin/env bash
# The test command: fetches the model if needed, then runs every test of the workspace.
# Tests read ../shared (override with DOWSE_SHARED) and the model in $DOWSE_HOME (default ~/.cache/dowse).
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/xdg-runtime-$(id -u)}"
mkdir -p -m 700 "$XDG_RUNTIME_DIR"
cargo run --release --quiet --bin dowse -- model fetch >/dev/null
cargo test --release --workspace
