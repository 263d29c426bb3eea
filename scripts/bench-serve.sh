#!/usr/bin/env bash
# Load on `dowse serve` over 127.0.0.1 (trainer/tests/serve.rs, the load test alone): requests/s,
# p50 and p99 for /api/search (hybrid, MiniLM query encoding) and /api/rerank (20 documents,
# MiniLM-sized cross-encoder), appended to results/serve.md with the machine and the date.
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --release -p dowse-trainer --test serve load_below_the_concurrency_limit_never_fails -- --nocapture --test-threads 1 2>/dev/null | tee "$log"
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
{
    echo
    echo "## $(date -u +%Y-%m-%d) on $(nproc) cores of ${cpu:-unknown CPU}, $(free -g | awk '/Mem:/{print $2}') GiB"
    echo
    echo 'ADI bundle (82 documents, int8), models on the CPU (dowse'"'"'s CPU kernels), 8 concurrent clients on 127.0.0.1:'
    echo
    echo '| endpoint | requests | requests/s | p50 | p99 | failed |'
    echo '|---|---|---|---|---|---|'
    sed -n 's/^load \([^:]*\): \([0-9]*\) requests from [0-9]* clients, \([0-9.]*\) requests\/s, p50 \([0-9.]*\) ms, p99 \([0-9.]*\) ms, \([0-9]*\) failed$/| \1 | \2 | \3 | \4 ms | \5 ms | \6 |/p' "$log"
} >> results/serve.md
tail -n 6 results/serve.md
