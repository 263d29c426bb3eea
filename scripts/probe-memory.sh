#!/usr/bin/env bash
# Peak memory of `dowse index` on hostile input, against the input's size: one document holding a
# single word of SIZE_MB megabytes (a pasted blob), beside a few words.
# Writes a table to stdout; results/reliability.md records a run. Usage:
#   bash scripts/probe-memory.sh [SIZE_MB]   (default 50; needs a release build of dowse)
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb=${1:-50}
dowse="${CARGO_TARGET_DIR:-target}/release/dowse"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$work" "$size_mb" <<'PY'
import json, sys
work, mb = sys.argv[1], int(sys.argv[2])
n = mb << 20
with open(f"{work}/word.jsonl", "w") as f:
    f.write(json.dumps({"_id": "blob", "text": "start " + "x" * n + " end"}) + "\n")
PY
echo "| input | input bytes | peak RSS (MB) | RSS / input |"
echo "|---|---|---|---|"
input="$work/word.jsonl"
bytes=$(stat -c %s "$input")
/usr/bin/time -f "%M" -o "$work/rss" "$dowse" index --input "$input" --out "$work/bundle" >/dev/null 2>"$work/log" || { cat "$work/log"; exit 1; }
python3 -c "import sys; b,k=int(sys.argv[1]),int(sys.argv[2]); print(f'| one {sys.argv[3]} MB word | {b:,} | {k/1024:,.0f} | {k*1024/b:.1f}x |')" \
    "$bytes" "$(cat "$work/rss")" "$size_mb"
