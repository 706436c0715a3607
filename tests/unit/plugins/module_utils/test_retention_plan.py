"""Pure logic of the retention module: settings as Prefect validates them, cutoffs,
overrides capped at the global period, the engine's arithmetic."""
import datetime

import pytest

from ansible_collections.prefectdb.maintenance.plugins.module_utils.retention_plan import (
    CLEANUP_NAMES, PlanError, batch_figures, build_plan, choose_strategy, next_batch_size, parse_now, percentile,
    resolve_enabled, wal_pause)

UTC = datetime.timezone.utc
NOW = '2026-01-01T00:00:00Z'


def plan(**params):
    params.setdefault('now', NOW)
    return build_plan(params)


def test_defaults_mirror_prefect():
    p = build_plan({})
    assert p.enabled == {'events'}
    assert p.retention_seconds == 90 * 86400
    assert p.events_retention_seconds == 7 * 86400
    assert p.overrides == [('prefect.flow-run.heartbeat', 7 * 86400, 7 * 86400)]
    assert p.batch_size == 200
    assert p.now is None and p.max_runtime is None and p.vacuum_after is False
    assert p.warnings == []
    assert p.cleanups == ['event_retention_overrides', 'old_events']


@pytest.mark.parametrize('enabled, expected', [
    (['events'], {'events'}),
    (['flow_runs'], {'flow_runs', 'orphans'}),
    (['orphans'], {'orphans'}),
    (['events', 'flow_runs'], {'events', 'flow_runs', 'orphans'}),
    ('events,flow_runs', {'events', 'flow_runs', 'orphans'}),
    (' Events ', {'events'}),
    (True, {'events', 'flow_runs', 'orphans'}),   # Prefect's legacy boolean
    (False, {'events'}),
    ('true', {'events', 'flow_runs', 'orphans'}),
    ([], set()),
    (None, set()),
])
def test_enabled_resolves_as_prefect(enabled, expected):
    assert resolve_enabled(enabled) == expected


def test_enabled_rejects_unknown_types_naming_them():
    with pytest.raises(PlanError) as e:
        resolve_enabled(['events', 'logs', 'artifacts'])
    assert 'artifacts, logs are not a vacuum type' in str(e.value)
    assert 'events, flow_runs, orphans' in str(e.value)


def test_cleanup_order_for_everything():
    p = plan(enabled=['events', 'flow_runs'])
    assert p.cleanups == list(CLEANUP_NAMES)
    assert p.cleanups == ['orphaned_logs', 'orphaned_artifacts', 'old_flow_runs', 'stale_artifact_collections',
                          'event_retention_overrides', 'old_events']


def test_orphans_alone_and_no_overrides():
    assert plan(enabled=['orphans']).cleanups == ['orphaned_logs', 'orphaned_artifacts', 'stale_artifact_collections']
    assert plan(event_retention_overrides={}).cleanups == ['old_events']
    assert plan(enabled=[]).cleanups == []


def test_cutoffs_count_back_from_now():
    p = plan(retention_period='30d', events_retention_period='36h',
             event_retention_overrides={'prefect.flow-run.heartbeat': '1h', 'prefect.log.write': 'P1D'})
    now = datetime.datetime(2026, 1, 1, tzinfo=UTC)
    assert p.now == now
    assert p.flow_run_cutoff() == now - datetime.timedelta(days=30)
    assert p.events_cutoff() == now - datetime.timedelta(hours=36)
    assert p.override_cutoffs() == [('prefect.flow-run.heartbeat', now - datetime.timedelta(hours=1)),
                                    ('prefect.log.write', now - datetime.timedelta(days=1))]
    assert p.warnings == []


def test_override_longer_than_global_is_capped_with_a_warning():
    p = plan(events_retention_period='7d', event_retention_overrides={'prefect.flow-run.heartbeat': '30d'})
    assert p.overrides == [('prefect.flow-run.heartbeat', 30 * 86400, 7 * 86400)]
    assert p.override_cutoffs() == [('prefect.flow-run.heartbeat', p.events_cutoff())]
    assert len(p.warnings) == 1
    assert 'prefect.flow-run.heartbeat' in p.warnings[0] and '30d' in p.warnings[0] and 'capped' in p.warnings[0]
    assert p.settings()['event_retention_overrides'] == {'prefect.flow-run.heartbeat': 7 * 86400}


def test_override_equal_to_global_is_not_warned():
    assert plan(events_retention_period='7d', event_retention_overrides={'x': '7d'}).warnings == []


@pytest.mark.parametrize('params, message', [
    ({'retention_period': '1h'}, 'retention_period: 1h is too short; Prefect requires more than 1 hour'),
    ({'retention_period': 3600}, 'more than 1 hour'),
    ({'retention_period': '90 parsecs'}, "retention_period: '90 parsecs' is not a duration"),
    ({'retention_period': -5}, 'retention_period: -5 is negative'),
    ({'events_retention_period': 0}, 'events_retention_period: must be more than 0'),
    ({'event_retention_overrides': {'prefect.flow-run.heartbeat': 0}}, 'must be positive'),
    ({'event_retention_overrides': {'prefect.flow-run.heartbeat': 'soon'}},
     "event_retention_overrides[prefect.flow-run.heartbeat]: 'soon' is not a duration"),
    ({'event_retention_overrides': {'': '1d'}}, 'is not an event type'),
    ({'event_retention_overrides': ['prefect.flow-run.heartbeat']}, 'must be a mapping'),
    ({'batch_size': 0}, 'batch_size: must be more than 0'),
    ({'batch_size': 'many'}, "batch_size: 'many' is not a positive integer"),
    ({'batch_size': True}, 'batch_size: True is not a positive integer'),
    ({'batch_size': 500, 'max_batch_size': 100}, 'max_batch_size: 100 is smaller than batch_size 500'),
    ({'target_batch_seconds': 0}, 'target_batch_seconds: 0 is out of range'),
    ({'target_batch_seconds': 'fast'}, "target_batch_seconds: 'fast' is not a number"),
    ({'statement_timeout': '100ms', 'target_batch_seconds': 0.25},
     'statement_timeout: 0.1s must be at least twice target_batch_seconds'),
    ({'lock_timeout': 0}, 'lock_timeout: must be more than 0'),
    ({'max_runtime': 0}, 'max_runtime: must be more than 0'),
    ({'max_runtime': 'a while'}, "max_runtime: 'a while' is not a duration"),
    ({'now': 'yesterday'}, "now: 'yesterday' is not an ISO-8601 timestamp"),
    ({'enabled': ['vacuum']}, 'enabled: vacuum is not a vacuum type'),
])
def test_bad_settings_fail_with_one_clear_message(params, message):
    with pytest.raises(PlanError) as e:
        build_plan(params)
    assert message in str(e.value)


def test_durations_in_every_form():
    p = plan(retention_period='P30D', events_retention_period='1w', max_runtime='1h30m', lock_timeout='500ms',
             statement_timeout=60)
    assert (p.retention_seconds, p.events_retention_seconds, p.max_runtime) == (30 * 86400, 7 * 86400, 5400)
    assert p.lock_timeout == 0.5 and p.statement_timeout == 60


@pytest.mark.parametrize('text, expected', [
    ('2026-01-01T00:00:00Z', datetime.datetime(2026, 1, 1, tzinfo=UTC)),
    ('2026-01-01T02:00:00+02:00', datetime.datetime(2026, 1, 1, tzinfo=UTC)),
    ('2026-01-01 00:00:00', datetime.datetime(2026, 1, 1, tzinfo=UTC)),
    (None, None),
])
def test_parse_now(text, expected):
    assert parse_now(text) == expected


def test_set_now_from_the_database_clock():
    p = build_plan({})
    p.set_now(datetime.datetime(2026, 1, 1, 1, tzinfo=datetime.timezone(datetime.timedelta(hours=1))))
    assert p.now == datetime.datetime(2026, 1, 1, tzinfo=UTC)
    assert p.events_cutoff() == datetime.datetime(2025, 12, 25, tzinfo=UTC)


@pytest.mark.parametrize('size, seconds, expected', [
    (200, 0.05, 400),       # fast: at most double
    (200, 0.0, 400),
    (1000, 0.25, 1000),     # on target
    (1000, 0.5, 500),       # twice too slow: halve
    (1000, 10.0, 500),      # a hiccup does not collapse the size
    (1000, 0.2, 1250),
    (15000, 0.01, 20000),   # capped
    (1, 5.0, 1),            # never below one
])
def test_next_batch_size(size, seconds, expected):
    assert next_batch_size(size, seconds, 0.25, 20000) == expected


def test_percentiles_nearest_rank():
    values = sorted([0.1 * i for i in range(1, 21)])
    assert percentile(values, 0.5) == pytest.approx(1.0)
    assert percentile(values, 0.95) == pytest.approx(1.9)
    assert percentile([0.3], 0.95) == 0.3
    assert percentile([], 0.5) is None


def test_batch_figures():
    figures = batch_figures([0.2, 0.1, 0.4, 0.3], rows=1000, seconds=2.0)
    assert figures == {'batch_seconds': {'p50': 0.2, 'p95': 0.4, 'max': 0.4}, 'rows_per_second': 500}
    assert batch_figures([], rows=0, seconds=0.0) == {'batch_seconds': {'p50': None, 'p95': None, 'max': None},
                                                      'rows_per_second': 0}


@pytest.mark.parametrize('rows, pages, version, expected', [
    (290000, 60000, 150018, 'sweep'),    # a neglected database: most of the table goes
    (30000, 60000, 150018, 'sweep'),     # one row in two pages
    (29999, 60000, 150018, 'range'),
    (1800, 60000, 150018, 'range'),      # an hourly run
    (290000, 60000, 130012, 'range'),    # no TID range scans before PostgreSQL 14
    (10, 0, 150018, 'range'),            # empty table
])
def test_choose_strategy(rows, pages, version, expected):
    assert choose_strategy(rows, pages, version) == expected


@pytest.mark.parametrize('value, expected', [
    (None, 0), (0, 0), ('0', 0), (1048576, 1048576), ('4MB', 4 * 1024 ** 2), ('512kB', 512 * 1024),
    ('1.5 MB', int(1.5 * 1024 ** 2)),
])
def test_max_wal_rate(value, expected):
    assert plan(max_wal_rate=value).max_wal_rate == expected


def test_max_wal_rate_default_is_no_limit_and_target_a_quarter_second():
    assert build_plan({}).max_wal_rate == 0
    assert build_plan({}).settings()['max_wal_rate'] == 0
    assert build_plan({}).target_batch_seconds == 0.25


@pytest.mark.parametrize('value', ['fast', '-1MB', '4 MB/s', True, [4]])
def test_max_wal_rate_refused(value):
    with pytest.raises(PlanError, match='max_wal_rate'):
        plan(max_wal_rate=value)


def test_vacuum_after_runs_at_the_vacuum_modules_pace_by_default():
    assert build_plan({}).vacuum_cost_delay == 2.0
    assert build_plan({}).settings()['vacuum_cost_delay'] == 2.0
    assert plan(vacuum_cost_delay=0).vacuum_cost_delay == 0.0
    assert plan(vacuum_cost_delay='0.5').vacuum_cost_delay == 0.5
    assert plan(vacuum_cost_delay=100).vacuum_cost_delay == 100.0


@pytest.mark.parametrize('value, message', [
    (-1, 'vacuum_cost_delay: -1 is out of range; use 0 (no delay) to 100 milliseconds'),
    (101, 'vacuum_cost_delay: 101 is out of range'),
    (float('nan'), 'vacuum_cost_delay: nan is out of range'),
    ('slow', "vacuum_cost_delay: 'slow' is not a number of milliseconds"),
    (True, 'vacuum_cost_delay: True is not a number of milliseconds'),
])
def test_vacuum_cost_delay_refused(value, message):
    with pytest.raises(PlanError) as e:
        plan(vacuum_cost_delay=value)
    assert str(e.value).startswith(message)


@pytest.mark.parametrize('wal, seconds, rate, expected', [
    (4 * 1024 ** 2, 0.25, 4 * 1024 ** 2, 0.75),    # one second's worth written in a quarter: rest the rest
    (1024 ** 2, 0.5, 4 * 1024 ** 2, 0.0),          # already slower than the rate
    (8 * 1024 ** 2, 0.0, 4 * 1024 ** 2, 2.0),
    (0, 0.1, 4 * 1024 ** 2, 0.0),                  # nothing written
    (64 * 1024 ** 2, 0.1, 0, 0.0),                 # no limit
])
def test_wal_pause(wal, seconds, rate, expected):
    assert wal_pause(wal, seconds, rate) == pytest.approx(expected)
