#!/usr/bin/env bash
# Browser numbers, measured in Debian's headless Chromium on this machine, written to
# results/web.md: the app's wasm size (raw and gzip), bytes transferred to the first result, time
# to the first result cold (empty browser) and warm (reload: the bundle comes from the Cache API),
# and per-query tokenize / encode / search times over 50 queries (Cranfield's and short ones), on the CPU
# path and on WebGPU (Chromium's SwiftShader: a software adapter, not a GPU).
# Needs what scripts/test.sh needs (wasm-bindgen-cli, chromium, tests/e2e/node_modules).
set -euo pipefail
cd "$(dirname "$0")/.."
shared="${DOWSE_SHARED:-$(cd .. && pwd)/shared}"
target="${CARGO_TARGET_DIR:-target}"
work="$target/bench-web"
mkdir -p "$work" results
bash scripts/build-app.sh dist
cargo build --release --quiet --bin dowse
dowse="$target/release/dowse"
"$dowse" index --input "$shared/data/cranfield" --out "$work/bundle" 2>/dev/null

"$dowse" serve --bundle "$work/bundle" --dist dist --addr 127.0.0.1:0 >"$work/serve.out" 2>/dev/null &
server=$!
trap 'kill $server 2>/dev/null' EXIT
for _ in $(seq 100); do grep -q "listening on" "$work/serve.out" && break; sleep 0.1; done
url="$(sed -n 's/^listening on //p' "$work/serve.out")/"

# The 50 queries every browser benchmark types (Cranfield's, long and short).
queries=$(python3 scripts/browser-bench-queries.py "$shared/data/cranfield/cran.qry")

run() {
    node search.mjs "{\"url\": \"$url\", \"query\": \"supersonic flow over a wedge\", \"webgpu\": $1, \"queries\": $queries}"
}
cpu=$(cd tests/e2e && run false)
webgpu=$(cd tests/e2e && run true)

wasm=$(ls dist/*_bg.wasm)
# Sections below the measured ones ("## Tried: ...") record experiments; they are kept.
tried=$(sed -n '/^## Tried/,$p' results/web.md 2>/dev/null || true)
python3 - "$wasm" "$cpu" "$webgpu" >"$work/web.md" <<'EOF'
import gzip, json, os, platform, statistics, subprocess, sys, datetime

wasm, cpu, webgpu = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
raw = os.path.getsize(wasm)
gz = len(gzip.compress(open(wasm, "rb").read(), 9))
cpu_model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
chromium = subprocess.run(["/usr/bin/chromium", "--version"], capture_output=True, text=True).stdout.strip()

def median(report, key):
    return statistics.median(t[key] for t in report["timings"])

def buckets(report):
    rows = []
    for low, high in [(0, 8), (9, 16), (17, 24), (25, 32), (33, 512)]:
        times = [t["encode"] for t in report["timings"] if low <= t["tokens"] <= high]
        if times:
            rows.append(f"| {low}–{high} | {len(times)} | {statistics.median(times):.1f} |")
    return "\n".join(rows)

def p90(report, key):
    values = sorted(t[key] for t in report["timings"])
    return values[int(0.9 * (len(values) - 1))]

print(f"""# Browser app: measured

Measured by `scripts/bench-web.sh` on {datetime.date.today()}: {cpu_model}, {os.cpu_count()} cores,
{chromium} headless, no GPU. The bundle is Cranfield (1,400 documents) as `dowse index` builds it
by default (passages by all-MiniLM-L6-v2, the static query encoder adapted to the corpus, int8),
served by `dowse serve` on 127.0.0.1. Times are the app's own (performance.now) for each step;
first-result times are wall clock from navigation to the results in the page.

## Size

| what | bytes |
|---|---|
| app wasm, raw (no wasm-opt) | {raw:,} |
| app wasm, gzip -9 | {gz:,} |
| bytes transferred to the first result, cold (app + bundle) | {cpu["cold_bytes"]:,} |
| bytes transferred on reload (bundle from the Cache API) | {cpu["warm_bytes"]:,} |

## Time to the first result

| path | cold (empty browser) | warm (reload) |
|---|---|---|
| CPU | {cpu["cold_ms"] / 1000:.1f} s | {cpu["warm_ms"] / 1000:.1f} s |
| WebGPU (SwiftShader, software) | {webgpu["cold_ms"] / 1000:.1f} s | {webgpu["warm_ms"] / 1000:.1f} s |

## Per query ({len(cpu["timings"])} queries, median / p90, ms)

Cranfield's first 40 queries (long questions) and 10 search-box queries of two to four words:
{median(cpu, "tokens"):.0f} word pieces at the median (special tokens included),
{min(t["tokens"] for t in cpu["timings"])} to {max(t["tokens"] for t in cpu["timings"])}.

| path | tokenize | encode | search (HNSW + BM25 + RRF) |
|---|---|---|---|
| CPU | {median(cpu, "tokenize"):.1f} / {p90(cpu, "tokenize"):.1f} | {median(cpu, "encode"):.1f} / {p90(cpu, "encode"):.1f} | {median(cpu, "search"):.2f} / {p90(cpu, "search"):.2f} |
| WebGPU (software) | {median(webgpu, "tokenize"):.1f} / {p90(webgpu, "tokenize"):.1f} | {median(webgpu, "encode"):.1f} / {p90(webgpu, "encode"):.1f} | {median(webgpu, "search"):.2f} / {p90(webgpu, "search"):.2f} |

CPU encode time by query length:

| word pieces | queries | encode median (ms) |
|---|---|---|
{buckets(cpu)}

Goals: encode ≤ 5 ms on the CPU path, search ≤ 2 ms. SwiftShader runs WebGPU's shaders on the
CPU, so its encode time says nothing about a real GPU; it is here to show the path works.
""")
EOF
{ cat "$work/web.md"; if [ -n "$tried" ]; then printf '\n%s\n' "$tried"; fi; } > results/web.md
cat results/web.md
