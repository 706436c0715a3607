"""vacuum on the real Prefect schema with synthetic history, through ansible-playbook."""
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import pytest
from ansible_collections.prefectdb.maintenance.plugins.module_utils import connection as c
from testbed import PASSWORD, REPO, vacuum_wait_events


def bloat(cluster, db, table='log', keep_tenths=2):
    """Mass delete: keep about keep_tenths/10 of the rows, with autovacuum off on the table so
    the dead tuples stay until the module runs. Returns the rows left."""
    cluster.sql(db, 'ALTER TABLE %s SET (autovacuum_enabled = false)' % table)
    cluster.sql(db, 'ANALYZE %s' % table)  # a fresh clone has no statistics of its own
    xid = cluster.sql(db, 'WITH d AS (DELETE FROM %s WHERE abs(hashtext(id::text)) %% 10 >= %d RETURNING 1) '
                          'SELECT txid_current() %% 4294967296' % (table, keep_tenths))[0][0]
    wait_for_stats(cluster, db, table)
    wait_for_horizon(cluster, db, xid)
    return cluster.sql(db, 'SELECT count(*) FROM %s' % table)[0][0]


def wait_for_horizon(cluster, db, xid, timeout=60):
    """Until no session of the database (an auto-analyze, say) still sees the deleted rows:
    VACUUM may remove them only then, and the tests assert it did."""
    deadline = time.monotonic() + timeout
    while True:
        holders = [row for row in cluster.sql('postgres', """
            SELECT pid, backend_type, backend_xmin::text, left(query, 80) FROM pg_stat_activity
             WHERE (datname = %s OR backend_type = 'walsender') AND backend_xmin IS NOT NULL
               AND pid <> pg_backend_pid()""", (db,)) if int(row[2]) <= xid]
        if not holders:
            return
        assert time.monotonic() < deadline, 'sessions still see the deleted rows: %s' % holders
        time.sleep(0.2)


def wait_for_stats(cluster, db, table, timeout=10):
    """The deleting backend flushes its statistics when it exits, a moment after we disconnect."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stat(cluster, db, table)['n_dead_tup'] > 0:
            return
        time.sleep(0.1)
    raise AssertionError('no dead tuples reported for %s' % table)


def stat(cluster, db, table):
    row = cluster.sql(db, """
        SELECT n_dead_tup, n_live_tup, vacuum_count, analyze_count, pg_total_relation_size(relid),
               pg_relation_filenode(relid)
          FROM pg_stat_user_tables WHERE relname = %s""", (table,))[0]
    return dict(zip(('n_dead_tup', 'n_live_tup', 'vacuum_count', 'analyze_count', 'bytes', 'filenode'), row))


def entry(result, table):
    return next(t for t in result['tables'] if t['table'] == table)


def test_auto_picks_the_mass_deleted_table_and_vacuum_analyze_clears_its_dead_tuples(cluster, history_db, module_runner):
    left = bloat(cluster, history_db, 'log')
    before = stat(cluster, history_db, 'log')
    assert before['n_dead_tup'] > 10000
    run = module_runner('vacuum', {'tables': 'auto'}, dbname=history_db)
    r = run.result
    assert run.rc == 0 and not r['failed'], r
    assert r['changed'] is True and r['selection'] == 'auto' and r['mode'] == 'vacuum_analyze'
    assert [t['table'] for t in r['tables']] == ['public.log']
    log = entry(r, 'public.log')
    assert log['status'] == 'done'
    assert log['statement'] == 'VACUUM (ANALYZE, SKIP_LOCKED) "public"."log"'
    assert log['dead_tuples_before'] == before['n_dead_tup']
    assert log['dead_tuples_after'] == 0
    assert '%d dead tuples' % before['n_dead_tup'] in log['reason'] and 'at least 1000 dead tuples and 50%' in log['reason']
    assert log['bytes_before'] == before['bytes'] and log['bytes_after'] > 0 and log['duration_seconds'] > 0
    after = stat(cluster, history_db, 'log')
    assert after['n_dead_tup'] == 0 and after['vacuum_count'] == before['vacuum_count'] + 1
    assert after['n_live_tup'] == left
    # every other table was considered and the reason it was left is given
    reasons = dict((t['table'], t['reason']) for t in r['not_selected'])
    assert 'public.flow_run' in reasons and 'fewer than 1000 dead tuples' in reasons['public.flow_run']
    assert 'public.log' not in reasons
    assert r['left'] == [] and 'vacuum_analyze: 1 of 1 table(s) done' in r['msg']


def test_check_mode_returns_the_plan_and_changes_nothing(cluster, history_db, module_runner):
    bloat(cluster, history_db, 'log')
    before, fingerprint = stat(cluster, history_db, 'log'), cluster.fingerprint(history_db)
    for mode, extra in (('vacuum_analyze', {}), ('full', {'allow_full': True}), ('analyze', {})):
        r = module_runner('vacuum', dict(mode=mode, tables='auto', **extra), dbname=history_db, check=True).result
        assert not r['failed'], r
        assert r['changed'] is True and [t['status'] for t in r['tables']] == ['planned']
        assert r['tables'][0]['table'] == 'public.log'
        assert r['msg'].startswith('%s: would process 1 table(s): public.log' % mode)
    r = module_runner('vacuum', {'mode': 'full', 'allow_full': True, 'tables': ['log']}, dbname=history_db,
                      check=True).result
    assert r['tables'][0]['statement'] == 'VACUUM (FULL, SKIP_LOCKED) "public"."log"'
    after = stat(cluster, history_db, 'log')
    assert after == before
    assert cluster.fingerprint(history_db) == fingerprint


def test_full_is_refused_without_allow_full(cluster, history_db, module_runner):
    bloat(cluster, history_db, 'log')
    before = stat(cluster, history_db, 'log')
    r = module_runner('vacuum', {'mode': 'full', 'tables': ['log']}, dbname=history_db).result
    assert r['failed'] is True and r['changed'] is False
    assert r['msg'].startswith('mode=full refused: VACUUM FULL takes an ACCESS EXCLUSIVE lock that blocks every read')
    assert 'allow_full: true' in r['msg'] and 'mode=repack' in r['msg'] and 'Nothing was changed' in r['msg']
    assert stat(cluster, history_db, 'log') == before


def test_full_is_refused_above_max_full_size(cluster, history_db, module_runner):
    bloat(cluster, history_db, 'log')
    before = stat(cluster, history_db, 'log')
    r = module_runner('vacuum', {'mode': 'full', 'allow_full': True, 'tables': ['log', 'flow'],
                                 'max_full_size': '1MB'}, dbname=history_db).result
    assert r['failed'] is True and r['changed'] is False
    assert 'VACUUM FULL refused: public.log is' in r['msg'] and 'above max_full_size 1 MB' in r['msg']
    assert 'public.flow' not in r['msg'] and 'Nothing was changed' in r['msg']
    assert stat(cluster, history_db, 'log') == before
    # auto leaves it out and says why
    r = module_runner('vacuum', {'mode': 'full', 'allow_full': True, 'max_full_size': '1MB'}, dbname=history_db).result
    assert not r['failed'] and r['changed'] is False and r['tables'] == []
    reason = next(t['reason'] for t in r['not_selected'] if t['table'] == 'public.log')
    assert 'but VACUUM FULL refused' in reason and 'blocks reads and writes' in reason
    assert stat(cluster, history_db, 'log') == before


def test_full_with_allow_full_rewrites_and_shrinks_the_table(cluster, history_db, module_runner):
    bloat(cluster, history_db, 'log')
    before = stat(cluster, history_db, 'log')
    rows = cluster.fingerprint(history_db)['rows']['log']
    r = module_runner('vacuum', {'mode': 'full', 'allow_full': True, 'tables': ['log']}, dbname=history_db).result
    assert not r['failed'] and r['changed'] is True, r
    log = entry(r, 'public.log')
    assert log['status'] == 'done' and log['bytes_after'] < log['bytes_before'] * 0.5
    after = stat(cluster, history_db, 'log')
    assert after['filenode'] != before['filenode'] and after['bytes'] == log['bytes_after']
    assert cluster.fingerprint(history_db)['rows']['log'] == rows
    assert r['bytes_reclaimed'] == log['bytes_before'] - log['bytes_after']


def test_repack_shrinks_the_bloated_table_auto_picks(cluster, history_db, module_runner):
    cluster.sql(history_db, 'CREATE EXTENSION pg_repack')
    bloat(cluster, history_db, 'log')
    before = stat(cluster, history_db, 'log')
    rows = cluster.fingerprint(history_db)['rows']['log']
    run = module_runner('vacuum', {'mode': 'repack', 'tables': 'auto'}, dbname=history_db)
    r = run.result
    assert run.rc == 0 and not r['failed'], r
    assert r['changed'] is True and [t['table'] for t in r['tables']] == ['public.log']
    log = entry(r, 'public.log')
    assert log['status'] == 'done', log
    assert log['bytes_before'] == before['bytes'] and log['bytes_after'] < before['bytes'] * 0.5
    after = stat(cluster, history_db, 'log')
    assert after['bytes'] == log['bytes_after'] and after['filenode'] != before['filenode']
    assert log['dead_tuples_after'] == 0
    assert cluster.fingerprint(history_db)['rows']['log'] == rows
    # the client and the extension agree (1.4.8 with Debian 12's PostgreSQL 15, 1.5.2 with 17 and 18)
    assert r['repack']['client_version'] == r['repack']['extension_version']
    assert r['repack']['extension_version'] == cluster.sql(
        history_db, "SELECT extversion FROM pg_extension WHERE extname = 'pg_repack'")[0][0]
    assert r['repack']['free_space_source'].startswith('statvfs of ')
    assert log['statement'].endswith('--no-kill-backend --wait-timeout=5 --dbname=%s --table="public"."log"' % history_db)
    assert PASSWORD not in run.stdout + run.stderr + log['statement']


def test_repack_fails_clearly_without_the_client_the_extension_or_a_key(cluster, history_db, module_runner):
    bloat(cluster, history_db, 'log')
    before = stat(cluster, history_db, 'log')
    # no extension in this database
    r = module_runner('vacuum', {'mode': 'repack', 'tables': ['log']}, dbname=history_db).result
    assert r['failed'] is True and r['changed'] is False
    assert 'the pg_repack extension is not installed in this database' in r['msg']
    assert 'CREATE EXTENSION pg_repack' in r['msg'] and 'VACUUM FULL is never used instead' in r['msg']
    cluster.sql(history_db, 'CREATE EXTENSION pg_repack')
    # no client where it is said to be
    r = module_runner('vacuum', {'mode': 'repack', 'tables': ['log'], 'repack_binary': '/nonexistent/pg_repack'},
                      dbname=history_db).result
    assert r['failed'] is True
    assert 'the pg_repack client /nonexistent/pg_repack does not exist or is not executable (repack_binary)' in r['msg']
    # a table without a primary key or unique NOT NULL index
    cluster.sql(history_db, 'CREATE TABLE no_key AS SELECT * FROM log')
    r = module_runner('vacuum', {'mode': 'repack', 'tables': ['log', 'no_key']}, dbname=history_db).result
    assert r['failed'] is True
    assert 'public.no_key has no primary key and no unique index on NOT NULL columns' in r['msg']
    assert 'public.log' not in r['msg']
    # too little free space said by the option
    r = module_runner('vacuum', {'mode': 'repack', 'tables': ['log'], 'free_space': '1MB'}, dbname=history_db).result
    assert r['failed'] is True and 'needs' in r['msg'] and 'only 1 MB is free' in r['msg']
    after = stat(cluster, history_db, 'log')
    assert after['filenode'] == before['filenode'] and after['vacuum_count'] == before['vacuum_count']
    assert after['n_dead_tup'] == before['n_dead_tup']


def test_repack_keeps_the_password_off_the_process_list_and_skips_a_locked_table(cluster, history_db, module_runner):
    """pg_repack waits for its lock while another session holds one: long enough to read its command line."""
    cluster.sql(history_db, 'CREATE EXTENSION pg_repack')
    bloat(cluster, history_db, 'log')
    before = stat(cluster, history_db, 'log')
    holder = cluster.connect(history_db)
    seen, stop = [], threading.Event()

    def watch():
        while not stop.is_set():
            for pid in os.listdir('/proc'):
                if not pid.isdigit():
                    continue
                try:
                    with open('/proc/%s/cmdline' % pid, 'rb') as f:
                        args = f.read().replace(b'\0', b' ').decode('utf-8', 'replace')
                except OSError:
                    continue
                if 'pg_repack' in args and '--table' in args:
                    seen.append(args)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    try:
        holder.cursor().execute('BEGIN; LOCK TABLE log IN ACCESS SHARE MODE')
        watcher.start()
        run = module_runner('vacuum', {'mode': 'repack', 'tables': ['log'], 'lock_timeout': '2s'}, dbname=history_db,
                            extra_args=['-vvv'])
    finally:
        stop.set()
        watcher.join()
        holder.close()
    r = run.result
    assert seen, 'pg_repack was never seen running'
    assert not any(PASSWORD in args for args in seen)
    assert PASSWORD not in run.stdout + run.stderr
    assert not r['failed'], r
    log = entry(r, 'public.log')
    assert log['status'] == 'skipped' and 'due to timeout' in log['message']
    assert r['changed'] is False
    assert stat(cluster, history_db, 'log')['filenode'] == before['filenode']


def test_a_locked_table_is_skipped_and_reported(cluster, history_db, module_runner):
    bloat(cluster, history_db, 'log')
    holder = cluster.connect(history_db)
    try:
        holder.cursor().execute('BEGIN; LOCK TABLE log IN SHARE UPDATE EXCLUSIVE MODE')
        r = module_runner('vacuum', {'tables': ['log', 'flow_run']}, dbname=history_db).result
        assert not r['failed'], r
        assert entry(r, 'public.log')['status'] == 'skipped'
        assert entry(r, 'public.log')['message'] == 'WARNING:  skipping vacuum of "log" --- lock not available'
        assert entry(r, 'public.flow_run')['status'] == 'done'
        assert 'skipped: public.log' in r['msg']
        # without SKIP_LOCKED the wait ends after lock_timeout
        started = time.monotonic()
        r = module_runner('vacuum', {'tables': ['log'], 'skip_locked': False, 'lock_timeout': '1s'},
                          dbname=history_db).result
        assert not r['failed'] and entry(r, 'public.log')['status'] == 'skipped'
        assert entry(r, 'public.log')['message'].startswith('lock not available within lock_timeout')
        assert time.monotonic() - started < 60
    finally:
        holder.close()
    assert stat(cluster, history_db, 'log')['n_dead_tup'] > 0


def test_max_runtime_starts_no_new_table_and_reports_what_was_left(cluster, history_db, module_runner):
    bloat(cluster, history_db, 'log')
    r = module_runner('vacuum', {'tables': ['log', 'events', 'flow_run'], 'max_runtime': '1ms'},
                      dbname=history_db).result
    assert not r['failed'], r
    assert [t['status'] for t in r['tables']] == ['done', 'not_started', 'not_started']
    assert r['left'] == ['public.events', 'public.flow_run']
    assert 'not started after max_runtime: public.events, public.flow_run' in r['msg']
    assert stat(cluster, history_db, 'events')['vacuum_count'] == 0


def vacuum_waits(cluster, db, module_runner, args):
    """Run the module; the wait events its VACUUM was seen in."""
    return vacuum_wait_events(cluster, db, lambda: module_runner('vacuum', args, dbname=db).result)


def test_vacuum_runs_at_autovacuums_pace_by_default_and_cost_delay_sets_it(cluster, history_db, module_runner):
    # by default 2 ms per 200 cost units; 0 is a manual VACUUM's pace (no VacuumDelay);
    # 20 ms per 200 units sleeps most of the time
    bloat(cluster, history_db, 'log')
    r = module_runner('vacuum', {'tables': ['log']}, dbname=history_db).result
    assert not r['failed'] and entry(r, 'public.log')['status'] == 'done', r
    assert (r['cost_delay'], r['cost_limit']) == (2, 200)
    bloat(cluster, history_db, 'log', keep_tenths=1)   # half of what is left
    r, seen = vacuum_waits(cluster, history_db, module_runner, {'tables': ['log'], 'cost_delay': 0})
    assert not r['failed'] and entry(r, 'public.log')['status'] == 'done', r
    assert r['cost_delay'] == 0 and 'VacuumDelay' not in seen, seen
    bloat(cluster, history_db, 'log', keep_tenths=0)   # the rest
    r, seen = vacuum_waits(cluster, history_db, module_runner, {'tables': ['log'], 'cost_delay': 20})
    assert not r['failed'] and entry(r, 'public.log')['status'] == 'done', r
    assert r['cost_delay'] == 20 and 'VacuumDelay' in seen, seen


def test_bad_input_fails_clearly_and_changes_nothing(cluster, history_db, module_runner):
    fingerprint = cluster.fingerprint(history_db)
    r = module_runner('vacuum', {'tables': ['log', 'no_such_table', 'ix_log__level']}, dbname=history_db).result
    assert r['failed'] is True
    assert r['msg'] == ('tables not found: public.no_such_table (does not exist), public.ix_log__level '
                        '(not an ordinary table: relkind i); nothing was changed.')
    r = module_runner('vacuum', {'tables': 'log'}, dbname=history_db).result
    assert r['failed'] is True and r['msg'].startswith('tables must be auto or a non-empty list of table names')
    r = module_runner('vacuum', {'mode': 'full', 'allow_full': True, 'parallel': 2}, dbname=history_db).result
    assert r['failed'] is True and 'parallel applies to mode vacuum and vacuum_analyze only' in r['msg']
    r = module_runner('vacuum', {'max_runtime': 'soon'}, dbname=history_db).result
    assert r['failed'] is True and "max_runtime: 'soon' is not a duration" in r['msg']
    r = module_runner('vacuum', {'cost_delay': 500}, dbname=history_db).result
    assert r['failed'] is True and r['msg'] == ('cost_delay: 500 is out of range; use 0 (no delay) to 100 '
                                                'milliseconds; nothing was changed.')
    r = module_runner('vacuum', {'cost_limit': 0}, dbname=history_db).result
    assert r['failed'] is True and r['msg'].startswith('cost_limit: 0 is out of range')
    assert stat(cluster, history_db, 'log')['vacuum_count'] == 0
    assert cluster.fingerprint(history_db) == fingerprint


def test_a_second_run_is_skipped_while_one_holds_the_lock(cluster, history_db, module_runner):
    bloat(cluster, history_db, 'log')
    holder = cluster.connect(history_db)
    try:
        c.acquire_advisory_lock(holder, 'vacuum')
        run = module_runner('vacuum', {'tables': 'auto'}, dbname=history_db)
    finally:
        holder.close()
    r = run.result
    assert run.results[0]['status'] == 'skipped' and r['changed'] is False
    assert 'another vacuum run holds the lock' in r['msg']
    assert stat(cluster, history_db, 'log')['vacuum_count'] == 0


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def as_postgres(cmd):
    if os.geteuid() == 0:
        cmd = ['runuser', '-u', 'postgres', '--'] + cmd
    return subprocess.run(cmd, check=True, capture_output=True, text=True)


@pytest.fixture
def standby_port(cluster):
    """A throwaway primary (scripts/pgcluster.sh) and a hot standby of it; the standby's port."""
    base = tempfile.mkdtemp(prefix='prefectdb-vrb-standby-', dir='/var/tmp')
    primary, standby = free_port(), free_port()
    env = dict(os.environ, PREFECTDB_PG_PORT=str(primary), PREFECTDB_PG_DIR=os.path.join(base, 'primary'),
               PREFECTDB_PG_FAST='1')
    script = os.path.join(REPO, 'scripts', 'pgcluster.sh')
    data = os.path.join(base, 'standby')
    if os.geteuid() == 0:
        shutil.chown(base, 'postgres')
    try:
        subprocess.run([script, 'start'], env=env, check=True, capture_output=True)
        as_postgres([os.path.join(cluster.bindir, 'pg_basebackup'), '-D', data, '-R', '-X', 'stream', '-d',
                     'host=127.0.0.1 port=%d user=postgres password=%s' % (primary, PASSWORD)])
        with open(os.path.join(data, 'postgresql.auto.conf'), 'a') as f:
            f.write("port = %d\nunix_socket_directories = '%s'\n" % (standby, data))
        as_postgres([os.path.join(cluster.bindir, 'pg_ctl'), '-D', data, '-l', os.path.join(base, 'standby.log'),
                     '-w', 'start'])
        yield standby
    finally:
        if os.path.exists(os.path.join(data, 'postmaster.pid')):
            as_postgres([os.path.join(cluster.bindir, 'pg_ctl'), '-D', data, '-m', 'immediate', 'stop'])
        subprocess.run([script, 'stop'], env=env, check=False, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def test_vacuum_reindex_and_backup_refuse_on_a_standby(cluster, standby_port, module_runner, tmp_path):
    conn = dict(cluster.connection_args('postgres'), login_port=standby_port)
    for module, args in (('vacuum', {'tables': 'auto'}), ('reindex', {'indexes': 'auto'}),
                         ('backup', {'dest': str(tmp_path)})):
        r = module_runner(module, args, connection=conn).result
        assert r['failed'] is True and r['changed'] is False, (module, r)
        assert r['msg'].startswith('%s: database "postgres" on 127.0.0.1 port %d' % (module, standby_port))
        assert 'is a standby server (in recovery) and read-only; nothing was changed' in r['msg']
    assert os.listdir(str(tmp_path)) == []
