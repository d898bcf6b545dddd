#!/usr/bin/env bash
# bench/run.sh: measures the real novad on loopback with a fresh SQLite store.
#   me_saturated     GET /v1/me with a bearer token, wrk closed-loop (throughput)
#   token_saturated  POST /oauth/token, client_secret_basic, client_credentials (grants/s)
#   me_paced         GET /v1/me at a fixed rate with bench/loadgen.c, open-loop (p99 at load)
#   apikey_paced     me_paced signed as an API key (HMAC-SHA-256, fresh nonce per request)
#   health_paced     GET /v1/health the same way: a control for the machine's own tail
#   token_spread     token_saturated with wrk -t1 -c64, five rounds: requests per worker thread
#   attack_slowloris 1100 slow-header connections from 127.0.0.2 for 60 s; health probes
#   attack_bodies    1000 connections sending 1 MB bodies to an unknown route; RSS around it
#   dpop_paced       DPoP-bound GET /v1/me at a fixed rate, a fresh proof per request
#   refresh_grants   SDK-session refresh grants per second (single-use tokens, 16 chains)
#   audit_append_*   the cost of one audit append on SQLite and on PostgreSQL
#   vision, vision_search  bench/vision.sh: the face engine and duplicate-face search
#   policy           bench/policy.sh: the relationship engine on 1e6 tuples, HTTP check, SpiceDB
#   idv              bench/idv.sh: OCR + MRZ read rate and latency on 200 generated documents
#   ela              bench/ela.sh: error-level analysis, false positives and forgeries caught
#   ledger           bench/ledger.sh: postings/s and p50/p99, single and batched, uniform and
#                    hot account, SQLite and PostgreSQL, against SELECT ... FOR UPDATE
#   dpop_cpu         bench/dpop_cpu.sh: dpop_paced beside the health control, a bearer GET and
#                    the decision point's cost on a /v1 route (scope alone, then the tenant's
#                    policy), rounds, with novad's CPU per request (the figure that does not
#                    move with the machine)
# plus novad's idle RSS (after start) and peak RSS (VmHWM after the runs). Writes
# bench/results/<scenario>.json and bench/results/summary.json and prints a table.
# Knobs: NOVA_BENCH_BUILD (build), BENCH_SECONDS (10), BENCH_THREADS (2), BENCH_CONNECTIONS
# (64), BENCH_RATE (5000), BENCH_PACED_CONNECTIONS (32), BENCH_RESULTS (bench/results),
# BENCH_SPREAD_ROUNDS (5), BENCH_ATTACK_SECONDS (60), BENCH_DOMAINS (1; 0 skips the domain
# benches), BENCH_STRICT=1 to exit 1 when a target is missed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${NOVA_BENCH_BUILD:-build}
NOVAD=$ROOT/$BUILD/cmd/novad
NOVACTL=$ROOT/$BUILD/cmd/novactl
RESULTS=${BENCH_RESULTS:-$ROOT/bench/results}
SECS=${BENCH_SECONDS:-10}
THREADS=${BENCH_THREADS:-2}
CONNS=${BENCH_CONNECTIONS:-64}
RATE=${BENCH_RATE:-5000}
PACED_CONNS=${BENCH_PACED_CONNECTIONS:-32}

for tool in wrk curl python3 cc; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is required" >&2; exit 1; }
done
[ -x "$NOVAD" ] && [ -x "$NOVACTL" ] || { echo "bench: build $BUILD first (make build)" >&2; exit 1; }
mkdir -p "$RESULTS" "$ROOT/$BUILD/bench"

LOADGEN=$ROOT/$BUILD/bench/loadgen
if [ ! -x "$LOADGEN" ] || [ bench/loadgen.c -nt "$LOADGEN" ]; then
    cc -O2 -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -o "$LOADGEN" bench/loadgen.c -lcrypto
fi

TMP=$(mktemp -d /tmp/nova-bench.XXXXXX)
PID=
cleanup() {
    if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
        kill -TERM "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# novad and novactl see only this configuration.
while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep '^NOVA_' || true)
export NOVA_HOST=127.0.0.1 NOVA_PORT=0 NOVA_DATA_DIR=$TMP NOVA_DATABASE_URL= \
    NOVA_ACCESS_LOG=${BENCH_ACCESS_LOG:-true} \
    NOVA_RATELIMIT_TOKEN_CLIENT=0 NOVA_RATELIMIT_TOKEN_IP=0 \
    NOVA_METRICS_TOKEN=bench-metrics-$(head -c 12 /dev/urandom | base64 -w0 | tr '+/' '-_')
NOVA_MASTER_KEY=$(head -c 32 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '=')
export NOVA_MASTER_KEY

"$NOVAD" serve 2>"$TMP/novad.log" &
PID=$!
PORT=
for _ in $(seq 200); do
    PORT=$(grep -o '"msg":"novad listening".*"port":[0-9]*' "$TMP/novad.log" 2>/dev/null |
        grep -o '[0-9]*$' || true)
    [ -n "$PORT" ] && break
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
done
if [ -z "$PORT" ]; then
    echo "bench: novad did not start:" >&2; cat "$TMP/novad.log" >&2; exit 1
fi
BASE=http://127.0.0.1:$PORT

rss_mb() { awk -v k="$1:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$PID/status"; }
json_get() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

sleep 1
IDLE_RSS=$(rss_mb VmRSS)

TENANT=$("$NOVACTL" --json tenant create bench | json_get id)
CLIENT_JSON=$("$NOVACTL" --json client create --tenant "$TENANT" --name bench \
    --scopes "clients:read")
CLIENT_ID=$(json_get client_id <<<"$CLIENT_JSON")
CLIENT_SECRET=$(json_get client_secret <<<"$CLIENT_JSON")
BASIC=$(printf '%s:%s' "$CLIENT_ID" "$CLIENT_SECRET" | base64 -w0)

new_token() {
    curl -sf -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials "$BASE/oauth/token" |
        json_get access_token
}
TOKEN=$(new_token)
code=$(curl -s -o "$TMP/me.json" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$BASE/v1/me")
if [ "$code" != 200 ]; then
    echo "bench: GET /v1/me answered $code: $(cat "$TMP/me.json")" >&2; exit 1
fi

# An API key (made over HTTP by a client holding api-keys:write) for the signed-request run.
KEYS_JSON=$("$NOVACTL" --json client create --tenant "$TENANT" --name bench-keys \
    --scopes "api-keys:write clients:read")
KEYS_TOKEN=$(curl -sf -u "$(json_get client_id <<<"$KEYS_JSON"):$(json_get client_secret <<<"$KEYS_JSON")" \
    -d grant_type=client_credentials "$BASE/oauth/token" | json_get access_token)
APIKEY_JSON=$(curl -sf -H "Authorization: Bearer $KEYS_TOKEN" -H 'Content-Type: application/json' \
    -d '{"purpose":"bench","scopes":["clients:read"]}' "$BASE/v1/api-keys")
APIKEY=$(json_get id <<<"$APIKEY_JSON"):$(json_get secret <<<"$APIKEY_JSON")

# scenario NAME DESCRIPTION RAW_JSON CMD...: runs CMD (which writes RAW_JSON), then stores
# RAW_JSON plus name, description and command as $RESULTS/NAME.json.
scenario() {
    local name=$1 desc=$2 raw=$3; shift 3
    echo "== $name: $desc" >&2
    kill -0 "$PID" 2>/dev/null || { echo "bench: novad died:" >&2; tail "$TMP/novad.log" >&2; exit 1; }
    "$@" >"$TMP/$name.out" 2>&1 || echo "bench: $name: $1 exited $?" >&2
    kill -0 "$PID" 2>/dev/null || { echo "bench: novad died:" >&2; tail "$TMP/novad.log" >&2; exit 1; }
    [ -s "$raw" ] || { echo "bench: $name wrote no result:" >&2; cat "$TMP/$name.out" >&2; exit 1; }
    local cmd="$*"
    cmd=${cmd//$TOKEN/\$TOKEN}
    [ -n "${APIKEY:-}" ] && cmd=${cmd//$APIKEY/\$APIKEY}
    cmd=${cmd//$BASIC/\$BASIC}
    [ -n "${DPOP_TOKEN:-}" ] && cmd=${cmd//$DPOP_TOKEN/\$DPOP_TOKEN}
    [ -n "${SDK_SECRET:-}" ] && cmd=${cmd//$SDK_SECRET/\$SDK_SECRET}
    [ -n "${PG_BENCH_URL:-}" ] && cmd=${cmd//$PG_BENCH_URL/\$PG_BENCH_URL}
    cmd=${cmd//$BASE/\$BASE}
    cmd=${cmd//$TMP/\$TMP}
    cmd=${cmd//$ROOT\//}
    python3 - "$raw" "$RESULTS/$name.json" "$name" "$desc" "$cmd" <<'EOF'
import json, sys
raw, out, name, desc, cmd = sys.argv[1:]
r = json.load(open(raw))
json.dump({"scenario": name, "description": desc, "command": cmd, **r}, open(out, "w"), indent=2)
open(out, "a").write("\n")
EOF
}

# Paced runs first, on a server that has only answered a handful of requests.
scenario me_paced \
    "authenticated GET /v1/me at a fixed $RATE req/s, open-loop, $PACED_CONNS keep-alive connections, latency from the scheduled send time" \
    "$TMP/me_paced.raw" \
    "$LOADGEN" -c "$PACED_CONNS" -r "$RATE" -d "$SECS" -w 2 -H "Authorization: Bearer $TOKEN" \
    -o "$TMP/me_paced.raw" "$BASE/v1/me"

# The same load signed as an API key: every request a fresh nonce (kept in the control plane),
# date and HMAC-SHA-256 signature, computed by loadgen inside the measured time.
scenario apikey_paced \
    "HMAC-signed API-key GET /v1/me at a fixed $RATE req/s, open-loop, $PACED_CONNS keep-alive connections, a fresh nonce and signature per request" \
    "$TMP/apikey_paced.raw" \
    "$LOADGEN" -c "$PACED_CONNS" -r "$RATE" -d "$SECS" -w 2 -S "$APIKEY" \
    -o "$TMP/apikey_paced.raw" "$BASE/v1/me"

# Control: the same load on a route with no auth and no store. What it shows in the tail is
# the machine and the HTTP stack, not token checks.
scenario health_paced \
    "control: unauthenticated GET /v1/health at a fixed $RATE req/s, same generator and settings as me_paced" \
    "$TMP/health_paced.raw" \
    "$LOADGEN" -c "$PACED_CONNS" -r "$RATE" -d "$SECS" -w 2 -o "$TMP/health_paced.raw" \
    "$BASE/v1/health"

scenario me_saturated \
    "authenticated GET /v1/me, wrk -t$THREADS -c$CONNS -d${SECS}s, closed-loop" \
    "$TMP/me_saturated.raw" \
    env BENCH_OUT="$TMP/me_saturated.raw" wrk -t"$THREADS" -c"$CONNS" -d"${SECS}s" --latency \
    -s bench/wrk_report.lua -H "Authorization: Bearer $TOKEN" "$BASE/v1/me"

scenario token_saturated \
    "POST /oauth/token, client_secret_basic, grant_type=client_credentials, wrk -t$THREADS -c$CONNS -d${SECS}s" \
    "$TMP/token_saturated.raw" \
    env BENCH_OUT="$TMP/token_saturated.raw" BENCH_METHOD=POST \
    BENCH_BODY=grant_type=client_credentials wrk -t"$THREADS" -c"$CONNS" -d"${SECS}s" --latency \
    -s bench/wrk_report.lua -H "Authorization: Basic $BASIC" \
    -H "Content-Type: application/x-www-form-urlencoded" "$BASE/oauth/token"

# A DPoP-bound token and one fresh proof per request (jti and ath), made before the run.
SDK_JSON=$("$NOVACTL" --json client create --tenant "$TENANT" --name bench-sdk --scopes "sdk:sessions clients:read")
SDK_ID=$(json_get client_id <<<"$SDK_JSON")
SDK_SECRET=$(json_get client_secret <<<"$SDK_JSON")
NPROOFS=$((RATE * (SECS + 2) + 2000))
DPOP_TOKEN=$(node bench/dpop_proofs.mjs "$BASE" "$SDK_ID" "$SDK_SECRET" "$NPROOFS" "$TMP/proofs.txt")
scenario dpop_paced \
    "DPoP-bound GET /v1/me at a fixed $RATE req/s, open-loop, $PACED_CONNS connections, a fresh proof (jti, ath) per request" \
    "$TMP/dpop_paced.raw" \
    "$LOADGEN" -c "$PACED_CONNS" -r "$RATE" -d "$SECS" -w 2 -H "Authorization: DPoP $DPOP_TOKEN" \
    -F "$TMP/proofs.txt" -o "$TMP/dpop_paced.raw" "$BASE/v1/me"
scenario refresh_grants \
    "grant_type=refresh_token on SDK sessions, 16 sequential chains for ${SECS}s (node client)" \
    "$TMP/refresh_grants.raw" node bench/refresh.mjs "$BASE" "$SDK_ID" "$SDK_SECRET" "$SECS" 16 \
    "$TMP/refresh_grants.raw"

PEAK_RSS=$(rss_mb VmHWM)
kill -0 "$PID" 2>/dev/null || { echo "bench: novad died" >&2; exit 1; }

# Worker spread: the token endpoint from one wrk thread, five rounds; per worker thread, the
# requests it answered in each round (from novad's own counters).
worker_counts() {
    curl -sf -H "Authorization: Bearer $NOVA_METRICS_TOKEN" "$BASE/metrics" |
        sed -nE 's/^nova_http_worker_requests_total\{worker="([0-9]+)"\} ([0-9]+)$/\2/p' |
        paste -sd, -
}
spread_rounds() {
    local rounds=${BENCH_SPREAD_ROUNDS:-5} out=$1 i before after
    : >"$TMP/spread.lines"
    for i in $(seq "$rounds"); do
        before=$(worker_counts)
        BENCH_OUT="$TMP/spread_round.raw" BENCH_METHOD=POST BENCH_BODY=grant_type=client_credentials \
            wrk -t1 -c"$CONNS" -d"${SECS}s" --latency -s bench/wrk_report.lua \
            -H "Authorization: Basic $BASIC" -H "Content-Type: application/x-www-form-urlencoded" \
            "$BASE/oauth/token" >/dev/null
        after=$(worker_counts)
        echo "$before;$after;$(cat "$TMP/spread_round.raw" | tr -d '\n')" >>"$TMP/spread.lines"
    done
    python3 - "$TMP/spread.lines" "$out" <<'PY'
import json, sys
rounds = []
for line in open(sys.argv[1]):
    b, a, raw = line.rstrip("\n").split(";", 2)
    per = [int(y) - int(x) for x, y in zip(b.split(","), a.split(","))]
    r = json.loads(raw)
    rounds.append({"rps": r["rps"], "p99_ms": r["latency_ms"]["p99"], "worker_requests": per,
                   "smallest_share": round(min(per) / max(1, sum(per)), 3)})
rps = [r["rps"] for r in rounds]
json.dump({"rounds": rounds, "rps_min": min(rps), "rps_max": max(rps),
           "smallest_share_min": min(r["smallest_share"] for r in rounds)}, open(sys.argv[2], "w"))
PY
}
scenario token_spread \
    "POST /oauth/token, wrk -t1 -c$CONNS -d${SECS}s, ${BENCH_SPREAD_ROUNDS:-5} rounds; requests per worker thread per round" \
    "$TMP/token_spread.raw" spread_rounds "$TMP/token_spread.raw"

# One audit append (its own transaction) on each store, outside novad.
AUDIT_BENCH=$ROOT/$BUILD/src/store/audit_bench
scenario audit_append_sqlite "5000 audit appends to one tenant's chain, each its own transaction, SQLite (WAL) file" \
    "$TMP/audit_sqlite.raw" "$AUDIT_BENCH" "sqlite:$TMP/audit.db" 5000 "$TMP/audit_sqlite.raw"
# The cluster runs as an unprivileged user: its directory sits directly under /tmp (as in
# tests/run.sh), not inside the private $TMP.
PG_BENCH_DIR=$(mktemp -d /tmp/nova-bench-pg.XXXXXX)
if bash scripts/pg.sh start "$PG_BENCH_DIR" >"$TMP/pg.log" 2>&1; then
    PG_BENCH_URL=$(bash scripts/pg.sh url "$PG_BENCH_DIR")
    scenario audit_append_postgres "5000 audit appends to one tenant's chain, each its own transaction, PostgreSQL 15 on loopback" \
        "$TMP/audit_pg.raw" "$AUDIT_BENCH" "$PG_BENCH_URL" 5000 "$TMP/audit_pg.raw"
    bash scripts/pg.sh stop "$PG_BENCH_DIR" >/dev/null 2>&1 || true
else
    echo "bench: PostgreSQL did not start; audit_append_postgres skipped" >&2
    echo '{"skipped": "PostgreSQL did not start"}' >"$RESULTS/audit_append_postgres.json"
fi

# People (issue 11), in process: sign-in with password + TOTP (argon2id dominates), passkey
# assertion verification (ES256, EdDSA), and the per-request session check (the user token and
# its session's control-plane record; target p99 < 1 ms) beside a client token's verification,
# with the in-process control plane and with Redis (one round trip per check).
PEOPLE_BENCH=$ROOT/$BUILD/src/people/people_bench
scenario people_inproc "people: login password+TOTP, passkey assertion verify, session check vs client token verify; in-process control plane" \
    "$TMP/people_inproc.raw" "$PEOPLE_BENCH" 1 "$TMP/people_inproc.raw"
REDIS_BENCH_DIR=$(mktemp -d /tmp/nova-bench-redis.XXXXXX)
if bash scripts/redis.sh start "$REDIS_BENCH_DIR" >"$TMP/redis.log" 2>&1; then
    scenario people_redis "people: the same with the control plane on Redis (loopback)" \
        "$TMP/people_redis.raw" "$PEOPLE_BENCH" 1 "$TMP/people_redis.raw" \
        "$(bash scripts/redis.sh url "$REDIS_BENCH_DIR")"
    bash scripts/redis.sh stop "$REDIS_BENCH_DIR" >/dev/null 2>&1 || true
else
    echo '{"skipped": "Redis did not start"}' >"$RESULTS/people_redis.json"
fi

ATTACK_SECS=${BENCH_ATTACK_SECONDS:-60}
scenario attack_slowloris \
    "1100 connections from 127.0.0.2 sending one header line every 10 s (reconnecting), ${ATTACK_SECS}s; health probes from 127.0.0.1 every 5 s" \
    "$TMP/attack_slowloris.raw" python3 bench/attack.py slowloris "$BASE" "$PID" \
    "$TMP/attack_slowloris.raw" 1100 "$ATTACK_SECS"
scenario attack_bodies \
    "1000 connections from 127.0.0.2-5, each POSTing a 1 MB body to an unknown route; novad RSS before, during and 12 s after" \
    "$TMP/attack_bodies.raw" python3 bench/attack.py bodies "$BASE" "$PID" "$TMP/attack_bodies.raw" 1000

# The domain benches; BENCH_DOMAINS=0 skips them (the security core's scenarios alone, a few
# minutes, for a quiet window on a shared machine).
if [ "${BENCH_DOMAINS:-1}" = 1 ]; then
# The vision engine (issue 10) on one core: vision.json (descriptor, detection, face match,
# liveness, against the tfjs reference) and vision_search.json (duplicate search to 1e6).
NOVA_BENCH_BUILD=$BUILD BENCH_RESULTS=$RESULTS bash bench/vision.sh ||
    echo "bench: bench/vision.sh failed; vision results not refreshed" >&2
NOVA_BENCH_BUILD=$BUILD BENCH_RESULTS=$RESULTS bash bench/policy.sh ||
    echo "bench: bench/policy.sh failed; policy results not refreshed" >&2
NOVA_BENCH_BUILD=$BUILD BENCH_RESULTS=$RESULTS bash bench/idv.sh ||
    echo "bench: bench/idv.sh failed; idv results not refreshed" >&2
NOVA_BENCH_BUILD=$BUILD BENCH_RESULTS=$RESULTS bash bench/ela.sh >/dev/null ||
    echo "bench: bench/ela.sh failed; ela results not refreshed" >&2
NOVA_BENCH_BUILD=$BUILD BENCH_RESULTS=$RESULTS bash bench/ledger.sh ||
    echo "bench: bench/ledger.sh failed (or broke an invariant); see its output" >&2
fi
NOVA_BENCH_BUILD=$BUILD BENCH_RESULTS=$RESULTS BENCH_RATE=$RATE bash bench/dpop_cpu.sh ||
    echo "bench: bench/dpop_cpu.sh failed; dpop_cpu results not refreshed" >&2

rc=0
python3 - "$RESULTS" "$IDLE_RSS" "$PEAK_RSS" "$RATE" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" <<'EOF' || rc=$?
import json, os, platform, sys, time
results, idle, peak, rate, commit = sys.argv[1:]
idle, peak, rate = float(idle), float(peak), float(rate)
S = {n: json.load(open(os.path.join(results, n + ".json")))
     for n in ("me_paced", "apikey_paced", "health_paced", "me_saturated", "token_saturated")}
X = {n: json.load(open(os.path.join(results, n + ".json")))
     for n in ("token_spread", "attack_slowloris", "attack_bodies", "dpop_paced", "refresh_grants",
               "audit_append_sqlite", "audit_append_postgres")}
model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
mem = next((int(l.split()[1]) // 1024 for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)

def row(s):
    e = s["errors"]
    return {"rps": s["rps"], "p50_ms": s["latency_ms"]["p50"], "p90_ms": s["latency_ms"]["p90"],
            "p99_ms": s["latency_ms"]["p99"], "max_ms": s["latency_ms"]["max"],
            "errors": sum(v for k, v in e.items() if k != "reconnects")}

scen = {n: row(s) for n, s in S.items()}
for n in ("me_paced", "apikey_paced", "health_paced"):
    scen[n]["target_rate"] = S[n]["target_rate"]
    scen[n]["service_p99_ms"] = S[n]["service_ms"]["p99"]
targets = [
    {"what": "GET /v1/me p99 at %d req/s" % rate, "target": "< 2 ms",
     "value": scen["me_paced"]["p99_ms"], "unit": "ms",
     "met": scen["me_paced"]["p99_ms"] < 2 and scen["me_paced"]["errors"] == 0
            and scen["me_paced"]["rps"] >= 0.98 * rate},
    {"what": "HMAC API-key GET /v1/me p99 at %d req/s" % rate, "target": "< 1 ms",
     "value": scen["apikey_paced"]["p99_ms"], "unit": "ms",
     "met": scen["apikey_paced"]["p99_ms"] < 1 and scen["apikey_paced"]["errors"] == 0
            and scen["apikey_paced"]["rps"] >= 0.98 * rate},
    {"what": "GET /v1/me saturated", "target": "> 20000 req/s",
     "value": scen["me_saturated"]["rps"], "unit": "req/s",
     "met": scen["me_saturated"]["rps"] > 20000 and scen["me_saturated"]["errors"] == 0},
    {"what": "POST /oauth/token saturated", "target": "> 2000 grants/s",
     "value": scen["token_saturated"]["rps"], "unit": "grants/s",
     "met": scen["token_saturated"]["rps"] > 2000 and scen["token_saturated"]["errors"] == 0},
    {"what": "idle RSS", "target": "< 50 MB", "value": idle, "unit": "MB", "met": idle < 50},
    {"what": "token grants/s, worst of the spread rounds (wrk -t1)", "target": "> 2000 grants/s",
     "value": X["token_spread"]["rps_min"], "unit": "grants/s",
     "met": X["token_spread"]["rps_min"] > 2000},
    {"what": "smallest worker share, spread rounds", "target": ">= 0.4",
     "value": X["token_spread"]["smallest_share_min"], "unit": "share",
     "met": X["token_spread"]["smallest_share_min"] >= 0.4},
    {"what": "health probes answered under slowloris", "target": "all",
     "value": X["attack_slowloris"]["probes_answered"], "unit": "probes",
     "met": X["attack_slowloris"]["probes_answered"] == X["attack_slowloris"]["probes_sent"]},
    {"what": "DPoP-bound GET /v1/me p99 at %d req/s" % rate, "target": "< 1 ms",
     "value": X["dpop_paced"]["latency_ms"]["p99"], "unit": "ms",
     "met": X["dpop_paced"]["latency_ms"]["p99"] < 1 and X["dpop_paced"]["rps"] >= 0.98 * rate
            and sum(v for k, v in X["dpop_paced"]["errors"].items() if k != "reconnects") == 0},
    {"what": "RSS after the 1 MB-body burst, over RSS before it", "target": "< 10 MB",
     "value": X["attack_bodies"]["rss_mb"]["after"] - X["attack_bodies"]["rss_mb"]["before"], "unit": "MB",
     "met": X["attack_bodies"]["rss_mb"]["after"] - X["attack_bodies"]["rss_mb"]["before"] < 10},
]
summary = {
    "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "commit": commit,
    "machine": {"nproc": os.cpu_count(), "model_name": model, "mem_total_mb": mem,
                "kernel": platform.release(),
                "note": "load generator and novad share these cores over loopback"},
    "novad": {"store": "sqlite (fresh, temp dir)",
              "access_log": os.environ.get("NOVA_ACCESS_LOG", "true") in ("1", "true", "yes", "on"),
              "threads": "NOVA_THREADS default (one per CPU)"},
    "scenarios": scen,
    "token_spread": {k: X["token_spread"][k] for k in ("rounds", "rps_min", "rps_max", "smallest_share_min")},
    "dpop_paced": row(X["dpop_paced"]),
    "refresh_grants": {k: X["refresh_grants"][k] for k in ("rps", "grants", "chains", "errors", "latency_ms")},
    "audit_append": {"sqlite": {k: v for k, v in X["audit_append_sqlite"].items() if k not in ("scenario", "description", "command")},
                     "postgres": {k: v for k, v in X["audit_append_postgres"].items() if k not in ("scenario", "description", "command")}},
    "attacks": {n: {k: v for k, v in X[n].items() if k not in ("scenario", "description", "command")}
                for n in ("attack_slowloris", "attack_bodies")},
    "rss_mb": {"idle": idle, "peak": peak},
    "targets": targets,
}
with open(os.path.join(results, "summary.json"), "w") as f:
    json.dump(summary, f, indent=2)
    f.write("\n")

print()
print("Nova benchmark, %s, %s x%d, commit %s" % (summary["date"], model, os.cpu_count(), commit))
print("%-18s %12s %9s %9s %9s %9s %7s" % ("scenario", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors"))
for n, r in scen.items():
    print("%-18s %12.1f %9.3f %9.3f %9.3f %9.3f %7d" % (n, r["rps"], r["p50_ms"], r["p90_ms"], r["p99_ms"], r["max_ms"], r["errors"]))
print("%-18s idle %.1f MB, peak %.1f MB" % ("novad RSS", idle, peak))
print()
print("%-32s %-16s %12s  %s" % ("target", "wanted", "measured", ""))
for t in targets:
    print("%-32s %-16s %12.3f  %s" % (t["what"], t["target"], t["value"], "met" if t["met"] else "MISSED"))
sys.exit(0 if all(t["met"] for t in targets) else 3)
EOF
echo "results in $RESULTS"
if [ "$rc" -ne 0 ] && [ "${BENCH_STRICT:-0}" = 1 ]; then exit 1; fi
exit 0
