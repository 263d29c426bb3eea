// The query encoder's worker script: loads the dowse-encoder module (wasm-bindgen's no-modules
// glue, then the wasm), whose main answers the app's messages. A module that cannot be loaded is
// thrown again outside the promise, so the page hears of it (the Worker's error event) instead of
// waiting for a worker that will never answer.
importScripts("./dowse-encoder.js");
wasm_bindgen("./dowse-encoder_bg.wasm").catch((error) => setTimeout(() => { throw error; }));
