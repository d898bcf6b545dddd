#!/usr/bin/env bash
# Installs the reference face nets with npm (@vladmandic/face-api and @tensorflow/tfjs, pinned by
# tools/models/package-lock.json, into the ignored tools/models/node_modules) and converts the
# tiny face detector, the 68-point landmark net and the recognition net into one file the vision
# engine maps: tools/models/nova-face.bin (format: tools/face_convert.js). Idempotent: a quick
# no-op when the file matches the lockfile and the converter. Needs node and npm
# (scripts/deps.sh test installs them). The same install brings npm @tesseract.js-data/eng:
# its 4.0.0 eng.traineddata (with Tesseract's legacy engine, which Debian's tesseract-ocr-eng
# lacks) is unpacked to tools/models/tessdata for the OCR step's second MRZ read
# (NOVA_TESSDATA). Nothing fetched here is committed.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=tools/models
out=$dir/nova-face.bin
stamp=$dir/node_modules/.nova-face-stamp
want=$(cat "$dir/package-lock.json" tools/face_convert.js | sha256sum | cut -d' ' -f1)
tess=$dir/tessdata/eng.traineddata
if [ -f "$out" ] && [ -f "$tess" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi
echo "models: installing face nets (npm ci in $dir)" >&2
(cd "$dir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
node tools/face_convert.js "$dir/node_modules/@vladmandic/face-api/model" "$out"
mkdir -p "$dir/tessdata"
gunzip -c "$dir/node_modules/@tesseract.js-data/eng/4.0.0/eng.traineddata.gz" >"$tess.tmp"
mv "$tess.tmp" "$tess"
printf '%s\n' "$want" >"$stamp"
