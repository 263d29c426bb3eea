#!/usr/bin/env bash
# The project's build step for the browser app: three wasm32 modules built by cargo, bound to
# JavaScript by wasm-bindgen and shrunk by wasm-opt, with the page, the worker script and the
# styles, into trainer/app/dist (or the folder given). The next build of dowse carries that folder
# (trainer/build.rs), so `dowse index --with-app` and `dowse serve` need none of these tools:
#   bash scripts/build-app.sh && cargo install --path trainer
#   bash scripts/build-app.sh dist        # a folder for `--with-app dist` or `dowse serve --dist dist`
#
# The modules (web/Cargo.toml): the app `dowse-web` (keyword search first, profile `web-app`:
# built for size, then wasm-opt -Oz) and two query encoders' workers, started by dowse-worker.js:
# `dowse-static` (the default bundle's static encoder, no Burn; built like the app) and
# `dowse-encoder` (every model, on Burn and wgpu; profile `release`, no wasm-opt: -Oz takes about
# 6 minutes on it). The app's script and module are named by the first 16 hex digits of the
# sha256 of the module cargo built, the styles by their own (cached forever by `dowse serve`,
# docs/api.md); the workers keep fixed names, the app starts them by name. Each module also gets a
# raw-deflate copy beside it (`_bg.deflate`), which dowse.js and dowse-worker.js fetch where the
# host does not send Brotli (a plain static server sends wasm as it is; gzip is larger), and the
# small ones a Brotli copy (`_bg.wasm.br`) that `dowse serve` sends. The folder is written
# beside the old one and swapped in at the end: a build that fails or is interrupted leaves the
# previous app in place.
set -euo pipefail
cd "$(dirname "$0")/.."
dist="${1:-trainer/app/dist}"
if [[ -n "${DOWSE_WEB_TOOLS:-}" ]]; then
    export PATH="$DOWSE_WEB_TOOLS/bin:$PATH"
fi
bash scripts/web-tools.sh
wasm_out="${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown"
stage="$dist.partial"
rm -rf "$stage"
mkdir -p "$stage"
trap 'rm -rf "$stage"' EXIT

hash16() { sha256sum "$1" | cut -c1-16; }
# wasm-opt for the modules built for size; bulk memory and saturating conversions are what rustc
# emits for wasm32 and what every browser dowse supports. Without it (no npm, scripts/web-tools.sh
# said so) the modules stay as wasm-bindgen wrote them.
shrink() {
    if [[ "$(wasm-opt --version 2>/dev/null)" == "wasm-opt version 132 (version_132)" ]]; then
        wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int -o "$1" "$1"
    fi
}

# A module's copies, compressed at build time beside it, for hosts that would send it larger:
# - `_bg.deflate`, raw deflate (RFC 1951, as the bundle's fragments), which the browser inflates
#   with DecompressionStream where the host does not send Brotli (dowse.js). `copies small` makes
#   it with zopfli (scripts/web-tools.sh; 15 iterations): the app's is 239.6 kB, against 252.5 by
#   zlib's level 9 and 251.8 by a host's gzip (level 6), in 3 s.
# - `_bg.wasm.br`, Brotli at quality 11 (`copies small` only), which `dowse serve` sends where the
#   browser takes Brotli (so would Caddy or nginx's brotli_static; `dowse index --with-app` leaves
#   it out): the app's is 206 kB, where Brotli on the fly at tower-http's quality 4 makes 246 kB.
# `copies large`, and any module where npm put no zopfli, takes zlib's level 9 for the first and
# makes no second: zopfli and Brotli 11 would each spend a minute or more on the other encoder's
# 18.9 MB.
zopfli="${DOWSE_WEB_TOOLS:-$HOME/.cache/dowse-tools}/zopfli/node_modules/@gfx/zopfli"
copies() {
    local copy="${2%.wasm}.deflate"
    if [[ "$1" == small && -d "$zopfli" ]]; then
        node -e 'const [lib, from, to] = process.argv.slice(1);
const fs = require("fs"), zlib = require("zlib");
const bytes = fs.readFileSync(from);
const brotli = { [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: bytes.length };
fs.writeFileSync(from + ".br", zlib.brotliCompressSync(bytes, { params: brotli }));
require(lib).deflateAsync(bytes, { numiterations: 15 }).then((out) => fs.writeFileSync(to, out));' "$zopfli" "$2" "$copy"
    else
        python3 -c 'import sys, zlib
c = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
open(sys.argv[2], "wb").write(c.compress(open(sys.argv[1], "rb").read()) + c.flush())' "$2" "$copy"
    fi
}

# terser for the scripts wasm-bindgen writes: the app's, 53 kB of glue read before the first
# keyword result, is 24 kB minified (9.4 -> 7.0 kB gzip -9). `--module` for the app's ES module;
# the workers' classic scripts keep their top-level names (their `wasm_bindgen`) without it.
minify() {
    local script="$1"
    shift
    if [[ "$(terser --version 2>/dev/null)" == "terser 5.51.4" ]]; then
        terser "$script" "$@" --compress --mangle --output "$script"
    fi
}

# Panic messages name their source files: written relative to the checkout and to cargo's registry,
# the small modules' bytes (and so the app's hashed names) do not depend on where either is, and
# the app is about 1 kB smaller. The flags join .cargo/config.toml's for the wasm target; only
# these builds use the `web-app` profile, so no other build of the same crates differs in flags
# (the encoder's `release` build shares its crates with the wasm tests: it keeps the paths).
registry="${CARGO_HOME:-$HOME/.cargo}/registry/src"
remap=(--config "target.wasm32-unknown-unknown.rustflags=[\"--remap-path-prefix=$PWD=.\", \"--remap-path-prefix=$registry=registry\"]")
cargo build "${remap[@]}" -p dowse-web --target wasm32-unknown-unknown --profile web-app --bin dowse-web --features app
cargo build "${remap[@]}" -p dowse-web --target wasm32-unknown-unknown --profile web-app --bin dowse-static --features static-encoder
cargo build -p dowse-web --target wasm32-unknown-unknown --release --bin dowse-encoder --features encoder

# The app: an ES module (`--target web`) that the page and dowse.js import by its hashed name,
# given after wasm-bindgen (named in the module, the hash costs 3 kB of wasm after wasm-opt).
app="dowse-web-$(hash16 "$wasm_out/web-app/dowse-web.wasm")"
wasm-bindgen --target web --no-typescript --out-dir "$stage" "$wasm_out/web-app/dowse-web.wasm"
shrink "$stage/dowse-web_bg.wasm"
minify "$stage/dowse-web.js" --module
mv "$stage/dowse-web.js" "$stage/$app.js"
mv "$stage/dowse-web_bg.wasm" "$stage/${app}_bg.wasm"
copies small "$stage/${app}_bg.wasm"
# The workers: classic scripts (`--target no-modules`), which importScripts loads.
wasm-bindgen --target no-modules --no-typescript --out-dir "$stage" "$wasm_out/web-app/dowse-static.wasm"
shrink "$stage/dowse-static_bg.wasm"
minify "$stage/dowse-static.js"
copies small "$stage/dowse-static_bg.wasm"
wasm-bindgen --target no-modules --no-typescript --out-dir "$stage" "$wasm_out/release/dowse-encoder.wasm"
minify "$stage/dowse-encoder.js"
copies large "$stage/dowse-encoder_bg.wasm"

style="style-$(hash16 www/style.css).css"
cp www/style.css "$stage/$style"
cp www/dowse-worker.js "$stage/dowse-worker.js"
for page in index.html dowse.js; do
    sed -e "s|@APP_JS@|./$app.js|g; s|@APP_WASM@|./${app}_bg.wasm|g; s|@STYLE@|./$style|g" "www/$page" > "$stage/$page"
done

rm -rf "$dist"
mv "$stage" "$dist"
echo "the browser app: $dist ($(du -sh "$dist" | cut -f1))"
