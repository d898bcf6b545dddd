#!/usr/bin/env bash
# bench/dpop_cpu.sh: the DPoP-bound GET of bench/run.sh's dpop_paced scenario beside the health
# control, each at a fixed rate, with what novad's own CPU counters say each request cost
# (utime + stime from /proc/PID/stat over the run, divided by the requests answered). The
# latency tail on a small machine moves with everything else running on it; CPU per request
# does not, so it is the figure to compare across runs. Beside them, the decision point's
# per-request cost on Nova's own routes (issue 7 item 7): the same bearer-authenticated
# GET /v1/core/accounts/{id} decided by its scope alone (route_scope) and by the tenant's
# promoted policy mapping the route (route_policy: a relation check plus three CEL rules), the
# same route for a person's user access token under that policy (route_policy_user: the people
# verifier with its session and continuous-evaluation check, the user's roles read, subject
# user:<id>), and a plain bearer GET /v1/me. Writes bench/results/dpop_cpu.json.
# Knobs: NOVA_BENCH_BUILD (build), BENCH_SECONDS (10), BENCH_RATE (5000),
# BENCH_PACED_CONNECTIONS (32), BENCH_ROUNDS (3), BENCH_RESULTS (bench/results).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${NOVA_BENCH_BUILD:-build}
NOVAD=$ROOT/$BUILD/cmd/novad
NOVACTL=$ROOT/$BUILD/cmd/novactl
RESULTS=${BENCH_RESULTS:-$ROOT/bench/results}
SECS=${BENCH_SECONDS:-10}
RATE=${BENCH_RATE:-5000}
CONNS=${BENCH_PACED_CONNECTIONS:-32}
ROUNDS=${BENCH_ROUNDS:-3}
WARM=2
[ -x "$NOVAD" ] && [ -x "$NOVACTL" ] || { echo "bench: build $BUILD first (make build)" >&2; exit 1; }
mkdir -p "$RESULTS" "$ROOT/$BUILD/bench"
LOADGEN=$ROOT/$BUILD/bench/loadgen
if [ ! -x "$LOADGEN" ] || [ bench/loadgen.c -nt "$LOADGEN" ]; then
    cc -O2 -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -o "$LOADGEN" bench/loadgen.c -lcrypto
fi
TMP=$(mktemp -d /tmp/nova-dpop-cpu.XXXXXX)
PID=
cleanup() {
    [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT

while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep '^NOVA_' || true)
export NOVA_HOST=127.0.0.1 NOVA_PORT=0 NOVA_DATA_DIR=$TMP NOVA_DATABASE_URL= NOVA_ACCESS_LOG=true \
    NOVA_RATELIMIT_TOKEN_CLIENT=0 NOVA_RATELIMIT_TOKEN_IP=0
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
[ -n "$PORT" ] || { echo "bench: novad did not start:" >&2; cat "$TMP/novad.log" >&2; exit 1; }
BASE=http://127.0.0.1:$PORT
json_get() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
TENANT=$("$NOVACTL" --json tenant create bench | json_get id)
SDK_JSON=$("$NOVACTL" --json client create --tenant "$TENANT" --name bench-sdk \
    --scopes "sdk:sessions clients:read")
SDK_ID=$(json_get client_id <<<"$SDK_JSON")
SDK_SECRET=$(json_get client_secret <<<"$SDK_JSON")
# Proofs are made for each round just before it runs: a proof's iat is good for 120 s.
NPROOFS=$((RATE * (SECS + WARM + 1) + 1000))
# The routes' tenant: an account, a relationship store granting the client viewer on it, and
# a policy whose http.routes map GET /v1/core/accounts/{id} (published now, promoted later).
ROUTE_JSON=$("$NOVACTL" --json client create --tenant "$TENANT" --name bench-routes \
    --scopes "ledger:read ledger:write fga:read fga:write policy:read policy:write users:write")
read -r BEARER ACCOUNT POLICY ROUTE_TENANT < <(python3 bench/route_setup.py "$BASE" "$ROUTE_JSON")
[ -n "$POLICY" ] || { echo "bench: the routes' tenant was not set up" >&2; exit 1; }

ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }

# run NAME ROUND ARGS...: one paced run; writes $TMP/NAME-ROUND.json with the loadgen result
# and the CPU novad spent while it ran.
run() {
    local name=$1 round=$2; shift 2
    local t0 t1
    t0=$(ticks)
    "$LOADGEN" -c "$CONNS" -r "$RATE" -d "$SECS" -w "$WARM" -o "$TMP/$name-$round.raw" "$@" \
        >/dev/null 2>&1 || echo "bench: $name: loadgen exited $?" >&2
    t1=$(ticks)
    python3 - "$TMP/$name-$round.raw" "$TMP/$name-$round.json" "$((t1 - t0))" \
        "$(getconf CLK_TCK)" "$RATE" "$((SECS + WARM))" <<'EOF'
import json, sys
raw, out, dt, hz, rate, secs = sys.argv[1:]
r = json.load(open(raw))
requests = int(rate) * int(secs)  # paced: the warm-up's requests cost CPU too
r["cpu_us_per_request"] = round(int(dt) / int(hz) * 1e6 / requests, 1)
json.dump(r, open(out, "w"))
EOF
}

for round in $(seq 0 $((ROUNDS - 1))); do
    run health "$round" "$BASE/v1/health"
    DPOP_TOKEN=$(node bench/dpop_proofs.mjs "$BASE" "$SDK_ID" "$SDK_SECRET" "$NPROOFS" \
        "$TMP/proofs.txt")
    run dpop "$round" -H "Authorization: DPoP $DPOP_TOKEN" -F "$TMP/proofs.txt" "$BASE/v1/me"
    run bearer "$round" -H "Authorization: Bearer $BEARER" "$BASE/v1/me"
    run route_scope "$round" -H "Authorization: Bearer $BEARER" "$BASE/v1/core/accounts/$ACCOUNT"
done
# Promoted once, after every scope-only round: a promotion is undone only by another version,
# and the rounds above must see none.
curl -fsS -o /dev/null -X POST -H "Authorization: Bearer $BEARER" \
    "$BASE/v1/authz/policies/$POLICY/promote"
for round in $(seq 0 $((ROUNDS - 1))); do
    run route_policy "$round" -H "Authorization: Bearer $BEARER" "$BASE/v1/core/accounts/$ACCOUNT"
done
# The person signs in just before their rounds (a user access token lives 5 minutes).
USER_TOKEN=$(curl -fsS -X POST -H 'content-type: application/json' \
    -d "{\"tenant_id\":\"$ROUTE_TENANT\",\"email\":\"bench.teller@example.com\",\"password\":\"a long enough bench passphrase\"}" \
    "$BASE/auth/login" | json_get access_token)
for round in $(seq 0 $((ROUNDS - 1))); do
    run route_policy_user "$round" -H "Authorization: Bearer $USER_TOKEN" \
        "$BASE/v1/core/accounts/$ACCOUNT"
done

python3 - "$TMP" "$ROUNDS" "$RESULTS/dpop_cpu.json" "$RATE" "$CONNS" "$SECS" <<'EOF'
import json, sys
tmp, rounds, out, rate, conns, secs = sys.argv[1:]
res = {"scenario": "dpop_cpu",
       "description": f"DPoP-bound GET /v1/me (a fresh proof per request) and the unauthenticated "
                      f"GET /v1/health control, alternating, {rounds} rounds of {secs} s at "
                      f"{rate} req/s over {conns} connections (bench/loadgen.c); CPU per request "
                      f"from novad's /proc/PID/stat",
       "command": "bash bench/dpop_cpu.sh", "target_p99_ms": 1.0}
names = ("dpop", "health", "bearer", "route_scope", "route_policy", "route_policy_user")
for name in names:
    runs = [json.load(open(f"{tmp}/{name}-{i}.json")) for i in range(int(rounds))]
    res[name] = [{"p50_ms": r["latency_ms"]["p50"], "p99_ms": r["latency_ms"]["p99"],
                  "rps": r["rps"], "errors": r["errors"],
                  "cpu_us_per_request": r["cpu_us_per_request"]} for r in runs]
med = lambda name: sorted(x["cpu_us_per_request"] for x in res[name])[len(res[name]) // 2]
res["cpu_us_median"] = {name: med(name) for name in names}
res["decision_point_overhead_us"] = round(med("route_policy") - med("route_scope"), 1)
res["dpop_overhead_us"] = round(med("dpop") - med("bearer"), 1)
res["user_over_client_us"] = round(med("route_policy_user") - med("route_policy"), 1)
json.dump(res, open(out, "w"), indent=2)
open(out, "a").write("\n")
print("cpu_us median", res["cpu_us_median"], "decision point", res["decision_point_overhead_us"],
      "dpop", res["dpop_overhead_us"])
for name in names:
    print(name, [(x["p99_ms"], x["cpu_us_per_request"]) for x in res[name]])
EOF
