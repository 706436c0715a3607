"""Prefect's own test cases for its db vacuum service, as a small handmade database:
the retention module must keep and delete exactly what Prefect 3.9.1's functions do
(run on a clone with the same settings and clock), and what Prefect's tests expect."""
import datetime
import json
import os
import uuid

import pytest

from prefect_reference import differences, reference_url, run_reference, snapshot
from testbed import PASSWORD, REPO

NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
NOW_TEXT = '2026-01-01T00:00:00Z'
PREFECT_PYTHON = os.path.join(REPO, '.venv-prefect', 'bin', 'python')
HEARTBEAT = 'prefect.flow-run.heartbeat'


def uid(name):
    return str(uuid.uuid5(uuid.NAMESPACE_URL, 'prefectdb-retention/' + name))


def ago(days=0, hours=0):
    return NOW - datetime.timedelta(days=days, hours=hours)


class Cases(object):
    """Builds the cases with plain INSERTs on Prefect's empty schema."""

    def __init__(self, conn):
        self.conn = conn
        self.cur = conn.cursor()
        self.cur.execute("INSERT INTO flow (id, name) VALUES (%s, 'cases')", (uid('flow'),))

    def run(self, name, state, end_days=None, parent_task=None, artifact=None, logs=2):
        """A flow run with one task run (and its states), two logs and maybe an artifact."""
        end_time = None if end_days is None else ago(end_days)
        self.cur.execute(
            'INSERT INTO flow_run (id, name, flow_id, state_type, state_name, start_time, end_time, parent_task_run_id)'
            ' VALUES (%s, %s, %s, %s, %s, %s, %s, %s)',
            (uid(name), name, uid('flow'), state, state.title(), ago(200), end_time,
             None if parent_task is None else uid(parent_task)))
        for i, kind in enumerate(('PENDING', 'RUNNING', state)):
            self.cur.execute('INSERT INTO flow_run_state (id, flow_run_id, type, name, timestamp)'
                             ' VALUES (%s, %s, %s, %s, %s)',
                             (uid('%s/state/%d' % (name, i)), uid(name), kind, kind.title(), ago(200 - i)))
        task = name + '/task'
        self.cur.execute('INSERT INTO task_run (id, name, flow_run_id, task_key, dynamic_key, state_type)'
                         ' VALUES (%s, %s, %s, %s, %s, %s)', (uid(task), task, uid(name), 'k', '0', 'COMPLETED'))
        self.cur.execute('INSERT INTO task_run_state (id, task_run_id, type, name, timestamp)'
                         " VALUES (%s, %s, 'COMPLETED', 'Completed', %s)", (uid(task + '/state'), uid(task), ago(199)))
        self.cur.execute("INSERT INTO flow_run_input (id, flow_run_id, key, value) VALUES (%s, %s, 'in', '1')",
                         (uid(name + '/input'), uid(name)))
        for i in range(logs):
            self.log('%s/log/%d' % (name, i), uid(name))
        if artifact:
            key, created_days = artifact
            self.artifact(name + '/artifact', key, uid(name), created_days)
        return uid(name)

    def log(self, name, flow_run_id):
        self.cur.execute('INSERT INTO log (id, name, level, flow_run_id, message, timestamp)'
                         " VALUES (%s, %s, 20, %s, 'hello', %s)", (uid(name), name, flow_run_id, ago(150)))

    def artifact(self, name, key, flow_run_id, created_days, metadata=None):
        self.cur.execute('INSERT INTO artifact (id, key, type, data, metadata_, description, flow_run_id, created, updated)'
                         " VALUES (%s, %s, 'markdown', %s, %s, %s, %s, %s, %s)",
                         (uid(name), key, json.dumps('# ' + name), None if metadata is None else json.dumps(metadata),
                          'about ' + name, flow_run_id, ago(created_days), ago(created_days)))
        return uid(name)

    def collection(self, key, latest):
        self.cur.execute("INSERT INTO artifact_collection (id, key, latest_id, type, data, description)"
                         " VALUES (%s, %s, %s, 'markdown', '\"old\"', 'old')", (uid('collection/' + key), key, latest))

    def event(self, name, event_type, days=0, hours=0, resources=2, resource_days=None):
        occurred = ago(days, hours)
        self.cur.execute(
            "INSERT INTO events (id, occurred, event, resource_id, resource, payload, received, recorded)"
            " VALUES (%s, %s, %s, %s, '{}', '{}', %s, %s)",
            (uid(name), occurred, event_type, 'r/' + name, occurred, occurred))
        for i in range(resources):
            self.resource('%s/resource/%d' % (name, i), uid(name),
                          occurred if resource_days is None else ago(resource_days))

    def resource(self, name, event_id, occurred):
        self.cur.execute("INSERT INTO event_resources (id, occurred, resource_id, resource_role, resource, event_id)"
                         " VALUES (%s, %s, %s, '', '{}', %s)", (uid(name), occurred, 'r/' + name, event_id))


def build_cases(conn):
    """Every case of Prefect's tests/server/services/test_db_vacuum.py that bears on the result,
    as of 2026-01-01 with the default periods (flow runs 90 days, events 7 days)."""
    c = Cases(conn)
    # all four terminal states, ended long ago: deleted
    for days, state in enumerate(('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED')):
        c.run('old-%s' % state.lower(), state, end_days=100 + days)
    # not terminal, or no end_time, or too recent: kept
    c.run('old-running', 'RUNNING')
    c.run('old-running-with-end', 'RUNNING', end_days=100)
    c.run('old-scheduled', 'SCHEDULED')
    c.run('old-pending', 'PENDING')
    c.run('old-paused', 'PAUSED', end_days=100)
    c.run('old-cancelling', 'CANCELLING', end_days=100)
    c.run('completed-no-end-time', 'COMPLETED')
    c.run('recent-completed', 'COMPLETED', end_days=10)
    c.run('ended-at-the-cutoff', 'COMPLETED', end_days=90)      # not older than the cutoff: kept
    c.run('ended-just-before-the-cutoff', 'FAILED', end_days=90)
    c.cur.execute("UPDATE flow_run SET end_time = end_time - interval '1 microsecond'"
                  " WHERE name = 'ended-just-before-the-cutoff'")
    # subflows: a subflow of an old parent goes with it when old itself, and its own subflow
    # too; a recent subflow of an old parent stays and becomes top-level; an old subflow of a
    # recent parent stays
    c.run('parent-old', 'COMPLETED', end_days=120)
    c.run('child-old', 'COMPLETED', end_days=121, parent_task='parent-old/task')
    c.run('grandchild-old', 'FAILED', end_days=122, parent_task='child-old/task')
    c.run('child-recent', 'COMPLETED', end_days=5, parent_task='parent-old/task')
    c.run('child-running', 'RUNNING', parent_task='parent-old/task')
    c.run('child-of-recent-parent', 'COMPLETED', end_days=150, parent_task='recent-completed/task')
    # logs and artifacts without a flow run are kept; orphans (a flow run that is gone) are deleted
    c.log('log-without-run-1', None)
    c.log('log-without-run-2', None)
    for i in range(3):
        c.log('orphan-log-%d' % i, uid('ghost-run'))
    c.log('orphan-log-other', uid('ghost-run-2'))
    c.artifact('artifact-without-run', None, None, 30)
    c.artifact('orphan-artifact', 'k-orphan', uid('ghost-run'), 40)
    c.collection('k-orphan', uid('orphan-artifact'))
    # artifact collections: re-pointed to the newest artifact left with the key, copying its columns
    c.run('keyed-recent', 'COMPLETED', end_days=3, artifact=('k-repoint', 150))
    c.artifact('keyed-without-run', 'k-repoint', None, 130)
    c.run('keyed-old', 'COMPLETED', end_days=99, artifact=('k-repoint', 110))
    c.collection('k-repoint', uid('keyed-old/artifact'))
    c.cur.execute("UPDATE artifact SET metadata_ = '{\"rows\": \"3\"}' WHERE id = %s", (uid('keyed-recent/artifact'),))
    # ... or deleted when none is left
    c.run('only-version-old', 'CRASHED', end_days=95, artifact=('k-gone', 95))
    c.collection('k-gone', uid('only-version-old/artifact'))
    # already stale (its latest artifact deleted behind Prefect's back), another version left
    c.artifact('stale-left', 'k-stale', None, 20)
    c.collection('k-stale', uid('artifact-never-there'))
    # a collection pointing at an artifact that stays: untouched
    c.run('fine-run', 'COMPLETED', end_days=1, artifact=('k-fine', 1))
    c.collection('k-fine', uid('fine-run/artifact'))
    # events: the heartbeat override, the global period, resources by their own occurred
    c.event('heartbeat-old', HEARTBEAT, days=8)
    c.event('heartbeat-3d', HEARTBEAT, days=3)
    c.event('heartbeat-12h', HEARTBEAT, hours=12)
    c.event('heartbeat-old-late-resource', HEARTBEAT, days=9, resources=1, resource_days=1)
    c.event('completed-old', 'prefect.flow-run.Completed', days=8)
    c.event('completed-recent', 'prefect.flow-run.Completed', days=6)
    c.event('completed-old-late-resource', 'prefect.flow-run.Completed', days=10, resources=1, resource_days=2)
    c.event('completed-recent-early-resource', 'prefect.flow-run.Completed', days=2, resources=1, resource_days=20)
    c.event('custom-20d', 'acme.custom', days=20)
    c.event('custom-2d', 'acme.custom', days=2)
    c.event('custom-5h', 'acme.custom', hours=5)
    c.resource('resource-of-no-event-old', uid('never-an-event'), ago(30))
    c.resource('resource-of-no-event-recent', uid('never-an-event'), ago(1))
    conn.commit()


def names(cluster, dbname, table, column='name'):
    return set(r[0] for r in cluster.sql(dbname, 'SELECT %s FROM %s' % (column, table)))


@pytest.fixture
def cases_db(cluster, prefect_db):
    conn = cluster.connect(prefect_db, autocommit=False)
    try:
        build_cases(conn)
    finally:
        conn.close()
    return prefect_db


def assert_same_as_prefect(cluster, module_runner, dbname, settings, module_args=None):
    """Prefect's functions on a clone, the module on dbname; the same rows must be left."""
    clone = cluster.clone(dbname)
    try:
        reference = run_reference(PREFECT_PYTHON, reference_url(cluster, clone, PASSWORD), NOW_TEXT, settings)
        expected = snapshot(cluster, clone)
    finally:
        cluster.drop(clone)
    args = dict(settings)
    args.update(module_args or {})
    args['now'] = NOW_TEXT
    run = module_runner('retention', args, dbname=dbname)
    assert run.rc == 0 and not run.result.get('failed'), run.result.get('msg') or run.stdout
    assert differences(expected, snapshot(cluster, dbname)) == []
    assert run.result['deleted'] == reference['deleted']
    return run.result


def test_the_cases_against_prefect_with_default_settings(cluster, cases_db, module_runner):
    r = assert_same_as_prefect(cluster, module_runner, cases_db, {'enabled': ['events', 'flow_runs']})
    assert r['changed'] is True and r['status'] == 'finished'
    runs = names(cluster, cases_db, 'flow_run')
    for gone in ('old-completed', 'old-failed', 'old-cancelled', 'old-crashed', 'parent-old', 'child-old',
                 'grandchild-old', 'keyed-old', 'only-version-old', 'ended-just-before-the-cutoff'):
        assert gone not in runs
    for kept in ('old-running', 'old-running-with-end', 'old-scheduled', 'old-pending', 'old-paused',
                 'old-cancelling', 'completed-no-end-time', 'recent-completed', 'ended-at-the-cutoff',
                 'child-recent', 'child-running', 'child-of-recent-parent', 'keyed-recent', 'fine-run'):
        assert kept in runs
    # subflows of the deleted parent that stay are top-level now
    assert cluster.sql(cases_db, "SELECT count(*) FROM flow_run WHERE name IN ('child-recent', 'child-running')"
                                 " AND parent_task_run_id IS NULL")[0][0] == 2
    assert cluster.sql(cases_db, "SELECT parent_task_run_id IS NOT NULL FROM flow_run"
                                 " WHERE name = 'child-of-recent-parent'")[0][0] is True
    # the cascade took states, task runs, their states and inputs of exactly the deleted runs
    assert cluster.sql(cases_db, 'SELECT count(*) FROM flow_run_state s WHERE NOT EXISTS'
                                 ' (SELECT 1 FROM flow_run f WHERE f.id = s.flow_run_id)')[0][0] == 0
    assert r['cleanups']['old_flow_runs']['deleted'] == {
        'flow_run': 10, 'flow_run_state': 30, 'task_run': 10, 'task_run_state': 10, 'flow_run_input': 10,
        'log': 20, 'artifact': 2}
    logs = names(cluster, cases_db, 'log')
    assert {'log-without-run-1', 'log-without-run-2'} <= logs
    assert not [n for n in logs if n.startswith('orphan-log')]
    assert r['cleanups']['orphaned_logs']['deleted'] == {'log': 4}
    assert r['cleanups']['orphaned_artifacts']['deleted'] == {'artifact': 1}
    # collections: re-pointed to the newest artifact left (the one without a run), copying its columns
    collections = dict((row[0], row[1:]) for row in cluster.sql(
        cases_db, 'SELECT key, latest_id::text, description, data::text, metadata_::text, created, flow_run_id'
                  ' FROM artifact_collection'))
    assert set(collections) == {'k-repoint', 'k-stale', 'k-fine'}
    assert collections['k-repoint'] == (uid('keyed-without-run'), 'about keyed-without-run',
                                        '"# keyed-without-run"', 'null', ago(130), None)
    assert collections['k-stale'][0] == uid('stale-left')
    assert r['cleanups']['stale_artifact_collections']['updated'] == {'artifact_collection': 2}
    assert r['cleanups']['stale_artifact_collections']['deleted'] == {'artifact_collection': 2}
    # events: 7 days for all, heartbeats too; resources by their own occurred
    assert names(cluster, cases_db, 'events', 'resource_id') == {
        'r/heartbeat-3d', 'r/heartbeat-12h', 'r/completed-recent', 'r/completed-recent-early-resource',
        'r/custom-2d', 'r/custom-5h'}
    resources = names(cluster, cases_db, 'event_resources', 'resource_id')
    assert 'r/heartbeat-old-late-resource/resource/0' not in resources      # went with its heartbeat (override)
    assert 'r/completed-old-late-resource/resource/0' in resources          # newer than the cutoff itself
    assert 'r/completed-recent-early-resource/resource/0' not in resources  # older than the cutoff itself
    assert 'r/resource-of-no-event-recent' in resources and 'r/resource-of-no-event-old' not in resources
    # the heartbeat override equals the global period: all it adds is the late resource of an old heartbeat
    assert r['cleanups']['event_retention_overrides']['deleted'] == {'event_resources': 1}
    assert r['cleanups']['old_events']['deleted'] == {'events': 5, 'event_resources': 8}


def test_the_cases_against_prefect_with_overrides_and_a_cap(cluster, cases_db, module_runner):
    settings = {'enabled': ['events', 'flow_runs'], 'retention_period': 30 * 86400,
                'events_retention_period': 10 * 86400,
                'event_retention_overrides': {HEARTBEAT: 86400, 'acme.custom': 30 * 86400}}
    r = assert_same_as_prefect(cluster, module_runner, cases_db, settings, {'batch_size': 2, 'max_batch_size': 3})
    assert names(cluster, cases_db, 'events', 'resource_id') == {
        'r/heartbeat-12h', 'r/completed-old', 'r/completed-recent', 'r/completed-recent-early-resource',
        'r/completed-old-late-resource', 'r/custom-2d', 'r/custom-5h'}   # that one occurred at the cutoff: kept
    # the 30-day override is capped at the 10-day period, with a warning
    assert r['settings']['event_retention_overrides'] == {HEARTBEAT: 86400, 'acme.custom': 10 * 86400}
    assert r['cutoffs']['event_retention_overrides']['acme.custom'] == r['cutoffs']['events']
    assert any('acme.custom' in w and 'capped' in w for w in r.get('warnings', []))
    # counted to the overrides: what they delete beyond the 10-day period (heartbeats of 9, 8 and 3 days ago
    # with their resources); the rest is old_events'
    assert r['cleanups']['event_retention_overrides']['deleted'] == {'events': 3, 'event_resources': 5}
    assert r['cleanups']['old_flow_runs']['batches'] >= 4


def test_orphans_alone_against_prefect(cluster, cases_db, module_runner):
    r = assert_same_as_prefect(cluster, module_runner, cases_db, {'enabled': ['orphans']})
    assert list(r['cleanups']) == ['orphaned_logs', 'orphaned_artifacts', 'stale_artifact_collections']
    assert 'old-completed' in names(cluster, cases_db, 'flow_run')
    assert r['cleanups']['stale_artifact_collections']['updated'] == {'artifact_collection': 1}   # k-stale
    assert r['cleanups']['stale_artifact_collections']['deleted'] == {'artifact_collection': 1}   # k-orphan
