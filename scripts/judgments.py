"""BEIR judgments and nDCG@10 of ranked document ids, for the browser benchmarks' Python steps
(scripts/bench-pagefind.sh, scripts/bench-site.sh), trec_eval's definition (gain = grade)."""
import math


def read_qrels(data):
    """{query id: {document id: grade}} from a BEIR folder's qrels/test.tsv."""
    qrels = {}
    for line in list(open(f"{data}/qrels/test.tsv"))[1:]:
        query, doc, grade = line.split()
        qrels.setdefault(query, {})[doc] = int(grade)
    return qrels


def ndcg10(gains, docs):
    """nDCG@10 of `docs` (ranked ids) against `gains` ({document id: grade})."""
    dcg = sum(gains.get(d, 0) / math.log2(i + 2) for i, d in enumerate(docs[:10]))
    ideal = sum(g / math.log2(i + 2) for i, g in enumerate(sorted(gains.values(), reverse=True)[:10]))
    return dcg / ideal if ideal else 0.0
