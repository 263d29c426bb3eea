#!/usr/bin/env bash
# Serves a bundle with the built app (`dowse serve --bundle BUNDLE --dist dist`, gzip) and runs
# tests/e2e/dowse-queries.mjs on it: the queries of QUERIES (a JSON array of texts) typed into
# the app in headless Chromium; its JSON report goes to OUT. The benchmarks' shared step
# (scripts/bench-site.sh, scripts/bench-scale.sh); expects the app in dist/ and dowse built.
# Usage: bash scripts/browser-queries.sh BUNDLE QUERIES OUT
set -euo pipefail
cd "$(dirname "$0")/.."
bundle="$1" queries="$2" out="$3"
log=$(mktemp)
"${CARGO_TARGET_DIR:-target}/release/dowse" serve --bundle "$bundle" --dist dist --addr 127.0.0.1:0 > "$log" 2>/dev/null &
server=$!
trap 'kill $server 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 100); do grep -q "listening on" "$log" && break; sleep 0.1; done
url="$(sed -n 's/^listening on //p' "$log")/"
(cd tests/e2e && node dowse-queries.mjs "$url" "$(realpath "$queries")") > "$out"
