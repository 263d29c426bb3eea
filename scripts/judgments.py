"""BEIR judgments, the judged test queries and nDCG@10 of ranked document ids, for the browser
benchmarks' Python steps (scripts/bench-pagefind.sh, scripts/bench-site.sh,
scripts/bench-requests.sh), trec_eval's definition (gain = grade).

    python3 scripts/judgments.py DATA WORK   # WORK/queries.json (texts) and WORK/query-ids.json
"""
import json
import math
import sys


def read_qrels(data):
    """{query id: {document id: grade}} from a BEIR folder's qrels/test.tsv."""
    qrels = {}
    for line in list(open(f"{data}/qrels/test.tsv"))[1:]:
        query, doc, grade = line.split()
        qrels.setdefault(query, {})[doc] = int(grade)
    return qrels


def write_test_queries(data, work):
    """The queries that qrels/test.tsv judges, in queries.jsonl's order: their texts to
    WORK/queries.json and their ids to WORK/query-ids.json, as JSON arrays."""
    judged = {line.split("\t")[0] for line in list(open(f"{data}/qrels/test.tsv"))[1:]}
    queries = [json.loads(line) for line in open(f"{data}/queries.jsonl")]
    queries = [q for q in queries if q["_id"] in judged]
    json.dump([q["text"] for q in queries], open(f"{work}/queries.json", "w"))
    json.dump([q["_id"] for q in queries], open(f"{work}/query-ids.json", "w"))


def ndcg10(gains, docs):
    """nDCG@10 of `docs` (ranked ids) against `gains` ({document id: grade})."""
    dcg = sum(gains.get(d, 0) / math.log2(i + 2) for i, d in enumerate(docs[:10]))
    ideal = sum(g / math.log2(i + 2) for i, g in enumerate(sorted(gains.values(), reverse=True)[:10]))
    return dcg / ideal if ideal else 0.0


if __name__ == "__main__":
    write_test_queries(*sys.argv[1:3])
