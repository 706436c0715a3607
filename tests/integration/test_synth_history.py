"""The synthetic history has the shape of a real Prefect server's rows, and the same seed gives the same rows."""
import pytest


def scalar(cluster, db, sql):
    return cluster.sql(db, sql)[0][0]


@pytest.fixture(scope='module')
def shape(cluster, history_template):
    db = history_template

    def q(sql):
        return scalar(cluster, db, sql)

    runs = q('SELECT count(*) FROM flow_run')
    events = q('SELECT count(*) FROM events')
    return {
        'runs': runs,
        'states_per_run': q('SELECT count(*) FROM flow_run_state') / runs,
        'tasks_per_run': q('SELECT count(*) FROM task_run') / runs,
        'states_per_task': q('SELECT count(*) FROM task_run_state') / q('SELECT count(*) FROM task_run'),
        'logs_per_run': q('SELECT count(*) FROM log') / runs,
        'runs_per_artifact': runs / q('SELECT count(*) FROM artifact'),
        'events_per_run': events / runs,
        'resources_per_event': q('SELECT count(*) FROM event_resources') / events,
        'completed': q("SELECT avg((state_type = 'COMPLETED')::int) FROM flow_run"),
        'failed': q("SELECT avg((state_type = 'FAILED')::int) FROM flow_run"),
        'subflows': q('SELECT avg((parent_task_run_id IS NOT NULL)::int) FROM flow_run'),
        'terminal_without_end': q("SELECT avg((end_time IS NULL)::int) FROM flow_run "
                                  "WHERE state_type IN ('COMPLETED','FAILED','CANCELLED','CRASHED')"),
        'state_types': set(r[0] for r in cluster.sql(db, 'SELECT DISTINCT state_type::text FROM flow_run')),
        'state_id_is_latest': q('SELECT bool_and(fr.state_id = (SELECT s.id FROM flow_run_state s WHERE s.flow_run_id = fr.id '
                                'ORDER BY s.timestamp DESC LIMIT 1)) FROM flow_run fr'),
        'orphan_logs': q('SELECT count(*) FROM log l WHERE flow_run_id IS NOT NULL AND NOT EXISTS '
                         '(SELECT 1 FROM flow_run f WHERE f.id = l.flow_run_id)'),
        'orphan_artifacts': q('SELECT count(*) FROM artifact a WHERE flow_run_id IS NOT NULL AND NOT EXISTS '
                              '(SELECT 1 FROM flow_run f WHERE f.id = a.flow_run_id)'),
        'stale_collections': q('SELECT count(*) FROM artifact_collection c WHERE NOT EXISTS '
                               '(SELECT 1 FROM artifact a WHERE a.id = c.latest_id)'),
        'heartbeats': q("SELECT count(*) FROM events WHERE event = 'prefect.flow-run.heartbeat'"),
        'span_days': q('SELECT extract(epoch FROM max(occurred) - min(occurred)) / 86400 FROM events'),
        'dangling_resources': q('SELECT count(*) FROM event_resources r WHERE NOT EXISTS '
                                '(SELECT 1 FROM events e WHERE e.id = r.event_id)'),
    }


def test_shape_matches_a_real_prefect_server(shape):
    assert shape['runs'] == 2000
    assert 2.7 <= shape['states_per_run'] <= 3.1
    assert 2.7 <= shape['tasks_per_run'] <= 3.3
    assert shape['states_per_task'] == pytest.approx(3.0)
    assert 9 <= shape['logs_per_run'] <= 11
    assert 2.5 <= shape['runs_per_artifact'] <= 4.5
    assert 14 <= shape['events_per_run'] <= 18
    assert 2.4 <= shape['resources_per_event'] <= 2.8
    assert 0.82 <= shape['completed'] <= 0.88
    assert 0.06 <= shape['failed'] <= 0.10
    assert 0.03 <= shape['subflows'] <= 0.07
    assert 0.005 <= shape['terminal_without_end'] <= 0.04
    assert shape['state_types'] == {'COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED', 'RUNNING', 'SCHEDULED', 'PENDING'}
    assert shape['state_id_is_latest'] is True
    assert shape['heartbeats'] > 0
    assert 170 <= shape['span_days'] <= 181
    assert shape['dangling_resources'] == 0


def test_history_carries_the_dirt_retention_must_clean(shape):
    assert shape['orphan_logs'] > 0
    assert shape['orphan_artifacts'] > 0
    assert shape['stale_collections'] > 0


def test_same_seed_same_rows(cluster, prefect_template, history_template):
    """A second generation with the same seed and clock yields the same ids as the template."""
    import subprocess
    import os
    from testbed import BIN, SCRIPTS
    db = cluster.clone(prefect_template)
    try:
        subprocess.run([os.path.join(BIN, 'python'), os.path.join(SCRIPTS, 'synth_history.py'), '--db', db,
                        '--flow-runs', '300', '--seed', '7', '--now', '2026-01-01T00:00:00+00:00', '--quiet'],
                       env=cluster.libpq_env(), check=True)
        fingerprint = ("SELECT md5(string_agg(id::text, ',' ORDER BY id)) FROM (SELECT id FROM flow_run UNION ALL "
                       "SELECT id FROM log UNION ALL SELECT id FROM events UNION ALL SELECT id FROM event_resources) s")
        first = scalar(cluster, db, fingerprint)
        cluster.sql(db, 'TRUNCATE flow_run, flow_run_state, task_run, task_run_state, log, artifact, '
                        'artifact_collection, events, event_resources, flow_run_input, flow CASCADE')
        subprocess.run([os.path.join(BIN, 'python'), os.path.join(SCRIPTS, 'synth_history.py'), '--db', db,
                        '--flow-runs', '300', '--seed', '7', '--now', '2026-01-01T00:00:00+00:00', '--quiet'],
                       env=cluster.libpq_env(), check=True)
        assert scalar(cluster, db, fingerprint) == first
    finally:
        cluster.drop(db)
