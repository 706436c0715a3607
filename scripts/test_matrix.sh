#!/usr/bin/env bash
# The integration tests on each PostgreSQL major: `make test-matrix`.
#   scripts/test_matrix.sh [MAJOR...]        default: 15 17 18
# 15 is this machine's own server (Debian 12); 17 (Debian 13 trixie) and 18 (Debian
# testing) come from package roots that scripts/pg_roots.sh builds (idempotently; a
# major that Debian's suite does not carry is skipped with a message). Each major gets
# a cluster of its own: port 544<major>, data .pg/test-pg<major>, removed after its run
# (PREFECTDB_MATRIX_KEEP=1 keeps it). The shared test cluster (54330) is never touched.
# Settings (environment):
#   MATRIX_PYTEST_ARGS     extra pytest arguments, e.g. "-k vacuum" or "tests/integration/test_versions.py"
#   PREFECTDB_MATRIX_PORT_BASE  cluster ports are base + major (default 54400: 54415, 54417, 54418)
#   PREFECTDB_MATRIX_LOCK  a file each major's run holds with flock, so heavy runs on a
#                          shared machine take turns (default /tmp/prefectdb-bench.lock; empty: none)
# Logs and JUnit files: .pg/matrix/<major>.log, .pg/matrix/<major>.xml; the summary table
# (passed/failed/errors/skipped and wall time per major) is printed and kept in
# .pg/matrix/summary.md. Exit status 1 when any major failed.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo" || exit 1
majors=("$@")
[ ${#majors[@]} -gt 0 ] || majors=(15 17 18)
out=$repo/.pg/matrix
mkdir -p "$out"
lock=${PREFECTDB_MATRIX_LOCK-/tmp/prefectdb-bench.lock}
port_base=${PREFECTDB_MATRIX_PORT_BASE:-54400}
python=$repo/.venv/bin/python
read -r -a pytest_args <<< "${MATRIX_PYTEST_ARGS:-tests/integration}"
[[ " ${pytest_args[*]} " == *" tests/"* ]] || pytest_args=(tests/integration "${pytest_args[@]}")
host_major=$("$(scripts/pgcluster.sh bindir)/postgres" --version | sed -E 's/.* ([0-9]+)\..*/\1/')

summary=$out/summary.md
{
    echo "| PostgreSQL | server | passed | failed | errors | skipped | wall time |"
    echo "|---|---|---|---|---|---|---|"
} > "$summary.tmp"
status=0

run_major() {
    local major=$1 root="" env=() server start end rc
    if [ "$major" != "$host_major" ]; then
        rc=0
        scripts/pg_roots.sh build "$major" || rc=$?
        if [ "$rc" = 3 ]; then
            echo "| $major | not carried by Debian ($(scripts/pg_roots.sh path "$major" | sed 's/.*-//')) | skipped | | | | |" >> "$summary.tmp"
            echo "test_matrix: PostgreSQL $major skipped: Debian's suite carries no postgresql-$major package."
            return 0
        elif [ "$rc" != 0 ]; then
            echo "| $major | root not built | | | | | |" >> "$summary.tmp"
            status=1
            return 0
        fi
        root=$(scripts/pg_roots.sh path "$major")
        env+=(PREFECTDB_PG_ROOT="$root")
    fi
    env+=(PREFECTDB_PG_PORT=$((port_base + major)) PREFECTDB_PG_DIR="$repo/.pg/test-pg$major" PREFECTDB_PG_FAST=1)
    if ! server=$(env "${env[@]}" scripts/pgcluster.sh start); then
        echo "| $major | cluster did not start on port $((port_base + major)) (is the port taken?) | | | | | |" >> "$summary.tmp"
        status=1
        return 0
    fi
    echo "test_matrix: $server"
    server=$(echo "$server" | sed -E 's/.*PostgreSQL ([0-9.]+).*/\1/')
    start=$(date +%s)
    rc=0
    env "${env[@]}" "$repo/.venv/bin/pytest" -q -p no:cacheprovider --junitxml="$out/$major.xml" \
        "${pytest_args[@]}" 2>&1 | tee "$out/$major.log" || rc=$?
    end=$(date +%s)
    [ "$rc" = 0 ] || status=1
    "$python" - "$out/$major.xml" "$major" "$server" $((end - start)) >> "$summary.tmp" <<'PY'
import sys
import xml.etree.ElementTree as ET
path, major, server, seconds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
try:
    root = ET.parse(path).getroot()
    suite = root if root.tag == 'testsuite' else root.find('testsuite')
    tests, failures, errors, skipped = (int(suite.get(k, 0)) for k in ('tests', 'failures', 'errors', 'skipped'))
    passed = tests - failures - errors - skipped
except (OSError, ET.ParseError, AttributeError):
    passed = failures = errors = skipped = '?'
print('| %s | %s | %s | %s | %s | %s | %dm%02ds |' % (major, server, passed, failures, errors, skipped,
                                                     seconds // 60, seconds % 60))
PY
    if [ "${PREFECTDB_MATRIX_KEEP:-0}" != 1 ]; then
        env "${env[@]}" scripts/pgcluster.sh destroy >/dev/null
    fi
}

for major in "${majors[@]}"; do
    echo "test_matrix: === PostgreSQL $major ==="
    if [ -n "$lock" ]; then
        exec 9>"$lock"
        echo "test_matrix: waiting for $lock" >&2
        flock 9
    fi
    run_major "$major"
    [ -z "$lock" ] || { flock -u 9; exec 9>&-; }
done

mv "$summary.tmp" "$summary"
echo
echo "test_matrix: pytest ${pytest_args[*]}"
cat "$summary"
exit "$status"
