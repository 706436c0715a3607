"""The retention module's behaviour on the real Prefect schema, through ansible-playbook:
check mode, idempotency, batching, max_runtime, locks, bad input, vacuum_after."""
import time

from ansible_collections.prefectdb.maintenance.plugins.module_utils import connection as c

from prefect_reference import differences, snapshot
from test_retention_cases import NOW_TEXT, build_cases, names
from testbed import vacuum_wait_events

EVERYTHING = {'enabled': ['events', 'flow_runs'], 'now': NOW_TEXT}


def run_ok(module_runner, dbname, args, **kwargs):
    run = module_runner('retention', args, dbname=dbname, **kwargs)
    assert run.rc == 0 and not run.result.get('failed'), run.result.get('msg') or run.stdout
    return run.result


def cases(cluster, dbname):
    conn = cluster.connect(dbname, autocommit=False)
    try:
        build_cases(conn)
    finally:
        conn.close()
    return dbname


def test_check_mode_counts_exactly_and_deletes_nothing(cluster, history_db, module_runner):
    before = cluster.fingerprint(history_db)
    preview = run_ok(module_runner, history_db, EVERYTHING, check=True)
    assert cluster.fingerprint(history_db) == before
    assert preview['changed'] is True and preview['status'] == 'counted'
    assert preview['msg'].startswith('retention: would delete ')
    done = run_ok(module_runner, history_db, EVERYTHING)
    assert done['changed'] is True and done['status'] == 'finished'
    assert list(preview['cleanups']) == list(done['cleanups'])
    for name in done['cleanups']:
        assert preview['cleanups'][name]['deleted'] == done['cleanups'][name]['deleted'], name
        assert preview['cleanups'][name]['updated'] == done['cleanups'][name]['updated'], name
        assert preview['cleanups'][name]['status'] == 'counted'
        assert preview['cleanups'][name]['batches'] == 0
        assert done['cleanups'][name]['batches'] > 0 or name == 'event_retention_overrides'
    assert preview['deleted'] == done['deleted'] and preview['updated'] == done['updated']
    assert done['msg'].startswith('retention: deleted ')


def test_second_run_finds_nothing(cluster, prefect_db, module_runner):
    db = cases(cluster, prefect_db)
    first = run_ok(module_runner, db, EVERYTHING)
    assert first['changed'] is True
    after_first = snapshot(cluster, db)
    second = run_ok(module_runner, db, EVERYTHING)
    assert second['changed'] is False
    assert second['deleted'] == {} and second['updated'] == {}
    assert second['status'] == 'finished' and 'nothing to delete' in second['msg']
    assert differences(after_first, snapshot(cluster, db)) == []
    preview = run_ok(module_runner, db, EVERYTHING, check=True)
    assert preview['changed'] is False and preview['deleted'] == {}


def test_empty_database(prefect_db, module_runner):
    r = run_ok(module_runner, prefect_db, dict(EVERYTHING, vacuum_after=True))
    assert r['changed'] is False and r['status'] == 'finished' and r['vacuumed'] == {}
    assert all(cleanup['status'] == 'finished' for cleanup in r['cleanups'].values())
    assert r['peak_memory_kb'] > 0


def test_default_now_is_the_database_clock(prefect_db, module_runner):
    r = run_ok(module_runner, prefect_db, {})
    assert list(r['cleanups']) == ['event_retention_overrides', 'old_events']
    assert r['now'].endswith('Z') and r['now'] > '2026'
    assert r['cutoffs']['flow_runs'] is None


def test_batches_of_one_leave_what_big_batches_leave(cluster, prefect_db, module_runner):
    db = cases(cluster, prefect_db)
    other = cluster.clone(db)
    try:
        small = run_ok(module_runner, db, dict(EVERYTHING, batch_size=1, max_batch_size=1))
        big = run_ok(module_runner, other, dict(EVERYTHING, batch_size=5000, max_batch_size=100000))
        assert differences(snapshot(cluster, other), snapshot(cluster, db)) == []
    finally:
        cluster.drop(other)
    assert small['deleted'] == big['deleted']
    # one batch per top-level run (its subflows go with it; runs that end at the same instant would go together)
    assert small['cleanups']['old_flow_runs']['batches'] == 8
    assert big['cleanups']['old_flow_runs']['batches'] == 1


def test_max_runtime_stops_cleanly_and_the_next_run_resumes(cluster, history_db, module_runner):
    other = cluster.clone(history_db)
    try:
        whole = run_ok(module_runner, other, EVERYTHING)
        slow = dict(EVERYTHING, batch_size=1, max_batch_size=1, max_runtime='2s', vacuum_after=True)
        began = time.monotonic()
        first = run_ok(module_runner, history_db, slow)
        assert time.monotonic() - began < 30
        assert first['status'] == 'stopped'
        assert 'stopped before finishing' in first['msg']
        assert first['vacuumed'] == {}
        assert any('vacuum_after skipped' in w for w in first.get('warnings', []))
        statuses = [cleanup['status'] for cleanup in first['cleanups'].values()]
        assert 'stopped' in statuses and statuses[-1] == 'stopped'
        assert first['seconds'] < 2 + 5
        rest = run_ok(module_runner, history_db, EVERYTHING)
        assert rest['status'] == 'finished'
        assert differences(snapshot(cluster, other), snapshot(cluster, history_db)) == []
    finally:
        cluster.drop(other)
    for table, count in whole['deleted'].items():
        assert first['deleted'].get(table, 0) + rest['deleted'].get(table, 0) == count, table


def test_a_locked_row_is_retried_smaller_then_skipped_never_waited_for(cluster, prefect_db, module_runner):
    db = cases(cluster, prefect_db)
    holder = cluster.connect(db, autocommit=False)
    try:
        with holder.cursor() as cur:
            # a client holds a task run of an old flow run: deleting the run would wait on it
            cur.execute("SELECT 1 FROM task_run WHERE name = 'old-completed/task' FOR UPDATE")
            began = time.monotonic()
            r = run_ok(module_runner, db, {'enabled': ['flow_runs'], 'now': NOW_TEXT, 'batch_size': 8,
                                           'lock_timeout': '200ms'})
            assert time.monotonic() - began < 30
        runs = r['cleanups']['old_flow_runs']
        assert runs['status'] == 'finished'
        assert runs['retries'] >= 3 and runs['skipped_batches'] == 1
        assert any('skipped a batch of 1 flow runs' in w and 'lock timeout' in w for w in r['warnings'])
        assert runs['deleted']['flow_run'] == 9       # all but the one whose task run is locked
        assert 'old-completed' in names(cluster, db, 'flow_run')
    finally:
        holder.rollback()
        holder.close()
    again = run_ok(module_runner, db, {'enabled': ['flow_runs'], 'now': NOW_TEXT})
    assert again['cleanups']['old_flow_runs']['deleted']['flow_run'] == 1
    assert 'old-completed' not in names(cluster, db, 'flow_run')


def test_a_run_locked_by_prefect_is_skipped_like_prefect_does(cluster, prefect_db, module_runner):
    db = cases(cluster, prefect_db)
    holder = cluster.connect(db, autocommit=False)
    try:
        with holder.cursor() as cur:
            cur.execute("SELECT 1 FROM flow_run WHERE name = 'old-failed' FOR UPDATE")
            r = run_ok(module_runner, db, {'enabled': ['flow_runs'], 'now': NOW_TEXT, 'lock_timeout': '200ms'})
        runs = r['cleanups']['old_flow_runs']
        assert runs['deleted']['flow_run'] == 9 and runs['retries'] == 0 and runs['skipped_batches'] == 0
        assert 'old-failed' in names(cluster, db, 'flow_run')
    finally:
        holder.rollback()
        holder.close()


def test_another_run_holding_the_lock_skips_without_changing_anything(cluster, prefect_db, module_runner):
    db = cases(cluster, prefect_db)
    before = cluster.fingerprint(db)
    holder = cluster.connect(db)
    try:
        c.acquire_advisory_lock(holder, 'retention')
        run = module_runner('retention', EVERYTHING, dbname=db)
        assert run.results[0]['status'] == 'skipped' and run.result['changed'] is False
        assert 'another retention run holds the lock' in run.result['msg']
        assert cluster.fingerprint(db) == before
    finally:
        holder.close()


def test_bad_input_fails_with_one_clear_message_and_changes_nothing(cluster, prefect_db, module_runner):
    db = cases(cluster, prefect_db)
    before = cluster.fingerprint(db)
    for args, message in (
            ({'retention_period': '30m'}, 'retention: retention_period: 30m is too short; Prefect requires more than'
                                          ' 1 hour; nothing was changed.'),
            ({'event_retention_overrides': {'prefect.flow-run.heartbeat': 'later'}},
             "event_retention_overrides[prefect.flow-run.heartbeat]: 'later' is not a duration"),
            ({'now': 'tomorrow'}, "now: 'tomorrow' is not an ISO-8601 timestamp"),
            ({'enabled': ['events', 'logs']}, 'value of enabled must be one or more of: events, flow_runs, orphans'),
            ({'batch_size': 100, 'max_batch_size': 10}, 'max_batch_size: 10 is smaller than batch_size 100')):
        r = module_runner('retention', dict(EVERYTHING, **args), dbname=db).result
        assert r['failed'] is True and r.get('changed') is False, args
        assert message in r['msg'], r['msg']
    assert cluster.fingerprint(db) == before


def test_not_a_prefect_database(module_runner):
    r = module_runner('retention', EVERYTHING, dbname='postgres').result
    assert r['failed'] is True
    assert 'this is not a Prefect database' in r['msg'] and 'flow_run' in r['msg']
    assert 'nothing was changed' in r['msg']


def test_vacuum_after_vacuums_the_tables_it_deleted_from(cluster, prefect_db, module_runner):
    db = cases(cluster, prefect_db)
    r = run_ok(module_runner, db, dict(EVERYTHING, vacuum_after=True))
    assert set(r['vacuumed']) == set(r['deleted']) | set(r['updated'])
    assert {'events', 'event_resources', 'flow_run', 'task_run', 'log', 'artifact_collection'} <= set(r['vacuumed'])
    vacuumed = dict(cluster.sql(db, 'SELECT relname, last_vacuum IS NOT NULL AND last_analyze IS NOT NULL'
                                    ' FROM pg_stat_user_tables'))
    assert all(vacuumed[table] for table in r['vacuumed'])
    assert vacuumed['flow'] is False
    assert r['settings']['vacuum_cost_delay'] == 2   # autovacuum's pace, as the vacuum module's default


def test_vacuum_after_runs_at_the_vacuum_cost_delay_it_is_given(cluster, history_db, history_template, module_runner):
    # 0: no VacuumDelay at all; 20 ms per 200 cost units: the VACUUM sleeps most of its time
    history = cluster.clone(history_template)
    try:
        for db, delay, slept in ((history_db, 0, False), (history, 20, True)):
            r, seen = vacuum_wait_events(cluster, db, lambda db=db, delay=delay: run_ok(
                module_runner, db, dict(EVERYTHING, vacuum_after=True, vacuum_cost_delay=delay)))
            assert r['settings']['vacuum_cost_delay'] == delay and r['vacuumed'], r
            assert ('VacuumDelay' in seen) is slept, (delay, seen)
    finally:
        cluster.drop(history)
