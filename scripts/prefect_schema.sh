#!/usr/bin/env bash
# Build a template database holding the real schema of a pinned Prefect release,
# made by Prefect's own migrations (`prefect server database upgrade -y`).
#   scripts/prefect_schema.sh [template-name]        (default prefect_template)
# Prefect runs from its own virtualenv (.venv-prefect, requirements-prefect.txt)
# so its dependencies never clash with ansible-core's. Connection: PGHOST, PGPORT,
# PGUSER, PGPASSWORD of the private cluster (scripts/pgcluster.sh env).
# The template is rebuilt only when missing or when its revision is not the
# one the pinned Prefect writes.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
template=${1:-prefect_template}
venv=${PREFECTDB_PREFECT_VENV:-$repo/.venv-prefect}
python=${PYTHON:-python3}
: "${PGHOST:?set the connection first: eval \"\$(scripts/pgcluster.sh env)\"}"

if [ ! -x "$venv/bin/prefect" ] || ! cmp -s "$repo/requirements-prefect.txt" "$venv/.requirements"; then
    echo "prefect_schema: installing Prefect into $venv (about a minute)"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$repo/requirements-prefect.txt"
    cp "$repo/requirements-prefect.txt" "$venv/.requirements"
fi

psql_q() { psql -X -q -t -A -v ON_ERROR_STOP=1 -d postgres "$@"; }

# Stamp the template with the Prefect version that built it.
wanted=$("$venv/bin/python" -c 'import prefect; print(prefect.__version__)')
have=$(psql_q -c "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '$template'")
if [ "$have" = "prefect $wanted" ]; then
    echo "prefect_schema: $template already holds the schema of Prefect $wanted"
    exit 0
fi

psql_q -c "UPDATE pg_database SET datistemplate = false WHERE datname = '$template'" >/dev/null
psql_q -c "DROP DATABASE IF EXISTS $template" 2>/dev/null
psql_q -c "CREATE DATABASE $template"
export PREFECT_HOME=${PREFECT_HOME:-$repo/.cache/prefect-home}
export PREFECT_API_DATABASE_CONNECTION_URL="postgresql+asyncpg://${PGUSER:-postgres}:${PGPASSWORD:-}@${PGHOST}:${PGPORT:-5432}/$template"
mkdir -p "$PREFECT_HOME"
"$venv/bin/prefect" server database upgrade -y >/dev/null
psql_q -c "COMMENT ON DATABASE $template IS 'prefect $wanted'"
psql_q -c "UPDATE pg_database SET datistemplate = true WHERE datname = '$template'" >/dev/null
revision=$(psql_q -d "$template" -c "SELECT version_num FROM alembic_version")
echo "prefect_schema: $template built by Prefect $wanted's migrations (revision $revision)"
