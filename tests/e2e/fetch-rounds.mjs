// Where a later query's time goes in the dowse app: the fragments each one fetches (how many, of
// what kind, in how many rounds) and what one request costs in this Chromium, over whatever
// protocol the server speaks (scripts/bench-requests.sh runs it over HTTP/1.1 and HTTP/2).
//
// Usage: node fetch-rounds.mjs <app url> <queries.json> <bundle folder> [queries to type, 100]
// Prints JSON:
//   queries   per later query: the app's search time (fetches included), and each fragment
//             fetched: [start ms, end ms, kind] from the moment the query was typed
//   cost      ms for batches of fragments fetched at once (1, 6, 30; five of each), none fetched before
//   protocol  what the server answered with (e.g. "http/1.1", "h2")
import { chromium } from "playwright-core";
import { profileDir } from "./profile.mjs";
import { fragmentKind, resultsFor } from "./app.mjs";
import { readFileSync, readdirSync } from "node:fs";

const [url, queriesFile, bundle, count] = process.argv.slice(2);
const queries = JSON.parse(readFileSync(queriesFile, "utf8")).slice(0, Number(count ?? 100) + 1);

// A fragment's kind, from its bytes in the bundle folder.
function kindOf(name) {
  return fragmentKind(readFileSync(`${bundle}/fragments/${name}`));
}

const context = await chromium.launchPersistentContext(profileDir("dowse-rounds-"), {
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--ignore-certificate-errors"],
});
const page = context.pages()[0] ?? (await context.newPage());
let protocol = "";
page.on("response", async (response) => {
  if (!protocol && response.url().includes("/fragments/")) {
    protocol = await page.evaluate((u) => performance.getEntriesByName(u)[0]?.nextHopProtocol ?? "", response.url()).catch(() => "");
  }
});

await page.goto(`${url}?q=${encodeURIComponent(queries[0])}`);
await resultsFor(page, queries[0], "hybrid");
const fetched = new Set();
const rows = [];
for (const query of queries.slice(1)) {
  await page.evaluate(() => {
    performance.clearResourceTimings();
    window.typedAt = performance.now();
  });
  await page.fill(".dowse-query", query);
  await resultsFor(page, query, "hybrid");
  const { search, entries } = await page.evaluate(() => ({
    search: Number(document.querySelector(".dowse-latency").dataset.searchMs),
    entries: performance
      .getEntriesByType("resource")
      .filter((e) => e.name.includes("/fragments/"))
      .map((e) => [e.startTime - window.typedAt, e.responseEnd - window.typedAt, e.name.split("/").pop()]),
  }));
  entries.forEach(([, , name]) => fetched.add(name));
  rows.push({ search, fragments: entries.map(([start, end, name]) => [Math.round(start), Math.round(end), kindOf(name)]) });
}

// Fragments no query fetched, fetched in batches as the app does (all at once, no streaming).
const BATCHES = 5;
const fresh = readdirSync(`${bundle}/fragments`).filter((name) => !fetched.has(name)).slice(0, 37 * BATCHES);
const base = new URL("fragments/", await page.evaluate(() => new URL(document.querySelector("#dowse")?.dataset.bundle ?? "bundle/", location.href).href)).href;
const cost = await page.evaluate(
  async ([base, fresh, batches]) => {
    const batch = async (names) => {
      const start = performance.now();
      await Promise.all(names.map((n) => fetch(base + n).then((r) => r.arrayBuffer())));
      return performance.now() - start;
    };
    const out = { 1: [], 6: [], 30: [] };
    for (let round = 0; round < batches; round++) {
      const names = fresh.slice(round * 37, round * 37 + 37);
      out[1].push(await batch(names.slice(0, 1)));
      out[6].push(await batch(names.slice(1, 7)));
      out[30].push(await batch(names.slice(7, 37)));
    }
    return out;
  },
  [base, fresh, BATCHES],
);
await context.close();
console.log(JSON.stringify({ protocol, queries: rows, cost }));
