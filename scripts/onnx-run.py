"""Runs an ONNX graph in ONNX Runtime on token ids: how dowse's tests check an exported model.

Usage: python3 scripts/onnx-run.py MODEL.onnx < inputs.json > outputs.json
inputs.json holds padded int64 batches by input name (input_ids, attention_mask and, for BERT,
token_type_ids); only the inputs the graph declares are fed. The answer maps every output name
to its values as nested lists.
"""

import json
import sys

import numpy as np
import onnxruntime

session = onnxruntime.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
given = json.load(sys.stdin)
feeds = {i.name: np.array(given[i.name], dtype=np.int64) for i in session.get_inputs()}
names = [o.name for o in session.get_outputs()]
outputs = session.run(names, feeds)
json.dump({name: value.tolist() for name, value in zip(names, outputs)}, sys.stdout)
