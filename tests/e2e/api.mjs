// Opens a page that uses dowse's JavaScript API (`import * as dowse from "/_dowse/dowse.js"`)
// in Debian's headless Chromium and prints what the page wrote to `document.body.dataset.result`
// (JSON) once it has; exits 1 with the page's console on a timeout or an uncaught error.
//
// Usage: node api.mjs '{"url": "http://.../api.html"}'
import { chromium } from "playwright-core";
import { profileDir } from "./profile.mjs";

const options = JSON.parse(process.argv[2]);
const TIMEOUT_MS = 300_000;
const context = await chromium.launchPersistentContext(profileDir("dowse-chromium-"), {
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking"],
});
const page = context.pages()[0] ?? (await context.newPage());
const lines = [];
page.on("console", (m) => lines.push(`${m.type()}: ${m.text()}`));
page.on("pageerror", (e) => lines.push(`pageerror: ${e.message}`));
try {
  await page.goto(options.url);
  await page.waitForFunction(() => document.body?.dataset.result !== undefined, null, { timeout: TIMEOUT_MS, polling: 50 });
  console.log(await page.evaluate(() => document.body.dataset.result));
} catch (e) {
  console.error(`${options.url}: ${e.message}\n${lines.join("\n")}`);
  await context.close();
  process.exit(1);
}
await context.close();
