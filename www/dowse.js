// dowse: search for this site, running in the visitor's browser. Add to any page:
//   <div id="dowse"></div>
//   <script type="module" src="/_dowse/dowse.js"></script>
// The bundle is read from this script's folder unless the div's data-bundle names another.
// Pages that draw their own results import it instead (docs/site.md):
//   import * as dowse from "/_dowse/dowse.js";
//   const found = await dowse.search("query", { mode: "hybrid", k: 10, prefix: false, filters: { tag: "garden" } });
//   const facets = await dowse.filters();
// (scripts/build-app.sh writes it into the built app, the @-marked names replaced by the app's
// content-hashed files; the demo page, index.html, loads it too.)
import init, { search as searchBundle, filters as filtersOf } from "@APP_JS@";

const here = new URL("./", import.meta.url);
const mount = document.getElementById("dowse");
if (mount) {
  if (!mount.dataset.bundle) mount.dataset.bundle = here.href;
  mount.dataset.app = here.href;
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = new URL("@STYLE@", here).href;
  document.head.appendChild(link);
}
await init({ module_or_path: wasmModule(new URL("@APP_WASM@", here), new URL("@APP_JS@", here)) });

// The app's module as this host serves it best: the module itself where the host sent the script
// imported above with Brotli (206 kB at quality 11, 246 kB at the quality 4 of Brotli on the fly:
// the loader cannot tell them apart), else the copy deflated at build time beside it
// (`_bg.deflate`, 240 kB by zopfli), inflated here. gzip makes the module 252 kB; a plain static
// server sends all 594 kB. A browser that does not name the encoding (resource timing's
// `contentEncoding`) takes the module where fewer bytes came than the script holds.
// dowse-worker.js loads the query encoder's module by the same rule.
function wasmModule(wasm, script) {
  const [timing] = performance.getEntriesByName(script.href);
  const compressed = timing?.encodedBodySize > 0 && timing.encodedBodySize < timing.decodedBodySize;
  const brotli = timing && "contentEncoding" in timing ? timing.contentEncoding === "br" : compressed;
  if (brotli || typeof DecompressionStream !== "function") return wasm;
  const deflated = new URL(wasm.href.replace(/\.wasm$/, ".deflate"));
  return fetch(deflated).then((response) => {
    if (!response.ok) throw new Error(`${deflated}: ${response.status} ${response.statusText}`);
    const body = response.body.pipeThrough(new DecompressionStream("deflate-raw"));
    return new Response(body, { headers: { "Content-Type": "application/wasm" } });
  });
}

function bundle() {
  const url = new URL(mount?.dataset.bundle || here.href, document.baseURI).href;
  return url.endsWith("/") ? url : url + "/";
}

// Searches this site: resolves to { query, mode, results, timings_ms, fetched_bytes, filters }.
export function search(query, options) {
  return searchBundle(bundle(), here.href, query, options);
}

// Every filter's values with how many pages carry each: { key: [{ value, count }] }.
export function filters() {
  return filtersOf(bundle(), here.href);
}
