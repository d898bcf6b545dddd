#!/usr/bin/env bash
# bench/vision.sh: the vision engine on one core against the tfjs reference on the same
# pictures. Writes bench/results/vision.json: the C figures (bench/vision_bench.c), the
# reference's (bench/vision_reference.js: face-api on tfjs CPU), their ratios, and the issue-10
# targets (descriptor < 15 ms, detection + landmarks on 640x480 < 40 ms, face-match p95 < 150 ms,
# peak RSS < 200 MB), and the liveness verification of a 10-frame burst. Then
# bench/results/vision_search.json: duplicate-face search at 1e4, 1e5 and 1e6 faces
# (bench/vision_search.c: exact, and the IVF at the nprobe reaching recall 0.99).
# Needs scripts/models.sh and a build (NOVA_BENCH_BUILD, default build).
# Knobs: VISION_ITERATIONS (50), VISION_REF_ITERATIONS (5), VISION_SEARCH_SIZES
# (10000,100000,1000000), VISION_SEARCH_QUERIES (200), BENCH_RESULTS (bench/results).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${NOVA_BENCH_BUILD:-build}
RESULTS=${BENCH_RESULTS:-bench/results}
BIN=$BUILD/src/vision/vision_bench
[ -x "$BIN" ] || { echo "vision bench: build $BUILD first (make build)" >&2; exit 1; }
bash scripts/models.sh
TMP=$(mktemp -d /tmp/nova-vision-bench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$RESULTS"
# One core: the engine is single-threaded by design; pin it so the figures are per core.
taskset -c 0 "$BIN" "${VISION_ITERATIONS:-50}" "$TMP" >"$TMP/c.json"
taskset -c 0 node bench/vision_reference.js "$TMP" "${VISION_REF_ITERATIONS:-5}" >"$TMP/ref.json" 2>/dev/null
python3 - "$TMP/c.json" "$TMP/ref.json" "$RESULTS/vision.json" "$(git rev-parse --short HEAD)" <<'PY'
import json, sys
c, ref = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
steps = ['descriptor_per_face', 'detect_landmarks_640x480', 'face_match_check']
ratio = {s: round(ref[s]['p50_ms'] / c[s]['p50_ms'], 1) for s in steps}
targets = {
    'descriptor_per_face_p50_ms_under_15': c['descriptor_per_face']['p50_ms'] < 15,
    'detect_landmarks_640x480_p50_ms_under_40': c['detect_landmarks_640x480']['p50_ms'] < 40,
    'face_match_check_p95_ms_under_150': c['face_match_check']['p95_ms'] < 150,
    'peak_rss_mb_under_200': c['peak_rss_mb'] < 200,
}
# The same targets on CPU time per operation: the engine's own cost on one core, which a
# machine shared with other work does not inflate (wall time also counts the wait for the core).
targets_cpu = {
    'descriptor_per_face_cpu_p50_ms_under_15': c['descriptor_per_face']['cpu_p50_ms'] < 15,
    'detect_landmarks_640x480_cpu_p50_ms_under_40': c['detect_landmarks_640x480']['cpu_p50_ms'] < 40,
    'face_match_check_cpu_p95_ms_under_150': c['face_match_check']['cpu_p95_ms'] < 150,
}
out = {'commit': sys.argv[4], 'nova': c, 'reference': ref, 'speedup_vs_reference_p50': ratio,
       'targets_met': targets, 'targets_met_cpu_time': targets_cpu}
json.dump(out, open(sys.argv[3], 'w'), indent=2)
print(f"{'step':28} {'nova p50':>10} {'nova p95':>10} {'cpu p50':>9} {'cpu p95':>9} {'tfjs p50':>10} {'x':>6}")
for s in steps + ['liveness_verify_10_frames']:
    r = ratio.get(s)
    print(f"{s:28} {c[s]['p50_ms']:10.2f} {c[s]['p95_ms']:10.2f} {c[s]['cpu_p50_ms']:9.2f} {c[s]['cpu_p95_ms']:9.2f} "
          + (f"{ref[s]['p50_ms']:10.1f} {r:6.1f}" if r else ''))
e = c['liveness_eval']
print(f"liveness over {e['people']} sample faces: live bursts passed {e['live_pass']} "
      f"({e['live_eligible_pass']} of {e['live_eligible']} single frontal faces); failed: still "
      f"{e['still_fail']}/{e['people']}, slid photo {e['slid_fail']}/{e['people']}, "
      f"another person {e['other_person_fail']}/{e['other_person_tried']}")
print(f"peak RSS {c['peak_rss_mb']} MB; targets: {targets}; on CPU time: {targets_cpu}")
PY

# Duplicate-face search, one core.
SEARCH=$BUILD/src/vision/vision_search
[ -x "$SEARCH" ] || { echo "vision bench: build $BUILD first (make build)" >&2; exit 1; }
taskset -c 0 "$SEARCH" "${VISION_SEARCH_SIZES:-10000,100000,1000000}" "${VISION_SEARCH_QUERIES:-200}" >"$TMP/search.json"
python3 - "$TMP/search.json" "$RESULTS/vision_search.json" "$(git rev-parse --short HEAD)" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
r['commit'] = sys.argv[3]
sizes = r['sizes']
big = sizes.get('1000000')
r['targets_met'] = {
    'ivf_recall_at_1e6_at_least_0.99': bool(big) and big['ivf_at_recall_0.99']['recall'] >= 0.99,
}
json.dump(r, open(sys.argv[2], 'w'), indent=2)
print(f"{'faces':>9} {'exact p50':>10} {'exact p95':>10} {'ivf nprobe':>10} {'recall':>7} {'ivf p50':>9} {'ivf p95':>9} {'build s':>8}")
for n, s in sizes.items():
    i = s['ivf_at_recall_0.99']
    print(f"{n:>9} {s['exact']['p50_ms']:10.3f} {s['exact']['p95_ms']:10.3f} {i['nprobe']:>6}/{s['ivf_nlist']:<4}"
          f"{i['recall']:7.4f} {i['p50_ms']:9.3f} {i['p95_ms']:9.3f} {s['ivf_build_s']:8.2f}")
print(f"peak RSS {r['peak_rss_mb']} MB; targets: {r['targets_met']}")
PY
