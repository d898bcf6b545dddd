#!/usr/bin/env bash
# Installs the reference face nets with npm (@vladmandic/face-api and @tensorflow/tfjs, pinned by
# tools/models/package-lock.json, into the ignored tools/models/node_modules) and converts the
# tiny face detector, the 68-point landmark net and the recognition net into one file the vision
# engine maps: tools/models/nova-face.bin (format: tools/face_convert.js). Idempotent: a quick
# no-op when the file matches the lockfile and the converter. Needs node and npm
# (scripts/deps.sh test installs them). Nothing fetched here is committed.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=tools/models
out=$dir/nova-face.bin
stamp=$dir/node_modules/.nova-face-stamp
want=$(cat "$dir/package-lock.json" tools/face_convert.js | sha256sum | cut -d' ' -f1)
if [ -f "$out" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi
echo "models: installing face nets (npm ci in $dir)" >&2
(cd "$dir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
node tools/face_convert.js "$dir/node_modules/@vladmandic/face-api/model" "$out"
printf '%s\n' "$want" >"$stamp"
