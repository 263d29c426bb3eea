// Runs a collection's queries through Pagefind's JavaScript API in headless Chromium, as a site's
// search box would: import /pagefind/pagefind.js, search, load the data of the 10 results shown.
// Counts the bytes each step fetched: the response bodies as sent, from Chromium's network events
// (Pagefind searches in a web worker, whose fetches the page's Resource Timing does not see).
//
// Usage: node pagefind-queries.mjs <site url> <queries.json> (a JSON array of query texts)
// Prints JSON: cold (bytes to the first 10 results of each of the first 20 queries, each in a
// fresh browser profile), later (bytes each query fetched after the one before, all queries in
// one page), ms (each later query's time to its 10 results' data), results (the 10 result URLs
// of each query).
import { chromium } from "playwright-core";
import { profileDir } from "./profile.mjs";
import { readFileSync } from "node:fs";

const [url, queriesFile] = process.argv.slice(2);
const queries = JSON.parse(readFileSync(queriesFile, "utf8"));
// The certificate of tests/e2e/h2-serve.mjs (a static host over HTTPS) is self-signed.
const args = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--ignore-certificate-errors"];

async function open() {
  const context = await chromium.launchPersistentContext(profileDir("pagefind-"), {
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const fetched = { bytes: 0 };
  context.on("requestfinished", async (request) => (fetched.bytes += (await request.sizes()).responseBodySize));
  await page.goto(url);
  fetched.bytes = 0;
  return { context, page, fetched };
}

// One search as a page runs it; returns its result URLs, the bytes fetched since the last call
// and the milliseconds it took.
async function search({ page, fetched }, query) {
  const run = await page.evaluate(async (query) => {
    const started = performance.now();
    window.pf ??= await import("/pagefind/pagefind.js");
    const found = await window.pf.search(query);
    const data = await Promise.all(found.results.slice(0, 10).map((r) => r.data()));
    return { urls: data.map((d) => d.url), ms: performance.now() - started };
  }, query);
  await new Promise((resolve) => setTimeout(resolve, 50));
  const bytes = fetched.bytes;
  fetched.bytes = 0;
  return { ...run, bytes };
}

const cold = [];
for (const query of queries.slice(0, 20)) {
  const opened = await open();
  cold.push((await search(opened, query)).bytes);
  await opened.context.close();
}
const opened = await open();
const later = [], ms = [], results = [];
for (const query of queries) {
  const run = await search(opened, query);
  later.push(run.bytes);
  ms.push(run.ms);
  results.push(run.urls);
}
await opened.context.close();
console.log(JSON.stringify({ cold, later, ms, results }));
