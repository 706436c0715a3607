"""Retention benchmark: the retention module, Prefect 3.9.1's own vacuum functions run
to completion, and the set-based floor, each on a fresh clone of a benchmark dataset,
with default settings (events, flow_runs; 90 days; events 7 days; heartbeats 7 days)
and the dataset's own `now`.

    flock /tmp/prefectdb-bench.lock .venv/bin/python benchmarks/retention_bench.py \
        --dataset bench_20k --runs module,floor,prefect [--repeat 3] [--ref HEAD]

Prints one JSON document with every figure, and checks that the three leave the same
number of rows in every table. Clones are dropped afterwards (one at a time exists).
"""
import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from benchdb import REPO, dsn, module_play, prefect_database_url, sql  # sets sys.path for testbed, prefect_reference

# pylint: disable=wrong-import-position
from prefect_reference import TABLES, run_reference  # noqa: E402
from retention_floor import run_floor  # noqa: E402
from testbed import run_playbook  # noqa: E402

SETTINGS = {'enabled': ['events', 'flow_runs'], 'retention_period': 90 * 86400, 'events_retention_period': 7 * 86400,
            'event_retention_overrides': {'prefect.flow-run.heartbeat': 7 * 86400}, 'batch_size': 200}


def clone(port, template, name):
    sql(port, 'postgres', 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)
    began = time.monotonic()
    sql(port, 'postgres', 'CREATE DATABASE "%s" TEMPLATE "%s" STRATEGY = FILE_COPY' % (name, template))
    sql(port, name, 'CHECKPOINT')
    return round(time.monotonic() - began, 1)


def counts(port, dbname):
    return dict((t, sql(port, dbname, 'SELECT count(*) FROM %s' % t)[0][0]) for t in TABLES)


def size(port, dbname):
    return sql(port, dbname, 'SELECT pg_database_size(current_database())')[0][0]


def cleanup_figures(cleanup):
    keys = ('seconds', 'batches', 'batch_seconds', 'rows_per_second', 'deleted', 'updated', 'status', 'retries',
            'strategy', 'walks')
    return dict((k, cleanup[k]) for k in keys if k in cleanup)


def snapshot_collection(ref):
    """The collection as committed at `ref`, in a directory of its own: the checkout is
    shared, and a benchmark must measure one known version of the module."""
    root = tempfile.mkdtemp(prefix='retention-bench-')
    dest = os.path.join(root, 'ansible_collections', 'prefectdb', 'maintenance')
    os.makedirs(dest)
    archive = subprocess.run(['git', '-C', REPO, 'archive', ref], check=True, capture_output=True).stdout
    subprocess.run(['tar', '-x', '-C', dest], input=archive, check=True)
    commit = subprocess.run(['git', '-C', REPO, 'rev-parse', '--short', ref], check=True, capture_output=True,
                            text=True).stdout.strip()
    return root, commit


def run_module(port, dbname, now, extra=None, collections=None):
    args = {'enabled': SETTINGS['enabled'], 'now': now}
    args.update(extra or {})
    play = [module_play(port, dbname, [{'name': 'module under test', 'prefectdb.maintenance.retention': args}])]
    began = time.monotonic()
    run = run_playbook(play, timeout=7200, env={'ANSIBLE_COLLECTIONS_PATH': collections} if collections else None)
    wall = time.monotonic() - began
    result = run.result
    if run.rc != 0 or result.get('failed'):
        raise RuntimeError('module failed: %s\n%s' % (result.get('msg'), run.stdout[-3000:]))
    batches = list(result['cleanups'].values())
    return {
        'seconds': result['seconds'],
        'wall_seconds_with_ansible': round(wall, 2),
        'peak_memory_kb': result['peak_memory_kb'],
        'max_batch_seconds': max(c['batch_seconds']['max'] or 0 for c in batches),
        'p95_batch_seconds': max(c['batch_seconds']['p95'] or 0 for c in batches),
        'batches': sum(c['batches'] for c in batches),
        'cleanups': dict((name, cleanup_figures(c)) for name, c in result['cleanups'].items()),
        'deleted': result['deleted'],
    }


def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else round((ordered[middle - 1] + ordered[middle]) / 2, 3)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--dataset', required=True)
    parser.add_argument('--port', type=int, default=54331)
    parser.add_argument('--now', default='2026-11-27T00:00:00Z')
    parser.add_argument('--runs', default='module,floor,prefect')
    parser.add_argument('--module-args', default='{}', help='extra module options, JSON')
    parser.add_argument('--repeat', type=int, default=1, help='run the list this many times, interleaved')
    parser.add_argument('--ref', default='HEAD', help='the git commit of the module to measure (default HEAD)')
    args = parser.parse_args()
    now = datetime.datetime.fromisoformat(args.now.replace('Z', '+00:00'))
    collections, commit = snapshot_collection(args.ref)
    report = {'dataset': args.dataset, 'now': args.now, 'settings': SETTINGS, 'commit': commit,
              'module_args': json.loads(args.module_args),
              'size_bytes': size(args.port, args.dataset), 'before': counts(args.port, args.dataset), 'runs': {}}
    remaining = {}
    order = args.runs.split(',') * args.repeat
    for what in order:
        name = 'ret_bench_%s' % what
        clone_seconds = clone(args.port, args.dataset, name)
        try:
            if what == 'module':
                figures = run_module(args.port, name, args.now, json.loads(args.module_args), collections)
            elif what == 'floor':
                figures = run_floor(dsn(args.port, name), now)
            elif what == 'prefect':
                url = prefect_database_url(args.port, name)
                figures = run_reference(os.path.join(REPO, '.venv-prefect', 'bin', 'python'), url, args.now, SETTINGS,
                                        timeout=4 * 3600)
            else:
                raise SystemExit('unknown run %r' % what)
            figures['clone_seconds'] = clone_seconds
            remaining.setdefault(what, counts(args.port, name))
            report['runs'].setdefault(what, []).append(figures)
            print('%s: %s s' % (what, figures['seconds']), file=sys.stderr)
        finally:
            sql(args.port, 'postgres', 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)
    report['remaining'] = remaining
    report['same_rows_left'] = len(set(json.dumps(v, sort_keys=True) for v in remaining.values())) <= 1
    medians = dict((what, median([r['seconds'] for r in runs])) for what, runs in report['runs'].items())
    report['median_seconds'] = medians
    if 'floor' in medians:
        report['x_floor'] = dict((what, round(medians[what] / medians['floor'], 2)) for what in medians)
    if 'module' in medians and 'prefect' in medians:
        report['prefect_over_module'] = round(medians['prefect'] / medians['module'], 1)
    shutil.rmtree(collections, ignore_errors=True)
    json.dump(report, sys.stdout, indent=1)
    print()


if __name__ == '__main__':
    main()
