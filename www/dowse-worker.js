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
wasm_bindgen(`./${name}_bg.wasm`).catch((error) => setTimeout(() => { throw error; }));
