#!/usr/bin/env bash
# bench/ledger.sh: the core ledger's throughput, latency and invariants (issue 8 item 11) with
# bench/ledger_bench.c, written to bench/results/ledger.json (one object per scenario, plus the
# ratio of Nova's account update to the conventional SELECT ... FOR UPDATE on PostgreSQL).
#   http_single_{uniform,hot}_{sqlite,postgres}  POST /v1/core/postings, one posting a request
#   http_batch_{uniform,hot}_{sqlite,postgres}   POST /v1/core/postings:batch, BATCH a request
#   store_{ours,classic}_{uniform,hot}_postgres  the repository call itself, no HTTP: one
#       UPDATE ... RETURNING per account (ours) against SELECT ... FOR UPDATE then UPDATE
# "hot": one agent float receives half of all postings. Every scenario ends by reading every
# account back and counting broken invariants (must be 0). HTTP scenarios also carry novad's
# CPU per posting (and PostgreSQL's, on PostgreSQL) and the load average, from /proc.
# Knobs: NOVA_BENCH_BUILD (build), LEDGER_SECONDS (10), LEDGER_THREADS (32, HTTP clients),
# LEDGER_STORE_THREADS (16), LEDGER_BATCH (100), BENCH_RESULTS (bench/results),
# LEDGER_PG=0 to skip PostgreSQL, LEDGER_SMOKE=1 for a seconds-long run that checks the
# invariants only (what `make test` runs).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${NOVA_BENCH_BUILD:-build}
NOVAD=$ROOT/$BUILD/cmd/novad
NOVACTL=$ROOT/$BUILD/cmd/novactl
LB=$ROOT/$BUILD/src/store/ledger_bench
RESULTS=${BENCH_RESULTS:-$ROOT/bench/results}
SECS=${LEDGER_SECONDS:-10}
THREADS=${LEDGER_THREADS:-32}
STHREADS=${LEDGER_STORE_THREADS:-16}
BATCH=${LEDGER_BATCH:-100}
PG=${LEDGER_PG:-1}
if [ "${LEDGER_SMOKE:-0}" = 1 ]; then SECS=1; THREADS=4; STHREADS=4; BATCH=10; fi
for tool in curl python3; do
    command -v "$tool" >/dev/null || { echo "ledger bench: $tool is required" >&2; exit 1; }
done
[ -x "$NOVAD" ] && [ -x "$LB" ] || { echo "ledger bench: build $BUILD first" >&2; exit 1; }
mkdir -p "$RESULTS"

TMP=$(mktemp -d /tmp/nova-ledger-bench.XXXXXX)
PID=
PGDIR=
cleanup() {
    if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
        kill -TERM "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
    [ -n "$PGDIR" ] && bash "$ROOT/scripts/pg.sh" stop "$PGDIR" >/dev/null 2>&1 || true
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

while IFS= read -r v; do unset "$v"; done < <(compgen -e | grep '^NOVA_' || true)
export NOVA_HOST=127.0.0.1 NOVA_PORT=0 NOVA_ACCESS_LOG=${BENCH_ACCESS_LOG:-true} \
    NOVA_RATELIMIT_TOKEN_CLIENT=0 NOVA_RATELIMIT_TOKEN_IP=0
json_get() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# Starts novad on store $1 (empty: SQLite in a fresh directory); sets PID and BASE.
start_novad() {
    local dir=$TMP/data-$RANDOM
    mkdir -p "$dir"
    MK=$(head -c 32 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '=')
    NOVA_DATA_DIR=$dir NOVA_DATABASE_URL=$1 NOVA_MASTER_KEY=$MK "$NOVAD" serve 2>"$dir/novad.log" &
    PID=$!
    local port=
    for _ in $(seq 200); do
        port=$(grep -o '"msg":"novad listening".*"port":[0-9]*' "$dir/novad.log" 2>/dev/null |
            grep -o '[0-9]*$' || true)
        [ -n "$port" ] && break
        sleep 0.1
    done
    [ -n "$port" ] || { echo "ledger bench: novad did not start" >&2; cat "$dir/novad.log" >&2; exit 1; }
    BASE=http://127.0.0.1:$port
    DATA=$dir
}
stop_novad() { kill -TERM "$PID"; wait "$PID" 2>/dev/null || true; PID=; }
# A fresh tenant, its ledger client and a token (each scenario gets its own accounts).
ledger_token() {
    local t c
    t=$(NOVA_DATA_DIR=$DATA NOVA_DATABASE_URL=$1 NOVA_MASTER_KEY=$MK \
        "$NOVACTL" --json tenant create "bench-$RANDOM$RANDOM" | json_get id)
    c=$(NOVA_DATA_DIR=$DATA NOVA_DATABASE_URL=$1 NOVA_MASTER_KEY=$MK \
        "$NOVACTL" --json client create --tenant "$t" --name bench --scopes "ledger:read ledger:write")
    curl -sf -u "$(json_get client_id <<<"$c"):$(json_get client_secret <<<"$c")" \
        -d grant_type=client_credentials "$BASE/oauth/token" | json_get access_token
}

OUT=$TMP/lines.jsonl
: >"$OUT"
# The command line holds a bearer token: only the scenario's name is printed.
run() { echo "ledger bench: ${*: -1}" >&2; "$@" | tee -a "$OUT"; }

# CPU seconds (user + system) of novad ($1) and of the PostgreSQL cluster in $2 when given
# (the postmaster, the backends it reaped and its live children), from /proc: the machine is
# shared, so throughput and tail latency move with the other load, CPU per posting much less.
cpu_of() {
    python3 - "$@" <<'PY'
import os, sys
tck = os.sysconf("SC_CLK_TCK")
def stat(pid):
    s = open(f"/proc/{pid}/stat").read()
    return s[s.rindex(")") + 2:].split()  # from field 3 (state) on
f = stat(sys.argv[1])
novad = (int(f[11]) + int(f[12])) / tck
pg = 0.0
if len(sys.argv) > 2 and sys.argv[2]:
    pm = int(open(os.path.join(sys.argv[2], "data", "postmaster.pid")).readline())
    f = stat(pm)
    pg = sum(int(x) for x in f[11:15]) / tck
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                g = stat(d)
            except OSError:
                continue
            if int(g[1]) == pm:
                pg += (int(g[11]) + int(g[12])) / tck
print(novad, pg)
PY
}
# run, with novad's (and PostgreSQL's) CPU per posting and the load average added to the line.
run_cpu() {
    local before after line
    before=$(cpu_of "$PID" "${CPU_PG:-}")
    echo "ledger bench: ${*: -1}" >&2
    line=$("$@")
    after=$(cpu_of "$PID" "${CPU_PG:-}")
    python3 - "$line" "$before" "$after" <<'PY' | tee -a "$OUT"
import json, sys
r = json.loads(sys.argv[1])
b, a = [list(map(float, x.split())) for x in sys.argv[2:4]]
n = max(r["postings"], 1)
r["novad_cpu_s"] = round(a[0] - b[0], 2)
r["novad_cpu_us_per_posting"] = round((a[0] - b[0]) * 1e6 / n, 1)
if a[1] or b[1]:
    r["postgres_cpu_s"] = round(a[1] - b[1], 2)
    r["postgres_cpu_us_per_posting"] = round((a[1] - b[1]) * 1e6 / n, 1)
r["load_average_1m"] = float(open("/proc/loadavg").read().split()[0])
print(json.dumps(r))
PY
}

http_runs() { # $1: store label, $2: database url ('' SQLite)
    start_novad "$2"
    for accts in uniform hot; do
        LEDGER_BENCH_STORE=$1 run_cpu "$LB" http "$BASE" "$(ledger_token "$2")" $accts "$THREADS" "$SECS" 1 \
            "http_single_${accts}_$1"
        LEDGER_BENCH_STORE=$1 run_cpu "$LB" http "$BASE" "$(ledger_token "$2")" $accts 4 "$SECS" "$BATCH" \
            "http_batch_${accts}_$1"
    done
    stop_novad
}

http_runs sqlite ''
if [ "$PG" = 1 ]; then
    PGDIR=/tmp/nova-ledger-bench-pg.$$ # outside TMP: the server may run as another user
    bash "$ROOT/scripts/pg.sh" start "$PGDIR" >/dev/null
    PGURL=$(bash "$ROOT/scripts/pg.sh" createdb "$PGDIR" ledger_bench)
    CPU_PG=$PGDIR http_runs postgres "$PGURL"
    for accts in uniform hot; do
        for how in ours classic; do
            run "$LB" store "$PGURL" $accts "$STHREADS" "$SECS" $how "store_${how}_${accts}_postgres"
        done
    done
fi

COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
python3 - "$OUT" "$RESULTS/ledger.json" "$COMMIT" "$SECS" <<'EOF'
import json, sys, os, time
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = {r["name"]: r for r in rows}
ratio = {}
for accts in ("uniform", "hot"):
    o, c = by.get(f"store_ours_{accts}_postgres"), by.get(f"store_classic_{accts}_postgres")
    if o and c and c["postings_per_s"]:
        ratio[accts] = round(o["postings_per_s"] / c["postings_per_s"], 2)
targets = {
    "http_single_sqlite_ge_5000_per_s": by.get("http_single_uniform_sqlite", {}).get("postings_per_s", 0) >= 5000,
    "http_single_sqlite_p99_lt_5ms": by.get("http_single_uniform_sqlite", {}).get("p99_ms", 1e9) < 5,
    "batch_sqlite_ge_50000_per_s": by.get("http_batch_uniform_sqlite", {}).get("postings_per_s", 0) >= 50000,
    "batch_postgres_ge_10000_per_s": by.get("http_batch_uniform_postgres", {}).get("postings_per_s", 0) >= 10000,
    "invariant_breaks_0": all(r["invariant_breaks"] == 0 for r in rows),
}
doc = {"benchmark": "ledger", "commit": sys.argv[3], "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
       "seconds_per_scenario": float(sys.argv[4]), "cpus": os.cpu_count(),
       "scenarios": rows, "ours_over_select_for_update_postgres": ratio, "targets_met": targets}
open(sys.argv[2], "w").write(json.dumps(doc, indent=2) + "\n")
print(f"{'scenario':36} {'postings/s':>11} {'p50 ms':>8} {'p99 ms':>8} {'novad us/p':>10} {'pg us/p':>8} {'breaks':>6}")
for r in rows:
    print(f"{r['name']:36} {r['postings_per_s']:>11.0f} {r['p50_ms']:>8.3f} {r['p99_ms']:>8.3f} "
          f"{r.get('novad_cpu_us_per_posting', '-'):>10} {r.get('postgres_cpu_us_per_posting', '-'):>8} {r['invariant_breaks']:>6}")
print("ours / SELECT FOR UPDATE (postgres):", ratio)
print("targets:", targets)
sys.exit(0 if all(r["invariant_breaks"] == 0 and r["errors"] == 0 for r in rows) else 1)
EOF
