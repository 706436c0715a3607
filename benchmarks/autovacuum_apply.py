"""What applying the autovacuum presets costs, and whether it depends on table size.

For each dataset: clone it, then time
  - ansible-playbook running the module (check mode, first apply, second run) against a
    baseline play of one ansible.builtin.ping (Ansible's own start-up cost);
  - each ALTER TABLE ... SET of the prefect_high_volume preset run directly, in its own
    transaction with SET LOCAL lock_timeout, as the module runs it (median of 5, after a RESET);
  - how long a table whose lock another session holds takes to fail with lock_timeout=1s.
The clone is dropped at the end.

    flock /tmp/prefectdb-bench.lock .venv/bin/python benchmarks/autovacuum_apply.py \
        --port 54331 --dataset bench_20k --dataset bench_200k
"""
import argparse
import statistics
import time
import uuid

import psycopg2

from benchdb import module_play, connect as connect_to  # sets sys.path for testbed
from testbed import run_playbook  # noqa: E402  pylint: disable=wrong-import-position

TABLES = ['log', 'events', 'event_resources', 'task_run', 'task_run_state', 'flow_run_state', 'flow_run']


def connect(args, dbname):
    return connect_to(args.port, dbname, host=args.host)


def timed_play(args, dbname, task, check=False):
    if check:
        task = dict(task, check_mode=True)
    play = module_play(args.port, dbname, [task], host=args.host)
    started = time.monotonic()
    run = run_playbook([play])
    elapsed = time.monotonic() - started
    if run.rc != 0:
        raise SystemExit('play failed: %s %s' % (run.stdout, run.stderr))
    return elapsed, run.result


def table_sizes(conn):
    with conn.cursor() as cur:
        cur.execute("""SELECT c.relname, pg_total_relation_size(c.oid), c.reltuples::bigint
                         FROM pg_class c WHERE c.relname = ANY(%s) AND c.relkind = 'r'
                          AND c.relnamespace = 'public'::regnamespace""", (TABLES,))
        return dict((name, (size, rows)) for name, size, rows in cur.fetchall())


def alter_timings(conn, statements_by_table, repeat=5):
    result = {}
    with conn.cursor() as cur:
        for table, statement in statements_by_table.items():
            samples = []
            for dummy in range(repeat):
                cur.execute('SELECT reloptions, (SELECT reloptions FROM pg_class t WHERE t.oid = c.reltoastrelid) '
                            'FROM pg_class c WHERE c.oid = %s::regclass', (table,))
                heap, toast = cur.fetchone()
                keys = [o.split('=')[0] for o in heap or []] + ['toast.' + o.split('=')[0] for o in toast or []]
                if keys:
                    cur.execute('ALTER TABLE %s RESET (%s)' % (table, ', '.join(keys)))
                started = time.monotonic()
                cur.execute('BEGIN')
                cur.execute("SET LOCAL lock_timeout = '5s'")
                cur.execute(statement)
                cur.execute('COMMIT')
                samples.append((time.monotonic() - started) * 1000)
            result[table] = statistics.median(samples)
    return result


def lock_timeout_failure(args, dbname):
    holder = connect(args, dbname)
    waiter = connect(args, dbname)
    try:
        with holder.cursor() as cur:
            cur.execute('BEGIN')
            cur.execute('LOCK TABLE log IN SHARE UPDATE EXCLUSIVE MODE')
        with waiter.cursor() as cur:
            started = time.monotonic()
            cur.execute('BEGIN')
            cur.execute("SET LOCAL lock_timeout = '1s'")
            direct = None
            try:
                cur.execute('ALTER TABLE log SET (autovacuum_vacuum_cost_limit = 1234)')
            except psycopg2.errors.LockNotAvailable:
                direct = time.monotonic() - started
            cur.execute('ROLLBACK')
            if direct is None:
                raise SystemExit('the ALTER TABLE got a lock another session holds')
        module_s, result = timed_play(args, dbname, {
            'prefectdb.maintenance.autovacuum': {'lock_timeout': '1s', 'tables': {
                'log': {'autovacuum_vacuum_cost_limit': 1234}, 'events': {'autovacuum_vacuum_cost_limit': 1234}}},
            'ignore_errors': True})
        assert result['failed_tables'] == ['log'], result
        return direct, module_s
    finally:
        holder.close()
        waiter.close()


def bench(args, dataset):
    admin = connect(args, 'postgres')
    clone = 'av_bench_%s_%s' % (dataset, uuid.uuid4().hex[:6])
    try:
        started = time.monotonic()
        with admin.cursor() as cur:
            cur.execute('CREATE DATABASE "%s" TEMPLATE "%s"' % (clone, dataset))
        clone_s = time.monotonic() - started
        conn = connect(args, clone)
        sizes = table_sizes(conn)
        baseline, dummy = timed_play(args, clone, {'ansible.builtin.ping': {}})
        av = {'prefectdb.maintenance.autovacuum': {'preset': 'prefect_high_volume'}}
        check_s, check = timed_play(args, clone, av, check=True)
        apply_s, applied = timed_play(args, clone, av)
        again_s, again = timed_play(args, clone, av)
        assert check['changed'] and applied['changed'] and not again['changed'], (check, applied, again)
        statements = dict((t, applied['tables'][t]['statements'][0]) for t in TABLES)
        alters = alter_timings(conn, statements)
        lock_direct, lock_module = lock_timeout_failure(args, clone)
        conn.close()
    finally:
        with admin.cursor() as cur:
            cur.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % clone)
        admin.close()

    print('\n## %s (clone made in %.1f s)' % (dataset, clone_s))
    print('%-16s %12s %14s %14s' % ('table', 'rows', 'total size MB', 'ALTER ms (med)'))
    for table in TABLES:
        size, rows = sizes[table]
        print('%-16s %12d %14.1f %14.2f' % (table, rows, size / 1048576.0, alters[table]))
    print('ansible-playbook, one ping task (start-up baseline): %.2f s' % baseline)
    print('autovacuum preset=prefect_high_volume, check mode:   %.2f s (%d statements planned)' % (
        check_s, len(check['statements'])))
    print('autovacuum preset=prefect_high_volume, first apply:  %.2f s (%d statements)' % (
        apply_s, len(applied['statements'])))
    print('autovacuum preset=prefect_high_volume, second run:   %.2f s (changed=%s)' % (again_s, again['changed']))
    print('locked table, lock_timeout=1s: the ALTER fails after %.2f s; the module run takes %.2f s' % (
        lock_direct, lock_module))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=54331)
    parser.add_argument('--dataset', action='append', required=True)
    args = parser.parse_args()
    for dataset in args.dataset:
        bench(args, dataset)


if __name__ == '__main__':
    main()
