// A query encoder's worker script: loads the module its URL names (`?module=dowse-static`, the
// static encoder without Burn, or `?module=dowse-encoder`, every model on Burn): wasm-bindgen's
// no-modules glue, then the wasm, whose main answers the app's messages. A module that cannot be
// loaded is thrown again outside the promise, so the page hears of it (the Worker's error event)
// instead of waiting for a worker that will never answer.
const name = new URL(self.location.href).searchParams.get("module");
if (!["dowse-static", "dowse-encoder"].includes(name)) {
  throw new Error(`dowse-worker.js: no query encoder module named ${JSON.stringify(name)}`);
}
importScripts(`./${name}.js`);
wasm_bindgen({ module_or_path: wasmModule(`./${name}_bg.wasm`, `./${name}.js`) }).catch((error) => setTimeout(() => { throw error; }));

// The module as this host serves it best, by dowse.js's rule (a page module and a worker's
// classic script cannot share a function): the module itself where the host sent its script with
// Brotli, else its copy deflated at build time (`_bg.deflate`), inflated here: the static
// encoder's is 130 kB on the wire instead of 322 kB raw or 140 kB by gzip, the other 3.2 MB, not
// 19. Without resource timing's `contentEncoding`: the module where the script came compressed.
function wasmModule(wasm, script) {
  const [timing] = performance.getEntriesByName(new URL(script, self.location.href).href);
  const compressed = timing?.encodedBodySize > 0 && timing.encodedBodySize < timing.decodedBodySize;
  const brotli = timing && "contentEncoding" in timing ? timing.contentEncoding === "br" : compressed;
  if (brotli || typeof DecompressionStream !== "function") return wasm;
  const deflated = new URL(wasm.replace(/\.wasm$/, ".deflate"), self.location.href);
  return fetch(deflated).then((response) => {
    if (!response.ok) throw new Error(`${deflated}: ${response.status} ${response.statusText}`);
    const body = response.body.pipeThrough(new DecompressionStream("deflate-raw"));
    return new Response(body, { headers: { "Content-Type": "application/wasm" } });
  });
}
