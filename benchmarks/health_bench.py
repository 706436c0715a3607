"""How long prefectdb.maintenance.health takes, and whether it grows with the row count.

For each dataset: clone it (CREATE DATABASE ... TEMPLATE), then time
  - ansible-playbook with one ansible.builtin.ping task: Ansible's own start-up;
  - ansible-playbook running the health module with every check, and with the hourly
    subset [disk, connections];
  - the module as its own Python process, as Ansible runs it on the target, without Ansible;
  - the module's checks run in-process (no Ansible), per check;
  - the maintenance guide's own monitoring queries, as a reference (its count(*) on
    events reads the whole table).
First run and the median of the following ones. The clone is dropped at the end.

    flock /tmp/prefectdb-bench.lock .venv/bin/python benchmarks/health_bench.py \
        --port 54331 --dataset bench_10k --dataset bench_200k
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

from benchdb import REPO, connect as connect_to, login, module_play  # sets sys.path for testbed, the collection

# pylint: disable=wrong-import-position
from testbed import run_playbook  # noqa: E402
from ansible_collections.prefectdb.maintenance.plugins.module_utils import health_collectors as hc  # noqa: E402
from ansible_collections.prefectdb.maintenance.plugins.module_utils.health_disk import collect_disk  # noqa: E402
from ansible_collections.prefectdb.maintenance.plugins.module_utils.health_history import (  # noqa: E402
    collect_growth, compact_snapshot,
)
from ansible_collections.prefectdb.maintenance.plugins.module_utils.health_prefect import collect_prefect  # noqa: E402
from ansible_collections.prefectdb.maintenance.plugins.module_utils.health_rules import (  # noqa: E402
    normalize_thresholds,
)

RETENTION = {'events_retention_seconds': 7 * 86400.0, 'flow_run_retention_seconds': 90 * 86400.0,
             'event_retention_overrides': {'prefect.flow-run.heartbeat': 7 * 86400.0}, 'grace_seconds': 86400.0}

# The guide's monitoring queries. The first two are the guide's text (database name
# replaced by current_database()); the others follow the guide's description of the
# checks (its dead-row percentage, autovacuum recency, index usage, events counts).
GUIDE_QUERIES = [
    ('table sizes with row counts', """
        SELECT schemaname, relname AS tablename,
               pg_size_pretty(pg_total_relation_size(schemaname||'.'||relname)) AS total_size,
               to_char(n_live_tup, 'FM999,999,999') AS row_count
          FROM pg_stat_user_tables WHERE schemaname = 'public'
         ORDER BY pg_total_relation_size(schemaname||'.'||relname) DESC LIMIT 20"""),
    ('disk usage', """
        SELECT current_setting('data_directory') AS data_directory,
               pg_size_pretty(pg_database_size(current_database())) AS database_size,
               pg_size_pretty(pg_total_relation_size('public.events')) AS events_table_size,
               pg_size_pretty(pg_total_relation_size('public.log')) AS log_table_size"""),
    ('dead-row percentage', """
        SELECT schemaname, relname, n_live_tup, n_dead_tup,
               round(n_dead_tup * 100.0 / NULLIF(n_live_tup, 0), 2) AS dead_percentage, last_vacuum, last_autovacuum
          FROM pg_stat_user_tables WHERE n_dead_tup > 0 ORDER BY n_dead_tup DESC"""),
    ('autovacuum recency', """
        SELECT schemaname, relname, last_vacuum, last_autovacuum, last_analyze, last_autoanalyze,
               vacuum_count, autovacuum_count
          FROM pg_stat_user_tables ORDER BY last_autovacuum NULLS FIRST"""),
    ('index usage and size', """
        SELECT schemaname, relname, indexrelname, pg_size_pretty(pg_relation_size(indexrelid)) AS index_size, idx_scan
          FROM pg_stat_user_indexes ORDER BY pg_relation_size(indexrelid) DESC"""),
    ('count(*) on events', 'SELECT count(*) FROM events'),
    ('events older than 7 days', "SELECT count(*) FROM events WHERE occurred < now() - interval '7 days'"),
]


def connect(args, dbname):
    return connect_to(args.port, dbname, host=args.host)


def first_and_median(samples):
    return samples[0], statistics.median(samples[1:]) if len(samples) > 1 else samples[0]


def play_seconds(args, dbname, task):
    play = module_play(args.port, dbname, [task], host=args.host)
    started = time.monotonic()
    run = run_playbook([play])
    elapsed = time.monotonic() - started
    if run.rc != 0 or run.result.get('failed'):
        raise SystemExit('play failed: %s %s' % (run.stdout[-2000:], run.stderr[-2000:]))
    return elapsed, run.result


def module_process_seconds(args, dbname):
    """The module as its own Python process (what Ansible runs on the target), without Ansible:
    interpreter start-up, imports, connection and every check."""
    params = login(args.port, dbname, host=args.host)
    with tempfile.NamedTemporaryFile('w', suffix='.json', delete=False) as f:
        json.dump({'ANSIBLE_MODULE_ARGS': params}, f)
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, '.build', 'collections'))
    started = time.monotonic()
    proc = subprocess.run([sys.executable, os.path.join(REPO, 'plugins', 'modules', 'health.py'), f.name],
                          env=env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    os.unlink(f.name)
    if proc.returncode != 0 or json.loads(proc.stdout).get('failed'):
        raise SystemExit('module failed: %s %s' % (proc.stdout[-2000:], proc.stderr[-2000:]))
    return elapsed


def in_process(conn):
    """Each check as the module runs it, timed; a fresh context per run (no caches)."""
    thresholds = normalize_thresholds({})
    ctx = hc.Context(conn, thresholds=thresholds)
    times = {}

    def timed(name, produce):
        started = time.monotonic()
        value = produce()
        times[name] = time.monotonic() - started
        return value

    database = timed('database', lambda: hc.database_facts(ctx))
    timed('tables', lambda: hc.collect_tables(ctx))
    timed('bloat', lambda: hc.collect_bloat(ctx))
    timed('indexes', lambda: hc.collect_indexes(ctx))
    disk = timed('disk', lambda: collect_disk(ctx))
    timed('autovacuum', lambda: hc.collect_autovacuum(ctx))
    timed('connections', lambda: hc.collect_connections(ctx))
    timed('xmin', lambda: hc.collect_xmin(ctx))
    timed('wraparound', lambda: hc.collect_wraparound(ctx))
    timed('checkpoints', lambda: hc.collect_checkpoints(ctx))
    prefect = timed('prefect', lambda: collect_prefect(ctx, RETENTION))
    timed('growth', lambda: collect_growth(conn, True, 'prefectdb_maintenance', 90 * 86400.0, False, False,
                                           compact_snapshot(database['size_bytes'], hc.reported_tables(ctx), disk)))
    times['total'] = sum(times.values())
    return times, prefect


def query_seconds(conn, sql, runs):
    samples = []
    with conn.cursor() as cur:
        for dummy in range(runs):
            started = time.monotonic()
            cur.execute(sql)
            cur.fetchall()
            samples.append(time.monotonic() - started)
    return first_and_median(samples)


def bench(args, dataset):
    name = 'bench_health_%s' % uuid.uuid4().hex[:8]
    admin = connect(args, 'postgres')
    started = time.monotonic()
    with admin.cursor() as cur:
        cur.execute('CREATE DATABASE "%s" TEMPLATE "%s"' % (name, dataset))
    print('# %s cloned as %s in %.0f s' % (dataset, name, time.monotonic() - started), flush=True)
    out = {'dataset': dataset}
    try:
        conn = connect(args, name)
        with conn.cursor() as cur:
            cur.execute("SELECT pg_database_size(current_database()), "
                        "(SELECT reltuples::bigint FROM pg_class WHERE oid = 'public.events'::regclass), "
                        "(SELECT reltuples::bigint FROM pg_class WHERE oid = 'public.flow_run'::regclass)")
            out['size'], out['events'], out['flow_runs'] = cur.fetchone()
        # interleaved, so a change in the machine's load touches every kind of run alike
        samples = dict((key, []) for key in ('startup', 'full', 'hourly', 'process'))
        for dummy in range(args.runs):
            samples['startup'].append(play_seconds(args, name, {'ansible.builtin.ping': {}})[0])
            elapsed, result = play_seconds(args, name, {'prefectdb.maintenance.health': {}})
            samples['full'].append(elapsed)
            samples['hourly'].append(play_seconds(args, name, {'prefectdb.maintenance.health': {
                'checks': ['disk', 'connections']}})[0])
            samples['process'].append(module_process_seconds(args, name))
        for key, values in samples.items():
            out[key] = first_and_median(values)
        out['summary'] = result['summary']
        runs = [in_process(conn) for dummy in range(args.runs)]
        out['checks'] = dict((check, first_and_median([r[0][check] for r in runs])) for check in runs[0][0])
        out['prefect'] = runs[-1][1]
        out['guide'] = [(label, query_seconds(conn, sql, args.guide_runs)) for label, sql in GUIDE_QUERIES]
        conn.close()
    finally:
        with admin.cursor() as cur:
            cur.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)
        admin.close()
    return out


def report(results):
    cols = ' | '.join('%s first / median' % r['dataset'] for r in results)
    print('\n| | %s |' % ' | '.join('%s' % r['dataset'] for r in results))
    print('|---|' + '---|' * len(results))
    print('| database | %s |' % ' | '.join('%.1f GB, %s flow runs, %s events' % (
        r['size'] / 1e9, format(r['flow_runs'], ','), format(r['events'], ',')) for r in results))
    print('\nWhole ansible-playbook runs, seconds (first run / median of the others):\n')
    print('| run | %s |' % cols)
    print('|---|' + '---|' * len(results))
    for key, label in (('startup', 'Ansible start-up (one ping task)'), ('full', 'health, every check'),
                       ('hourly', 'health, checks [disk, connections]'),
                       ('process', 'the module process alone (python health.py args.json), every check')):
        print('| %s | %s |' % (label, ' | '.join('%.2f / %.2f' % r[key] for r in results)))
    print('| health, every check, minus start-up (medians) | %s |' % ' | '.join(
        '%.2f' % (r['full'][1] - r['startup'][1]) for r in results))
    print('\nThe checks in-process (no Ansible), seconds (first / median):\n')
    print('| check | %s |' % cols)
    print('|---|' + '---|' * len(results))
    for check in results[0]['checks']:
        print('| %s | %s |' % (check, ' | '.join('%.3f / %.3f' % r['checks'][check] for r in results)))
    print("\nThe maintenance guide's queries, seconds (first / median):\n")
    print('| query | %s |' % cols)
    print('|---|' + '---|' * len(results))
    for index, (label, dummy) in enumerate(results[0]['guide']):
        print('| %s | %s |' % (label, ' | '.join('%.3f / %.3f' % r['guide'][index][1] for r in results)))
    for r in results:
        print('\n%s: findings %s; prefect flow runs per day (7 d) %s, oldest event %s' % (
            r['dataset'], r['summary'], r['prefect']['flow_runs']['per_day_7d_average'],
            r['prefect']['events']['oldest']))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=54331)
    parser.add_argument('--dataset', action='append', required=True)
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--guide-runs', type=int, default=3)
    args = parser.parse_args()
    results = [bench(args, dataset) for dataset in args.dataset]
    report(results)


if __name__ == '__main__':
    main()
