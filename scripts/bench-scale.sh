#!/usr/bin/env bash
# A bundle fetched in fragments at 100,000 pages: a synthetic site whose pages are 3 to 8
# sentences drawn (seeded) from SciFact's abstracts, indexed by `dowse index` (time and peak
# memory on this machine), then searched in headless Chromium by tests/e2e/dowse-queries.mjs with
# 40 of SciFact's test queries: bytes to the first keyword and hybrid results cold, and later
# queries' bytes. The passages are encoded by the shipped static query encoder on both sides
# (`--model models/query`): MiniLM would take about an hour for 100,000 passages on 2 cores, and
# the fragments' sizes depend on the vectors' dimension (384 either way), not on the model.
# Usage: bash scripts/bench-scale.sh [pages]   (default 100000). Appends to results/web.md.
set -euo pipefail
cd "$(dirname "$0")/.."
pages="${1:-100000}"
shared="${DOWSE_SHARED:-$(cd .. && pwd)/shared}"
target="${CARGO_TARGET_DIR:-target}"
work="$target/bench-scale"
mkdir -p "$work"
bash scripts/build-app.sh dist
cargo build --release --quiet --bin dowse
dowse="$target/release/dowse"
python3 - "$shared/data/scifact" "$work" "$pages" <<'PY'
import json, random, re, sys
data, work, pages = sys.argv[1], sys.argv[2], int(sys.argv[3])
sentences = [s for line in open(f"{data}/corpus.jsonl") for s in re.split(r"(?<=\.) ", json.loads(line)["text"]) if len(s) > 40]
rng = random.Random(7)
with open(f"{work}/site.jsonl", "w") as out:
    for page in range(pages):
        text = " ".join(rng.choice(sentences) for _ in range(rng.randint(3, 8)))
        out.write(json.dumps({"id": f"page-{page}", "title": " ".join(text.split()[:6]), "text": text, "url": f"/page-{page}/"}) + "\n")
queries = [json.loads(line)["text"] for line in open(f"{data}/queries.jsonl")][:40]
json.dump(queries, open(f"{work}/queries.json", "w"))
PY
/usr/bin/time -v "$dowse" index --input "$work/site.jsonl" --model models/query --out "$work/bundle" 2> "$work/index.log"
bash scripts/browser-queries.sh "$work/bundle" "$work/queries.json" "$work/dowse.json"
python3 - "$work" "$pages" >> results/web.md <<'PY'
import datetime, json, os, re, sys
work, pages = sys.argv[1], int(sys.argv[2])
runs = json.load(open(f"{work}/dowse.json"))
log = open(f"{work}/index.log").read()
seconds = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", log)[1]
peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", log)[1]) / 1024
manifest = json.load(open(f"{work}/bundle/manifest.json"))
folder = f"{work}/bundle/fragments"
names = os.listdir(folder)
total = sum(os.path.getsize(f"{folder}/{n}") for n in names)
root = os.path.getsize(f"{folder}/{manifest['fragments']['root']}")
q = lambda xs, p: sorted(xs)[min(len(xs) - 1, len(xs) * p // 100)]
kb = lambda b: f"{b / 1e3:.1f}"
keyword = [c["keyword"]["bytes"] for c in runs["cold"]]
hybrid = [c["hybrid"]["bytes"] for c in runs["cold"]]
later = runs["later"][1:]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown CPU")
print(f"""
## {pages:,} pages, {datetime.date.today()}

`bash scripts/bench-scale.sh {pages}` on {cpu}, {os.cpu_count()} cores: a synthetic site of {manifest['documents']:,}
pages ({manifest['passages']:,} passages) drawn from SciFact's sentences, indexed by `dowse index --model
models/query` in {seconds} (m:ss) with a peak of {peak:,.0f} MiB; {len(names):,} files in `fragments/`
({total / 1e6:.1f} MB, the root {kb(root)} kB), rescore depth {manifest['fragments']['rescore']}. Served by `dowse serve`
(gzip), searched in headless Chromium with 40 SciFact queries (the first 20 cold, each in a fresh profile);
bytes are response bodies as sent, the app's wasm and JavaScript included.

| | median | p90 |
|---|---|---|
| bytes to the first keyword result, cold | {kb(q(keyword, 50))} kB | {kb(q(keyword, 90))} kB |
| bytes to the first hybrid result, cold | {kb(q(hybrid, 50))} kB | {kb(q(hybrid, 90))} kB |
| later query bytes | {kb(q(later, 50))} kB | {kb(q(later, 90))} kB |
| later query, typing to hybrid results (150 ms debounce included) | {q(runs['ms'][1:], 50)} ms | {q(runs['ms'][1:], 90)} ms |
""")
PY
tail -20 results/web.md
