"""The key test: on 2,000 flow runs of synthetic history, Prefect 3.9.1's own vacuum
functions (on one clone) and the retention module (on another) leave the same rows,
table by table, by id and content, with the same settings and clock."""
from test_retention_cases import HEARTBEAT, assert_same_as_prefect


def test_history_with_default_settings_matches_prefect(cluster, history_db, module_runner):
    """Most events are older than 7 days: the event cleanups sweep the heap."""
    r = assert_same_as_prefect(cluster, module_runner, history_db, {'enabled': ['events', 'flow_runs']})
    assert r['status'] == 'finished'
    assert r['cleanups']['old_events']['strategy'] == {'events': 'sweep', 'event_resources': 'sweep'}
    assert r['cleanups']['event_retention_overrides']['strategy'] == {
        'event_resources': 'range (recent resources)', 'events': 'sweep (with old_events)'}
    deleted = r['deleted']
    for table in ('flow_run', 'flow_run_state', 'task_run', 'task_run_state', 'log', 'artifact',
                  'artifact_collection', 'events', 'event_resources'):
        assert deleted[table] > 0, table
    assert r['updated'] == {'artifact_collection': r['cleanups']['stale_artifact_collections']['updated'][
        'artifact_collection']}
    for name, cleanup in r['cleanups'].items():
        assert cleanup['status'] == 'finished', name


def test_history_in_small_batches_with_shorter_overrides_matches_prefect(cluster, history_db, module_runner):
    """A small share of events goes: the event cleanups walk the occurred indexes in time ranges."""
    settings = {'enabled': ['events', 'flow_runs'], 'retention_period': 120 * 86400,
                'events_retention_period': 178 * 86400,
                'event_retention_overrides': {HEARTBEAT: 176 * 86400, 'prefect.task-run.Running': 400 * 86400}}
    r = assert_same_as_prefect(cluster, module_runner, history_db, settings,
                               {'batch_size': 20, 'max_batch_size': 300})
    assert r['cleanups']['old_events']['strategy'] == {'events': 'range', 'event_resources': 'range'}
    assert r['cleanups']['event_retention_overrides']['strategy'] == {
        'event_resources': 'range (resources of overridden events)', 'events': 'range'}
    assert r['cleanups']['event_retention_overrides']['deleted']['events'] > 0
    assert r['cleanups']['old_events']['batches'] > 5
    assert r['cleanups']['old_flow_runs']['batches'] > 3


def test_history_with_flow_runs_alone_matches_prefect(cluster, history_db, module_runner):
    r = assert_same_as_prefect(cluster, module_runner, history_db, {'enabled': ['flow_runs']})
    assert list(r['cleanups']) == ['orphaned_logs', 'orphaned_artifacts', 'old_flow_runs', 'stale_artifact_collections']
    assert r['cutoffs']['events'] is None
