#!/usr/bin/env bash
# Where a later query's time goes in the browser (issue 24's warm-query target): the SciFact
# bundle searched through the app in headless Chromium by tests/e2e/fetch-rounds.mjs, served once
# by `dowse serve` (HTTP/1.1, as the other benchmarks serve it) and once over HTTP/2 with TLS
# (tests/e2e/h2-serve.mjs, a self-signed certificate), as static hosts serve sites: the
# fragments each later query fetches, in how many rounds, and what a request costs in this
# Chromium. Appends to results/web.md with the machine, the date and the commands.
#   bash scripts/bench-requests.sh [BUNDLE] [QUERIES]   # default: SciFact indexed as bench-site.sh does, 100 queries
# Needs the app in dist/ (`bash scripts/build-app.sh dist`), dowse built, tests/e2e/node_modules and openssl.
set -euo pipefail
cd "$(dirname "$0")/.."
shared="${DOWSE_SHARED:-$(cd .. && pwd)/shared}"
target="${CARGO_TARGET_DIR:-target}"
work="$target/bench-requests"
data="$shared/data/scifact"
dowse="${DOWSE:-$target/release/dowse}"
bundle="${1:-$work/bundle}"
count="${2:-100}"
mkdir -p "$work"
[ -f "$bundle/manifest.json" ] || "$dowse" index --input "$data" --out "$bundle" 2>"$work/index.log"
python3 scripts/judgments.py "$data" "$work"
bundle="$(realpath "$bundle")"
queries="$(realpath "$work/queries.json")"
log="$work/server.log"
servers=()
trap 'kill "${servers[@]}" 2>/dev/null || true' EXIT
wait_listening() { for _ in $(seq 100); do grep -q "listening on" "$log" && break; sleep 0.1; done; sed -n 's/^listening on //p' "$log" | head -1; }

"$dowse" serve --bundle "$bundle" --dist dist --addr 127.0.0.1:0 >"$log" 2>/dev/null &
servers+=($!)
url="$(wait_listening)/"
(cd tests/e2e && node fetch-rounds.mjs "$url" "$queries" "$bundle" "$count") >"$work/http1.json"
kill "${servers[@]}"

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" -days 1 -subj /CN=127.0.0.1 2>/dev/null
node tests/e2e/h2-serve.mjs "$(realpath dist)" "$bundle" "$work/key.pem" "$work/cert.pem" 8943 >"$log" &
servers+=($!)
url="$(wait_listening)/"
(cd tests/e2e && node fetch-rounds.mjs "$url" "$queries" "$bundle" "$count") >"$work/http2.json"

python3 - "$work" "$count" > "$work/requests.md" <<'PY'
import collections, datetime, json, statistics, subprocess, sys
work, count = sys.argv[1:3]
q = lambda xs, p: sorted(xs)[min(len(xs) - 1, len(xs) * p // 100)]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown CPU")
chromium = subprocess.run(["/usr/bin/chromium", "--version"], capture_output=True, text=True).stdout.strip()
print(f"\n## Where a later query's time goes, {datetime.date.today()}\n")
print(f"`bash scripts/bench-requests.sh` on {cpu}, {subprocess.check_output(['nproc']).decode().strip()} cores, {chromium}, CPU path: "
      f"the default SciFact bundle, SciFact's first {count} test queries typed one after another into one page after a first "
      "one (fragments already loaded stay loaded), served by `dowse serve` (HTTP/1.1, gzip) and by tests/e2e/h2-serve.mjs "
      "(HTTP/2 over TLS, gzip, as static hosts serve sites). A round is a set of fetches that overlap in time; the next "
      "starts when the app has what the last one brought. Request cost: fragments no query fetched, fetched at once in "
      "batches, median of five batches.\n")
print("| | HTTP/1.1 | HTTP/2 |\n|---|---|---|")
runs = {name: json.load(open(f"{work}/{name}.json")) for name in ["http1", "http2"]}
def rounds(fragments):
    n, end = 0, None
    for start, stop, _ in sorted(fragments):
        if end is None or start >= end:
            n += 1
        end = stop if end is None else max(end, stop)
    return n
rows = collections.OrderedDict()
rows["protocol Chromium used"] = lambda r: r["protocol"] or "?"
rows["app's search time, median / p90 (ms)"] = lambda r: "{:.1f} / {:.1f}".format(q([x["search"] for x in r["queries"]], 50), q([x["search"] for x in r["queries"]], 90))
rows["fragments fetched per query, median / p90"] = lambda r: "{} / {}".format(q([len(x["fragments"]) for x in r["queries"]], 50), q([len(x["fragments"]) for x in r["queries"]], 90))
rows["rounds of fetches per query, median / p90"] = lambda r: "{} / {}".format(q([rounds(x["fragments"]) for x in r["queries"]], 50), q([rounds(x["fragments"]) for x in r["queries"]], 90))
kinds = sorted({k for r in runs.values() for x in r["queries"] for _, _, k in x["fragments"]})
for kind in kinds:
    rows[f"  {kind} per query, mean"] = lambda r, kind=kind: "{:.1f}".format(statistics.mean(sum(k == kind for _, _, k in x["fragments"]) for x in r["queries"]))
for size in ["1", "6", "30"]:
    rows[f"{size} fragment{'s' if size != '1' else ''} fetched at once (ms)"] = lambda r, size=size: "{:.1f}".format(statistics.median(r["cost"][size]))
for label, cell in rows.items():
    print(f"| {label} | {cell(runs['http1'])} | {cell(runs['http2'])} |")
PY
cat "$work/requests.md" >> results/web.md
cat "$work/requests.md"
