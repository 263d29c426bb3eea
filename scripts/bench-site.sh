#!/usr/bin/env bash
# dowse and Pagefind side by side on one site, in the same headless Chromium: SciFact (5,183
# documents, its 300 test queries). dowse: `dowse index` of the collection (time and peak memory
# measured), served by `dowse serve` (HTTP/1.1; Brotli where the browser takes it: the small
# modules as their copies at quality 11, the rest at tower-http's quality 4), searched through the app by
# tests/e2e/dowse-queries.mjs: bytes and time to the first keyword result and to the first
# hybrid result cold, warm after a reload, each later query, and the browser's nDCG@10 beside
# the same bundle evaluated natively with everything loaded (`dowse eval --bundle`); then the
# same on a Brotli host (tests/e2e/h2-serve.mjs: HTTP/2 over TLS, Brotli 11, as Cloudflare Pages,
# Netlify and Vercel serve), on a gzip host (the same, gzip at level 6: GitHub Pages) and on a
# plain static server (the same, compressing nothing).
# Pagefind: scripts/bench-pagefind.sh on the same documents as HTML pages, on Python's
# http.server and on the same Brotli host. Appends to results/web.md with the
# machine, the date and the commands.
# Needs what scripts/test.sh needs (wasm-bindgen-cli, chromium, tests/e2e/node_modules), npm and openssl.
set -euo pipefail
cd "$(dirname "$0")/.."
shared="${DOWSE_SHARED:-$(cd .. && pwd)/shared}"
target="${CARGO_TARGET_DIR:-target}"
work="$target/bench-site"
data="$shared/data/scifact"
mkdir -p "$work"
bash scripts/build-app.sh dist
cargo build --release --quiet --bin dowse
dowse="$target/release/dowse"
/usr/bin/time -v "$dowse" index --input "$data" --out "$work/bundle" 2> "$work/index.log"
python3 scripts/judgments.py "$data" "$work"
# The app searches 100 deep (web/src/engine.rs, COUNT_DEPTH, to count the facets) and fuses
# that many passages a list: the native figure to compare it with does the same.
native=$("$dowse" eval --data "$data" --bundle "$work/bundle" --retriever hybrid --depth 100 2>/dev/null | awk '$1=="hybrid"{print $3}')

bash scripts/browser-queries.sh "$work/bundle" "$work/queries.json" "$work/dowse.json"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" -days 1 -subj /CN=127.0.0.1 2>/dev/null
# The same queries with the app and bundle on tests/e2e/h2-serve.mjs compressing as $1 says
# (br: Brotli; gzip; identity: nothing, a plain static server), the report to $2.
on_host() {
    local port=$((20000 + RANDOM % 20000))
    node tests/e2e/h2-serve.mjs "$(realpath dist)" "$(realpath "$work/bundle")" "$work/key.pem" "$work/cert.pem" "$port" "$1" >/dev/null 2>&1 &
    local h2=$!
    trap "kill $h2 2>/dev/null || true" EXIT
    sleep 1
    (cd tests/e2e && node dowse-queries.mjs "https://127.0.0.1:$port/" "$(realpath "$work/queries.json")") > "$2"
    kill $h2
}
on_host br "$work/dowse-br.json"
on_host gzip "$work/dowse-gzip.json"
on_host identity "$work/dowse-plain.json"
pagefind=$(bash scripts/bench-pagefind.sh "$work/pagefind")
pagefind_br=$(bash scripts/bench-pagefind.sh "$work/pagefind" br)

python3 - "$data" "$work" "$native" "$pagefind" "$pagefind_br" > "$work/web.md" <<'PY'
import datetime, glob, gzip, json, os, re, statistics, subprocess, sys
sys.path.insert(0, "scripts")
from judgments import ndcg10, read_qrels
data, work, native, pagefind, pagefind_br = sys.argv[1:6]
runs = json.load(open(f"{work}/dowse.json"))
brotli = json.load(open(f"{work}/dowse-br.json"))
gzipped = json.load(open(f"{work}/dowse-gzip.json"))
plain = json.load(open(f"{work}/dowse-plain.json"))
ids = json.load(open(f"{work}/query-ids.json"))
qrels = read_qrels(data)
ndcg = lambda q, docs: ndcg10(qrels.get(q, {}), docs)
q = lambda xs, p: sorted(xs)[min(len(xs) - 1, len(xs) * p // 100)]
kb = lambda b: f"{b / 1e3:.1f}"
log = open(f"{work}/index.log").read()
seconds = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", log)[1]
peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", log)[1]) / 1024
manifest = json.load(open(f"{work}/bundle/manifest.json"))
fragments = manifest["fragments"]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown CPU")
chromium = subprocess.run(["/usr/bin/chromium", "--version"], capture_output=True, text=True).stdout.strip()
cold, later, ms, search = runs["cold"], runs["later"][1:], runs["ms"][1:], runs["search"][1:]
keyword_ms = [c["keyword"]["ms"] for c in cold]
hybrid_ms = [c["hybrid"]["ms"] for c in cold]
browser = statistics.mean(ndcg(i, r) for i, r in zip(ids, runs["results"]))
def by_kind(cold, step):
    kinds = sorted({k for c in cold for k in c[step]["kinds"]})
    return "\n".join(f"| {k} | {kb(q([c[step]['kinds'].get(k, 0) for c in cold], 50))} |" for k in kinds)
def cold_bytes(runs, step, p):
    return kb(q([c[step]["bytes"] for c in runs["cold"]], p))
# The bytes on another host: the table, then where they went to the first keyword and hybrid results.
def on_host(runs, name):
    later = runs["later"][1:]
    return f"""| | dowse | Pagefind 1.6 |
|---|---|---|
| bytes to the first keyword result, cold, median / p90 | {cold_bytes(runs, "keyword", 50)} / {cold_bytes(runs, "keyword", 90)} kB | see below |
| bytes to the first hybrid result, cold, median / p90 | {cold_bytes(runs, "hybrid", 50)} / {cold_bytes(runs, "hybrid", 90)} kB | (no semantic search) |
| later query bytes, median / p90 | {kb(q(later, 50))} / {kb(q(later, 90))} kB | see below |
| bytes after 50 queries | {kb(sum(runs['later'][:50]))} kB | see below |

To the first keyword result {name}:

| file | kB |
|---|---|
{by_kind(runs["cold"], "keyword")}

To the first hybrid result {name}:

| file | kB |
|---|---|
{by_kind(runs["cold"], "hybrid")}"""
again_ms = [a["ms"] for a in runs["again"]]
def module(pattern):
    path = glob.glob(f"dist/{pattern}")[0]
    copy = os.path.getsize(path[: -len(".wasm")] + ".deflate")
    return f"{os.path.getsize(path):,} bytes raw, {len(gzip.compress(open(path, 'rb').read(), 9)):,} gzip -9, {copy:,} its deflated copy"
app, worker, networks = module("dowse-web-*_bg.wasm"), module("dowse-static_bg.wasm"), module("dowse-encoder_bg.wasm")
print(f"""
## dowse and Pagefind on SciFact in Chromium, {datetime.date.today()}

`bash scripts/bench-site.sh` on {cpu}, {os.cpu_count()} cores, {chromium} headless, CPU path. dowse:
`dowse index --input ../shared/data/scifact` (its default bundle: MiniLM passages, the adapted
static query encoder; {manifest['documents']:,} documents, {manifest['passages']:,} passages, {fragments['count']:,}
fragments, rescore depth {fragments['rescore']}) in {seconds} (m:ss) with a peak of {peak:,.0f} MiB, served by
`dowse serve` (Brotli: the small modules as their copies at quality 11, the rest at tower-http's quality 4). The app's wasm: the page and keyword search, {app}; the static query
encoder's worker (no Burn; the table's rows fetched per query), {worker}, which starts once the
first keyword results show (the worker for every other model, not fetched here: {networks}). The 300
test queries: the first 20 each in a fresh browser profile (cold), then all 300 typed one after
another in one page. Bytes are response bodies as sent (Chromium's network events), the app's
wasm and JavaScript included; those to the first keyword result are the responses finished when
it appeared. Fragments are stored deflated, so they cost the same on any host; the app's
JavaScript and JSON are compressed by the host, and its modules come as the host sends them
where it sends Brotli, else as their deflated copies (`_bg.deflate`, docs/cli.md).

| | dowse | Pagefind 1.6 |
|---|---|---|
| bytes to the first keyword result, cold, median / p90 | {cold_bytes(runs, "keyword", 50)} / {cold_bytes(runs, "keyword", 90)} kB | see below |
| bytes to the first hybrid result, cold, median / p90 | {cold_bytes(runs, "hybrid", 50)} / {cold_bytes(runs, "hybrid", 90)} kB | (no semantic search) |
| time to the first keyword result, cold, median / p90 | {q(keyword_ms, 50)} / {q(keyword_ms, 90)} ms | |
| time to the first hybrid result, cold, median / p90 | {q(hybrid_ms, 50)} / {q(hybrid_ms, 90)} ms | |
| warm (reload): time to keyword / hybrid results, bytes | {runs['warm']['keyword']['ms']} / {runs['warm']['hybrid']['ms']} ms, {kb(runs['warm']['hybrid']['bytes'])} kB | |
| later query bytes, median / p90 | {kb(q(later, 50))} / {kb(q(later, 90))} kB | see below |
| bytes after 50 queries | {kb(sum(runs['later'][:50]))} kB | see below |
| later query, typing to hybrid results (150 ms debounce included), median / p90 | {q(ms, 50)} / {q(ms, 90)} ms | |
| later query, the app's search time (fetches included), median / p90 | {q(search, 50):.1f} / {q(search, 90):.1f} ms | |
| warm query (one of the first 50 typed again, its fragments loaded: tokenize, encode, search), median / p90; bytes fetched | {q(again_ms, 50):.1f} / {q(again_ms, 90):.1f} ms; {kb(sum(a['bytes'] for a in runs['again']))} kB | |
| hybrid nDCG@10 in the browser | {browser:.4f} | |
| hybrid nDCG@10 of the same bundle natively, everything loaded (`dowse eval --bundle --depth 100`) | {native} | |

Where the bytes go, cold, median of the 20 first queries (kB as sent), to the first keyword result:

| file | kB |
|---|---|
{by_kind(cold, "keyword")}

and to the first hybrid result:

| file | kB |
|---|---|
{by_kind(cold, "hybrid")}

Pagefind on the same 5,183 documents as HTML pages (`bash scripts/bench-pagefind.sh`, served by
Python's http.server, uncompressed: Pagefind stores its index and wasm gzipped), the same queries
in the same Chromium:

```
{pagefind}
```

On a Brotli host: the same bundle, app and queries served by tests/e2e/h2-serve.mjs (HTTP/2 over
TLS, Brotli at quality 11 where Chromium takes it, as Cloudflare Pages, Netlify and Vercel serve
sites), Pagefind on the same server
(`bash scripts/bench-pagefind.sh DIR br`):

{on_host(brotli, "on the Brotli host")}

```
{pagefind_br}
```

On a gzip host: the same, h2-serve.mjs with gzip at level 6 (as GitHub Pages serves). The app's
loaders take the modules' deflated copies there.

{on_host(gzipped, "on the gzip host")}

On a plain static server: the same, h2-serve.mjs compressing nothing (as S3's website endpoint
and Python's http.server serve; nginx as installed compresses HTML alone), as Pagefind's first run
above. The app's loaders take the modules' deflated copies there.

{on_host(plain, "on the plain server")}
""")
PY
cat "$work/web.md" >> results/web.md
cat "$work/web.md"
