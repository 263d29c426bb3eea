#!/usr/bin/env bash
# Trains the query encoder that ships inside dowse (models/query):
# `scripts/train-query-encoder.sh [OUT]` (default: models/query).
# `dowse distill --align-to all-MiniLM-L6-v2` with configs/query.toml on pseudo-queries cut from
# general English text: WordNet 3.0's 117,659 synsets (lemmas as titles, glosses and examples as
# text; Debian's wordnet-base package, fetched with apt-get download and unpacked here, nothing
# installed) and SciFact's corpus. No collection's queries are used, and none of the collections
# results/models.md evaluates out of domain (Cranfield, ADI, MS MARCO) is among the texts.
# About 7 minutes on 2 cores; prints the training log.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-models/query}"
target="${CARGO_TARGET_DIR:-target}"
cargo build --release -p dowse-trainer
dowse="$target/release/dowse"
shared="${DOWSE_SHARED:-../shared}"
minilm=$("$dowse" model fetch)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download wordnet-base >/dev/null && dpkg-deb -x wordnet-base_*.deb unpacked)
python3 - "$work/unpacked/usr/share/wordnet" "$work/wordnet.jsonl" <<'PY'
import json, sys
wordnet, out = sys.argv[1], open(sys.argv[2], "w")
for pos in ["noun", "verb", "adj", "adv"]:
    for line in open(f"{wordnet}/data.{pos}", encoding="latin-1"):
        if line.startswith("  "):  # the license header
            continue
        head, _, gloss = line.partition(" | ")
        fields = head.split()
        words = [fields[4 + 2 * i].replace("_", " ").split("(")[0] for i in range(int(fields[3], 16))]
        out.write(json.dumps({"id": f"{pos}{fields[0]}", "title": ", ".join(words), "text": gloss.strip()}) + "\n")
PY
"$dowse" distill --align-to "$minilm" --texts "$work/wordnet.jsonl" --texts "$shared/data/scifact" \
    --config configs/query.toml --out "$work/query"
mkdir -p "$out"
cp "$work/query/config.json" "$work/query/model.safetensors" "$work/query/tokenizer.json" "$out/"
