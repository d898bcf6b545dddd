#!/usr/bin/env bash
# bench/ab_http.sh BUILD LABEL: one novad build (BUILD: its meson dir) on a fresh SQLite store:
# paced GET /v1/me and /v1/health (loadgen, 5000/s, 32 connections, 8 s), then wrk -t2 -c64 8 s on
# /v1/me and /oauth/token. Prints one line per scenario: label, name, rps, p50, p99[, p999], errors.
# For A/B runs of two builds of the HTTP path, alternated, in the same session.
set -euo pipefail
B=$(realpath "$1"); L=$2; cd "$(dirname "$0")/.."
T=$(mktemp -d /tmp/ab.XXXX)
while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep '^NOVA_' || true)
export NOVA_HOST=127.0.0.1 NOVA_PORT=0 NOVA_DATA_DIR=$T NOVA_DATABASE_URL= NOVA_ACCESS_LOG=true NOVA_RATELIMIT_TOKEN_CLIENT=0 NOVA_RATELIMIT_TOKEN_IP=0
export NOVA_MASTER_KEY=$(head -c 32 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '=')
$B/cmd/novad serve 2>$T/log & PID=$!
trap 'kill $PID; wait $PID 2>/dev/null; rm -rf $T' EXIT
for _ in $(seq 100); do PORT=$(grep -o '"port":[0-9]*' $T/log | head -1 | grep -o '[0-9]*$' || true); [ -n "$PORT" ] && break; sleep 0.1; done
BASE=http://127.0.0.1:$PORT
j() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
TEN=$($B/cmd/novactl --json tenant create ab | j id)
CJ=$($B/cmd/novactl --json client create --tenant $TEN --name ab --scopes clients:read)
CID=$(j client_id <<<"$CJ"); CS=$(j client_secret <<<"$CJ")
TOK=$(curl -sf -u "$CID:$CS" -d grant_type=client_credentials $BASE/oauth/token | j access_token)
LG=$PWD/build/bench/loadgen
[ -x $LG ] || { mkdir -p build/bench; cc -O2 -std=c17 -D_GNU_SOURCE -o $LG bench/loadgen.c -lcrypto; }
$LG -c 32 -r 5000 -d 8 -w 2 -H "Authorization: Bearer $TOK" -o $T/me.json $BASE/v1/me >/dev/null 2>&1
$LG -c 32 -r 5000 -d 8 -w 2 -o $T/h.json $BASE/v1/health >/dev/null 2>&1
python3 - $T/me.json $T/h.json $L <<'P'
import json,sys
for f,n in ((sys.argv[1],'me_paced'),(sys.argv[2],'health_paced')):
    d=json.load(open(f)); print(sys.argv[3], n, d["rps"], d["latency_ms"]["p50"], d["latency_ms"]["p99"], d["latency_ms"]["p999"], sum(d["errors"].values()))
P
BENCH_OUT=$T/ws.json wrk -t2 -c64 -d8s -s bench/wrk_report.lua -H "Authorization: Bearer $TOK" $BASE/v1/me >/dev/null
BASIC=$(printf '%s:%s' "$CID" "$CS" | base64 -w0)
BENCH_OUT=$T/tk.json BENCH_METHOD=POST BENCH_BODY=grant_type=client_credentials wrk -t2 -c64 -d8s -s bench/wrk_report.lua -H "Authorization: Basic $BASIC" -H "Content-Type: application/x-www-form-urlencoded" $BASE/oauth/token >/dev/null
python3 - $T/ws.json $T/tk.json $L <<'P'
import json,sys
for f,n in ((sys.argv[1],'me_saturated'),(sys.argv[2],'token_saturated')):
    d=json.load(open(f)); print(sys.argv[3], n, d["rps"], d["latency_ms"]["p50"], d["latency_ms"]["p99"], sum(d["errors"].values()))
P
