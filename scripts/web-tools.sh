#!/usr/bin/env bash
# The tools that build the browser app, installed once and skipped when present: the wasm32
# target, wasm-bindgen-cli of exactly the version of the wasm-bindgen crate in Cargo.lock (Trunk
# runs it and cannot download one here), Trunk 0.21.14 (0.22 needs a newer rustc), and wasm-opt
# from npm's binaryen 132 (Trunk.toml asks for that version; Debian's v108 breaks Burn's wasm).
# Cold, on 2 cores: about 7 minutes (2026-12-06, crates downloaded included). The demo and .ci/run both call it.
set -euo pipefail
cd "$(dirname "$0")/.."
rustup target add wasm32-unknown-unknown
bindgen=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"$/\1/p')
# Tools need no link-time optimisation; skipping it shortens the installs by minutes.
quick=(env CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16)
if [[ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $bindgen" ]]; then
    # No --locked: its lockfile names a crate version the registry no longer has.
    "${quick[@]}" cargo install wasm-bindgen-cli --version "$bindgen" --force
fi
if [[ "$(trunk --version 2>/dev/null)" != "trunk 0.21.14" ]]; then
    "${quick[@]}" cargo install trunk --version 0.21.14 --locked --force
fi
if [[ "$(wasm-opt --version 2>/dev/null)" != "wasm-opt version 132 (version_132)" ]]; then
    binaryen="$HOME/.cache/dowse-tools/binaryen"
    npm install --silent --no-audit --no-fund --prefix "$binaryen" binaryen@132.0.0
    mkdir -p "$HOME/.cargo/bin"
    ln -sf "$binaryen/node_modules/binaryen/bin/wasm-opt" "$HOME/.cargo/bin/wasm-opt"
fi
