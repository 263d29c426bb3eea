#!/usr/bin/env bash
# Encode throughput (criterion, tests/benches/encode.rs) on dowse's CPU kernels and on the flex,
# ndarray and wgpu backends, appended to results/encode.md with the machine and the date.
# Usage: bench-encode.sh [FILTER]
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/xdg-runtime-$(id -u)}"
mkdir -p -m 700 "$XDG_RUNTIME_DIR"
log=$(mktemp)
# --workspace, as the tests build: selecting one package would change feature unification and
# rebuild most dependencies. An argument picks backends by name (criterion's filter), e.g. "kernels|flex".
cargo bench --workspace --bench encode -- --warm-up-time 2 --measurement-time 30 ${1:+"$1"} 2>&1 | tee "$log"
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
{
    echo
    echo "## $(date -u +%Y-%m-%d) on $(nproc) cores of ${cpu:-unknown CPU}, $(free -g | awk '/Mem:/{print $2}') GiB"
    echo
    echo "32 SciFact passages per iteration (batch 32, up to 256 tokens), criterion median; all-MiniLM-L6-v2"
    echo "on dowse's CPU kernels (cpu-kernels: what \`--device cpu\` runs) and on Burn's backends, and the"
    echo "SciFact student (models/student, described in its README; student-*):"
    echo
    echo '| backend | time per batch | passages/s |'
    echo '|---|---|---|'
    awk '/^encode_scifact_batch32_len256\//{name=$1; sub(/.*\//,"",name); seen=0}
         /time:/ && !seen {t=$4" "$5}
         /thrpt:/ && !seen {print "| " name " | " t " | " $4 " |"; seen=1}' "$log"
} >> results/encode.md
rm -f "$log"
tail -n 12 results/encode.md
