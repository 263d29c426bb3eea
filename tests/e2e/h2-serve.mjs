// A static server over HTTP/2 (TLS, the certificate given), as static hosts serve a site: the
// app's folder at /, a bundle folder at /bundle/, gzip where the browser takes it. For
// scripts/bench-requests.sh, which compares it with `dowse serve` (HTTP/1.1: browsers speak
// HTTP/2 only over TLS).
//
// Usage: node h2-serve.mjs <app folder> <bundle folder> <key.pem> <cert.pem> <port>
import http2 from "node:http2";
import { gzipSync } from "node:zlib";
import { readFileSync, statSync } from "node:fs";
import { extname, join, normalize } from "node:path";

const [app, bundle, key, cert, port] = process.argv.slice(2);
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm", ".css": "text/css", ".json": "application/json" };
const gzipped = new Map();

function file(path) {
  const [root, rest] = path.startsWith("/bundle/") ? [bundle, path.slice("/bundle/".length)] : [app, path.slice(1)];
  const full = join(root, normalize(rest || "index.html"));
  if (!full.startsWith(root)) return null;
  try {
    const target = statSync(full).isDirectory() ? join(full, "index.html") : full;
    return { path: target, bytes: readFileSync(target) };
  } catch {
    return null;
  }
}

const server = http2.createSecureServer({ key: readFileSync(key), cert: readFileSync(cert) });
server.on("stream", (stream, headers) => {
  const found = file(decodeURIComponent(headers[":path"].split("?")[0]));
  if (!found) {
    stream.respond({ ":status": 404 });
    stream.end();
    return;
  }
  const head = { ":status": 200, "content-type": TYPES[extname(found.path)] ?? "application/octet-stream", "cache-control": "no-cache" };
  if (/\bgzip\b/.test(headers["accept-encoding"] ?? "")) {
    if (!gzipped.has(found.path)) gzipped.set(found.path, gzipSync(found.bytes));
    stream.respond({ ...head, "content-encoding": "gzip" });
    stream.end(gzipped.get(found.path));
  } else {
    stream.respond(head);
    stream.end(found.bytes);
  }
});
server.listen(Number(port), "127.0.0.1", () => console.log(`listening on https://127.0.0.1:${port}`));
