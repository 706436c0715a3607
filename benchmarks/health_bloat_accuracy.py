"""How far the health module's bloat estimate is from pgstattuple's exact figures.

On a clone of a synthetic history it makes Prefect tables bloated in the ways a real
server does, then compares for each table:
  - the estimate (the module's collector: column statistics, no table read),
  - pgstattuple() exact figures: wasted = dead_tuple_len + free_space,
  - pgstattuple_approx() (what the module uses for flagged tables when the extension is there),
  - the truth: the share of the heap VACUUM FULL gives back.
and for a few B-tree indexes the estimate against the share REINDEX gives back.
The clone is dropped at the end.

    flock /tmp/prefectdb-bench.lock .venv/bin/python benchmarks/health_bloat_accuracy.py --port 54331 --dataset bench_10k
"""
import argparse
import time
import uuid

from benchdb import connect as connect_to  # sets sys.path for the collection

# pylint: disable=wrong-import-position
from ansible_collections.prefectdb.maintenance.plugins.module_utils import health_collectors as hc  # noqa: E402
from ansible_collections.prefectdb.maintenance.plugins.module_utils.health_rules import (  # noqa: E402
    normalize_thresholds,
)

# (table, what was done to it, statements)
CASES = [
    ('flow_run_state', 'as loaded (VACUUM ANALYZE by the generator)', []),
    ('task_run', 'as loaded', []),
    ('events', 'half the rows deleted, VACUUM ANALYZE (space reusable, file as large)', [
        "DELETE FROM events WHERE (hashtext(id::text) & 1) = 0", 'VACUUM ANALYZE events']),
    ('log', '80% deleted, ANALYZE only (dead rows not vacuumed)', [
        "ALTER TABLE log SET (autovacuum_enabled = false)",
        "DELETE FROM log WHERE (hashtext(id::text) & 1023) < 819", 'ANALYZE log']),
    ('flow_run', 'every row updated once, VACUUM ANALYZE (Prefect updates runs in place)', [
        "UPDATE flow_run SET run_count = run_count + 1", 'VACUUM ANALYZE flow_run']),
    ('task_run_state', '30% deleted in old ranges, VACUUM ANALYZE (retention-like)', [
        "DELETE FROM task_run_state WHERE timestamp < (SELECT percentile_disc(0.3) WITHIN GROUP (ORDER BY timestamp) "
        "FROM task_run_state)", 'VACUUM ANALYZE task_run_state']),
    ('artifact', 'TOAST-heavy: 6 kB incompressible results per artifact, written twice, VACUUM ANALYZE', [
        "UPDATE artifact SET data = to_jsonb((SELECT string_agg(md5(random()::text || g || artifact.id::text), '') "
        "FROM generate_series(1, 200) AS g))",
        "UPDATE artifact SET data = to_jsonb((SELECT string_agg(md5(random()::text || g || artifact.id::text), '') "
        "FROM generate_series(1, 200) AS g))", 'VACUUM ANALYZE artifact']),
]
INDEXES = ['pk_events', 'ix_events__occurred', 'ix_events__event_resource_id_occurred', 'pk_flow_run',
           'ix_flow_run__end_time_desc', 'pk_log']


def connect(args, dbname):
    return connect_to(args.port, dbname, host=args.host)


def one(cur, sql, params=None):
    cur.execute(sql, params)
    return cur.fetchone()


def measure(args, dataset):
    name = 'bench_bloat_%s' % uuid.uuid4().hex[:8]
    admin = connect(args, 'postgres')
    with admin.cursor() as cur:
        cur.execute('CREATE DATABASE "%s" TEMPLATE "%s"' % (name, dataset))
    rows, index_rows = [], []
    try:
        conn = connect(args, name)
        cur = conn.cursor()
        cur.execute('CREATE EXTENSION pgstattuple')
        for table, dummy, statements in CASES:
            for statement in statements:
                cur.execute(statement)
        # the statistics of those statements reach shared memory when the session flushes them; analyze
        # afterwards from another session, as autoanalyze would, so the estimate sees settled statistics
        cur.execute('SELECT pg_stat_force_next_flush()')
        time.sleep(1.5)
        other = connect(args, name)
        with other.cursor() as ocur:
            for table, dummy, statements in CASES:
                if statements:
                    ocur.execute('ANALYZE %s' % table)
        other.close()
        time.sleep(1.5)
        ctx = hc.Context(conn, top_tables=100, thresholds=normalize_thresholds({}), use_pgstattuple=False)
        estimates = dict((e['relation'], e) for e in hc.collect_bloat(ctx)['tables'])
        index_estimates = dict((e['relation'], e) for e in hc.collect_bloat(ctx)['indexes'])
        for index in INDEXES:
            est = index_estimates.get('public.' + index)
            before = one(cur, 'SELECT pg_relation_size(%s)', (index,))[0]
            density = one(cur, 'SELECT avg_leaf_density FROM pgstatindex(%s)', (index,))[0]
            cur.execute('REINDEX INDEX %s' % index)
            after = one(cur, 'SELECT pg_relation_size(%s)', (index,))[0]
            index_rows.append({'index': index, 'size': before, 'density': density,
                               'estimate': est['wasted_percent'] if est else None,
                               'reliable': est['reliable'] if est else None,
                               'truth': 100.0 * (before - after) / before if before else 0.0})
        for table, done, dummy in CASES:
            est = estimates['public.' + table]
            table_len, dead_len, free = one(cur, 'SELECT table_len, dead_tuple_len, free_space FROM pgstattuple(%s)',
                                            (table,))
            approx_len, approx_dead, approx_free = one(
                cur, 'SELECT table_len, dead_tuple_len, approx_free_space FROM pgstattuple_approx(%s)', (table,))
            heap_before = one(cur, "SELECT pg_relation_size(%s, 'main')", (table,))[0]
            toast_before, toast_wasted = one(cur, """
                SELECT pg_relation_size(c.reltoastrelid),
                       (SELECT 100.0 * (dead_tuple_len + free_space) / NULLIF(table_len, 0)
                          FROM pgstattuple(c.reltoastrelid::regclass))
                  FROM pg_class c WHERE c.oid = %s::regclass""", (table,))
            cur.execute('VACUUM FULL %s' % table)
            heap_after = one(cur, "SELECT pg_relation_size(%s, 'main')", (table,))[0]
            rows.append({
                'table': table, 'done': done, 'heap': heap_before, 'toast': toast_before,
                'exact': 100.0 * (dead_len + free) / table_len if table_len else 0.0,
                'approx': 100.0 * (approx_dead + approx_free) / approx_len if approx_len else 0.0,
                'estimate': est['wasted_percent'], 'method': est['method'], 'reliable': est['reliable'],
                'reasons': est['reasons'],
                'truth': 100.0 * (heap_before - heap_after) / heap_before if heap_before else 0.0,
                'toast_wasted': toast_wasted,
            })
        conn.close()
    finally:
        with admin.cursor() as cur:
            cur.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)
        admin.close()
    return rows, index_rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=54331)
    parser.add_argument('--dataset', default='bench_10k')
    args = parser.parse_args()
    rows, index_rows = measure(args, args.dataset)
    print('Heap figures (main fork), wasted as a share of it:\n')
    print('| table | what was done | heap MB | estimate % | pgstattuple % | pgstattuple_approx % | '
          'VACUUM FULL gave back % | estimate - pgstattuple | estimate - VACUUM FULL | TOAST MB (wasted %) | '
          'flagged unreliable |')
    print('|---|---|---|---|---|---|---|---|---|---|---|')
    for r in rows:
        print('| %s | %s | %.1f | %.1f | %.1f | %.1f | %.1f | %+.1f | %+.1f | %s | %s |' % (
            r['table'], r['done'], r['heap'] / 2 ** 20, r['estimate'], r['exact'], r['approx'], r['truth'],
            r['estimate'] - r['exact'], r['estimate'] - r['truth'],
            '-' if r['toast_wasted'] is None else '%.1f (%.1f)' % (r['toast'] / 2 ** 20, r['toast_wasted']),
            'no' if r['reliable'] else 'yes: ' + '; '.join(r['reasons'])))
    print('\n| index | MB | pgstatindex leaf density % | estimate wasted % | REINDEX gave back % | estimate - truth |')
    print('|---|---|---|---|---|---|')
    for r in index_rows:
        print('| %s | %.1f | %.1f | %s | %.1f | %s |' % (
            r['index'], r['size'] / 2 ** 20, r['density'],
            'n/a' if r['estimate'] is None else '%.1f%s' % (r['estimate'], '' if r['reliable'] else ' (unreliable)'),
            r['truth'], 'n/a' if r['estimate'] is None else '%+.1f' % (r['estimate'] - r['truth'])))


if __name__ == '__main__':
    main()
