"""Run Prefect 3.9.1's own db vacuum functions on a database, with a pinned clock,
until a whole cycle changes nothing. The reference the retention module is held to.

Runs under .venv-prefect/bin/python (Prefect's own virtualenv), never imported by
the tests: they call it in a subprocess (see run_reference below, which runs in the
test's interpreter).

    .venv-prefect/bin/python tests/integration/prefect_reference.py \
        --url postgresql+asyncpg://postgres:PASSWORD@127.0.0.1:54330/DB --now 2026-01-01T00:00:00Z \
        --settings '{"enabled": ["events", "flow_runs"], "retention_period": 7776000}'

Prints JSON: seconds per function (summed over cycles), cycles, rows deleted per table.
"""
import asyncio
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time

TABLES = ('flow_run', 'flow_run_state', 'task_run', 'task_run_state', 'flow_run_input', 'log', 'artifact',
          'artifact_collection', 'events', 'event_resources')


def snapshot(cluster, dbname):
    """{table: {id: md5 of the whole row}} for every table retention touches."""
    conn = cluster.connect(dbname)
    try:
        with conn.cursor() as cur:
            rows = {}
            for table in TABLES:
                cur.execute('SELECT id::text, md5(t::text) FROM %s t' % table)
                rows[table] = dict(cur.fetchall())
            return rows
    finally:
        conn.close()


def differences(expected, actual):
    """Readable differences between two snapshots, table by table, by id; [] when identical."""
    found = []
    for table in TABLES:
        a, b = expected[table], actual[table]
        missing = sorted(set(a) - set(b))
        extra = sorted(set(b) - set(a))
        changed = sorted(k for k in set(a) & set(b) if a[k] != b[k])
        for label, ids in (('deleted but kept by Prefect', missing), ('kept but deleted by Prefect', extra),
                           ('content differs', changed)):
            if ids:
                found.append('%s: %d rows %s, e.g. %s' % (table, len(ids), label, ', '.join(ids[:3])))
    return found


def reference_url(cluster, dbname, password):
    return 'postgresql+asyncpg://postgres:%s@%s:%d/%s' % (password, cluster.host, cluster.port, dbname)


def settings_env(url, settings, home):
    """Prefect's settings as its environment variables."""
    env = {
        'PREFECT_HOME': home,
        'PREFECT_API_DATABASE_CONNECTION_URL': url,
        'PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED': ','.join(settings.get('enabled', ['events'])),
        'PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD': str(int(settings.get('retention_period', 90 * 86400))),
        'PREFECT_SERVER_SERVICES_DB_VACUUM_BATCH_SIZE': str(int(settings.get('batch_size', 200))),
        'PREFECT_SERVER_EVENTS_RETENTION_PERIOD': 'PT%dS' % int(settings.get('events_retention_period', 7 * 86400)),
        'PREFECT_LOGGING_LEVEL': 'WARNING',
    }
    overrides = settings.get('event_retention_overrides')
    if overrides is not None:
        env['PREFECT_SERVER_SERVICES_DB_VACUUM_EVENT_RETENTION_OVERRIDES'] = json.dumps(
            dict((k, int(v)) for k, v in overrides.items()))
    return env


def run_reference(python, url, now, settings, timeout=3600):
    """From a test (any interpreter): run this script under Prefect's interpreter."""
    with tempfile.TemporaryDirectory(prefix='prefect-home-') as home:
        env = dict(os.environ)
        env.update(settings_env(url, settings, home))
        proc = subprocess.run([python, os.path.abspath(__file__), '--url', url, '--now', now,
                               '--settings', json.dumps(settings)],
                              env=env, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError('prefect_reference failed (rc %d):\n%s\n%s' % (proc.returncode, proc.stdout, proc.stderr))
    return json.loads(proc.stdout)


async def _counts(db):
    import sqlalchemy as sa
    async with db.session_context() as session:
        counts = {}
        for table in TABLES:
            counts[table] = (await session.execute(sa.text('SELECT count(*) FROM %s' % table))).scalar_one()
        return counts


async def _main(now, settings):
    from prefect.server.database import provide_database_interface
    from prefect.server.services import db_vacuum
    from prefect.settings.context import get_current_settings

    pinned = now
    db_vacuum.now = lambda tz='UTC': pinned  # Prefect calls now("UTC")
    types = get_current_settings().server.services.db_vacuum.enabled_vacuum_types
    functions = []
    # the order of one cycle of Prefect's three perpetual services
    if 'orphans' in types:
        functions += [db_vacuum.vacuum_orphaned_logs, db_vacuum.vacuum_orphaned_artifacts,
                      db_vacuum.vacuum_stale_artifact_collections]
    if 'flow_runs' in types:
        functions += [db_vacuum.vacuum_old_flow_runs]
    if 'events' in types:
        functions += [db_vacuum.vacuum_events_with_retention_overrides, db_vacuum.vacuum_old_events]
    db = provide_database_interface()
    before = await _counts(db)
    seconds = dict((f.__name__, 0.0) for f in functions)
    cycles = 0
    counts = before
    began = time.monotonic()
    while True:
        cycles += 1
        for function in functions:
            start = time.monotonic()
            await function(db=db)
            seconds[function.__name__] += time.monotonic() - start
        after = await _counts(db)
        if after == counts or cycles >= 10:
            break
        counts = after
    total = time.monotonic() - began
    return {
        'types': sorted(types),
        'cycles': cycles,
        'seconds': round(total, 3),
        'function_seconds': dict((k, round(v, 3)) for k, v in seconds.items()),
        'deleted': dict((t, before[t] - after[t]) for t in TABLES if before[t] != after[t]),
    }


def main():
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument('--url', required=True)
    parser.add_argument('--now', required=True)
    parser.add_argument('--settings', default='{}')
    args = parser.parse_args()
    settings = json.loads(args.settings)
    home = None
    if 'PREFECT_HOME' not in os.environ:
        home = tempfile.mkdtemp(prefix='prefect-home-')
        os.environ.update(settings_env(args.url, settings, home))
    now = datetime.datetime.fromisoformat(args.now.replace('Z', '+00:00'))
    result = asyncio.run(_main(now, settings))
    json.dump(result, sys.stdout)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main()
