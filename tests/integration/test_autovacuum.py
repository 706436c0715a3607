"""autovacuum on the real Prefect schema, through ansible-playbook."""
import uuid

from ansible_collections.prefectdb.maintenance.plugins.module_utils.connection import advisory_lock_key

from testbed import run_playbook

PREFECT = {
    'events': {'autovacuum_vacuum_scale_factor': '0.05', 'autovacuum_vacuum_threshold': '1000',
               'autovacuum_analyze_scale_factor': '0.02'},
    'flow_run_state': {'autovacuum_vacuum_scale_factor': '0.1', 'autovacuum_analyze_scale_factor': '0.05'},
    'flow_run': {'autovacuum_vacuum_scale_factor': '0.1', 'autovacuum_vacuum_threshold': '500'},
}


def reloptions(cluster, db, table):
    """(table's, TOAST table's) reloptions as dicts."""
    heap, toast = cluster.sql(db, """
        SELECT c.reloptions, t.reloptions FROM pg_class c LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
         WHERE c.oid = %s::regclass""", (table,))[0]
    return (dict(o.split('=', 1) for o in heap or []), dict(o.split('=', 1) for o in toast or []))


def all_reloptions(cluster, db):
    return cluster.fingerprint(db)['reloptions']


def test_prefect_preset_applies_and_the_second_run_changes_nothing(cluster, prefect_db, module_runner):
    before = all_reloptions(cluster, prefect_db)
    r = module_runner('autovacuum', {'preset': 'prefect'}, dbname=prefect_db).result
    assert r['failed'] is False, r['msg']
    assert r['changed'] is True
    assert r['changed_tables'] == ['events', 'flow_run_state', 'flow_run']
    assert len(r['statements']) == 3
    for table, wanted in PREFECT.items():
        assert reloptions(cluster, prefect_db, table) == (wanted, {})
        assert r['tables'][table]['status'] == 'changed'
        assert r['tables'][table]['before'] == {}
        assert r['tables'][table]['after'] == wanted
        assert r['tables'][table]['statements'][0].startswith('ALTER TABLE "public"."%s" SET (' % table)
    after = all_reloptions(cluster, prefect_db)
    assert {t for t in after if after[t] != before[t]} == set(PREFECT)
    assert 'changed 3 of 3 tables (events, flow_run_state, flow_run)' in r['msg']

    again = module_runner('autovacuum', {'preset': 'prefect'}, dbname=prefect_db).result
    assert again['failed'] is False and again['changed'] is False
    assert again['statements'] == [] and again['changed_tables'] == []
    assert {t['status'] for t in again['tables'].values()} == {'unchanged'}
    assert again['msg'] == ('autovacuum: 3 already as wanted (events, flow_run_state, flow_run); nothing changed')
    assert all_reloptions(cluster, prefect_db) == after


def test_check_mode_sends_no_ddl_and_takes_no_table_lock(cluster, prefect_db, module_runner):
    cluster.sql(prefect_db, "ALTER TABLE log SET (autovacuum_vacuum_cost_limit = 300)")
    before = cluster.fingerprint(prefect_db)
    # a session holding the strongest lock on two of the tables: any DDL (or execute-and-rollback) would wait
    holder = cluster.connect(prefect_db)
    try:
        with holder.cursor() as cur:
            cur.execute('BEGIN')
            cur.execute('LOCK TABLE events, log IN ACCESS EXCLUSIVE MODE')
        run = module_runner('autovacuum', {'preset': 'prefect_high_volume', 'exclusive': True, 'lock_timeout': '1s'},
                            dbname=prefect_db, check=True, diff=True)
        with holder.cursor() as cur:  # still holding: the module did not wait for it
            cur.execute("SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND mode = 'AccessExclusiveLock'"
                        " AND relation IN ('events'::regclass, 'log'::regclass)")
            assert cur.fetchone()[0] == 2
    finally:
        holder.close()
    r = run.result
    assert r['failed'] is False, r['msg']
    assert r['changed'] is True
    assert set(r['changed_tables']) == {'log', 'events', 'event_resources', 'task_run', 'task_run_state',
                                        'flow_run_state', 'flow_run'}
    assert {t['status'] for t in r['tables'].values()} == {'would_change'}
    assert len(r['statements']) == 7
    assert r['tables']['log']['reset'] == []  # the preset sets the cost limit itself
    assert r['tables']['log']['set']['autovacuum_vacuum_cost_limit'] == '1000'
    assert r['diff']['before']['log'] == {'autovacuum_vacuum_cost_limit': '300'}
    assert r['diff']['after']['log']['autovacuum_vacuum_cost_limit'] == '1000'
    assert 'check mode, no statement sent' in r['msg']
    assert cluster.fingerprint(prefect_db) == before


def test_diff_shows_before_and_after_and_only_what_differs(cluster, prefect_db, module_runner):
    cluster.sql(prefect_db, "ALTER TABLE events SET (autovacuum_vacuum_scale_factor = '0.050', "
                            "autovacuum_vacuum_threshold = 200, fillfactor = 90)")
    cluster.sql(prefect_db, "ALTER TABLE flow_run SET (autovacuum_vacuum_scale_factor = 0.1, "
                            "autovacuum_vacuum_threshold = 500)")
    run = module_runner('autovacuum', {'preset': 'prefect'}, dbname=prefect_db, diff=True)
    r = run.result
    assert r['failed'] is False, r['msg']
    assert r['diff']['before'] == {
        'events': {'autovacuum_vacuum_scale_factor': '0.050', 'autovacuum_vacuum_threshold': '200', 'fillfactor': '90'},
        'flow_run_state': {},
    }
    assert r['diff']['after'] == {
        'events': {'autovacuum_vacuum_scale_factor': '0.050', 'autovacuum_vacuum_threshold': '1000', 'fillfactor': '90',
                   'autovacuum_analyze_scale_factor': '0.02'},
        'flow_run_state': PREFECT['flow_run_state'],
    }
    assert r['tables']['events']['set'] == {'autovacuum_vacuum_threshold': '1000',
                                            'autovacuum_analyze_scale_factor': '0.02'}
    assert r['tables']['events']['statements'] == [
        'ALTER TABLE "public"."events" SET ("autovacuum_vacuum_threshold" = \'1000\', '
        '"autovacuum_analyze_scale_factor" = \'0.02\')']
    assert r['tables']['flow_run']['status'] == 'unchanged'
    assert r['changed_tables'] == ['events', 'flow_run_state']
    # what the server holds is what the diff said
    assert reloptions(cluster, prefect_db, 'events')[0] == r['diff']['after']['events']
    # and ansible-playbook --diff prints it
    assert '"autovacuum_vacuum_threshold": "200"' in run.stdout and '"autovacuum_vacuum_threshold": "1000"' in run.stdout


def test_values_compare_as_typed_values(cluster, prefect_db, module_runner):
    cluster.sql(prefect_db, "ALTER TABLE events SET (autovacuum_vacuum_scale_factor = '5e-2', "
                            "autovacuum_vacuum_threshold = '1e3', autovacuum_analyze_scale_factor = '.020', "
                            "autovacuum_enabled = 'ON', vacuum_index_cleanup = 'TRUE')")
    before = all_reloptions(cluster, prefect_db)
    args = {'tables': {'events': {'autovacuum_vacuum_scale_factor': 0.05, 'autovacuum_vacuum_threshold': '1000',
                                  'autovacuum_analyze_scale_factor': 0.02, 'autovacuum_enabled': 'yes',
                                  'vacuum_index_cleanup': True}}}
    r = module_runner('autovacuum', args, dbname=prefect_db).result
    assert r['failed'] is False, r['msg']
    assert r['changed'] is False and r['statements'] == []
    assert all_reloptions(cluster, prefect_db) == before


def test_state_absent_and_null_reset(cluster, prefect_db, module_runner):
    assert module_runner('autovacuum', {'preset': 'prefect'}, dbname=prefect_db).result['changed'] is True
    cluster.sql(prefect_db, 'ALTER TABLE events SET (fillfactor = 90)')
    r = module_runner('autovacuum', {'state': 'absent', 'tables': {
        'events': ['autovacuum_vacuum_threshold', 'autovacuum_analyze_scale_factor', 'autovacuum_enabled'],
        'flow_run': {'autovacuum_vacuum_threshold': 123}}}, dbname=prefect_db).result
    assert r['failed'] is False, r['msg']
    assert r['statements'] == [
        'ALTER TABLE "public"."events" RESET ("autovacuum_vacuum_threshold", "autovacuum_analyze_scale_factor")',
        'ALTER TABLE "public"."flow_run" RESET ("autovacuum_vacuum_threshold")']
    assert reloptions(cluster, prefect_db, 'events')[0] == {'autovacuum_vacuum_scale_factor': '0.05', 'fillfactor': '90'}
    assert reloptions(cluster, prefect_db, 'flow_run')[0] == {'autovacuum_vacuum_scale_factor': '0.1'}
    again = module_runner('autovacuum', {'state': 'absent', 'tables': {
        'events': ['autovacuum_vacuum_threshold', 'autovacuum_analyze_scale_factor', 'autovacuum_enabled'],
        'flow_run': {'autovacuum_vacuum_threshold': 123}}}, dbname=prefect_db).result
    assert again['changed'] is False and again['statements'] == []

    # the whole preset back to the server's defaults
    r = module_runner('autovacuum', {'state': 'absent', 'preset': 'prefect'}, dbname=prefect_db).result
    assert r['changed_tables'] == ['events', 'flow_run_state', 'flow_run']
    assert reloptions(cluster, prefect_db, 'events')[0] == {'fillfactor': '90'}
    assert reloptions(cluster, prefect_db, 'flow_run_state') == ({}, {})

    # null under state=present: "must not be set"
    cluster.sql(prefect_db, 'ALTER TABLE log SET (autovacuum_vacuum_cost_limit = 700, autovacuum_enabled = off)')
    r = module_runner('autovacuum', {'tables': {'log': {'autovacuum_vacuum_cost_limit': None,
                                                        'autovacuum_enabled': True}}}, dbname=prefect_db).result
    assert r['statements'] == ['ALTER TABLE "public"."log" SET ("autovacuum_enabled" = \'true\'), '
                               'RESET ("autovacuum_vacuum_cost_limit")']
    assert reloptions(cluster, prefect_db, 'log')[0] == {'autovacuum_enabled': 'true'}


def test_exclusive_removes_unmanaged_autovacuum_keys_and_only_those(cluster, prefect_db, module_runner):
    cluster.sql(prefect_db, "ALTER TABLE log SET (autovacuum_vacuum_cost_limit = 500, autovacuum_vacuum_scale_factor = 0.2,"
                            " vacuum_truncate = off, log_autovacuum_min_duration = 0, fillfactor = 90,"
                            " parallel_workers = 2, toast_tuple_target = 256, toast.autovacuum_enabled = false)")
    cluster.sql(prefect_db, 'ALTER TABLE events SET (autovacuum_vacuum_cost_limit = 500)')
    r = module_runner('autovacuum', {'exclusive': True, 'tables': {'log': {'autovacuum_vacuum_scale_factor': 0.01}}},
                      dbname=prefect_db).result
    assert r['failed'] is False, r['msg']
    assert r['tables']['log']['set'] == {'autovacuum_vacuum_scale_factor': '0.01'}
    assert sorted(r['tables']['log']['reset']) == [
        'autovacuum_vacuum_cost_limit', 'log_autovacuum_min_duration', 'toast.autovacuum_enabled', 'vacuum_truncate']
    assert reloptions(cluster, prefect_db, 'log') == (
        {'autovacuum_vacuum_scale_factor': '0.01', 'fillfactor': '90', 'parallel_workers': '2',
         'toast_tuple_target': '256'}, {})
    # a table that is not listed is never touched
    assert reloptions(cluster, prefect_db, 'events')[0] == {'autovacuum_vacuum_cost_limit': '500'}
    again = module_runner('autovacuum', {'exclusive': True, 'tables': {'log': {'autovacuum_vacuum_scale_factor': 0.01}}},
                          dbname=prefect_db).result
    assert again['changed'] is False

    # without exclusive, keys outside the request stay
    cluster.sql(prefect_db, 'ALTER TABLE log SET (autovacuum_vacuum_cost_limit = 500)')
    r = module_runner('autovacuum', {'tables': {'log': {'autovacuum_vacuum_scale_factor': 0.01}}},
                      dbname=prefect_db).result
    assert r['changed'] is False
    assert reloptions(cluster, prefect_db, 'log')[0]['autovacuum_vacuum_cost_limit'] == '500'


def test_every_invalid_input_is_rejected_with_nothing_applied(cluster, prefect_db, module_runner):
    cluster.sql(prefect_db, 'CREATE VIEW recent_runs AS SELECT * FROM flow_run')
    before = cluster.fingerprint(prefect_db)
    args = {
        'lock_timeout': 'soon',
        'tables': {
            'flow_run': {'autovacuum_vacuum_scale_factor': 0.01},  # valid: must not be applied either
            'log': {'autovacuum_vacuum_scale_factor': 150, 'autovacum_enabled': True,
                    'toast.autovacuum_analyze_scale_factor': 0.1, 'autovacuum_vacuum_max_threshold': 1000,
                    'autovacuum_vacuum_cost_limit': 'lots'},
            'public.log': {'fillfactor': 90},
            'task_run': {'fillfactor': 5},
            'no_such_table': {'autovacuum_enabled': False},
            'recent_runs': {'autovacuum_enabled': False},
            'bad name;': {},
        }}
    r = module_runner('autovacuum', args, dbname=prefect_db).result
    assert r['failed'] is True and r['changed'] is False
    expected = [
        "lock_timeout: 'soon' is not a duration",
        'tables.log.autovacuum_vacuum_scale_factor: 150 is out of range: a number from 0 to 100',
        'tables.log.autovacum_enabled: not a storage parameter this module manages; did you mean autovacuum_enabled?',
        'tables.log.toast.autovacuum_analyze_scale_factor: cannot be set on a TOAST table',
        "tables.log.autovacuum_vacuum_cost_limit: 'lots' is not an integer",
        'tables.public.log: names the same table as tables.log (public.log)',
        'tables.task_run.fillfactor: 5 is out of range: an integer from 10 to 100',
        'tables.no_such_table: table public.no_such_table does not exist',
        'tables.recent_runs: public.recent_runs is a view, not an ordinary table',
        "tables.bad name;: 'bad name;' is not a plain identifier",
    ]
    major = cluster.sql('postgres', "SELECT current_setting('server_version_num')::int / 10000")[0][0]
    if major < 18:  # a PostgreSQL 18 parameter; valid from 18 on (docs/compatibility.md)
        expected.insert(4, 'tables.log.autovacuum_vacuum_max_threshold: needs PostgreSQL 18 or later; '
                           'the server is %d.' % major)
    assert len(r['errors']) == len(expected), r['errors']
    for text in expected:
        assert any(e.startswith(text) for e in r['errors']), text
        assert text in r['msg']
    assert r['msg'].startswith('autovacuum: %d problems in the request, nothing was changed: (1) ' % len(expected))
    assert 'tables' not in r and 'statements' not in r
    assert cluster.fingerprint(prefect_db) == before


def test_missing_tables_can_be_ignored(cluster, prefect_db, module_runner):
    args = {'missing': 'ignore', 'tables': {'no_such_table': {'autovacuum_enabled': False},
                                            'log': {'autovacuum_enabled': False}}}
    r = module_runner('autovacuum', args, dbname=prefect_db).result
    assert r['failed'] is False, r['msg']
    assert r['missing_tables'] == ['no_such_table'] and r['changed_tables'] == ['log']
    assert r['tables']['no_such_table']['status'] == 'missing'
    assert '1 missing table ignored (no_such_table)' in r['msg']
    assert reloptions(cluster, prefect_db, 'log')[0] == {'autovacuum_enabled': 'false'}


def test_toast_options_are_idempotent(cluster, prefect_db, module_runner):
    # stored the way a person might have typed them, so the comparison must be typed
    cluster.sql(prefect_db, "ALTER TABLE log SET (toast.autovacuum_enabled = 'off')")
    args = {'tables': {'log': {'toast.autovacuum_vacuum_scale_factor': 0.05, 'toast.autovacuum_enabled': False,
                               'toast.vacuum_index_cleanup': 'off', 'toast.autovacuum_vacuum_insert_threshold': -1,
                               'autovacuum_vacuum_scale_factor': 0.01}}}
    r = module_runner('autovacuum', args, dbname=prefect_db).result
    assert r['failed'] is False, r['msg']
    assert r['tables']['log']['set'] == {'toast.autovacuum_vacuum_scale_factor': '0.05',
                                         'toast.vacuum_index_cleanup': 'off',
                                         'toast.autovacuum_vacuum_insert_threshold': '-1',
                                         'autovacuum_vacuum_scale_factor': '0.01'}
    heap, toast = reloptions(cluster, prefect_db, 'log')
    assert heap == {'autovacuum_vacuum_scale_factor': '0.01'}
    assert toast == {'autovacuum_enabled': 'off', 'autovacuum_vacuum_scale_factor': '0.05',
                     'vacuum_index_cleanup': 'off', 'autovacuum_vacuum_insert_threshold': '-1'}
    assert r['tables']['log']['after'] == {'autovacuum_vacuum_scale_factor': '0.01',
                                           'toast.autovacuum_enabled': 'off',
                                           'toast.autovacuum_vacuum_scale_factor': '0.05',
                                           'toast.vacuum_index_cleanup': 'off',
                                           'toast.autovacuum_vacuum_insert_threshold': '-1'}
    for dummy in range(2):
        again = module_runner('autovacuum', args, dbname=prefect_db).result
        assert again['changed'] is False and again['statements'] == []
    # RESET of a TOAST parameter
    r = module_runner('autovacuum', {'state': 'absent', 'tables': {'log': ['toast.autovacuum_enabled']}},
                      dbname=prefect_db).result
    assert r['statements'] == ['ALTER TABLE "public"."log" RESET ("toast"."autovacuum_enabled")']
    assert 'autovacuum_enabled' not in reloptions(cluster, prefect_db, 'log')[1]


def test_toast_options_on_a_table_without_toast_are_refused(cluster, prefect_db, module_runner):
    # PostgreSQL accepts them there and silently stores nothing: every run would "change" again
    cluster.sql(prefect_db, 'CREATE TABLE narrow (id bigint, n int)')
    before = cluster.fingerprint(prefect_db)
    r = module_runner('autovacuum', {'tables': {'narrow': {'toast.autovacuum_enabled': False,
                                                           'autovacuum_enabled': False}}},
                      dbname=prefect_db).result
    assert r['failed'] is True
    assert r['errors'] == ['tables.narrow: public.narrow has no TOAST table, so toast.* parameters cannot be stored '
                           '(toast.autovacuum_enabled)']
    assert cluster.fingerprint(prefect_db) == before


def test_a_locked_table_fails_within_lock_timeout_and_the_others_are_applied(cluster, prefect_db, prefect_template,
                                                                             module_runner):
    # a decoy: the same table (same OID, cloned from the same template) locked in another database
    other_db = cluster.clone(prefect_template)
    decoy = cluster.connect(other_db)
    holder = cluster.connect(prefect_db)
    args = {'lock_timeout': '1s', 'tables': {'events': {'autovacuum_vacuum_scale_factor': 0.02},
                                             'log': {'autovacuum_vacuum_scale_factor': 0.01},
                                             'flow_run': {'autovacuum_vacuum_threshold': 500}}}
    try:
        for conn in (decoy, holder):
            with conn.cursor() as cur:
                cur.execute('BEGIN')
                cur.execute('LOCK TABLE log IN SHARE UPDATE EXCLUSIVE MODE')
        r = module_runner('autovacuum', args, dbname=prefect_db).result
        with holder.cursor() as cur:  # the module came back while the lock was still held
            cur.execute("SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND relation = 'log'::regclass "
                        "AND mode = 'ShareUpdateExclusiveLock' AND granted")
            assert cur.fetchone()[0] == 1
        pid = holder.get_backend_pid()
    finally:
        holder.close()
        decoy.close()
        cluster.drop(other_db)
    assert r['failed'] is True
    assert r['changed'] is True
    assert r['failed_tables'] == ['log']
    assert r['changed_tables'] == ['events', 'flow_run']
    log = r['tables']['log']
    assert log['status'] == 'failed'
    assert log['msg'] == ('could not get the SHARE UPDATE EXCLUSIVE lock within lock_timeout=1s; '
                          'held by pid %d (prefectdb tests, idle in transaction: '
                          'LOCK TABLE log IN SHARE UPDATE EXCLUSIVE MODE); '
                          'the table was left unchanged, retry later or raise lock_timeout' % pid)
    assert log['after'] == log['before'] == {}
    assert r['msg'].startswith('autovacuum: 1 of 3 tables failed: log: could not get the SHARE UPDATE EXCLUSIVE lock')
    assert 'changed 2 of 3 tables (events, flow_run)' in r['msg']
    assert reloptions(cluster, prefect_db, 'log') == ({}, {})
    assert reloptions(cluster, prefect_db, 'events')[0] == {'autovacuum_vacuum_scale_factor': '0.02'}
    assert reloptions(cluster, prefect_db, 'flow_run')[0] == {'autovacuum_vacuum_threshold': '500'}

    # once the lock is gone, the same task finishes the job
    r = module_runner('autovacuum', args, dbname=prefect_db).result
    assert r['failed'] is False and r['changed_tables'] == ['log']
    assert reloptions(cluster, prefect_db, 'log')[0] == {'autovacuum_vacuum_scale_factor': '0.01'}


def test_another_run_holding_the_advisory_lock_makes_it_skip(cluster, prefect_db, module_runner):
    other = cluster.connect(prefect_db)
    try:
        with other.cursor() as cur:
            cur.execute('SELECT pg_advisory_lock(%s)', (advisory_lock_key('autovacuum', prefect_db),))
        before = all_reloptions(cluster, prefect_db)
        run = module_runner('autovacuum', {'preset': 'prefect'}, dbname=prefect_db)
        r = run.result
        assert run.results[0]['status'] == 'skipped'
        assert r['changed'] is False and r['lock_holder']['pid'] == other.get_backend_pid()
        assert 'another autovacuum run holds the lock on database "%s" (pid %d' % (
            prefect_db, other.get_backend_pid()) in r['msg']
        assert all_reloptions(cluster, prefect_db) == before
    finally:
        other.close()


def test_a_login_that_does_not_own_the_tables_is_refused(cluster, prefect_db, module_runner):
    role = 'av_reader_%s' % uuid.uuid4().hex[:8]
    cluster.sql('postgres', 'CREATE ROLE %s LOGIN PASSWORD %%s' % role, ('reader-pw',))
    try:
        before = cluster.fingerprint(prefect_db)
        conn = cluster.connection_args(prefect_db, user=role, password='reader-pw')
        r = module_runner('autovacuum', {'preset': 'prefect'}, connection=conn).result
        assert r['failed'] is True
        assert len(r['errors']) == 3
        assert r['errors'][0] == ('preset prefect: events: login "%s" may not alter public.events: only its owner '
                                  '"postgres", a member of that role or a superuser may' % role)
        assert cluster.fingerprint(prefect_db) == before
    finally:
        cluster.sql('postgres', 'DROP ROLE %s' % role)


def test_a_playbook_run_twice_reports_changed_0_the_second_time(cluster, history_db):
    play = {
        'name': 'autovacuum settings',
        'hosts': 'all',
        'gather_facts': False,
        'module_defaults': {'group/prefectdb.maintenance.postgres': cluster.connection_args(history_db)},
        'tasks': [
            {'name': 'High-volume preset with overrides',
             'prefectdb.maintenance.autovacuum': {
                 'preset': 'prefect_high_volume',
                 'exclusive': True,
                 'tables': {'log': {'autovacuum_vacuum_cost_limit': 2000},
                            'artifact': {'autovacuum_vacuum_scale_factor': 0.05,
                                         'toast.autovacuum_vacuum_scale_factor': 0.05},
                            'events': {'vacuum_index_cleanup': 'on', 'autovacuum_enabled': 'yes'}}}},
            {'name': 'Another table in a second task',
             'prefectdb.maintenance.autovacuum': {'tables': {'artifact_collection': {'autovacuum_enabled': True}}}},
        ],
    }
    first = run_playbook([play])
    assert first.rc == 0, first.stdout + first.stderr
    assert first.stats['localhost']['changed'] == 2
    assert first.task('High-volume preset with overrides')['changed_tables'] == [
        'log', 'events', 'event_resources', 'task_run', 'task_run_state', 'flow_run_state', 'flow_run', 'artifact']
    assert reloptions(cluster, history_db, 'artifact') == (
        {'autovacuum_vacuum_scale_factor': '0.05'}, {'autovacuum_vacuum_scale_factor': '0.05'})
    assert reloptions(cluster, history_db, 'log')[0]['autovacuum_vacuum_cost_limit'] == '2000'
    settled = all_reloptions(cluster, history_db)

    second = run_playbook([play])
    assert second.rc == 0, second.stdout + second.stderr
    assert second.stats['localhost']['changed'] == 0
    assert second.stats['localhost']['ok'] == 2
    assert 'changed=0' in second.stdout
    assert all_reloptions(cluster, history_db) == settled
