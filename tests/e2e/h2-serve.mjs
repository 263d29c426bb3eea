// A static server over HTTP/2 (TLS, the certificate given), as static hosts serve a site: the
// app's folder at /, a bundle folder at /bundle/, compressed where the browser takes it: gzip
// (GitHub Pages), or with `br` Brotli at its best quality where the browser takes it, gzip
// otherwise (Cloudflare Pages, Netlify and Vercel serve Brotli over HTTPS), or with `identity`
// nothing compressed (a plain static server: S3's website endpoint, nginx's default for wasm). For
// scripts/bench-requests.sh, which compares it with `dowse serve` (HTTP/1.1: browsers speak
// HTTP/2 only over TLS), and scripts/bench-site.sh's Brotli host.
//
// Usage: node h2-serve.mjs <app folder> <bundle folder> <key.pem> <cert.pem> <port> [gzip|br|identity]
import http2 from "node:http2";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { readFileSync, statSync } from "node:fs";
import { extname, join, normalize } from "node:path";

const [app, bundle, key, cert, port, encoding = "gzip"] = process.argv.slice(2);
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm", ".css": "text/css", ".json": "application/json" };
const ENCODERS = {
  br: (bytes) => brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length } }),
  gzip: (bytes) => gzipSync(bytes),
};
const compressed = new Map();

// The encoding to answer with: none for `identity`; Brotli only when this server offers it and
// the browser takes it.
function chosen(accepted) {
  if (encoding === "identity") return null;
  if (encoding === "br" && /\bbr\b/.test(accepted)) return "br";
  return /\bgzip\b/.test(accepted) ? "gzip" : null;
}

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
  const contentEncoding = chosen(headers["accept-encoding"] ?? "");
  if (contentEncoding) {
    const key = `${contentEncoding} ${found.path}`;
    if (!compressed.has(key)) compressed.set(key, ENCODERS[contentEncoding](found.bytes));
    stream.respond({ ...head, "content-encoding": contentEncoding });
    stream.end(compressed.get(key));
  } else {
    stream.respond(head);
    stream.end(found.bytes);
  }
});
server.listen(Number(port), "127.0.0.1", () => console.log(`listening on https://127.0.0.1:${port}`));
