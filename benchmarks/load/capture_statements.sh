#!/usr/bin/env bash
# Capture the SQL a real Prefect 3.9.1 server sends, to model the load generator on.
#   benchmarks/load/capture_statements.sh [out.sql]     (default benchmarks/load/captured_statements.sql)
# A throwaway PostgreSQL cluster (port 54339, data in a temp dir, log_statement = all),
# `prefect server start` against it, one flow run of 10 short tasks
# (benchmarks/load/prefect_flow.py), then the UI's common reads through the REST API:
# recent flow runs by state, the logs of a run, events of a time range, the task runs
# of a flow run. The distinct statements of the log are written to out.sql; the
# cluster is destroyed afterwards.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=${1:-$repo/benchmarks/load/captured_statements.sql}
port=54339
api_port=4299
tmp=$(mktemp -d /tmp/prefect-capture.XXXXXX)
[ "$(id -u)" = 0 ] && chmod 755 "$tmp"
export PREFECTDB_PG_PORT=$port PREFECTDB_PG_DIR=$tmp/pg PREFECTDB_PG_FAST=1
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill -- -"$server_pid" 2>/dev/null || true
    "$repo/scripts/pgcluster.sh" destroy >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT
"$repo/scripts/pgcluster.sh" start
bindir=$("$repo/scripts/pgcluster.sh" bindir)
datadir=$tmp/pg/data
[ -d "$datadir" ] || datadir=/var/tmp/prefectdb-pg-$port/data   # where pgcluster.sh puts it when postgres cannot reach $tmp
printf "log_statement = 'all'\nlog_line_prefix = '%%m [%%p] '\n" | \
    { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- tee -a "$datadir/postgresql.conf"; else tee -a "$datadir/postgresql.conf"; fi; } >/dev/null
if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$bindir/pg_ctl" -D "$datadir" reload >/dev/null
else "$bindir/pg_ctl" -D "$datadir" reload >/dev/null; fi
logfile=$(dirname "$datadir")/server.log
PGPASSWORD=prefectdb-local "$bindir/psql" -X -q -h 127.0.0.1 -p $port -U postgres -d postgres -c 'CREATE DATABASE prefect'

export PREFECT_HOME=$tmp/home
export PREFECT_API_DATABASE_CONNECTION_URL=postgresql+asyncpg://postgres:prefectdb-local@127.0.0.1:$port/prefect
export PREFECT_UI_ENABLED=false PREFECT_SERVER_ANALYTICS_ENABLED=false
setsid "$repo/.venv-prefect/bin/prefect" server start --host 127.0.0.1 --port $api_port >"$tmp/server.out" 2>&1 &
server_pid=$!
api=http://127.0.0.1:$api_port/api
for _ in $(seq 1 120); do curl -sf "$api/health" >/dev/null && break; sleep 1; done
curl -sf "$api/health" >/dev/null || { tail -20 "$tmp/server.out" >&2; exit 1; }
sleep 5
start=$(wc -c < "$logfile")
PREFECT_API_URL=$api "$repo/.venv-prefect/bin/python" "$repo/benchmarks/load/prefect_flow.py" --runs 1 --tasks 10 \
    --out "$tmp/flow.jsonl"
sleep 10
run=$(PGPASSWORD=prefectdb-local "$bindir/psql" -X -tA -h 127.0.0.1 -p $port -U postgres -d prefect -c 'SELECT id FROM flow_run LIMIT 1')
post() { curl -sf -X POST "$api/$1" -H 'content-type: application/json' -d "$2" >/dev/null; }
post flow_runs/filter '{"flow_runs": {"state": {"type": {"any_": ["COMPLETED", "FAILED"]}}}, "sort": "START_TIME_DESC", "limit": 50}'
post logs/filter "{\"logs\": {\"flow_run_id\": {\"any_\": [\"$run\"]}}, \"sort\": \"TIMESTAMP_ASC\", \"limit\": 200}"
post events/filter "{\"filter\": {\"occurred\": {\"since\": \"$(date -u -d '-1 day' +%FT%TZ)\", \"until\": \"$(date -u +%FT%TZ)\"}, \"order\": \"DESC\"}, \"limit\": 50}"
post task_runs/filter "{\"flow_runs\": {\"id\": {\"any_\": [\"$run\"]}}, \"sort\": \"EXPECTED_START_TIME_DESC\", \"limit\": 200}"
curl -sf "$api/flow_runs/$run" >/dev/null
sleep 2
tail -c +$((start + 1)) "$logfile" > "$tmp/statements.log"
"$repo/.venv/bin/python" - "$tmp/statements.log" "$out" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
entries = re.split(r'\n(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \w+ \[)', text)
seen, out = set(), []
for entry in entries:
    m = re.search(r'LOG:  execute [^:]*: (.*)', entry, re.S)
    if not m:
        continue
    sql = re.sub(r'\n\t', '\n', m.group(1)).strip()
    if 'typeinfo_tree' in sql or "set_config('jit'" in sql or "current_setting('jit')" in sql:
        continue  # asyncpg's own type introspection
    # one entry per statement shape: multi-row VALUES lists differ only in their length
    key = re.sub(r'\), \(\$\d+.*', ')...', re.sub(r'\s+', ' ', sql))
    if key in seen:
        continue
    seen.add(key)
    out.append(sql)
with open(sys.argv[2], 'w') as f:
    f.write('-- Statements a Prefect 3.9.1 server sent to PostgreSQL 15 for one flow run of 10 short tasks\n'
            '-- and the UI\'s common reads, in the order first seen (benchmarks/load/capture_statements.sh).\n'
            '-- Multi-row INSERTs are shown once, as first seen.\n\n')
    for sql in out:
        f.write(sql + ';\n\n')
print('%d distinct statements written to %s' % (len(out), sys.argv[2]))
PY
