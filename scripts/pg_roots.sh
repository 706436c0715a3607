#!/usr/bin/env bash
# Debian package roots holding other PostgreSQL majors, for the version matrix.
#   scripts/pg_roots.sh build MAJOR...     build (idempotently) the roots of these majors
#   scripts/pg_roots.sh path MAJOR         print the root of a major (built or not)
#   scripts/pg_roots.sh status [MAJOR...]  what is built, with the package versions
#   scripts/pg_roots.sh remove MAJOR...    delete roots (their clusters must be stopped)
# Majors and the Debian suite that carries each one:
#   17  trixie (Debian 13) + trixie-security
#   18  testing (whatever Debian's testing suite is today; skipped when it carries no postgresql-18)
#   15 is this machine's own (Debian 12): no root; scripts/pgcluster.sh runs it as ever.
# A root is a debootstrap'ed minbase system from deb.debian.org with postgresql-<major>
# (contrib included) and postgresql-<major>-repack when the suite has it, no cluster
# created and no service started. About 1-3 minutes and 300-600 MB each.
# Then the programs of /usr/lib/postgresql/<major>/bin are made to run on this host, not
# in a chroot: patchelf points each one at the root's own dynamic loader and libraries
# (interpreter and DT_RPATH), and PostgreSQL finds its share/ and lib/ relative to its
# binary. So the server runs as the host's postgres user on host paths (pg_ctl, pg_basebackup
# and standbys work as with the host's binaries), and pg_dump, pg_restore and pg_repack read
# and write the host's files. Inside a chroot those programs no longer run.
# scripts/pgcluster.sh runs a cluster from a root with PREFECTDB_PG_ROOT=<root>.
# Settings (environment):
#   PREFECTDB_PG_ROOTS   where roots live (default <repo>/.pg/roots, git-ignored)
#   PREFECTDB_DEBIAN_MIRROR  (default http://deb.debian.org/debian)
# Exit status of build: 0 when every asked major is built, 3 when some major is not
# carried by its suite (reported as "unavailable", the others are built), 1 on errors.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
roots=${PREFECTDB_PG_ROOTS:-$repo/.pg/roots}
mirror=${PREFECTDB_DEBIAN_MIRROR:-http://deb.debian.org/debian}

die() { echo "pg_roots: $*" >&2; exit 1; }
say() { echo "pg_roots: $*" >&2; }

suite_of() {
    case "$1" in
        17) echo trixie ;;
        18) echo testing ;;
        *) die "no Debian suite known for PostgreSQL $1 (known: 17 trixie, 18 testing; 15 is the host's)" ;;
    esac
}

root_of() { echo "$roots/pg$1-$(suite_of "$1")"; }

# the marker a finished root carries: major, suite, and installed package versions
marker() { echo "$1/.prefectdb-root"; }

install_host_tool() {
    command -v "$1" >/dev/null 2>&1 && return
    [ "$(id -u)" = 0 ] || die "$1 is missing: install the Debian package $2."
    say "installing $2"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >/dev/null \
        || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >/dev/null; }
}

# Point every program of the root's bindir at the root's loader and libraries (idempotent).
host_runnable() {
    local root=$1 major=$2 lib loader prog
    lib=$root/usr/lib/x86_64-linux-gnu
    loader=$lib/ld-linux-x86-64.so.2
    [ -e "$loader" ] || die "no dynamic loader at $loader (only amd64 roots are supported)."
    install_host_tool patchelf patchelf
    for prog in "$root/usr/lib/postgresql/$major/bin/"*; do
        if [ ! -f "$prog" ] || [ -L "$prog" ]; then continue; fi
        [ "$(head -c 4 "$prog" | od -An -c | tr -d ' ')" = '177ELF' ] || continue
        patchelf --print-interpreter "$prog" >/dev/null 2>&1 || continue  # no interpreter: nothing to do
        if [ "$(patchelf --print-interpreter "$prog")" != "$loader" ] || [ "$(patchelf --print-rpath "$prog")" != "$lib" ]; then
            patchelf --set-interpreter "$loader" --force-rpath --set-rpath "$lib" "$prog"
        fi
    done
    "$root/usr/lib/postgresql/$major/bin/postgres" --version >/dev/null \
        || die "$root/usr/lib/postgresql/$major/bin/postgres does not run on this host after patchelf."
}

in_root() {
    local root=$1; shift
    chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
        DEBIAN_FRONTEND=noninteractive "$@"
}

mount_proc() {
    local root=$1
    mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
}

umount_proc() {
    local root=$1
    if mountpoint -q "$root/proc"; then umount "$root/proc" || umount -l "$root/proc"; fi
}

build_one() {
    local major=$1 suite root
    suite=$(suite_of "$major")
    root=$(root_of "$major")
    if [ -f "$(marker "$root")" ] && grep -q "^major=$major$" "$(marker "$root")"; then
        host_runnable "$root" "$major"
        say "PostgreSQL $major: $root is ready ($(sed -n 's/^server=//p' "$(marker "$root")"))"
        return 0
    fi
    [ "$(id -u)" = 0 ] || die "building a root needs root (debootstrap, chroot)."
    install_host_tool debootstrap debootstrap
    mkdir -p "$roots"
    if [ ! -x "$root/usr/bin/apt-get" ] || [ ! -f "$root/.debootstrap-done" ]; then
        say "PostgreSQL $major: debootstrap $suite into $root (a minute or two)"
        rm -rf "$root"
        # the suite's script may be missing from an old debootstrap: testing and trixie share sid's
        local script=/usr/share/debootstrap/scripts/$suite
        [ -e "$script" ] || script=/usr/share/debootstrap/scripts/sid
        debootstrap --variant=minbase "$suite" "$root" "$mirror" "$script" > "$roots/debootstrap-$major.log" 2>&1 \
            || { tail -n 20 "$roots/debootstrap-$major.log" >&2; die "debootstrap of $suite failed (log above: $roots/debootstrap-$major.log)"; }
        touch "$root/.debootstrap-done"
    fi
    # apt sources: the suite, plus security updates for a stable release
    {
        echo "deb $mirror $suite main"
        [ "$suite" = testing ] || echo "deb ${mirror%/debian}/debian-security $suite-security main"
    } > "$root/etc/apt/sources.list"
    # no cluster of Debian's own, no service started inside the root
    mkdir -p "$root/etc/postgresql-common/createcluster.d"
    echo "create_main_cluster = false" > "$root/etc/postgresql-common/createcluster.d/prefectdb.conf"
    printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
    chmod 755 "$root/usr/sbin/policy-rc.d"
    cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
    # a mirror's testing Release can lag this machine's clock past its Valid-Until (a week):
    # signatures are still checked, only that freshness date is not
    echo 'Acquire::Check-Valid-Until "false";' > "$root/etc/apt/apt.conf.d/99prefectdb"

    mount_proc "$root"
    # shellcheck disable=SC2064  # the root is fixed now
    trap "umount_proc '$root'" EXIT
    in_root "$root" apt-get update -q > "$roots/apt-$major.log" 2>&1 \
        || { tail -n 20 "$roots/apt-$major.log" >&2; die "apt-get update in $root failed"; }
    if ! in_root "$root" apt-cache show "postgresql-$major" >/dev/null 2>&1; then
        umount_proc "$root"; trap - EXIT
        say "PostgreSQL $major: unavailable, Debian's $suite suite carries no postgresql-$major package"
        return 3
    fi
    local packages=("postgresql-$major" "postgresql-client-$major")
    if in_root "$root" apt-cache show "postgresql-$major-repack" >/dev/null 2>&1; then
        packages+=("postgresql-$major-repack")
    else
        say "PostgreSQL $major: $suite has no postgresql-$major-repack; mode=repack cannot be tested on $major"
    fi
    say "PostgreSQL $major: installing ${packages[*]} in $root"
    in_root "$root" apt-get install -y -q --no-install-recommends "${packages[@]}" >> "$roots/apt-$major.log" 2>&1 \
        || { tail -n 20 "$roots/apt-$major.log" >&2; die "installing ${packages[*]} in $root failed"; }
    in_root "$root" apt-get clean
    umount_proc "$root"; trap - EXIT
    [ -x "$root/usr/lib/postgresql/$major/bin/postgres" ] || die "no server binaries in $root/usr/lib/postgresql/$major/bin"
    host_runnable "$root" "$major"
    {
        echo "major=$major"
        echo "suite=$suite"
        echo "server=$("$root/usr/lib/postgresql/$major/bin/postgres" --version)"
        echo "repack=$(in_root "$root" dpkg-query -W -f "\${Version}" "postgresql-$major-repack" 2>/dev/null || echo none)"
        echo "built=$(date -u +%Y-%m-%dT%H:%MZ)"
    } > "$(marker "$root")"
    say "PostgreSQL $major: $root is ready ($(sed -n 's/^server=//p' "$(marker "$root")"))"
}

cmd_build() {
    [ $# -gt 0 ] || die "usage: $0 build MAJOR... (17, 18)"
    local status=0 rc
    for major in "$@"; do
        # a subshell of its own, errexit intact (an `||` would switch it off inside)
        set +e
        ( set -e; build_one "$major" )
        rc=$?
        set -e
        if [ "$rc" = 3 ]; then status=3; elif [ "$rc" != 0 ]; then exit "$rc"; fi
    done
    exit "$status"
}

cmd_status() {
    local majors=("$@")
    [ ${#majors[@]} -gt 0 ] || majors=(17 18)
    for major in "${majors[@]}"; do
        local root
        root=$(root_of "$major")
        if [ -f "$(marker "$root")" ]; then
            echo "$major: $root $(sed -n 's/^server=//p' "$(marker "$root")"), pg_repack $(sed -n 's/^repack=//p' "$(marker "$root")") ($(du -sh "$root" 2>/dev/null | cut -f1))"
        else
            echo "$major: not built ($root)"
        fi
    done
}

cmd_remove() {
    for major in "$@"; do
        local root
        root=$(root_of "$major")
        [ -d "$root" ] || continue
        local exe pids=()
        for exe in /proc/[0-9]*/exe; do
            case "$(readlink "$exe" 2>/dev/null)" in "$root"/*) exe=${exe#/proc/}; pids+=("${exe%/exe}") ;; esac
        done
        [ ${#pids[@]} = 0 ] || die "programs of $root still run (pids ${pids[*]}): stop its clusters first (PREFECTDB_PG_ROOT=$root PREFECTDB_PG_DIR=... scripts/pgcluster.sh stop)"
        umount_proc "$root"
        rm -rf "$root"
        echo "pg_roots: removed $root"
    done
}

case "${1:-}" in
    build) shift; cmd_build "$@" ;;
    path) [ $# = 2 ] || die "usage: $0 path MAJOR"; root_of "$2" ;;
    status) shift; cmd_status "$@" ;;
    remove) shift; cmd_remove "$@" ;;
    *) echo "usage: $0 build|path|status|remove MAJOR..." >&2; exit 2 ;;
esac
