// Drives Debian's headless Chromium through the dowse web app, as a visitor would: opens a page
// with ?q=, waits for the first (keyword) results and then for the results of the wanted mode
// (once the query encoder has loaded), reads the backend label, the result ids and the latency
// line, saves a screenshot, reloads (warm: fragments and model from the Cache API), and types
// more queries.
//
// Usage: node search.mjs '<json>' with
//   url          the page (a ?q= is added)
//   query        the first search
//   mode         the mode whose results to wait for (default hybrid, the app's default)
//   webgpu       true to give Chromium its software WebGPU adapter (SwiftShader)
//   screenshot   where to save the PNG of the first results
//   queries      further queries to type into the box, one at a time (timings, results, titles and
//                each result's metadata: image src and alt, the other fields' keys and texts)
//   typed_mode   the mode to pick in the page's mode menu before typing them (default: as it is)
//   rerank       true to switch the rerank toggle on and wait for its outcome
//   keyboard     true to walk the results with the arrow keys from the box, then clear with Escape
//   facet        {key, value}: reports every filter's values and counts (`facets.groups`), whether
//                any markup rendered in them, and the titles once that value is checked
//   resources    true to report each file of the cold load (`cold_resources`: name, bytes
//                transferred, body bytes as sent, body bytes as read)
//   viewport     {width, height} of the page (default 1000 x 1100); the report says whether the
//                page is wider than that (`overflows`)
//   expect_error true when the page must end in its error state: reports the message and stops
//   expect_semantic_error  true when the query encoder must fail to load: reports the first
//                results (keyword search goes on) and the message, and stops
// Prints one JSON object on stdout; exits 1 with the page's console on any failure.
import { chromium } from "playwright-core";
import { profileDir } from "./profile.mjs";

const options = JSON.parse(process.argv[2]);
const LOAD_TIMEOUT_MS = 300_000;
const args = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];
if (options.webgpu) args.push("--enable-unsafe-webgpu");

const context = await chromium.launchPersistentContext(profileDir("dowse-chromium-"), {
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args,
  viewport: options.viewport ?? { width: 1000, height: 1100 },
});
const page = context.pages()[0] ?? (await context.newPage());
const console_lines = [];
page.on("console", (m) => console_lines.push(`${m.type()}: ${m.text()}`));
// A panic in the app (an uncaught error) fails the run at once instead of at the timeout.
let crashed;
const crash = new Promise((_, reject) => (crashed = reject));
page.on("pageerror", (e) => {
  console_lines.push(`pageerror: ${e.message}`);
  crashed(new Error(`the page threw: ${e.message}`));
});

async function fail(message) {
  console.error(message);
  console.error(console_lines.join("\n"));
  await context.close();
  process.exit(1);
}

const wanted_mode = options.mode ?? "hybrid";

/// Waits until the app has results for `query` in `mode` (any mode when null), or reports an
/// error, and returns how long it took.
async function resultsFor(query, mode = wanted_mode) {
  const start = Date.now();
  try {
    const ready = page.waitForFunction(
      ([q, mode]) => {
        const root = document.querySelector(".dowse");
        if (root?.dataset.state === "error" || root?.dataset.semantic === "error") return true;
        const latency = document.querySelector(".dowse-latency");
        return latency?.dataset.query === q && (mode === null || latency.dataset.mode === mode) &&
          document.querySelectorAll(".dowse-result").length > 0;
      },
      [query, mode],
      { timeout: LOAD_TIMEOUT_MS, polling: 20 },
    );
    await Promise.race([ready, crash]);
  } catch (e) {
    await fail(`no results for ${JSON.stringify(query)}: ${e.message}`);
  }
  const error = await page.$eval(".dowse", (root) =>
    root.dataset.state === "error" || root.dataset.semantic === "error" ? root.innerText : null
  );
  if (error) await fail(`the app reports an error: ${error}`);
  return Date.now() - start;
}

const transferred = () =>
  page.evaluate(() =>
    performance
      .getEntriesByType("navigation")
      .concat(performance.getEntriesByType("resource"))
      .reduce((sum, entry) => sum + (entry.transferSize || 0), 0),
  );
const latency = () =>
  page.$eval(".dowse-latency", (p) => ({
    tokens: Number(p.dataset.tokens),
    tokenize: Number(p.dataset.tokenizeMs),
    encode: Number(p.dataset.encodeMs),
    search: Number(p.dataset.searchMs),
    fetched: Number(p.dataset.fetchedBytes),
    mode: p.dataset.mode,
    text: p.innerText,
  }));

const url = new URL(options.url);
url.searchParams.set("q", options.query);
let start = Date.now();
await page.goto(url.href);
if (options.expect_error) {
  await page.waitForFunction(() => document.querySelector(".dowse")?.dataset.state === "error", null, {
    timeout: LOAD_TIMEOUT_MS,
  });
  console.log(JSON.stringify({ error: await page.$eval(".dowse-error", (p) => p.innerText) }));
  await context.close();
  process.exit(0);
}
await resultsFor(options.query, null);
const first_results = { ms: Date.now() - start, bytes: await transferred(), mode: (await latency()).mode };
if (options.expect_semantic_error) {
  await page.waitForFunction(() => document.querySelector(".dowse")?.dataset.semantic === "error", null, {
    timeout: LOAD_TIMEOUT_MS,
  });
  console.log(JSON.stringify({
    first_results,
    results: await page.$$eval(".dowse-result", (items) => items.map((li) => li.dataset.docId)),
    error: await page.$eval(".dowse-error", (p) => p.innerText),
  }));
  await context.close();
  process.exit(0);
}
await resultsFor(options.query);
const cold_ms = Date.now() - start;
const report = {
  first_results,
  backend: await page.$eval(".dowse", (root) => root.dataset.backend),
  backend_line: await page.$eval(".dowse-backend", (p) => p.innerText),
  results: await page.$$eval(".dowse-result", (items) => items.map((li) => li.dataset.docId)),
  titles: await page.$$eval(".dowse-result .dowse-title", (items) => items.map((t) => t.innerText)),
  first_latency: await latency(),
  cold_ms,
  cold_bytes: await transferred(),
  rerank_toggle: (await page.$(".dowse-rerank input")) !== null,
  // The map loads once the hybrid results are on screen.
  map_drawn: await page.waitForSelector(".dowse-map:not([hidden])", { timeout: LOAD_TIMEOUT_MS }).then(() => true, () => false),
};
// Each file of the cold load, for benchmarks that split the bytes (the encoder's from the bundle's).
if (options.resources) {
  report.cold_resources = await page.evaluate(() =>
    performance.getEntriesByType("resource").map((e) => ({ name: e.name, bytes: e.transferSize, encoded: e.encodedBodySize, body: e.decodedBodySize }))
  );
}
report.overflows = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
if (options.screenshot) await page.screenshot({ path: options.screenshot, fullPage: true });

if (options.keyboard) {
  // The result whose title has the focus, and what the screen reader is told it is.
  const focused = () =>
    page.evaluate(() => ({
      doc: document.activeElement?.closest(".dowse-result")?.dataset.docId ?? null,
      in_box: document.activeElement?.classList.contains("dowse-query") ?? false,
    }));
  await page.focus(".dowse-query");
  await page.keyboard.press("ArrowDown");
  const first = await focused();
  await page.keyboard.press("ArrowDown");
  const second = await focused();
  await page.keyboard.press("ArrowUp");
  await page.keyboard.press("ArrowUp");
  const back = await focused();
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("Escape");
  await page.waitForFunction(() => document.querySelectorAll(".dowse-result").length === 0, null, { timeout: 10_000 });
  report.keyboard = {
    first: first.doc,
    second: second.doc,
    back_in_box: back.in_box,
    cleared: await page.$eval(".dowse-query", (input) => input.value === ""),
    focus_in_box: (await focused()).in_box,
    labels: await page.evaluate(() => ({
      box: document.querySelector(".dowse-query")?.getAttribute("aria-label"),
      mode: document.querySelector(".dowse-mode")?.getAttribute("aria-label"),
      results: document.querySelector(".dowse-results")?.getAttribute("aria-label"),
      search_role: document.querySelector("[role=search]") !== null,
    })),
  };
  await page.fill(".dowse-query", options.query);
  await resultsFor(options.query);
}

if (options.facet) {
  // Every filter's values with their counts, whether any markup rendered, then the results once
  // the wanted value is checked.
  const groups = await page.$$eval(".dowse-facet", (sets) =>
    Object.fromEntries(sets.map((set) => [set.dataset.key, [...set.querySelectorAll(".dowse-facet-value")].map((label) =>
      [label.querySelector(".dowse-value").textContent, Number(label.querySelector(".dowse-count").textContent)])]))
  );
  const markup = await page.$$eval(".dowse-facets b", (found) => found.length > 0);
  const { key, value } = options.facet;
  const box = page.locator(`.dowse-facet[data-key="${key}"] .dowse-facet-value`, { hasText: value }).locator("input");
  await box.check();
  await page.waitForFunction(
    ([wanted, mode]) => {
      const latency = document.querySelector(".dowse-latency");
      return latency?.dataset.filters === wanted && latency.dataset.mode === mode;
    },
    [`${key}=${value}`, wanted_mode],
    { timeout: LOAD_TIMEOUT_MS, polling: 20 },
  );
  const titles = await page.$$eval(".dowse-result .dowse-title", (items) => items.map((t) => t.innerText));
  report.facets = { groups, markup, titles };
}

start = Date.now();
await page.reload();
await resultsFor(options.query);
report.warm_ms = Date.now() - start;
report.warm_bytes = await transferred();

report.timings = [];
if (options.typed_mode) await page.selectOption(".dowse-mode", options.typed_mode);
for (const query of options.queries ?? []) {
  await page.fill(".dowse-query", query);
  await resultsFor(query, options.typed_mode ?? wanted_mode);
  const results = await page.$$eval(".dowse-result", (items) => items.map((li) => li.dataset.docId));
  const titles = await page.$$eval(".dowse-result .dowse-title", (items) => items.map((t) => t.innerText));
  const meta = await page.$$eval(".dowse-result", (items) =>
    items.map((li) => ({
      image: li.querySelector(".dowse-image")?.getAttribute("src") ?? null,
      alt: li.querySelector(".dowse-image")?.getAttribute("alt") ?? null,
      fields: [...li.querySelectorAll(".dowse-field")].map((f) => [f.dataset.key, f.innerText]),
    }))
  );
  report.timings.push({ ...(await latency()), results, titles, meta });
}

if (options.rerank) {
  if (!report.rerank_toggle) await fail("no rerank toggle although the server has a reranker");
  await page.check(".dowse-rerank input");
  await page.waitForFunction(() => /rerank/.test(document.querySelector(".dowse-latency")?.innerText ?? ""), null, {
    timeout: 60_000,
  });
  report.rerank_line = (await latency()).text;
  report.reranked_results = await page.$$eval(".dowse-result", (items) => items.map((li) => li.dataset.docId));
}

await context.close();
console.log(JSON.stringify(report));
