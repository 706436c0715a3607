#!/usr/bin/env bash
# Debian packages the integration tests use beyond the PostgreSQL server itself:
# pg_repack (server extension + client) for the server major scripts/pgcluster.sh runs,
# and chromium, in which the HTML report is opened.
# Installs them when running as root with apt-get; otherwise says what to install.
# Installing can upgrade the PostgreSQL packages, so clusters started before are restarted.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bindir=$("$here/pgcluster.sh" bindir)
major=$("$bindir/postgres" --version | sed -E 's/.* ([0-9]+)\..*/\1/')
pkg=postgresql-$major-repack

missing=()
[ -x "$bindir/pg_repack" ] || [ -x "/usr/lib/postgresql/$major/bin/pg_repack" ] || missing+=("$pkg")
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_packages: missing ${missing[*]}; install them (e.g. sudo apt-get install ${missing[*]}) for the repack and report tests." >&2
    exit 1
fi
echo "ensure_packages: installing ${missing[*]}"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null \
    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null; }
[[ " ${missing[*]} " == *" $pkg "* ]] || exit 0
# restart what runs on the old binaries
for dir in "$here"/../.pg/*/ /var/tmp/prefectdb-pg-*/; do
    [ -f "$dir/data/postmaster.pid" ] || continue
    port=$(sed -n 4p "$dir/data/postmaster.pid")
    PREFECTDB_PG_DIR=${dir%/} PREFECTDB_PG_PORT=$port "$here/pgcluster.sh" stop
    PREFECTDB_PG_DIR=${dir%/} PREFECTDB_PG_PORT=$port "$here/pgcluster.sh" start
done
