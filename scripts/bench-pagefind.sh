#!/usr/bin/env bash
# Pagefind on the same site that dowse's fragments bench measures: SciFact as a static site, one
# page per document (title as <h1>, abstract as <p>), indexed by Pagefind (npm `pagefind`, which
# ships its binary) and searched through its JavaScript API in headless Chromium, the 300 test
# queries one after another. Prints bytes to the first results (cold), each later query's bytes
# and time, and Pagefind's nDCG@10 on SciFact's judgments beside dowse's BM25 (`dowse eval`).
# Usage: bash scripts/bench-pagefind.sh [work folder] [plain|br]   (needs tests/e2e's node_modules)
# plain: Python's http.server, no compression (the default); br: tests/e2e/h2-serve.mjs, HTTP/2
# over TLS with Brotli, as scripts/bench-site.sh serves dowse on a Brotli host (needs openssl).
set -euo pipefail
cd "$(dirname "$0")/.."
shared="${DOWSE_SHARED:-$(cd .. && pwd)/shared}"
work="${1:-${CARGO_TARGET_DIR:-target}/bench-pagefind}"
server="${2:-plain}"
data="$shared/data/scifact"
rm -rf "$work/site" && mkdir -p "$work/site"
(cd "$work" && [ -x node_modules/.bin/pagefind ] || npm install --silent --no-save pagefind@1.6.0)
python3 - "$data" "$work" <<'PY'
import html, json, sys
data, work = sys.argv[1], sys.argv[2]
with open(f"{work}/site/index.html", "w") as page:
    page.write("<!doctype html><html lang=en><title>SciFact</title><body><p>search page</p></body></html>")
import os
for line in open(f"{data}/corpus.jsonl"):
    doc = json.loads(line)
    os.makedirs(f"{work}/site/doc/{doc['_id']}")
    with open(f"{work}/site/doc/{doc['_id']}/index.html", "w") as page:
        page.write(f"<!doctype html><html lang=en><title>{html.escape(doc['title'])}</title><body data-pagefind-body>"
                   f"<h1>{html.escape(doc['title'])}</h1><p>{html.escape(doc['text'])}</p></body></html>")
PY
python3 scripts/judgments.py "$data" "$work"
started=$(date +%s.%N)
"$work/node_modules/.bin/pagefind" --site "$work/site" --quiet
echo "pagefind indexed $(ls "$work/site/doc" | wc -l) pages in $(echo "$(date +%s.%N) - $started" | bc) s; $(find "$work/site/pagefind" -type f | wc -l) files, $(du -sk "$work/site/pagefind" | cut -f1) KiB"
port=$((20000 + RANDOM % 20000))
if [ "$server" = br ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" -days 1 -subj /CN=127.0.0.1 2>/dev/null
    site=$(realpath "$work/site")
    node tests/e2e/h2-serve.mjs "$site" "$site" "$work/key.pem" "$work/cert.pem" "$port" br >/dev/null 2>&1 &
    url="https://127.0.0.1:$port/"
else
    python3 -m http.server "$port" --directory "$work/site" --bind 127.0.0.1 >/dev/null 2>&1 &
    url="http://127.0.0.1:$port/"
fi
pid=$!
trap 'kill $pid' EXIT
sleep 1
(cd tests/e2e && node pagefind-queries.mjs "$url" "$work/queries.json") > "$work/runs.json"
python3 - "$data" "$work" <<'PY'
import json, statistics, sys
sys.path.insert(0, "scripts")
from judgments import ndcg10, read_qrels
data, work = sys.argv[1], sys.argv[2]
runs = json.load(open(f"{work}/runs.json"))
ids = json.load(open(f"{work}/query-ids.json"))
qrels = read_qrels(data)
ndcg = lambda q, urls: ndcg10(qrels.get(q, {}), [u.strip("/").split("/")[-1] for u in urls])
kb = lambda b: b / 1e3
cold, later, ms = runs["cold"], runs["later"][1:], runs["ms"][1:]
q = lambda xs, p: sorted(xs)[min(len(xs) - 1, len(xs) * p // 100)]
print(f"first results cold: median {kb(q(cold, 50)):.1f} kB, p90 {kb(q(cold, 90)):.1f} kB (first 20 queries, each in a fresh profile)")
print(f"later queries: median {kb(q(later, 50)):.1f} kB, p90 {kb(q(later, 90)):.1f} kB; after 50 queries {kb(sum(runs['later'][:50])):.1f} kB")
print(f"later query time to 10 results' data: median {q(ms, 50):.1f} ms, p90 {q(ms, 90):.1f} ms")
print(f"nDCG@10 {statistics.mean(ndcg(i, u) for i, u in zip(ids, runs['results'])):.4f} over {len(ids)} queries")
PY
