#!/usr/bin/env bash
# rabbitmq.sh: a throwaway RabbitMQ broker for tests and benchmarks.
#
#   scripts/rabbitmq.sh start [DIR]   starts rabbitmq-server; prints the AMQP URL
#   scripts/rabbitmq.sh url   [DIR]   prints amqp://guest:guest@127.0.0.1:PORT (vhost /)
#   scripts/rabbitmq.sh stop  [DIR]   stops the broker and removes DIR
#
# DIR defaults to /tmp/nova-rabbitmq. The broker runs as the calling user with its node name,
# Erlang cookie, database (mnesia), logs and plugin list inside DIR, listens on 127.0.0.1 only
# (first free port from 56720; Erlang distribution on PORT+1000, epmd bound to loopback),
# enables no plugin, and is awaited with `rabbitmqctl await_startup`. The guest user works
# from loopback only, which is what tests use. Idempotent; never reads stdin.
set -euo pipefail

cmd=${1:-}
dir=${2:-/tmp/nova-rabbitmq}
marker=nova-rabbitmq.marker
bin=/usr/lib/rabbitmq/bin

die() {
    echo "rabbitmq.sh: $*" >&2
    exit 1
}

[ -x "$bin/rabbitmq-server" ] || die "rabbitmq-server not found (scripts/deps.sh test installs it)"
case "$dir" in
/*) ;;
*) dir="$PWD/$dir" ;;
esac
dir=${dir%/}
[ -n "$dir" ] && [ "$dir" != / ] || die "refusing DIR '/'"

node_env() {
    local port=$1
    export HOME="$dir" RABBITMQ_NODENAME="nova$port@localhost" RABBITMQ_NODE_PORT="$port"
    export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_DIST_PORT=$((port + 1000))
    export RABBITMQ_MNESIA_BASE="$dir/mnesia" RABBITMQ_LOG_BASE="$dir/log"
    export RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" RABBITMQ_PID_FILE="$dir/rabbit.pid"
    export RABBITMQ_CONFIG_FILE="$dir/rabbitmq" ERL_EPMD_ADDRESS=127.0.0.1 ERL_CRASH_DUMP="$dir/erl_crash.dump"
    export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
}

ctl() {
    "$bin/rabbitmqctl" -n "nova$(cat "$dir/port")@localhost" "$@"
}

running() {
    [ -f "$dir/port" ] || return 1
    node_env "$(cat "$dir/port")"
    ctl status >/dev/null 2>&1
}

port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

print_url() {
    [ -f "$dir/port" ] || die "no broker in $dir (run: $0 start $dir)"
    echo "amqp://guest:guest@127.0.0.1:$(cat "$dir/port")"
}

do_start() {
    if running; then
        print_url
        return 0
    fi
    mkdir -p "$dir"
    [ -z "$(ls -A "$dir")" ] || [ -f "$dir/$marker" ] || die "$dir exists and is not a rabbitmq.sh dir"
    touch "$dir/$marker"
    local port= tries=0 up= from=56720
    while [ -z "$up" ] && [ "$tries" -lt 3 ]; do
        tries=$((tries + 1))
        port=
        for p in $(seq "$from" 56819); do
            if port_free "$p" && port_free $((p + 1000)); then
                port=$p
                break
            fi
        done
        [ -n "$port" ] || die "no free port in 56720-56819"
        from=$((port + 1))
        echo "$port" >"$dir/port"
        node_env "$port"
        echo "[]." >"$dir/enabled_plugins"
        # Tests fill no disk: never block publishers for free space.
        printf 'disk_free_limit.absolute = 1MB\nloopback_users.guest = true\n' >"$dir/rabbitmq.conf"
        rm -rf "$dir/mnesia"
        mkdir -p "$dir/mnesia" "$dir/log"
        nohup "$bin/rabbitmq-server" </dev/null >"$dir/server.out" 2>&1 &
        echo $! >"$dir/launcher.pid"
        # await_startup needs the node reachable first: wait for the Erlang node, then the app.
        for _ in $(seq 1 120); do
            if "$bin/rabbitmqctl" -n "nova$port@localhost" -q ping >/dev/null 2>&1; then
                up=1
                break
            fi
            kill -0 "$(cat "$dir/launcher.pid")" 2>/dev/null || break
            sleep 0.5
        done
        # Another broker may have taken the port between the check and the bind: next port.
    done
    [ -n "$up" ] && timeout 60 "$bin/rabbitmqctl" -n "nova$port@localhost" await_startup \
        >/dev/null 2>&1 || die "rabbitmq-server did not start, see $dir/server.out and $dir/log"
    print_url
}

do_stop() {
    [ -e "$dir" ] || return 0
    [ -f "$dir/$marker" ] || die "$dir is not a rabbitmq.sh dir; not removing it"
    if [ -f "$dir/port" ]; then
        node_env "$(cat "$dir/port")"
        timeout 30 "$bin/rabbitmqctl" -n "nova$(cat "$dir/port")@localhost" stop >/dev/null 2>&1 || true
    fi
    if [ -f "$dir/launcher.pid" ]; then
        local pid
        pid=$(cat "$dir/launcher.pid")
        for _ in $(seq 1 200); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.05
        done
        kill -0 "$pid" 2>/dev/null && kill "$pid" 2>/dev/null || true
    fi
    rm -rf "$dir"
}

case "$cmd" in
start) do_start ;;
stop) do_stop ;;
url) print_url ;;
ctl)
    shift 2
    node_env "$(cat "$dir/port")"
    ctl "$@"
    ;;
*)
    echo "usage: $0 start|stop|url [DIR] | ctl DIR ARGS..." >&2
    exit 2
    ;;
esac
