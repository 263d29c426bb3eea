// Drives the Transformers.js benchmark page (scripts/interop/transformers-js.html) in Debian's
// headless Chromium, as search.mjs drives dowse's app: one empty browser per run, so the load is
// cold. Prints the page's report plus every file fetched, with its bytes on the wire.
// Usage: node transformers-js.mjs '{"url": ..., "model": ..., "dtype": "q8", "device": "wasm", "queries": [...]}'
import { chromium } from "playwright-core";
import { profileDir } from "./profile.mjs";

const options = JSON.parse(process.argv[2]);
const args = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];
if (options.device === "webgpu") args.push("--enable-unsafe-webgpu");
const context = await chromium.launchPersistentContext(profileDir("dowse-chromium-"), {
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args,
});
const page = context.pages()[0] ?? (await context.newPage());
const lines = [];
page.on("console", (m) => lines.push(`${m.type()}: ${m.text()}`));
try {
  await page.goto(options.url);
  await page.waitForFunction(() => window.ready === true, null, { timeout: 60_000 });
  const report = await page.evaluate((o) => window.bench(o), options);
  report.resources = await page.evaluate(() =>
    performance.getEntriesByType("resource").map((e) => ({ name: e.name, bytes: e.transferSize, body: e.decodedBodySize }))
  );
  console.log(JSON.stringify(report));
} catch (e) {
  console.log(JSON.stringify({ error: e.message, console: lines.slice(-20) }));
}
await context.close();
