"""health on the real Prefect schema, through ansible-playbook: each finding fires for a
real cause and the module stays quiet on a healthy database."""
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid

import psycopg2
import pytest

from testbed import PASSWORD, REPO

ALL_CHECKS = ['tables', 'bloat', 'indexes', 'disk', 'autovacuum', 'connections', 'xmin', 'wraparound', 'checkpoints',
              'prefect', 'growth']


def problems(result, rule_id=None):
    return [f for f in result['findings'] if f['severity'] != 'ok' and (rule_id is None or f['id'] == rule_id)]


def finding(result, rule_id, subject=None):
    found = [f for f in result['findings'] if f['id'] == rule_id and (subject is None or f['subject'] == subject)]
    assert len(found) == 1, (rule_id, subject, result['findings'])
    return found[0]


def df_used_percent(path):
    st = os.statvfs(path)
    used = (st.f_blocks - st.f_bfree) * st.f_frsize
    return 100.0 * used / (used + st.f_bavail * st.f_frsize)


def wait_for_stats(cluster, db, table, predicate, timeout=15):
    """Table statistics reach the shared stats with a delay; poll until they show."""
    deadline = time.monotonic() + timeout
    while True:
        row = cluster.sql(db, 'SELECT n_live_tup, n_dead_tup FROM pg_stat_user_tables WHERE relname = %s',
                          (table,))[0]
        if predicate(*row) or time.monotonic() > deadline:
            return row
        time.sleep(0.3)


def cluster_used_bytes(cluster, db):
    return int(cluster.sql(db, 'SELECT (SELECT sum(pg_database_size(oid)) FROM pg_database) + '
                               '(SELECT sum(size) FROM pg_ls_waldir())')[0][0])


def history_exists(cluster, db):
    return bool(cluster.sql(db, "SELECT 1 FROM pg_namespace WHERE nspname = 'prefectdb_maintenance'"))


# --- healthy ------------------------------------------------------------------------

def test_healthy_database_is_quiet_and_changes_nothing(cluster, prefect_db, module_runner):
    before = cluster.fingerprint(prefect_db)
    run = module_runner('health', dbname=prefect_db)
    r = run.result
    assert run.rc == 0, run.stdout
    assert r['checks'] == ALL_CHECKS
    assert set(r['facts']) == set(ALL_CHECKS) | {'database'}
    expected = []
    used = df_used_percent(cluster.sql('postgres', 'SHOW data_directory')[0][0])
    if used > 70:  # the shared machine's own disk, not something this test controls
        expected = ['disk_used']
    # checkpoint counters are the whole cluster's, and the test bed's CREATE/DROP DATABASE each request one
    checkpoints = r['facts']['checkpoints']
    if (checkpoints['requested_percent'] or 0) > 30 and checkpoints['timed'] + checkpoints['requested'] >= 10:
        expected.append('checkpoints_requested')
    assert [f['id'] for f in problems(r)] == expected, problems(r)
    ok_ids = set(f['id'] for f in r['findings'] if f['severity'] == 'ok')
    assert {'dead_rows', 'table_bloat', 'invalid_index', 'autovacuum_stale', 'connections', 'idle_in_transaction',
            'prepared_transaction', 'replication_slot', 'xid_wraparound', 'retention_drift',
            'events_retention_recommendation', 'history_not_recorded'} <= ok_ids
    assert r['summary']['critical'] == 0
    assert cluster.fingerprint(prefect_db) == before  # Prefect's schema untouched

    f = r['facts']
    assert f['database']['name'] == prefect_db and f['database']['size_bytes'] > 1000000
    tables = dict((t['qualified'], t) for t in f['tables']['tables'])
    for name in ('flow_run', 'task_run', 'flow_run_state', 'task_run_state', 'log', 'artifact',
                 'artifact_collection', 'events', 'event_resources'):
        assert tables['public.' + name]['is_prefect'] is True
    assert f['disk']['method'] == 'statvfs' and f['disk']['verified'] is True
    assert f['disk']['used_percent'] == pytest.approx(used, abs=1.0)
    assert f['connections']['usable'] == 97 and f['connections']['total'] >= 1
    assert f['wraparound']['autovacuum_freeze_max_age'] == 200000000
    assert f['prefect']['readable'] is True and f['prefect']['events']['oldest'] is None
    assert f['prefect']['flow_runs']['last_7_days'] == 0
    assert f['growth']['history']['recorded'] is True and f['growth']['history']['created'] is True
    assert r['changed'] is True  # the history table was created

    again = module_runner('health', {'checks': ['growth']}, dbname=prefect_db).result
    assert again['changed'] is False
    assert again['facts']['growth']['history']['snapshots'] == 2
    assert again['facts']['growth']['windows'] == {'1d': None, '7d': None, '30d': None}


def test_check_mode_records_nothing(cluster, prefect_db, module_runner):
    r = module_runner('health', {'checks': ['disk', 'growth']}, dbname=prefect_db, check=True).result
    assert r['changed'] is False and not r.get('failed')
    f = finding(r, 'history_not_recorded')
    assert f['severity'] == 'ok' and 'check mode' in f['message']
    assert not history_exists(cluster, prefect_db)


def test_checks_subset_for_the_hourly_run(cluster, prefect_db, module_runner):
    r = module_runner('health', {'checks': ['disk', 'connections']}, dbname=prefect_db).result
    assert r['checks'] == ['disk', 'connections']
    assert set(r['facts']) == {'database', 'disk', 'connections'}
    assert set(f['check'] for f in r['findings']) == {'disk', 'connections'}
    assert not history_exists(cluster, prefect_db)


# --- tables and autovacuum -------------------------------------------------------------

def test_dead_rows_from_a_delete_without_vacuum(cluster, history_db, module_runner):
    cluster.sql(history_db, 'ALTER TABLE log SET (autovacuum_enabled = false)')
    cluster.sql(history_db, 'ANALYZE log')
    conn = cluster.connect(history_db)
    try:
        with conn.cursor() as cur:
            cur.execute("DELETE FROM log WHERE (hashtext(id::text) & 1023) < 614")  # about 60% of the rows
            deleted = cur.rowcount
            cur.execute('SELECT pg_stat_force_next_flush()')
    finally:
        conn.close()
    live, dead = wait_for_stats(cluster, history_db, 'log', lambda live, dead: dead >= deleted)
    assert dead >= deleted > 5000

    r = module_runner('health', {'checks': ['tables', 'autovacuum']}, dbname=history_db).result
    f = finding(r, 'dead_rows', 'public.log')
    assert f['severity'] == 'critical' and f['threshold'] == 100.0
    assert f['value'] == pytest.approx(100.0 * dead / live, rel=0.01)
    assert finding(r, 'autovacuum_disabled', 'public.log')['severity'] == 'warning'
    stale = finding(r, 'autovacuum_stale', 'public.log')
    assert stale['severity'] == 'warning' and 'never (auto)vacuumed' in stale['message']
    log = [t for t in r['facts']['tables']['tables'] if t['qualified'] == 'public.log'][0]
    assert log['reloptions'] == {'autovacuum_enabled': False}
    assert log['autovacuum']['enabled'] is False
    assert [f['subject'] for f in problems(r)] == ['public.log'] * 3

    # thresholds are options: a ratio of ~150% is only a warning when critical starts at 200%
    r = module_runner('health', {'checks': ['tables'], 'thresholds': {'dead_rows_critical_percent': 200}},
                      dbname=history_db).result
    assert finding(r, 'dead_rows', 'public.log')['severity'] == 'warning'


# --- xmin horizon ------------------------------------------------------------------------

def test_idle_in_transaction_session(cluster, prefect_db, module_runner):
    holder = cluster.connect(prefect_db, autocommit=False)
    try:
        with holder.cursor() as cur:
            cur.execute("SET application_name = 'prefectdb test idle'")
            cur.execute('SELECT txid_current(), pg_backend_pid()')
            pid = cur.fetchone()[1]
        time.sleep(1.5)
        r = module_runner('health', {'checks': ['xmin'], 'thresholds': {
            'idle_in_transaction_max_age': '1s', 'transaction_max_age': '1s'}}, dbname=prefect_db).result
        subject = 'pid %d (postgres, prefectdb test idle)' % pid
        f = finding(r, 'idle_in_transaction', subject)
        assert f['severity'] == 'warning' and f['value'] >= 1 and 'pg_terminate_backend(%d)' % pid in f['remediation']
        assert finding(r, 'long_transaction', subject)['severity'] == 'warning'
        assert pid in r['facts']['xmin']['idle_in_transaction']
        # with the default 5 minutes the same session is not (yet) a problem
        quiet = module_runner('health', {'checks': ['xmin']}, dbname=prefect_db).result
        assert not [f for f in problems(quiet) if str(pid) in f['subject']]
    finally:
        holder.rollback()
        holder.close()


def test_prepared_transaction(cluster, prefect_db, module_runner):
    gid = 'prefectdb-test-%s' % uuid.uuid4().hex[:8]
    conn = cluster.connect(prefect_db)
    try:
        with conn.cursor() as cur:
            cur.execute('BEGIN')
            cur.execute('SELECT txid_current()')
            cur.execute("PREPARE TRANSACTION '%s'" % gid)
        r = module_runner('health', {'checks': ['xmin']}, dbname=prefect_db).result
        f = finding(r, 'prepared_transaction', 'prepared transaction %s' % gid)
        assert f['severity'] == 'warning' and "ROLLBACK PREPARED '%s'" % gid in f['remediation']
        prepared = [p for p in r['facts']['xmin']['prepared_transactions'] if p['gid'] == gid][0]
        assert prepared['database'] == prefect_db and prepared['xid_age'] >= 1
    finally:
        with conn.cursor() as cur:
            cur.execute("ROLLBACK PREPARED '%s'" % gid)
        conn.close()


def test_logical_replication_slot(cluster, prefect_db, module_runner):
    slot = 'prefectdb_test_%s' % uuid.uuid4().hex[:8]
    conn = cluster.connect(prefect_db)
    try:
        with conn.cursor() as cur:
            # creating a logical slot waits for every transaction holding an xid to end, cluster-wide
            cur.execute("SET statement_timeout = '30s'")
            try:
                cur.execute("SELECT pg_create_logical_replication_slot(%s, 'test_decoding')", (slot,))
            except psycopg2.errors.QueryCanceled:
                cur.execute("SELECT string_agg(pid || ' on ' || datname || ' since ' || xact_start, ', ') "
                            "FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()")
                pytest.skip('another session holds a transaction open (%s): cannot create a logical slot now'
                            % cur.fetchone()[0])
        try:
            r = module_runner('health', {'checks': ['xmin']}, dbname=prefect_db).result
        finally:
            with conn.cursor() as cur:
                cur.execute('SELECT pg_drop_replication_slot(%s)', (slot,))  # it holds back the whole cluster
        f = finding(r, 'replication_slot', 'slot %s' % slot)
        assert f['severity'] == 'warning' and 'inactive logical replication slot' in f['message']
        assert "pg_drop_replication_slot('%s')" % slot in f['remediation']
        facts = [s for s in r['facts']['xmin']['replication_slots'] if s['slot_name'] == slot][0]
        assert facts['catalog_xmin_age'] is not None and facts['active'] is False
        assert facts['retained_wal_bytes'] >= 0
    finally:
        conn.close()


# --- indexes ---------------------------------------------------------------------------------

def test_invalid_indexes_left_by_failed_concurrent_builds(cluster, history_db, module_runner):
    for name in ('ix_test_unique_level', 'ix_log__level_ccnew'):
        with pytest.raises(psycopg2.errors.UniqueViolation):
            cluster.sql(history_db, 'CREATE UNIQUE INDEX CONCURRENTLY %s ON log (level)' % name)
    r = module_runner('health', {'checks': ['indexes']}, dbname=history_db).result
    plain = finding(r, 'invalid_index', 'public.ix_test_unique_level')
    leftover = finding(r, 'invalid_index', 'public.ix_log__level_ccnew')
    assert plain['severity'] == leftover['severity'] == 'warning'
    assert 'leftover of a failed CREATE/REINDEX CONCURRENTLY' in leftover['message']
    assert 'leftover' not in plain['message']
    invalid = dict((i['qualified'], i) for i in r['facts']['indexes']['invalid'])
    assert invalid['public.ix_log__level_ccnew']['leftover_of_concurrent_build'] is True
    assert invalid['public.ix_test_unique_level']['valid'] is False
    assert len(problems(r)) == 2


# --- disk --------------------------------------------------------------------------------------

def test_nearly_full_disk_through_disk_total_bytes(cluster, prefect_db, module_runner):
    used = cluster_used_bytes(cluster, prefect_db)
    total = int(used / 0.95)
    run = module_runner('health', {'checks': ['disk'], 'disk_total_bytes': total, 'fail_on': 'critical'},
                        dbname=prefect_db)
    r = run.result
    f = finding(r, 'disk_used')
    assert f['severity'] == 'critical' and f['value'] > 80 and f['threshold'] == 80.0
    assert r['facts']['disk']['method'] == 'disk_total_bytes' and r['facts']['disk']['total_bytes'] == total
    assert r['facts']['disk']['wal_bytes'] > 0
    # fail_on fails the task after returning the full result
    assert r['failed'] is True
    assert r['msg'].startswith('fail_on=critical: health of %s: 1 critical' % prefect_db)
    assert r['facts']['disk']['used_percent'] == f['value']

    roomy = module_runner('health', {'checks': ['disk'], 'disk_total_bytes': int(used * 10), 'fail_on': 'warning'},
                          dbname=prefect_db).result
    assert not roomy.get('failed') and finding(roomy, 'disk_used')['severity'] == 'ok'


# --- prefect ---------------------------------------------------------------------------------------

def test_aged_events_and_flow_runs_beyond_retention(cluster, history_db, module_runner):
    r = module_runner('health', {'checks': ['prefect']}, dbname=history_db).result
    events = finding(r, 'retention_drift', 'events')
    assert events['severity'] == 'warning' and events['threshold'] == 7 * 86400
    oldest = cluster.sql(history_db, 'SELECT EXTRACT(epoch FROM now() - min(occurred)) FROM events')[0][0]
    assert events['value'] == pytest.approx(float(oldest), abs=60)
    assert finding(r, 'retention_drift', 'events prefect.flow-run.heartbeat')['severity'] == 'warning'
    runs = finding(r, 'retention_drift', 'flow_run')
    end = cluster.sql(history_db, """
        SELECT EXTRACT(epoch FROM now() - min(end_time)) FROM flow_run
         WHERE parent_task_run_id IS NULL AND end_time IS NOT NULL
           AND state_type IN ('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED')""")[0][0]
    assert runs['value'] == pytest.approx(float(end), abs=60)
    p = r['facts']['prefect']
    assert p['row_estimates']['events'] == cluster.sql(history_db, 'SELECT count(*) FROM events')[0][0]
    assert p['events']['newest'] is not None
    assert p['flow_runs']['beyond_retention_estimate'] > 1000  # the planner sees most of the 2,000 runs

    # periods long enough, and flow run retention not wanted: quiet
    quiet = module_runner('health', {'checks': ['prefect'], 'events_retention_period': '1000d',
                                     'event_retention_overrides': {}, 'flow_run_retention_period': None},
                          dbname=history_db).result
    assert problems(quiet, 'retention_drift') == []
    assert finding(quiet, 'retention_drift')['severity'] == 'ok'
    # ... though 1000 days is far more than the guide recommends
    assert finding(quiet, 'events_retention_recommendation')['severity'] == 'warning'


def test_recommended_events_retention_from_runs_per_day(cluster, prefect_db, module_runner):
    cluster.sql(prefect_db, "INSERT INTO flow (id, name) VALUES (gen_random_uuid(), 'busy')")
    cluster.sql(prefect_db, """
        INSERT INTO flow_run (id, name, flow_id, state_type, expected_start_time)
        SELECT gen_random_uuid(), 'run-' || g, (SELECT id FROM flow LIMIT 1), 'COMPLETED',
               now() - g * interval '5 minutes'
          FROM generate_series(1, 1500) AS g""")
    r = module_runner('health', {'checks': ['prefect']}, dbname=prefect_db).result
    flow_runs = r['facts']['prefect']['flow_runs']
    assert flow_runs['last_7_days'] == 1500 and flow_runs['per_day_7d_average'] == pytest.approx(214.3)
    assert sum(d['flow_runs'] for d in flow_runs['per_day']) == 1500
    f = finding(r, 'events_retention_recommendation')
    assert f['severity'] == 'warning' and '3-5 days' in f['message'] and f['value'] == 7.0
    ok = module_runner('health', {'checks': ['prefect'], 'events_retention_period': 'P4D'}, dbname=prefect_db).result
    assert finding(ok, 'events_retention_recommendation')['severity'] == 'ok'


# --- bloat ------------------------------------------------------------------------------------------

def pgstattuple_wasted_percent(cluster, db, table):
    row = cluster.sql(db, 'SELECT table_len, dead_tuple_len, free_space FROM pgstattuple(%s)', (table,))[0]
    return 100.0 * (row[1] + row[2]) / row[0]


def test_bloat_estimate_against_pgstattuple(cluster, history_db, module_runner):
    cluster.sql(history_db, 'CREATE EXTENSION pgstattuple')
    # a deliberately bloated Prefect table: delete half the events, vacuum (space reusable, file as big)
    cluster.sql(history_db, "DELETE FROM events WHERE (hashtext(id::text) & 1) = 0")
    cluster.sql(history_db, 'VACUUM ANALYZE events')
    # a TOAST-heavy one: artifacts carrying large incompressible results, written twice
    for dummy in range(2):
        cluster.sql(history_db, """
            UPDATE artifact SET data = to_jsonb((SELECT string_agg(md5(random()::text || g || artifact.id::text), '')
                                                   FROM generate_series(1, 200) AS g))""")
    cluster.sql(history_db, 'VACUUM ANALYZE artifact')
    exact_events = pgstattuple_wasted_percent(cluster, history_db, 'events')
    assert exact_events > 40

    r = module_runner('health', {'checks': ['bloat'], 'thresholds': {'bloat_min_bytes': 1048576}},
                      dbname=history_db).result
    estimates = dict((b['relation'], b) for b in r['facts']['bloat']['tables'])
    events = estimates['public.events']
    assert events['method'] == 'pg_stats' and events['reliable'] is True
    # the estimate lands within 5 points of pgstattuple's exact figure (docs/health.md has the numbers)
    assert events['wasted_percent'] == pytest.approx(exact_events, abs=5)
    approx = events['pgstattuple_approx']
    assert approx['method'] == 'pgstattuple_approx'
    assert approx['wasted_percent'] == pytest.approx(exact_events, abs=3)
    assert 'public.events' in r['facts']['bloat']['pgstattuple']['used_for']
    flagged = finding(r, 'table_bloat', 'public.events')
    assert flagged['severity'] in ('warning', 'critical') and 'by pgstattuple_approx' in flagged['message']

    artifact = estimates['public.artifact']
    assert artifact['reliable'] is False
    assert any('TOAST-heavy' in reason for reason in artifact['reasons'])
    # the TOAST relation's own waste (the first, smaller values' chunks are dead) is measured instead
    toast_exact = cluster.sql(history_db, """
        SELECT 100.0 * (dead_tuple_len + free_space) / table_len
          FROM pgstattuple((SELECT reltoastrelid FROM pg_class WHERE oid = 'artifact'::regclass))""")[0][0]
    assert artifact['toast_pgstattuple_approx']['wasted_percent'] == pytest.approx(float(toast_exact), abs=3)
    toast = [t for t in module_runner('health', {'checks': ['tables']}, dbname=history_db).result['facts']['tables'][
        'tables'] if t['qualified'] == 'public.artifact'][0]
    assert toast['toast_bytes'] > toast['heap_bytes']

    indexes = dict((i['relation'], i) for i in r['facts']['bloat']['indexes'])
    assert indexes['public.pk_events']['method'] == 'pg_stats'
    assert indexes['public.ix_events__related_gin']['method'] is None


# --- privileges --------------------------------------------------------------------------------------

def test_a_pg_monitor_login_runs_every_check(cluster, history_db, module_runner):
    role = 'prefectdb_monitor_%s' % uuid.uuid4().hex[:8]
    secret = 'mon-%s' % uuid.uuid4().hex
    cluster.sql('postgres', "CREATE ROLE %s LOGIN PASSWORD '%s' IN ROLE pg_monitor" % (role, secret))
    try:
        connection = cluster.connection_args(history_db, user=role, password=secret)
        run = module_runner('health', {}, connection=connection)
        r = run.result
        assert run.rc == 0 and not r.get('failed'), r.get('msg')
        assert r['checks'] == ALL_CHECKS
        assert not [f for f in r['findings'] if f['id'] == 'check_failed'], r['findings']
        assert all(r['facts'][check] is not None for check in ALL_CHECKS)
        history = finding(r, 'history_not_recorded')
        assert history['severity'] == 'warning' and 'no CREATE privilege on the database' in history['message']
        assert not history_exists(cluster, history_db)
        assert r['changed'] is False
        access = finding(r, 'prefect_access')
        assert 'no SELECT privilege on events, flow_run' in access['message']
        assert r['facts']['prefect']['row_estimates']['events'] > 0
        bloat = dict((b['relation'], b) for b in r['facts']['bloat']['tables'])
        assert bloat['public.events']['method'] == 'dead_rows'
        assert r['facts']['disk']['method'] == 'statvfs'
        assert r['facts']['database']['login']['roles'] == ['pg_monitor', 'pg_read_all_settings',
                                                            'pg_read_all_stats', 'pg_stat_scan_tables']
        assert secret not in run.stdout + run.stderr

        # SELECT on the Prefect tables gives the retention evidence and the column statistics
        cluster.sql(history_db, 'GRANT SELECT ON ALL TABLES IN SCHEMA public TO %s' % role)
        r = module_runner('health', {'checks': ['prefect', 'bloat']}, connection=connection).result
        assert r['facts']['prefect']['readable'] is True
        assert finding(r, 'retention_drift', 'events')['severity'] == 'warning'
        assert dict((b['relation'], b) for b in r['facts']['bloat']['tables'])['public.events']['method'] == \
            'pg_stats'
    finally:
        cluster.sql(history_db, 'REVOKE ALL ON ALL TABLES IN SCHEMA public FROM %s' % role)
        cluster.sql('postgres', 'DROP ROLE %s' % role)


# --- growth ------------------------------------------------------------------------------------------

def test_growth_from_stored_snapshots(cluster, prefect_db, module_runner):
    first = module_runner('health', {'checks': ['growth']}, dbname=prefect_db).result
    assert first['facts']['growth']['history']['recorded'] is True
    size = first['facts']['database']['size_bytes']
    used = cluster_used_bytes(cluster, prefect_db)
    step, disk_step = size // 100, 10 * 2 ** 20
    # earlier snapshots, as earlier daily runs would have stored them: the database grew by `step` a day and
    # the volume's used space by 10 MiB a day
    cluster.sql(prefect_db, """
        INSERT INTO prefectdb_maintenance.health_snapshot
               (taken_at, database_bytes, disk_total_bytes, disk_available_bytes, disk_used_bytes, disk_method, tables)
        SELECT now() - d * interval '1 day', %(size)s::bigint - d * %(step)s::bigint, NULL, NULL,
               %(used)s::bigint - d * %(disk_step)s::bigint, 'disk_total_bytes',
               jsonb_build_object('public.events', jsonb_build_array(1000000 - d * 1000, 10))
          FROM unnest(ARRAY[1, 7, 30, 200]) AS d""", {'size': size, 'step': step, 'used': used,
                                                      'disk_step': disk_step})
    r = module_runner('health', {'checks': ['disk', 'growth'], 'disk_total_bytes': used + 20 * disk_step,
                                 'history_keep': '100d'}, dbname=prefect_db).result
    g = r['facts']['growth']
    assert g['history']['removed'] == 1          # the 200-day-old snapshot is past history_keep
    assert g['history']['snapshots'] == 5
    now_size = r['facts']['database']['size_bytes']
    now_used = r['facts']['disk']['used_bytes']
    for window, days in (('1d', 1), ('7d', 7), ('30d', 30)):
        w = g['windows'][window]
        assert w['elapsed_days'] == pytest.approx(days, abs=0.01)
        assert w['database_bytes_per_day'] == pytest.approx((now_size - (size - days * step)) / float(days), rel=0.01)
        assert w['disk_used_bytes_per_day'] == pytest.approx((now_used - (used - days * disk_step)) / float(days),
                                                             rel=0.01)
        events = [t for t in w['tables'] if t['table'] == 'public.events'][0]
        assert events['bytes_then'] == 1000000 - days * 1000
    # one point a day for the charts: the 30, 7 and 1 day old snapshots, today's two (the last wins)
    assert [p['database_bytes'] for p in g['series']] == [size - 30 * step, size - 7 * step, size - step, now_size]
    assert g['series'] == sorted(g['series'], key=lambda p: p['at'])
    assert g['rate_window'] == '7d' and g['rate_of'] == 'disk_used'
    assert g['rate_bytes_per_day'] == g['windows']['7d']['disk_used_bytes_per_day']
    available = r['facts']['disk']['available_bytes']
    assert g['days_until_full'] == pytest.approx(available / float(g['rate_bytes_per_day']), abs=0.1)
    f = finding(r, 'disk_full_forecast')
    expected = 'critical' if g['days_until_full'] < 7 else 'warning' if g['days_until_full'] < 30 else 'ok'
    assert f['severity'] == expected
    # other developers' databases come and go on the shared test cluster; the room was ~20 days
    assert 0 < g['days_until_full'] < 200


# --- robustness -------------------------------------------------------------------------------------

def test_sizes_of_an_exclusively_locked_table_come_from_relpages(cluster, history_db, module_runner):
    locker = cluster.connect(history_db, autocommit=False)
    try:
        with locker.cursor() as cur:
            cur.execute('LOCK TABLE log IN ACCESS EXCLUSIVE MODE')
        started = time.monotonic()
        r = module_runner('health', {'checks': ['tables'], 'lock_timeout': '1s'}, dbname=history_db).result
        assert not r.get('failed') and time.monotonic() - started < 30
        assert r['facts']['tables']['sizes_method'].startswith('relpages')
        log = [t for t in r['facts']['tables']['tables'] if t['qualified'] == 'public.log'][0]
        assert log['total_bytes'] > 0
    finally:
        locker.rollback()
        locker.close()


def test_a_check_that_cannot_get_its_lock_is_a_finding_not_a_failure(cluster, history_db, module_runner):
    locker = cluster.connect(history_db, autocommit=False)
    try:
        with locker.cursor() as cur:
            cur.execute('LOCK TABLE events IN ACCESS EXCLUSIVE MODE')
        r = module_runner('health', {'checks': ['prefect', 'connections'], 'lock_timeout': '1s'},
                          dbname=history_db).result
        assert not r.get('failed')
        f = finding(r, 'check_failed')
        assert f['check'] == 'prefect' and 'lock timeout' in f['message']
        assert r['facts']['prefect'] is None and r['facts']['connections']['total'] >= 1
    finally:
        locker.rollback()
        locker.close()


@pytest.mark.parametrize('args,text', [
    ({'thresholds': {'transaction_max_age': 'soon'}}, "thresholds.transaction_max_age: 'soon' is not a duration"),
    ({'thresholds': {'connections_warning_percent': 95}},
     'thresholds.connections_warning_percent (95.0) must not exceed thresholds.connections_critical_percent'),
    ({'events_retention_period': '7 fortnights'}, "events_retention_period: '7 fortnights' is not a duration"),
    ({'disk_total_bytes': 0}, 'disk_total_bytes: 0 is not a size'),
])
def test_bad_input_fails_clearly_and_reads_nothing(cluster, prefect_db, module_runner, args, text):
    r = module_runner('health', args, dbname=prefect_db).result
    assert r['failed'] is True and text in r['msg'], r['msg']
    assert r['msg'].endswith('nothing was read or changed')
    assert not history_exists(cluster, prefect_db)


def test_unknown_threshold_and_check_are_refused(prefect_db, module_runner):
    r = module_runner('health', {'thresholds': {'dead_row_percent': 5}}, dbname=prefect_db).result
    assert r['failed'] is True and 'dead_row_percent' in r['msg']
    r = module_runner('health', {'checks': ['disk', 'vibes']}, dbname=prefect_db).result
    assert r['failed'] is True and 'vibes' in r['msg']


def test_wrong_password_is_never_shown(cluster, prefect_db, module_runner):
    conn = cluster.connection_args(prefect_db, password='Wr0ng-health-pw')
    run = module_runner('health', connection=conn)
    assert run.result['failed'] is True and 'password authentication failed' in run.result['msg']
    assert 'Wr0ng-health-pw' not in run.stdout + run.stderr and PASSWORD not in run.result['msg']


# --- a standby ---------------------------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def as_postgres(cmd, **kwargs):
    if os.geteuid() == 0:
        cmd = ['runuser', '-u', 'postgres', '--'] + cmd
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kwargs)


@pytest.fixture(scope='module')
def replica(cluster):
    """A small primary (scripts/pgcluster.sh) and a hot standby streaming from it with
    hot_standby_feedback, on free ports; both removed afterwards."""
    base = tempfile.mkdtemp(prefix='prefectdb-health-standby-', dir='/var/tmp')
    primary_port, standby_port = free_port(), free_port()
    env = dict(os.environ, PREFECTDB_PG_PORT=str(primary_port), PREFECTDB_PG_DIR=os.path.join(base, 'primary'),
               PREFECTDB_PG_FAST='1')
    script = os.path.join(REPO, 'scripts', 'pgcluster.sh')
    standby = os.path.join(base, 'standby')
    if os.geteuid() == 0:
        shutil.chown(base, 'postgres')
    try:
        subprocess.run([script, 'start'], env=env, check=True, capture_output=True)
        as_postgres([os.path.join(cluster.bindir, 'pg_basebackup'), '-D', standby, '-R', '-X', 'stream', '-d',
                     'host=127.0.0.1 port=%d user=postgres password=%s' % (primary_port, PASSWORD)])
        with open(os.path.join(standby, 'postgresql.auto.conf'), 'a') as f:
            f.write("port = %d\nunix_socket_directories = '%s'\nhot_standby_feedback = on\n"
                    "wal_receiver_status_interval = 1\n" % (standby_port, standby))
        as_postgres([os.path.join(cluster.bindir, 'pg_ctl'), '-D', standby, '-l', os.path.join(base, 'standby.log'),
                     '-w', 'start'])
        yield {'primary': primary_port, 'standby': standby_port}
    finally:
        if os.path.exists(os.path.join(standby, 'postmaster.pid')):
            as_postgres([os.path.join(cluster.bindir, 'pg_ctl'), '-D', standby, '-m', 'immediate', 'stop'])
        subprocess.run([script, 'stop'], env=env, check=False, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def replica_connection(cluster, port):
    return dict(cluster.connection_args('postgres'), login_port=port)


def replica_sql(port, statement, autocommit=True):
    conn = psycopg2.connect(host='127.0.0.1', port=port, user='postgres', password=PASSWORD, dbname='postgres')
    conn.autocommit = autocommit
    with conn.cursor() as cur:
        cur.execute(statement)
        rows = cur.fetchall() if cur.description else None
    if autocommit:
        conn.close()
        return rows
    return conn


def test_on_a_standby_every_check_runs_and_history_is_only_read(cluster, replica, module_runner):
    primary = module_runner('health', {'checks': ['growth']},
                            connection=replica_connection(cluster, replica['primary'])).result
    assert primary['facts']['growth']['history']['recorded'] is True
    deadline = time.monotonic() + 20
    while not replica_sql(replica['standby'], "SELECT to_regclass('prefectdb_maintenance.health_snapshot')")[0][0]:
        assert time.monotonic() < deadline, 'the history table never reached the standby'
        time.sleep(0.3)
    run = module_runner('health', {}, connection=replica_connection(cluster, replica['standby']))
    r = run.result
    assert not r.get('failed') and r['changed'] is False, r.get('msg')
    assert r['facts']['database']['in_recovery'] is True
    assert not [f for f in r['findings'] if f['id'] == 'check_failed'], r['findings']
    history = finding(r, 'history_not_recorded')
    assert history['severity'] == 'ok' and 'standby' in history['message']
    assert r['facts']['growth']['history']['snapshots'] == 1   # the primary's snapshot, read on the standby
    assert r['facts']['prefect']['is_prefect_database'] is False


def test_standby_feedback_holding_the_horizon(cluster, replica, module_runner):
    holder = replica_sql(replica['standby'], 'BEGIN ISOLATION LEVEL REPEATABLE READ', autocommit=False)
    try:
        with holder.cursor() as cur:
            cur.execute('SELECT 1')  # the snapshot the standby now reports back through feedback
        for dummy in range(5):
            replica_sql(replica['primary'], 'SELECT txid_current()')
        deadline = time.monotonic() + 20
        while True:
            age = replica_sql(replica['primary'], 'SELECT max(age(backend_xmin)) FROM pg_stat_replication')[0][0]
            if (age or 0) >= 5 or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert age >= 5
        r = module_runner('health', {'checks': ['xmin'], 'thresholds': {'xmin_horizon_max_age': 2}},
                          connection=replica_connection(cluster, replica['primary'])).result
        f = [x for x in problems(r) if x['id'] == 'standby_xmin']
        assert len(f) == 1 and f[0]['value'] >= 5 and 'hot_standby_feedback' in f[0]['message']
        assert r['facts']['xmin']['standby_feedback'][0]['backend_xmin_age'] >= 5
        assert r['facts']['xmin']['horizon']['oldest_xmin_age'] >= 5
        quiet = module_runner('health', {'checks': ['xmin']},
                              connection=replica_connection(cluster, replica['primary'])).result
        assert not problems(quiet, 'standby_xmin')
    finally:
        holder.rollback()
        holder.close()
