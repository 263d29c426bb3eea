#!/usr/bin/env bash
# Default-model quality on every collection here: nDCG@10 and R@100, dense and hybrid, through
# `dowse index` + `dowse eval --bundle` (exactly as bundles ship), for all-MiniLM-L6-v2
# symmetric (the reference), the SciFact student symmetric, and asymmetric bundles (MiniLM
# passages) with each query encoder given in QUERY_ENCODERS (default: models/query) as it ships
# (--no-adapt) and, for the first, adapted to each corpus (`dowse index`'s default), plus BM25.
# Also the query encoders' bytes, their native encode time, and index time per 1,000 passages with
# an empty embedding cache and again after one document changed (Cranfield).
# Collections: Cranfield, ADI, MS MARCO's 100 toy triples (as a BEIR folder: the triples'
# queries, their positive and negative passages), and SciFact (in-domain: its corpus trained the
# student and is among the query encoder's training texts). Appends to results/models.md.
set -euo pipefail
cd "$(dirname "$0")/.."
# DOWSE_BIN: a built binary to measure instead of building this checkout's.
dowse="${DOWSE_BIN:-}"
if [ -z "$dowse" ]; then
    cargo build --release -p dowse-trainer
    dowse="${CARGO_TARGET_DIR:-target}/release/dowse"
fi
shared="${DOWSE_SHARED:-../shared}"
minilm=$("$dowse" model fetch)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$shared/data/msmarco-toy/triplets/raw.tsv" "$work/msmarco-toy" <<'PY'
import csv, json, os, sys
out = sys.argv[2]
os.makedirs(f"{out}/qrels")
passages, queries, qrels = {}, {}, []
for row in csv.reader(open(sys.argv[1]), delimiter="\t", quoting=csv.QUOTE_NONE):
    query, positive, negative = row
    for text in (positive, negative):
        passages.setdefault(text, f"p{len(passages)}")
    qid = queries.setdefault(query, f"q{len(queries)}")
    qrels.append((qid, passages[positive]))
with open(f"{out}/corpus.jsonl", "w") as f:
    for text, pid in passages.items():
        f.write(json.dumps({"_id": pid, "title": "", "text": text}) + "\n")
with open(f"{out}/queries.jsonl", "w") as f:
    for text, qid in queries.items():
        f.write(json.dumps({"_id": qid, "text": text}) + "\n")
with open(f"{out}/qrels/test.tsv", "w") as f:
    f.write("query-id\tcorpus-id\tscore\n")
    for qid, pid in sorted(set(qrels)):
        f.write(f"{qid}\t{pid}\t1\n")
PY
collections="cranfield:$shared/data/cranfield adi:$shared/data/adi msmarco-toy:$work/msmarco-toy scifact:$shared/data/scifact"
encoders="${QUERY_ENCODERS:-models/query}"
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
table="$work/table.md"
{
    echo
    echo "## $(date -u +%Y-%m-%d) on $(nproc) cores of ${cpu:-unknown CPU}, $(free -g | awk '/Mem:/{print $2}') GiB"
    echo
    echo "\`QUERY_ENCODERS=\"$encoders\" scripts/bench-models.sh\`; int8 vectors, bundle defaults; nDCG@10 / R@100."
    echo
    echo '| collection | bundle | dense nDCG@10 | dense R@100 | hybrid nDCG@10 | hybrid R@100 |'
    echo '|---|---|---|---|---|---|'
} > "$table"
metric() { awk -v r="$1" -v c="$2" '$1==r{print $c}'; }
for entry in $collections; do
    name=${entry%%:*}
    data=${entry#*:}
    bm25=$("$dowse" eval --data "$data" --retriever bm25 2>/dev/null)
    echo "| $name | BM25 | $(echo "$bm25" | metric bm25 3) | $(echo "$bm25" | metric bm25 6) | | |" >> "$table"
    runs="minilm-symmetric:--model:$minilm student-symmetric:--model:models/student"
    for encoder in $encoders; do
        runs="$runs asymmetric-$(basename "$encoder"):--passage-model:$minilm:--model:$encoder:--no-adapt"
    done
    runs="$runs asymmetric-adapted:--passage-model:$minilm:--model:${encoders%% *}"
    for run in $runs; do
        label=${run%%:*}
        IFS=: read -r -a flags <<< "${run#*:}"
        bundle="$work/$name-$label"
        "$dowse" index --input "$data" --out "$bundle" "${flags[@]}" 2> "$work/index.log"
        grep -h "mean cosine\|adapt" "$work/index.log" | sed "s/^/$name $label: /" >> "$work/agreement.txt" || true
        dense=$("$dowse" eval --data "$data" --bundle "$bundle" --retriever dense 2>/dev/null)
        hybrid=$("$dowse" eval --data "$data" --bundle "$bundle" --retriever hybrid 2>/dev/null)
        printf '| %s | %s | %s | %s | %s | %s |\n' "$name" "$label" \
            "$(echo "$dense" | metric dense 3)" "$(echo "$dense" | metric dense 6)" \
            "$(echo "$hybrid" | metric hybrid 3)" "$(echo "$hybrid" | metric hybrid 6)" >> "$table"
    done
done
{
    echo
    echo "What \`dowse index\` said of each asymmetric bundle's query encoder (agreement with MiniLM on pseudo-queries cut from each corpus and held back from adapting):"
    echo
    echo '```'
    cat "$work/agreement.txt"
    echo '```'
    echo
    echo '| query encoder | model.safetensors bytes | gzip -9 bytes | native tokenize + encode, median of 50 MS MARCO queries (ms) |'
    echo '|---|---|---|---|'
} >> "$table"
queries=$(python3 -c "import json,sys; [print(json.loads(l)['text']) for l in list(open(sys.argv[1]))[:50]]" "$work/msmarco-toy/queries.jsonl")
for run in "$minilm:minilm-symmetric" "models/student:student-symmetric" $(for e in $encoders; do echo "$e:asymmetric-$(basename "$e")"; done); do
    encoder=${run%%:*}
    bundle="$work/msmarco-toy-${run#*:}"
    bytes=$(stat -c %s "$encoder/model.safetensors")
    gz=$(gzip -9 -c "$encoder/model.safetensors" | wc -c)
    median=$(while IFS= read -r query; do
        "$dowse" search --bundle "$bundle" --mode dense --json -- "$query" | python3 -c "import json,sys; t=json.load(sys.stdin)['timings_ms']; print(t['tokenize']+t['encode'])"
    done <<< "$queries" | sort -g | awk '{v[NR]=$1} END{printf "%.2f", (v[int((NR+1)/2)]+v[int(NR/2)+1])/2}')
    echo "| $encoder | $bytes | $gz | $median |" >> "$table"
done
# Index time with an empty cache, then after one changed document (the rest from the cache).
home=$(mktemp -d)
cp -r "$shared/data/cranfield" "$work/cranfield-copy"
DOWSE_HOME="$home" "$dowse" model fetch --from "$minilm" > /dev/null
{
    echo
    echo '| Cranfield (1,858 passages), fresh `$DOWSE_HOME` | first index, s | s / 1,000 passages | after one document changed, s | speed-up |'
    echo '|---|---|---|---|---|'
} >> "$table"
for flags in "--no-adapt" ""; do
    rm -rf "$home/cache"
    seconds() { local start=$(date +%s.%N); DOWSE_HOME="$home" "$dowse" index --input "$work/cranfield-copy" --out "$work/timed" $flags 2>/dev/null >/dev/null; echo "$(date +%s.%N) - $start" | bc; }
    first=$(seconds)
    sed -i '0,/^\.W/{s/^\.W/.W\nrevised:/}' "$work/cranfield-copy/cran.all.1400"
    again=$(seconds)
    printf '| %s | %.1f | %.1f | %.1f | %.0fx |\n' "dowse index ${flags:-(adapting)}" "$first" "$(echo "$first * 1000 / 1858" | bc -l)" "$again" "$(echo "$first / $again" | bc -l)" >> "$table"
done
rm -rf "$home"
cat "$table" | tee -a results/models.md
