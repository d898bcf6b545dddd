#!/usr/bin/env bash
# redis.sh: a throwaway Redis for tests and benchmarks.
#
#   scripts/redis.sh start [DIR]   starts redis-server; prints the URL
#   scripts/redis.sh url   [DIR]   prints redis://127.0.0.1:PORT/0
#   scripts/redis.sh stop  [DIR]   stops the server and removes DIR
#
# DIR defaults to /tmp/nova-redis. The server listens on 127.0.0.1 only (first free port from
# 56379), keeps nothing on disk (no RDB snapshots, no AOF), writes its log and pid file inside
# DIR, and runs daemonized. Idempotent; never reads stdin.
set -euo pipefail

cmd=${1:-}
dir=${2:-/tmp/nova-redis}
marker=nova-redis.marker

die() {
    echo "redis.sh: $*" >&2
    exit 1
}

command -v redis-server >/dev/null || die "redis-server not found (scripts/deps.sh test installs it)"
case "$dir" in
/*) ;;
*) dir="$PWD/$dir" ;;
esac
dir=${dir%/}
[ -n "$dir" ] && [ "$dir" != / ] || die "refusing DIR '/'"

running() {
    [ -f "$dir/port" ] && redis-cli -h 127.0.0.1 -p "$(cat "$dir/port")" ping 2>/dev/null |
        grep -q PONG
}

port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

print_url() {
    [ -f "$dir/port" ] || die "no server in $dir (run: $0 start $dir)"
    echo "redis://127.0.0.1:$(cat "$dir/port")/0"
}

do_start() {
    if running; then
        print_url
        return 0
    fi
    mkdir -p "$dir"
    [ -z "$(ls -A "$dir")" ] || [ -f "$dir/$marker" ] || die "$dir exists and is not a redis.sh dir"
    touch "$dir/$marker"
    local tries=0 port
    while :; do
        port=
        for p in $(seq 56379 56478); do
            if port_free "$p"; then
                port=$p
                break
            fi
        done
        [ -n "$port" ] || die "no free port in 56379-56478"
        echo "$port" >"$dir/port"
        redis-server --port "$port" --bind 127.0.0.1 --protected-mode yes --save '' \
            --appendonly no --dir "$dir" --daemonize yes --pidfile "$dir/redis.pid" \
            --logfile "$dir/server.log" --loglevel warning </dev/null >/dev/null 2>&1 || true
        for _ in $(seq 1 100); do
            running && break
            sleep 0.05
        done
        running && break
        tries=$((tries + 1))
        # Another process may have taken the port between the check and the bind.
        [ "$tries" -lt 3 ] || die "redis-server did not start, see $dir/server.log"
    done
    print_url
}

do_stop() {
    [ -e "$dir" ] || return 0
    [ -f "$dir/$marker" ] || die "$dir is not a redis.sh dir; not removing it"
    if running; then
        redis-cli -h 127.0.0.1 -p "$(cat "$dir/port")" shutdown nosave >/dev/null 2>&1 || true
    fi
    if [ -f "$dir/redis.pid" ]; then
        local pid
        pid=$(cat "$dir/redis.pid")
        for _ in $(seq 1 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.05
        done
    fi
    rm -rf "$dir"
}

case "$cmd" in
start) do_start ;;
stop) do_stop ;;
url) print_url ;;
*)
    echo "usage: $0 start|stop|url [DIR]" >&2
    exit 2
    ;;
esac
