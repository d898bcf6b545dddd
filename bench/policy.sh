#!/usr/bin/env bash
# bench/policy.sh: the relationship engine on a banking-shaped tenant of 1,000,000 tuples
# (bench/policy_gen.py: customers, accounts, merchants, groups nested 5 deep, org-unit parent
# chains 10 deep, conditions on 10% of tuples), against the issue-7 targets on one core:
#   in-process check p50 < 5 us and p99 < 50 us, list-objects over 10,000 candidates < 5 ms,
#   memory < 120 bytes per tuple, cold load of the tuples < 2 s  (bench/policy_bench.c)
#   HTTP check p99 < 1 ms at 10,000 req/s on loopback            (novad + bench/loadgen.c)
# and the same checks through SpiceDB 1.54 (libspicedb.so, bench/policy_spicedb.mjs) for the
# Nova/SpiceDB ratios of p50, p99 and throughput. Writes bench/results/policy.json.
# Knobs: NOVA_BENCH_BUILD (build), POLICY_TUPLES (1000000), POLICY_RATE (10000),
# POLICY_SECONDS (10), POLICY_SPICEDB (1; 0 skips SpiceDB), BENCH_RESULTS (bench/results).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${NOVA_BENCH_BUILD:-build}
RESULTS=${BENCH_RESULTS:-$ROOT/bench/results}
TUPLES=${POLICY_TUPLES:-1000000}
RATE=${POLICY_RATE:-10000}
SECS=${POLICY_SECONDS:-10}
NOVAD=$ROOT/$BUILD/cmd/novad
NOVACTL=$ROOT/$BUILD/cmd/novactl
PBENCH=$ROOT/$BUILD/src/store/policy_bench
for f in "$NOVAD" "$NOVACTL" "$PBENCH"; do
    [ -x "$f" ] || { echo "policy bench: build $BUILD first (missing $f)" >&2; exit 1; }
done
mkdir -p "$RESULTS" "$ROOT/$BUILD/bench"
LOADGEN=$ROOT/$BUILD/bench/loadgen
if [ ! -x "$LOADGEN" ] || [ bench/loadgen.c -nt "$LOADGEN" ]; then
    cc -O2 -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -o "$LOADGEN" bench/loadgen.c -lcrypto
fi
TMP=$(mktemp -d /tmp/nova-policy-bench.XXXXXX)
PID=
stop() {
    if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
        kill -TERM "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
    PID=
}
trap 'stop; [ -n "${POLICY_KEEP:-}" ] || rm -rf "$TMP"' EXIT

while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep '^NOVA_' || true)
export NOVA_HOST=127.0.0.1 NOVA_PORT=0 NOVA_DATA_DIR=$TMP NOVA_DATABASE_URL= NOVA_ACCESS_LOG=false \
    NOVA_RATELIMIT_TOKEN_CLIENT=0 NOVA_RATELIMIT_TOKEN_IP=0 NOVA_THREADS=2 \
    NOVA_METRICS_TOKEN=bench-metrics-$(head -c 12 /dev/urandom | base64 -w0 | tr '+/' '-_')
NOVA_MASTER_KEY=$(head -c 32 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '=')
export NOVA_MASTER_KEY

start() {
    "$NOVAD" serve 2>"$TMP/novad.log" &
    PID=$!
    PORT=
    for _ in $(seq 300); do
        PORT=$(grep -o '"msg":"novad listening".*"port":[0-9]*' "$TMP/novad.log" 2>/dev/null |
            grep -o '[0-9]*$' || true)
        [ -n "$PORT" ] && break
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$PORT" ] || { echo "policy bench: novad did not start" >&2; cat "$TMP/novad.log" >&2; exit 1; }
    BASE=http://127.0.0.1:$PORT
}
json_get() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

start
TENANT=$("$NOVACTL" --json tenant create policy-bench | json_get id)
CLIENT_JSON=$("$NOVACTL" --json client create --tenant "$TENANT" --name bench --scopes "fga:read fga:write")
CID=$(json_get client_id <<<"$CLIENT_JSON")
CSECRET=$(json_get client_secret <<<"$CLIENT_JSON")
TOKEN=$(curl -sf -u "$CID:$CSECRET" -d grant_type=client_credentials "$BASE/oauth/token" | json_get access_token)
auth=(-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json')
STORE=$(curl -sf "${auth[@]}" -d '{"name":"bank"}' "$BASE/stores" | json_get id)
python3 bench/policy_gen.py "$TMP/gen" "$STORE" "$TENANT" "$TUPLES"
"$PBENCH" model-json "$TMP/gen/model.fga" >"$TMP/gen/model.json"
MODEL=$(curl -sf "${auth[@]}" --data-binary @"$TMP/gen/model.json" "$BASE/stores/$STORE/authorization-models" |
    json_get authorization_model_id)
stop

# The tuples go straight into the store's table (as if written through the API, without a
# change feed: an index loads them by scanning the table).
python3 - "$TMP/nova.db" "$TMP/gen/tuples.tsv" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
with open(sys.argv[2]) as f:
    rows = (l.rstrip("\n").split("\t") for l in f)
    db.executemany("INSERT INTO fga_tuples VALUES (?,?,?,?,?,?,?,?,?)", rows)
db.commit()
EOF
echo "== policy_inprocess: $TUPLES tuples, one core" >&2
taskset -c 0 "$PBENCH" run "sqlite:$TMP/nova.db" "$TENANT" "$STORE" "$TMP/gen" "$TMP/inprocess.json"

start
RSS0=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$PID/status")
TOKEN=$(curl -sf -u "$CID:$CSECRET" -d grant_type=client_credentials "$BASE/oauth/token" | json_get access_token)
BODY=$(python3 -c 'import json,sys; print(json.dumps({"tuple_key":{"object":"merchant:x7","relation":"operator","user":"user:s7"},"authorization_model_id":sys.argv[1],"consistency":"MINIMIZE_LATENCY"}))' "$MODEL")
T0=$(date +%s.%N)
code=$(curl -s -o "$TMP/first.json" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' -d "$BODY" "$BASE/stores/$STORE/check")
T1=$(date +%s.%N)
[ "$code" = 200 ] && grep -q '"allowed":true' "$TMP/first.json" ||
    { echo "policy bench: the first check answered $code $(cat "$TMP/first.json")" >&2; exit 1; }
RSS1=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$PID/status")
echo "== policy_http_check: POST /stores/{id}/check at $RATE req/s for ${SECS}s" >&2
"$LOADGEN" -c 32 -r "$RATE" -d "$SECS" -w 2 -m POST -b "$BODY" -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' -o "$TMP/http.json" "$BASE/stores/$STORE/check" >"$TMP/loadgen.out" 2>&1 ||
    { echo "policy bench: loadgen failed" >&2; cat "$TMP/loadgen.out" >&2; }
stop

SPICE=$TMP/spicedb.json
if [ "${POLICY_SPICEDB:-1}" = 1 ]; then
    (cd tests/differential && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; })
    echo "== policy_spicedb: the same checks through libspicedb.so" >&2
    taskset -c 0 node --max-old-space-size=8192 bench/policy_spicedb.mjs "$TMP/gen" "$SPICE" ||
        echo "policy bench: SpiceDB run failed" >&2
fi

python3 - "$TMP/inprocess.json" "$TMP/http.json" "$SPICE" "$RESULTS/policy.json" \
    "$(git rev-parse --short HEAD)" "$T0" "$T1" "$RSS0" "$RSS1" "$TUPLES" <<'EOF'
import json, os, sys
inp, http, spice, out, rev, t0, t1, rss0, rss1, tuples = sys.argv[1:]
i = json.load(open(inp))
h = json.load(open(http)) if os.path.exists(http) else None
s = json.load(open(spice)) if os.path.exists(spice) else None
first_check_s = float(t1) - float(t0)
rss_bytes = (int(rss1) - int(rss0)) * 1024
res = {
    "scenario": "policy", "revision": rev,
    "description": "banking-shaped tenant (bench/policy_gen.py), checks of bench/policy_gen.py's checks.tsv",
    "command": "bash bench/policy.sh",
    "tuples": int(tuples),
    "load_average_1m_at_end": round(os.getloadavg()[0], 2),
    "inprocess": i,
    "novad": {"first_check_after_start_s": round(first_check_s, 3),
              "rss_growth_bytes_per_tuple": round(rss_bytes / int(tuples), 1)},
    "http_check": None if h is None else {k: h.get(k) for k in ("target_rate", "rps", "measured", "errors", "latency_ms", "service_ms", "connections")},
    "spicedb": s,
}
targets = {
    "inprocess_check_p50_us < 5": i["check"]["p50_us"] < 5,
    "inprocess_check_p99_us < 50": i["check"]["p99_us"] < 50,
    "list_objects_10k_ms < 5": i["list_objects"]["p99_ms"] < 5,
    "bytes_per_tuple < 120": i["bytes_per_tuple"] < 120,
    "cold_load_s < 2": i["cold_load_s"] < 2,
    # CPU time beside wall time: the 2 cores are shared, and a loaded machine preempts the
    # bench (wall p99 then measures the scheduler)
    "list_objects_10k_cpu_p99_ms < 5": i["list_objects"].get("cpu_p99_ms", 1e9) < 5,
    "cold_load_cpu_s < 2": i.get("cold_load_cpu_s", 1e9) < 2,
}
if h:
    targets["http_check_p99_ms < 1 at 10k req/s"] = h["latency_ms"]["p99"] < 1 and h["rps"] >= 0.99 * h["target_rate"]
res["targets"] = targets
if s:
    res["ratios_spicedb_over_nova"] = {
        "p50": round(s["check"]["p50_us"] / i["check"]["p50_us"], 1),
        "p99": round(s["check"]["p99_us"] / i["check"]["p99_us"], 1),
        "throughput_nova_over_spicedb": round(i["check"]["per_second"] / s["check"]["per_second"], 1),
    }
json.dump(res, open(out, "w"), indent=2)
open(out, "a").write("\n")
print(json.dumps({"targets": targets, "ratios": res.get("ratios_spicedb_over_nova"),
                  "check_us": [i["check"]["p50_us"], i["check"]["p99_us"]],
                  "list_objects_ms": i["list_objects"]["p99_ms"], "bytes_per_tuple": i["bytes_per_tuple"],
                  "cold_load_s": i["cold_load_s"],
                  "http_p99_ms": h and h["latency_ms"]["p99"]}, indent=1))
EOF
