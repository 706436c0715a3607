"""What vacuum, reindex and backup cost on the benchmark datasets, run as a play runs them.

For each dataset: clone it, turn autovacuum off on log and events (so the modules, not the
daemon, find the dead tuples), then delete their older half as a retention run would (rows
older than 90 of the 180 days: the start of each heap), and time through ansible-playbook:
  - vacuum tables=auto (check mode, then vacuum_analyze): which tables, dead tuples and bytes;
  - reindex indexes=auto with min_index_size 1MB: the estimate against the bytes it won;
  - vacuum mode=repack on log and events: bytes before and after;
  - vacuum mode=full on log (after the repack): how long the table stays blocked;
  - backup verify=list and verify=restore: time, dump size, ratio to the table bytes.
The clone and the dumps are removed at the end. Run one at a time:

    flock /tmp/prefectdb-bench.lock .venv/bin/python benchmarks/vacuum_reindex_backup.py \
        --port 54331 --dataset bench_20k --dataset bench_200k
"""
import argparse
import os
import shutil
import time
import uuid

from benchdb import REPO, module_play, sql as run_sql  # sets sys.path for testbed
from testbed import run_playbook  # noqa: E402  pylint: disable=wrong-import-position

MB = 1024.0 * 1024


def sql(args, dbname, statement, params=None):
    return run_sql(args.port, dbname, statement, params, host=args.host)


def play(args, dbname, module, params, check=False):
    task = {'prefectdb.maintenance.%s' % module: params, 'ignore_errors': True}
    if check:
        task['check_mode'] = True
    started = time.monotonic()
    run = run_playbook([module_play(args.port, dbname, [task], host=args.host)], timeout=6 * 3600)
    elapsed = time.monotonic() - started
    if run.result.get('failed'):
        raise SystemExit('%s failed: %s' % (module, run.result.get('msg')))
    return elapsed, run.result


def mb(num):
    return '%.1f' % (num / MB) if num is not None else '-'


def bench(args, dataset):
    db = 'bench_vrb_%s' % uuid.uuid4().hex[:8]
    dest = os.path.join(REPO, 'benchmarks', 'data', db)
    print('\n## %s (clone %s)' % (dataset, db))
    started = time.monotonic()
    sql(args, 'postgres', 'CREATE DATABASE %s TEMPLATE %s' % (db, dataset))
    print('clone: %.1f s' % (time.monotonic() - started))
    try:
        for table in ('log', 'events'):
            sql(args, db, 'ALTER TABLE %s SET (autovacuum_enabled = false)' % table)
            sql(args, db, 'ANALYZE %s' % table)
        started = time.monotonic()
        deleted = {}
        for table, column in (('log', 'timestamp'), ('events', 'occurred')):
            rows = sql(args, db, "WITH d AS (DELETE FROM %s WHERE %s < (SELECT min(%s) + (max(%s) - min(%s)) / 2 FROM %s) "
                                 "RETURNING 1) SELECT count(*) FROM d" % (table, column, column, column, column, table))
            deleted[table] = rows[0][0]
        print('retention-like delete: %s in %.1f s' % (
            ', '.join('%s %d rows' % item for item in deleted.items()), time.monotonic() - started))
        time.sleep(2)  # the deleting backend flushes its statistics as it exits

        elapsed, r = play(args, db, 'vacuum', {'tables': 'auto'}, check=True)
        print('\n### vacuum tables=auto, check mode: %.2f s, picks %s' % (elapsed, [t['table'] for t in r['tables']]))
        elapsed, r = play(args, db, 'vacuum', {'tables': 'auto'})
        print('\n### vacuum tables=auto (vacuum_analyze): %.2f s for the play' % elapsed)
        print('| table | seconds | dead tuples before | after | MB before | MB after |')
        print('|---|---|---|---|---|---|')
        for t in r['tables']:
            print('| %s | %.2f | %d | %s | %s | %s |' % (
                t['table'], t['duration_seconds'] or 0, t['dead_tuples_before'], t['dead_tuples_after'],
                mb(t['bytes_before']), mb(t['bytes_after'])))

        params = {'indexes': 'auto', 'min_index_size': '1MB'}
        elapsed, r = play(args, db, 'reindex', params, check=True)
        print('\n### reindex indexes=auto min_index_size=1MB: check mode %.2f s, %d picked' % (elapsed, len(r['indexes'])))
        elapsed, r = play(args, db, 'reindex', params)
        print('run: %.2f s for the play' % elapsed)
        print('| index | seconds | MB before | MB after | estimated bloat MB (%) | won MB |')
        print('|---|---|---|---|---|---|')
        for i in r['indexes']:
            print('| %s | %.2f | %s | %s | %s (%s%%) | %s |' % (
                i['index'], i['duration_seconds'] or 0, mb(i['bytes_before']), mb(i['bytes_after']),
                mb(i['estimated_bloat_bytes']), i['estimated_bloat_ratio'], mb(i['bytes_before'] - i['bytes_after'])))

        sql(args, db, 'CREATE EXTENSION pg_repack')
        elapsed, r = play(args, db, 'vacuum', {'mode': 'repack', 'tables': ['log', 'events'], 'lock_timeout': '10s'})
        print('\n### vacuum mode=repack log, events: %.2f s for the play' % elapsed)
        print('| table | seconds | MB before | MB after |')
        print('|---|---|---|---|')
        for t in r['tables']:
            print('| %s | %.2f | %s | %s |' % (
                t['table'], t['duration_seconds'], mb(t['bytes_before']), mb(t['bytes_after'])))
        full = {'mode': 'full', 'allow_full': True, 'max_full_size': '100GB', 'tables': ['log']}
        elapsed, r = play(args, db, 'vacuum', full)
        t = r['tables'][0]
        print('\n### vacuum mode=full log (compact already): blocked %.2f s, %s MB -> %s MB (play %.2f s)' % (
            t['duration_seconds'], mb(t['bytes_before']), mb(t['bytes_after']), elapsed))

        print('\n### backup')
        print('| verify | play seconds | dump MB | table MB | dump / table bytes | rows compared |')
        print('|---|---|---|---|---|---|')
        for verify in ('list', 'restore'):
            elapsed, r = play(args, db, 'backup', {'dest': dest, 'verify': verify, 'keep': 1})
            d, s = r['dump'], r['space']
            print('| %s | %.1f | %s | %s | %.3f | %s |' % (
                verify, elapsed, mb(d['bytes']), mb(s['table_bytes']), float(d['bytes']) / s['table_bytes'],
                d['rows'] or '-'))
    finally:
        sql(args, 'postgres', 'DROP DATABASE IF EXISTS %s WITH (FORCE)' % db)
        shutil.rmtree(dest, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=54331)
    parser.add_argument('--dataset', action='append', required=True)
    args = parser.parse_args()
    for dataset in args.dataset:
        bench(args, dataset)


if __name__ == '__main__':
    main()
