#!/usr/bin/env bash
# Private, throwaway PostgreSQL cluster for the demo and the tests.
#   scripts/pgcluster.sh start|stop|status|env|destroy
# Settings (environment):
#   PREFECTDB_PG_PORT    TCP port on 127.0.0.1 (default 54329, never 5432)
#   PREFECTDB_PG_DIR     where data, socket and log live (default <repo>/.pg/demo)
#   PREFECTDB_PG_BINDIR  server binaries (default: pg_config --bindir, else newest /usr/lib/postgresql/*/bin)
#   PREFECTDB_PG_FAST=1  fsync/synchronous_commit off: for tests only, never for benchmarks
#   PREFECTDB_PG_PASSWORD superuser password over TCP (default prefectdb-local; trust on the socket)
#   PREFECTDB_PG_ROOT    a Debian package root holding another PostgreSQL major, built by
#                        scripts/pg_roots.sh: its server and client programs (made to run on this host
#                        with the root's own loader and libraries) are used instead of the host's.
#                        Data, socket and log stay where PREFECTDB_PG_DIR says. Unset: the host's server.
# The superuser is postgres: scram over TCP on 127.0.0.1, trust on the Unix socket.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
port=${PREFECTDB_PG_PORT:-54329}
pgdir=${PREFECTDB_PG_DIR:-$repo/.pg/demo}
password=${PREFECTDB_PG_PASSWORD:-prefectdb-local}

die() { echo "pgcluster: $*" >&2; exit 1; }

has_server() { [ -x "$1/postgres" ] && [ -x "$1/initdb" ] && [ -x "$1/pg_ctl" ]; }

# A root's bindir, once scripts/pg_roots.sh has pointed its programs at the root's loader.
root_bindir() {
    local root d
    root=$(cd "$PREFECTDB_PG_ROOT" 2>/dev/null && pwd) || die "PREFECTDB_PG_ROOT=$PREFECTDB_PG_ROOT does not exist (scripts/pg_roots.sh build <major>)."
    [ -f "$root/.prefectdb-root" ] || die "PREFECTDB_PG_ROOT=$root is not a root built by scripts/pg_roots.sh (scripts/pg_roots.sh build <major>)."
    d=$root/usr/lib/postgresql/$(sed -n 's/^major=//p' "$root/.prefectdb-root")/bin
    has_server "$d" || die "no server binaries in $d; rebuild the root (scripts/pg_roots.sh build <major>)."
    "$d/postgres" --version >/dev/null 2>&1 \
        || die "$d/postgres does not run on this host (a root moved since it was built?); run scripts/pg_roots.sh build <major> again."
    echo "$d"
}

find_bindir() {
    if [ -n "${PREFECTDB_PG_ROOT:-}" ]; then
        root_bindir; return
    fi
    if [ -n "${PREFECTDB_PG_BINDIR:-}" ]; then
        has_server "$PREFECTDB_PG_BINDIR" || die "PREFECTDB_PG_BINDIR=$PREFECTDB_PG_BINDIR holds no initdb/postgres/pg_ctl."
        echo "$PREFECTDB_PG_BINDIR"; return
    fi
    local d
    if command -v pg_config >/dev/null 2>&1; then
        d=$(pg_config --bindir 2>/dev/null || true)
        if [ -n "$d" ] && has_server "$d"; then echo "$d"; return; fi
    fi
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if has_server "$d"; then echo "$d"; return; fi
    done
    return 1
}

ensure_server() {
    if bindir=$(find_bindir); then return; fi
    [ -z "${PREFECTDB_PG_ROOT:-}" ] || exit 1  # root_bindir said why
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "pgcluster: installing Debian's postgresql and postgresql-contrib" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql postgresql-contrib >&2 \
            || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql postgresql-contrib >&2; }
        bindir=$(find_bindir) || die "postgresql installed but no server binaries found under /usr/lib/postgresql."
        return
    fi
    die "PostgreSQL server binaries not found: install the postgresql and postgresql-contrib packages (e.g. sudo apt-get install postgresql postgresql-contrib), or set PREFECTDB_PG_BINDIR."
}

# As root the server runs as the postgres OS user, which must be able to reach the data dir.
as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

resolve_dir() {
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || die "running as root needs an OS user 'postgres' (install the postgresql package)."
        mkdir -p "$pgdir"
        if ! runuser -u postgres -- test -x "$pgdir"; then
            # e.g. a clone under /root (mode 0700): keep the data where postgres can reach it
            pgdir=/var/tmp/prefectdb-pg-$port
            mkdir -p "$pgdir"
        fi
        chown postgres: "$pgdir"
    else
        mkdir -p "$pgdir"
    fi
    data=$pgdir/data
    sockdir=$pgdir/run
    logfile=$pgdir/server.log
}

psql_super() { "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$sockdir" -p "$port" -U postgres -d postgres "$@"; }

init_cluster() {
    as_owner mkdir -p "$sockdir"
    local pwfile
    pwfile=$(mktemp)
    printf '%s\n' "$password" > "$pwfile"
    [ "$(id -u)" = 0 ] && chown postgres "$pwfile"
    as_owner "$bindir/initdb" -D "$data" -U postgres --pwfile="$pwfile" \
        --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$pwfile"
    local fast=""
    if [ "${PREFECTDB_PG_FAST:-0}" = 1 ]; then
        fast=$'fsync = off\nsynchronous_commit = off\nfull_page_writes = off'
    fi
    as_owner tee -a "$data/postgresql.conf" >/dev/null <<CONF

# prefectdb.maintenance test bed
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$sockdir'
max_connections = 100
max_prepared_transactions = 10
wal_level = logical
max_wal_senders = 10
max_replication_slots = 10
shared_buffers = 256MB
max_wal_size = 4GB
log_min_messages = warning
$fast
CONF
}

cmd_start() {
    ensure_server
    resolve_dir
    if [ ! -f "$data/PG_VERSION" ]; then
        init_cluster
    fi
    as_owner mkdir -p "$sockdir"
    if as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        state="already running"
    else
        [ "$(id -u)" = 0 ] && { touch "$logfile"; chown postgres: "$logfile"; }
        as_owner "$bindir/pg_ctl" -D "$data" -l "$logfile" -w -t 60 start >/dev/null \
            || { tail -n 20 "$logfile" >&2; die "the server did not start; the log above is $logfile"; }
        state="running"
    fi
    # (re)set the password each time, so a changed PREFECTDB_PG_PASSWORD takes effect
    psql_super -c "ALTER ROLE postgres PASSWORD '$password'" >/dev/null
    echo "pgcluster: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') $state on 127.0.0.1:$port (data $data)"
}

cmd_stop() {
    bindir=$(find_bindir) || die "no PostgreSQL server binaries found."
    resolve_dir
    if [ -f "$data/postmaster.pid" ]; then
        as_owner "$bindir/pg_ctl" -D "$data" -m fast -w stop >/dev/null
        echo "pgcluster: stopped ($data)"
    else
        echo "pgcluster: not running ($data)"
    fi
}

cmd_status() {
    bindir=$(find_bindir) || die "no PostgreSQL server binaries found."
    resolve_dir
    if as_owner "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        echo "running on 127.0.0.1:$port, socket $sockdir, data $data"
    else
        echo "not running (data $data)"; return 3
    fi
}

cmd_env() {
    resolve_dir
    cat <<ENV
export PGHOST=127.0.0.1
export PGPORT=$port
export PGUSER=postgres
export PGPASSWORD=$password
export PREFECTDB_PG_SOCKET=$sockdir
ENV
}

cmd_destroy() {
    cmd_stop || true
    rm -rf "$data" "$sockdir" "$logfile"
    echo "pgcluster: removed $data"
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) cmd_env ;;
    destroy) cmd_destroy ;;
    bindir) ensure_server; echo "$bindir" ;;
    *) echo "usage: $0 start|stop|status|env|destroy|bindir" >&2; exit 2 ;;
esac
