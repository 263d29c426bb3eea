#!/usr/bin/env bash
# The tools that build the browser app (scripts/build-app.sh) and run dowse-core's wasm32 tests,
# installed once and skipped when present: the wasm32 target, wasm-bindgen-cli of exactly the
# version of the wasm-bindgen crate in Cargo.lock (the two must match), wasm-opt from npm's
# binaryen 132 (Debian's v108 breaks Burn's wasm), terser 5.51.4 from npm (it minifies the
# JavaScript wasm-bindgen writes) and zopfli from npm (@gfx/zopfli 1.0.15: it deflates the small
# modules' copies for hosts that do not compress with Brotli). The demo, the test command and
# .ci/run call it.
# They go into ~/.cargo/bin, or into DOWSE_WEB_TOOLS/bin when set (trainer/build.rs building the
# app inside `dowse` keeps its own, and puts that folder first on PATH); zopfli, a library, stays
# in DOWSE_WEB_TOOLS (default ~/.cache/dowse-tools)/zopfli. Without npm there is no wasm-opt,
# terser or zopfli, and scripts/build-app.sh leaves the modules and their scripts as wasm-bindgen
# wrote them and deflates the copies with zlib.
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target add wasm32-unknown-unknown
bin="${DOWSE_WEB_TOOLS:-$HOME/.cargo}/bin"
bindgen=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"$/\1/p')
# The tools run for seconds per module: built without optimisation they install in about half the
# time (70 s against 120 s on 2 cores) and bind the encoder's 22 MB module in 8 s against 2.5 s.
quick=(env CARGO_PROFILE_RELEASE_OPT_LEVEL=0 CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16)
if [[ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $bindgen" ]]; then
    # No --locked: its lockfile names a crate version the registry no longer has.
    "${quick[@]}" cargo install wasm-bindgen-cli --version "$bindgen" --force ${DOWSE_WEB_TOOLS:+--root "$DOWSE_WEB_TOOLS"}
fi
tools="${DOWSE_WEB_TOOLS:-$HOME/.cache/dowse-tools}"
zopfli_version=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$tools/zopfli/node_modules/@gfx/zopfli/package.json" 2>/dev/null || true)
if [[ "$(wasm-opt --version 2>/dev/null)" != "wasm-opt version 132 (version_132)" || "$(terser --version 2>/dev/null)" != "terser 5.51.4" || "$zopfli_version" != "1.0.15" ]]; then
    if ! command -v npm >/dev/null; then
        echo "web-tools: no npm, so no wasm-opt, terser or zopfli: the app's modules and scripts will be larger (install Node.js with npm to shrink them)" >&2
        exit 0
    fi
    npm install --silent --no-audit --no-fund --prefix "$tools/binaryen" binaryen@132.0.0
    npm install --silent --no-audit --no-fund --prefix "$tools/terser" terser@5.51.4
    npm install --silent --no-audit --no-fund --prefix "$tools/zopfli" @gfx/zopfli@1.0.15
    mkdir -p "$bin"
    ln -sf "$tools/binaryen/node_modules/binaryen/bin/wasm-opt" "$bin/wasm-opt"
    ln -sf "$tools/terser/node_modules/terser/bin/terser" "$bin/terser"
fi
