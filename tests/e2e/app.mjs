// What the benchmark drivers (dowse-queries.mjs, fetch-rounds.mjs) know of the dowse app: how to
// wait for its results, and what kind of fragment a fetched file is.

import { inflateRawSync } from "node:zlib";

// Each section's magic; the static query encoder's table is safetensors, whose header is JSON
// after 8 bytes, and the tokenizer's copy is JSON.
const MAGICS = { DRT5: "root", DBS2: "BM25 shards", DDOC: "document chunks", DSC4: "sign codes", DVC1: "vector chunks", DFL1: "filters" };

// A fragment's kind from its bytes as stored (deflated).
export function fragmentKind(stored) {
  let bytes;
  try {
    bytes = inflateRawSync(stored);
  } catch {
    return "other fragments";
  }
  if (bytes.length > 8 && bytes[8] === 0x7b) return "query encoder table";
  // The tokenizer's copy in fragments (its JSON).
  if (bytes[0] === 0x7b) return "model files";
  return MAGICS[bytes.subarray(0, 4).toString("latin1")] ?? "other fragments";
}

// Waits for results of `query` in `mode` (any mode when null); the app's error state throws.
export async function resultsFor(page, query, mode, timeout = 300_000) {
  await page.waitForFunction(
    ([q, mode]) => {
      const root = document.querySelector(".dowse");
      if (root?.dataset.state === "error") throw new Error(root.innerText);
      const latency = document.querySelector(".dowse-latency");
      return latency?.dataset.query === q && (mode === null || latency.dataset.mode === mode) &&
        document.querySelectorAll(".dowse-result").length > 0;
    },
    [query, mode],
    { timeout, polling: 10 },
  );
}
