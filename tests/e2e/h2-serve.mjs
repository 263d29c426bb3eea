// A static server over HTTP/2 (TLS, the certificate given), as static hosts serve a site: the
// app's folder at /, a bundle folder at /bundle/, compressed where the browser takes it: gzip
// (GitHub Pages), or with `br` Brotli at its best quality where the browser takes it, gzip
// otherwise (Cloudflare Pages, Netlify and Vercel serve Brotli over HTTPS), or with `identity`
// nothing compressed (a plain static server: S3's website endpoint, nginx's default for wasm). For
// scripts/bench-requests.sh, which compares it with `dowse serve` (HTTP/1.1: browsers speak
// HTTP/2 only over TLS), and scripts/bench-site.sh's Brotli host. With `-` for the key and the
// certificate it speaks HTTP/1.1 without TLS, for tests/tests/browser.rs (Chromium asks for
// Brotli over plain HTTP too).
//
// Usage: node h2-serve.mjs <app folder> <bundle folder> <key.pem|-> <cert.pem|-> <port> [gzip|br|identity]
import http from "node:http";
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
    const { size, mtimeMs } = statSync(target);
    return { path: target, bytes: readFileSync(target), etag: `"${size.toString(16)}-${Math.floor(mtimeMs).toString(16)}"` };
  } catch {
    return null;
  }
}

function respond(request, response) {
  const found = file(decodeURIComponent(request.url.split("?")[0]));
  if (!found) {
    response.writeHead(404);
    response.end();
    return;
  }
  // Revalidated on every use, as hosts send files without a content hash in their name: 304 when
  // the browser's copy is current.
  const head = { "content-type": TYPES[extname(found.path)] ?? "application/octet-stream", "cache-control": "no-cache", etag: found.etag };
  if (request.headers["if-none-match"] === found.etag) {
    response.writeHead(304, head);
    response.end();
    return;
  }
  // Only the types hosts compress: a file without an extension (a bundle's fragment, stored
  // deflated) or a module's deflated copy goes out as it is.
  const contentEncoding = extname(found.path) in TYPES ? chosen(request.headers["accept-encoding"] ?? "") : null;
  if (contentEncoding) {
    const key = `${contentEncoding} ${found.path}`;
    if (!compressed.has(key)) compressed.set(key, ENCODERS[contentEncoding](found.bytes));
    response.writeHead(200, { ...head, "content-encoding": contentEncoding });
    response.end(compressed.get(key));
  } else {
    response.writeHead(200, head);
    response.end(found.bytes);
  }
}

const tls = key !== "-";
const server = tls ? http2.createSecureServer({ key: readFileSync(key), cert: readFileSync(cert) }, respond) : http.createServer(respond);
server.listen(Number(port), "127.0.0.1", () => console.log(`listening on ${tls ? "https" : "http"}://127.0.0.1:${port}`));
