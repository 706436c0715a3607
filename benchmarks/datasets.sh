#!/usr/bin/env bash
# Benchmark datasets: template databases of synthetic history on a dedicated cluster
# (port 54331, data in .pg/bench, fsync on: benchmarks measure real durability costs).
#   benchmarks/datasets.sh 10000 20000 200000      -> databases bench_10k, bench_20k, bench_200k
# Each is built once (seed 1, 180 days, history ending 2026-11-27 00:00 UTC) and then
# cloned per run with CREATE DATABASE ... TEMPLATE bench_<n>k.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PREFECTDB_PG_PORT=${PREFECTDB_PG_PORT:-54331}
export PREFECTDB_PG_DIR=${PREFECTDB_PG_DIR:-$repo/.pg/bench}
export PREFECTDB_PG_FAST=0
"$repo/scripts/pgcluster.sh" start
eval "$("$repo/scripts/pgcluster.sh" env)"
"$repo/scripts/prefect_schema.sh" prefect_template
for n in "$@"; do
    name=bench_$((n / 1000))k
    if psql -X -tAq -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$name'" | grep -q 1; then
        echo "datasets: $name exists"
        continue
    fi
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS ${name}_building" -c "CREATE DATABASE ${name}_building TEMPLATE prefect_template"
    "$repo/.venv/bin/python" "$repo/scripts/synth_history.py" --db "${name}_building" --flow-runs "$n" --days 180 --seed 1 \
        --now 2026-11-27T00:00:00+00:00
    psql -X -q -d postgres -c "ALTER DATABASE ${name}_building RENAME TO $name" \
        -c "UPDATE pg_database SET datistemplate = true WHERE datname = '$name'"
done
