#!/usr/bin/env bash
# The project's build step for the app inside `dowse`: installs the browser app's tools if needed
# (scripts/web-tools.sh), builds the app with Trunk (release) into trainer/app/dist, and the next
# build of dowse carries it (trainer/build.rs), so that `dowse index --with-app` and `dowse serve`
# need neither Trunk nor a dist folder:
#   bash scripts/build-app.sh && cargo install --path trainer
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/web-tools.sh
trunk build --release --skip-version-check --dist trainer/app/dist
