#!/usr/bin/env bash
# bench/ela.sh: the authenticity check's error-level analysis (src/vision/ela.c) on generated
# documents. tools/idv_docgen.py renders ELA_BENCH_DOCS documents (100), each clean and in one
# degraded variant (200 genuine photos); tools/idv_forge.py edits each clean one the way a
# forger does (new text over the name) and saves it at 95 and at 90, the quality the photo
# already had. bench/ela_bench.c analyses each at 90 and counts what
# nova_vision_ela_suspicious flags. Writes bench/results/ela.json: false positives on genuine
# photos by variant (target 0), forgeries saved at 95 flagged (target all), forgeries at 90
# (reported: error-level analysis cannot see an edit saved at the photo's own quality), and
# the time of one analysis. Knobs: ELA_BENCH_DOCS (100), NOVA_BENCH_BUILD (build),
# BENCH_RESULTS (bench/results).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${NOVA_BENCH_BUILD:-build}
RESULTS=${BENCH_RESULTS:-bench/results}
BIN=$BUILD/src/vision/ela_bench
[ -x "$BIN" ] || { echo "ela bench: build $BUILD first (make build)" >&2; exit 1; }
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
TMP=$(mktemp -d /tmp/nova-ela-bench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$RESULTS"
"$PY" tools/idv_docgen.py "$TMP/docs" --count "${ELA_BENCH_DOCS:-100}" --mix --seed 2026 >/dev/null
for f in "$TMP"/docs/*_clean.jpg; do
    b=${f%_clean.jpg}
    "$PY" tools/idv_forge.py "$f" "${b}_forged95.jpg" --quality 95
    "$PY" tools/idv_forge.py "$f" "${b}_forged90.jpg" --quality 90
done
taskset -c 0 "$BIN" "$TMP/docs" >"$TMP/ela.json"
"$PY" - "$TMP/ela.json" "$RESULTS/ela.json" "$(git rev-parse --short HEAD)" "$(uptime)" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
g = r["groups"]
genuine = {k: v for k, v in g.items() if not k.startswith("forged")}
fp = sum(v["flagged"] for v in genuine.values())
n = sum(v["images"] for v in genuine.values())
f95 = g.get("forged95", {"images": 0, "flagged": 0})
out = {
    "commit": sys.argv[3], "load": sys.argv[4].strip(),
    "genuine": {"images": n, "flagged": fp, "by_variant": genuine},
    "forged95": f95, "forged90": g.get("forged90"),
    "ms_per_image": r["ms"],
    "targets": {"false_positives_zero": fp == 0,
                "forged95_all_flagged": f95["images"] > 0 and f95["flagged"] == f95["images"]},
}
json.dump(out, open(sys.argv[2], "w"), indent=2)
print(json.dumps(out, indent=2))
PY
