// Runs a collection's queries through the dowse app in headless Chromium, as a visitor types
// them, the way pagefind-queries.mjs runs them through Pagefind: counts the bytes each step
// fetched (response bodies as sent, from Chromium's network events) and the time it took.
//
// Usage: node dowse-queries.mjs <app url> <queries.json> (a JSON array of query texts)
// Prints JSON:
//   cold     for each of the first 20 queries, in a fresh browser profile: bytes and ms from
//            navigation to the first (keyword) results, and to the hybrid results once the query
//            encoder has loaded, and the bytes of each by kind of file (`kinds`): those of the
//            responses that had finished when the results appeared in the page (what the app
//            starts once the keyword results show, the encoder's download among them, counts
//            toward the hybrid results; what it starts once those show, the map, toward none).
//   warm     the same for the first query after a reload (fragments and model from the Cache API)
//   later    bytes each query fetched after the one before, all queries typed in one page
//   ms       each later query's wall time from typing to its hybrid results
//   search   the app's own search time for each later query (fetching its fragments included)
//   results  the 10 result document ids of each query, hybrid
//   again    the first 50 queries typed again in the same page, every fragment they need loaded
//            (warm): the app's own time for each (tokenizing, encoding and searching) and the
//            bytes it fetched
import { chromium } from "playwright-core";
import { profileDir } from "./profile.mjs";
import { fragmentKind, resultsFor } from "./app.mjs";
import { readFileSync } from "node:fs";

const [url, queriesFile] = process.argv.slice(2);
const queries = JSON.parse(readFileSync(queriesFile, "utf8"));
// The certificate of tests/e2e/h2-serve.mjs (a static host over HTTPS) is self-signed.
const args = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--ignore-certificate-errors"];

async function open() {
  const context = await chromium.launchPersistentContext(profileDir("dowse-"), {
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  // When results of each mode first appear, on the wall clock that Chromium's request timings use.
  await page.addInitScript(() => {
    window.__dowseShown = {};
    new MutationObserver(() => {
      const mode = document.querySelector(".dowse-latency")?.dataset.mode;
      if (mode && document.querySelector(".dowse-result") && !window.__dowseShown[mode]) {
        window.__dowseShown[mode] = performance.timeOrigin + performance.now();
      }
    }).observe(document, { childList: true, subtree: true, attributes: true });
  });
  const fetched = { responses: [] };
  context.on("requestfinished", async (request) => {
    // A reload's answers from the browser's cache can count below zero (the app's files came to
    // -694 bytes on 2026-12-07): nothing came over the network for them.
    const size = Math.max(0, (await request.sizes()).responseBodySize);
    const timing = request.timing();
    const end = timing.startTime + Math.max(timing.responseEnd, 0);
    fetched.responses.push({ end, size, kind: await kindOf(request) });
  });
  return { context, page, fetched };
}

// What a fetched file is: by its name, and a fragment by its first bytes.
async function kindOf(request) {
  const path = new URL(request.url()).pathname;
  if (path.includes("/fragments/")) {
    return fragmentKind(await request.response().then((r) => r.body()).catch(() => Buffer.alloc(0)));
  }
  const name = path.split("/").pop();
  if (name.startsWith("dowse-web")) return "app (wasm, js)";
  if (name.startsWith("dowse-static") || name === "dowse-worker.js") return "static encoder worker (wasm, js)";
  if (name.startsWith("dowse-encoder")) return "encoder worker (wasm, js)";
  if (path.includes("/model/")) return "model files";
  if (name === "map.bin") return "embedding map";
  return name === "manifest.json" ? "manifest" : "page and styles";
}

// Bytes and bytes by kind of the responses finished since the last call (those that finished by
// `until` alone, on the wall clock, when given), taken out of the count.
async function take(fetched, until = Infinity) {
  await new Promise((resolve) => setTimeout(resolve, 50));
  const taken = fetched.responses.filter((r) => r.end <= until);
  fetched.responses = fetched.responses.filter((r) => r.end > until);
  const kinds = {};
  for (const r of taken) kinds[r.kind] = (kinds[r.kind] ?? 0) + r.size;
  return { bytes: taken.reduce((sum, r) => sum + r.size, 0), kinds };
}

// Opens the app on `query` and measures its first keyword and hybrid results.
async function first(opened, query, reload) {
  const { page, fetched } = opened;
  const started = Date.now();
  if (reload) await page.reload();
  else await page.goto(`${url}?q=${encodeURIComponent(query)}`);
  await resultsFor(page, query, null);
  const shown = await page.evaluate(() => Math.min(...Object.values(window.__dowseShown)));
  const keyword = { ms: Date.now() - started, ...(await take(fetched, shown)) };
  await resultsFor(page, query, "hybrid");
  const rest = await take(fetched, await page.evaluate(() => window.__dowseShown.hybrid));
  const kinds = { ...keyword.kinds };
  for (const [kind, bytes] of Object.entries(rest.kinds)) kinds[kind] = (kinds[kind] ?? 0) + bytes;
  const hybrid = { ms: Date.now() - started, bytes: keyword.bytes + rest.bytes, kinds };
  // The map loads after the hybrid results; its bytes count toward neither.
  await page.waitForSelector(".dowse-map:not([hidden])", { timeout: 60_000 }).catch(() => {});
  await take(fetched);
  return { keyword, hybrid };
}

const cold = [];
for (const query of queries.slice(0, 20)) {
  const opened = await open();
  cold.push(await first(opened, query, false));
  await opened.context.close();
}
const opened = await open();
await first(opened, queries[0], false);
const warm = await first(opened, queries[0], true);
const later = [], ms = [], search = [], results = [];
for (const query of queries) {
  const started = Date.now();
  await opened.page.fill(".dowse-query", query);
  await resultsFor(opened.page, query, "hybrid");
  ms.push(Date.now() - started);
  later.push((await take(opened.fetched)).bytes);
  search.push(await opened.page.$eval(".dowse-latency", (p) => Number(p.dataset.searchMs)));
  results.push(await opened.page.$$eval(".dowse-result", (items) => items.map((li) => li.dataset.docId)));
}
const again = [];
for (const query of queries.slice(0, 50)) {
  await opened.page.fill(".dowse-query", query);
  await resultsFor(opened.page, query, "hybrid");
  const ms = await opened.page.$eval(".dowse-latency", (p) => ["tokenizeMs", "encodeMs", "searchMs"].reduce((sum, key) => sum + Number(p.dataset[key]), 0));
  again.push({ ms, bytes: (await take(opened.fetched)).bytes });
}
await opened.context.close();
console.log(JSON.stringify({ cold, warm, later, ms, search, results, again }));
