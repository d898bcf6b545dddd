#!/usr/bin/env bash
# pg.sh: a throwaway PostgreSQL 15 cluster for tests and benchmarks.
#
#   scripts/pg.sh start [DIR]   initdb (first time) and start; prints the URL
#   scripts/pg.sh url   [DIR]   prints postgres://nova:PASS@127.0.0.1:PORT/nova
#   scripts/pg.sh stop  [DIR]   stops the cluster and removes DIR
#   scripts/pg.sh createdb DIR NAME   a fresh database NAME owned by `nova`; prints its URL
#
# DIR defaults to /tmp/nova-pg. The cluster listens on 127.0.0.1 only (first free port from
# 55432), keeps its unix socket inside DIR, runs with fsync=off, and has an application role
# `nova` (LOGIN, password, not superuser) owning database `nova`; the superuser `postgres` is
# reachable only through the socket in DIR. Run as root, the server runs as the system user
# nova-test (created on first use). Idempotent; never reads stdin.
set -euo pipefail

cmd=${1:-}
dir=${2:-/tmp/nova-pg}
bin=/usr/lib/postgresql/15/bin
marker=nova-pg.marker
runas_user=nova-test

die() {
    echo "pg.sh: $*" >&2
    exit 1
}

[ -x "$bin/initdb" ] || die "PostgreSQL 15 not found in $bin (scripts/deps.sh test installs it)"
case "$dir" in
/*) ;;
*) dir="$PWD/$dir" ;;
esac
dir=${dir%/}
[ -n "$dir" ] && [ "$dir" != / ] || die "refusing DIR '/'"

# as_owner CMD...: runs CMD as the user that owns the cluster.
if [ "$(id -u)" -eq 0 ]; then
    as_owner() { runuser -u "$runas_user" -- "$@"; }
    ensure_user() {
        id "$runas_user" >/dev/null 2>&1 ||
            useradd -r -M -d /nonexistent -s /usr/sbin/nologin "$runas_user" ||
            die "cannot create system user $runas_user"
    }
else
    as_owner() { "$@"; }
    ensure_user() { :; }
fi

running() {
    [ -f "$dir/data/PG_VERSION" ] && as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1
}

port_free() {
    # A successful connect means something already listens there.
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pick_port() {
    local p
    for p in $(seq 55432 55531); do
        if port_free "$p"; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

print_url() {
    [ -f "$dir/port" ] && [ -f "$dir/password" ] || die "no cluster in $dir (run: $0 start $dir)"
    echo "postgres://nova:$(cat "$dir/password")@127.0.0.1:$(cat "$dir/port")/nova"
}

psql_super() {
    as_owner "$bin/psql" -X -q -h "$dir" -p "$(cat "$dir/port")" -U postgres -d postgres \
        -v ON_ERROR_STOP=1 "$@" </dev/null
}

do_init() {
    ensure_user
    mkdir -p "$dir"
    [ -z "$(ls -A "$dir")" ] || [ -f "$dir/$marker" ] || die "$dir exists and is not a pg.sh cluster"
    touch "$dir/$marker"
    rm -rf "$dir/data" # left over by an interrupted initdb
    chmod 700 "$dir"
    [ "$(id -u)" -eq 0 ] && chown "$runas_user:" "$dir"
    # Hex only: safe inside a URL and a SQL literal.
    head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/password"
    chmod 600 "$dir/password"
    as_owner "$bin/initdb" -D "$dir/data" -U postgres -E UTF8 --no-locale \
        --auth-local=trust --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1 ||
        die "initdb failed, see $dir/initdb.log"
    cat >>"$dir/data/postgresql.conf" <<EOF

# pg.sh: throwaway test cluster
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
password_encryption = 'scram-sha-256'
EOF
}

do_start() {
    if running; then
        print_url
        return 0
    fi
    [ -f "$dir/data/PG_VERSION" ] || do_init
    local tries=0 port
    while :; do
        port=$(pick_port) || die "no free port in 55432-55531"
        echo "$port" >"$dir/port"
        if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
            -o "-p $port" start >/dev/null 2>&1; then
            break
        fi
        tries=$((tries + 1))
        # Another process may have taken the port between the check and the bind.
        [ "$tries" -lt 3 ] || die "pg_ctl start failed, see $dir/server.log"
    done
    local pass
    pass=$(cat "$dir/password")
    if [ "$(psql_super -tA -c "SELECT 1 FROM pg_roles WHERE rolname = 'nova'")" != 1 ]; then
        psql_super -c "CREATE ROLE nova LOGIN PASSWORD '$pass' NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS"
    fi
    if [ "$(psql_super -tA -c "SELECT 1 FROM pg_database WHERE datname = 'nova'")" != 1 ]; then
        psql_super -c "CREATE DATABASE nova OWNER nova"
    fi
    print_url
}

do_stop() {
    [ -e "$dir" ] || return 0
    [ -f "$dir/$marker" ] || die "$dir is not a pg.sh cluster; not removing it"
    if running; then
        as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null
    fi
    rm -rf "$dir"
}

do_createdb() {
    local name=$1
    [[ "$name" =~ ^[a-z_][a-z0-9_]{0,40}$ ]] || die "bad database name '$name'"
    running || die "no running cluster in $dir"
    psql_super -c "DROP DATABASE IF EXISTS $name"
    psql_super -c "CREATE DATABASE $name OWNER nova"
    print_url | sed "s#/nova\$#/$name#"
}

case "$cmd" in
start) do_start ;;
createdb) do_createdb "${3:?usage: $0 createdb DIR NAME}" ;;
stop) do_stop ;;
url) print_url ;;
*)
    echo "usage: $0 start|stop|url [DIR]" >&2
    exit 2
    ;;
esac
