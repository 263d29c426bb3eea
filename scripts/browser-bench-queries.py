"""The 50 queries the browser benchmarks type (scripts/bench-web.sh, scripts/bench-interop.sh), as
a JSON list: Cranfield's first 40 queries (SMART .W sections: long questions), then 10 search-box
queries of two to four words on the same topics, since a search box mostly gets those.

Usage: python3 scripts/browser-bench-queries.py SHARED/data/cranfield/cran.qry
"""
import json
import re
import sys

text = open(sys.argv[1]).read()
queries = [" ".join(q.split()) for q in re.findall(r"\.W\n(.*?)(?=\n\.I |\Z)", text, re.S)]
short = ["supersonic flow", "boundary layer transition", "heat transfer", "shock wave interaction", "panel flutter",
         "laminar heat transfer", "buckling of cylinders", "hypersonic wake", "slip flow", "jet noise"]
print(json.dumps(queries[:40] + short))
