"""health_rules: facts and thresholds in, findings out."""
import pytest

from ansible_collections.prefectdb.maintenance.plugins.module_utils.health_rules import (
    CHECKS, DEFAULT_THRESHOLDS, RULE_IDS, ThresholdError, evaluate, message, normalize_thresholds,
    recommended_events_retention, should_fail, summarize,
)

T = normalize_thresholds({})


def by_id(findings, rule_id):
    return [f for f in findings if f['id'] == rule_id]


def problems(findings):
    return [f for f in findings if f['severity'] != 'ok']


def table(name='public.log', **kw):
    base = {'qualified': name, 'dead_rows': 0, 'live_rows': 100000, 'dead_row_ratio_percent': 0.0,
            'table_enabled': True, 'toast_enabled': True, 'changes_since_vacuum': 0, 'seconds_since_vacuum': 60,
            'vacuum_due': False}
    base.update(kw)
    return base


# --- thresholds ---------------------------------------------------------------------

def test_defaults_are_the_guides():
    assert T['disk_used_critical_percent'] == 80
    assert (T['dead_rows_monitor_percent'], T['dead_rows_vacuum_percent'], T['dead_rows_critical_percent']) == \
        (20, 50, 100)
    assert (T['connections_warning_percent'], T['connections_critical_percent']) == (80, 90)
    assert T['autovacuum_stale_after'] == 86400
    assert T['transaction_max_age'] == 3600 and T['idle_in_transaction_max_age'] == 300
    assert (T['wraparound_warning_percent'], T['wraparound_critical_percent']) == (50, 80)


def test_overrides_and_durations():
    t = normalize_thresholds({'transaction_max_age': '15m', 'dead_rows_min': '10', 'disk_used_critical_percent': 90,
                              'connections_warning_percent': None})
    assert t['transaction_max_age'] == 900
    assert t['dead_rows_min'] == 10 and isinstance(t['dead_rows_min'], int)
    assert t['disk_used_critical_percent'] == 90.0
    assert t['connections_warning_percent'] == DEFAULT_THRESHOLDS['connections_warning_percent']


@pytest.mark.parametrize('raw,text', [
    ({'nope': 1}, 'thresholds.nope is not a known threshold'),
    ({'transaction_max_age': 'soon'}, 'thresholds.transaction_max_age'),
    ({'dead_rows_min': 'many'}, "thresholds.dead_rows_min: 'many' is not a number"),
    ({'bloat_min_bytes': -1}, 'is negative'),
    ({'disk_used_warning_percent': 90}, 'must not exceed thresholds.disk_used_critical_percent'),
    ({'disk_full_critical_days': 60}, 'disk_full_critical_days must not exceed'),
])
def test_bad_thresholds(raw, text):
    with pytest.raises(ThresholdError) as err:
        normalize_thresholds(raw)
    assert text in str(err.value)


# --- dead rows --------------------------------------------------------------------------

@pytest.mark.parametrize('dead,live,severity,threshold', [
    (15000, 100000, None, None),          # 15 %: normal
    (25000, 100000, 'warning', 20.0),     # monitor
    (60000, 100000, 'warning', 50.0),     # manual VACUUM recommended
    (150000, 100000, 'critical', 100.0),  # urgent
    (5000, 0, 'critical', 100.0),         # every row dead
    (900, 100, None, None),               # below dead_rows_min: not judged
])
def test_dead_rows(dead, live, severity, threshold):
    ratio = round(100.0 * dead / live, 2) if live else None
    facts = {'tables': {'tables': [table(dead_rows=dead, live_rows=live, dead_row_ratio_percent=ratio)]}}
    findings = by_id(evaluate(facts, T, ['tables']), 'dead_rows')
    if severity is None:
        assert [f['severity'] for f in findings] == ['ok']
    else:
        assert len(findings) == 1
        f = findings[0]
        assert (f['severity'], f['threshold'], f['subject'], f['check']) == (severity, threshold, 'public.log', 'tables')
        assert f['value'] == ratio
        assert 'VACUUM' in f['remediation']


def test_manual_vacuum_wording():
    facts = {'tables': {'tables': [table(dead_rows=60000, dead_row_ratio_percent=60.0)]}}
    assert 'manual VACUUM recommended' in by_id(evaluate(facts, T, ['tables']), 'dead_rows')[0]['message']


# --- bloat --------------------------------------------------------------------------------

def bloat_item(ratio, wasted=200 * 2 ** 20, reliable=True, approx=None, reasons=()):
    return {'relation': 'public.events', 'method': 'pg_stats', 'wasted_bytes': wasted, 'wasted_percent': 40.0,
            'bloat_ratio_percent': ratio, 'reliable': reliable, 'reasons': list(reasons), 'pgstattuple_approx': approx}


@pytest.mark.parametrize('item,severity', [
    (bloat_item(30.0), None),
    (bloat_item(60.0), 'warning'),
    (bloat_item(150.0), 'critical'),
    (bloat_item(150.0, reliable=False, reasons=['TOAST-heavy']), 'warning'),  # unreliable caps at warning
    (bloat_item(150.0, wasted=1000), None),                                   # below bloat_min_bytes
    (bloat_item(10.0, reliable=False, approx={
        'wasted_bytes': 300 * 2 ** 20, 'bloat_ratio_percent': 120.0, 'wasted_percent': 55.0}), 'critical'),  # measured
    (bloat_item(150.0, approx={'error': 'permission denied'}), 'critical'),
])
def test_table_bloat(item, severity):
    facts = {'bloat': {'tables': [item], 'indexes': []}}
    found = problems(by_id(evaluate(facts, T, ['bloat']), 'table_bloat'))
    assert [f['severity'] for f in found] == ([severity] if severity else [])
    if item['reasons'] and found:
        assert 'TOAST-heavy' in found[0]['message'] and 'pgstattuple' in found[0]['message']


def test_toast_bloat_measured_by_pgstattuple_approx():
    item = bloat_item(5.0, reliable=False, reasons=['TOAST-heavy: most of the table lives in TOAST'])
    item['toast_pgstattuple_approx'] = {'wasted_bytes': 400 * 2 ** 20, 'bloat_ratio_percent': 150.0,
                                        'wasted_percent': 60.0}
    found = problems(evaluate({'bloat': {'tables': [item], 'indexes': []}}, T, ['bloat']))
    assert [(f['subject'], f['severity']) for f in found] == [('public.events (TOAST)', 'critical')]
    assert 'pg_repack' in found[0]['remediation'] and '(TOAST)' not in found[0]['remediation']


def test_index_bloat():
    facts = {'bloat': {'tables': [], 'indexes': [
        {'relation': 'public.pk_events', 'method': 'pg_stats', 'wasted_bytes': 50 * 2 ** 20, 'bloat_ratio_percent': 180.0},
        {'relation': 'public.ix_small', 'method': 'pg_stats', 'wasted_bytes': 1000, 'bloat_ratio_percent': 500.0},
        {'relation': 'public.ix_gin', 'method': None, 'wasted_bytes': None, 'bloat_ratio_percent': None}]}}
    found = problems(evaluate(facts, T, ['bloat']))
    assert [(f['id'], f['subject']) for f in found] == [('index_bloat', 'public.pk_events')]
    assert 'REINDEX INDEX CONCURRENTLY public.pk_events' in found[0]['remediation']


# --- indexes, disk ----------------------------------------------------------------------------

def test_invalid_index():
    facts = {'indexes': {'invalid': [{'qualified': 'public.ix_flow_run__name_ccnew', 'table': 'public.flow_run',
                                      'size_bytes': 8192, 'leftover_of_concurrent_build': True}]}}
    f = by_id(evaluate(facts, T, ['indexes']), 'invalid_index')[0]
    assert f['severity'] == 'warning' and 'failed CREATE/REINDEX CONCURRENTLY' in f['message']
    assert 'DROP INDEX CONCURRENTLY public.ix_flow_run__name_ccnew' in f['remediation']
    assert by_id(evaluate({'indexes': {'invalid': []}}, T, ['indexes']), 'invalid_index')[0]['severity'] == 'ok'


@pytest.mark.parametrize('pct,severity', [(50.0, 'ok'), (75.0, 'warning'), (80.0, 'ok-warning'), (85.0, 'critical')])
def test_disk(pct, severity):
    facts = {'disk': {'method': 'statvfs', 'used_percent': pct, 'total_bytes': 100, 'available_bytes': 10,
                      'data_directory': '/var/lib/postgresql'}}
    f = by_id(evaluate(facts, T, ['disk']), 'disk_used')[0]
    assert f['severity'] == {'ok-warning': 'warning'}.get(severity, severity)  # 80 is not above 80


def test_disk_unknown_is_said_not_guessed():
    f = evaluate({'disk': {'method': 'unknown', 'used_percent': None, 'reason': 'not on this host'}}, T, ['disk'])[0]
    assert (f['id'], f['severity'], f['value']) == ('disk_used', 'warning', None)
    assert 'unknown' in f['message'] and 'disk_total_bytes' in f['remediation']


# --- autovacuum ------------------------------------------------------------------------------

def test_autovacuum_rules():
    facts = {'autovacuum': {'settings': {'autovacuum': True, 'track_counts': True}, 'tables': [
        table('public.a', table_enabled=False),
        table('public.b', toast_enabled=False),
        table('public.c', changes_since_vacuum=5000, seconds_since_vacuum=2 * 86400),
        table('public.d', changes_since_vacuum=5000, seconds_since_vacuum=None, vacuum_due=True),
        table('public.e', changes_since_vacuum=5000, seconds_since_vacuum=None, vacuum_due=False),  # not due yet
        table('public.f', changes_since_vacuum=10, seconds_since_vacuum=9 * 86400),  # not active
    ]}}
    found = problems(evaluate(facts, T, ['autovacuum']))
    assert sorted((f['id'], f['subject']) for f in found) == [
        ('autovacuum_disabled', 'public.a'), ('autovacuum_disabled', 'public.b'),
        ('autovacuum_stale', 'public.c'), ('autovacuum_stale', 'public.d')]
    assert 'toast.autovacuum_enabled' in [f for f in found if f['subject'] == 'public.b'][0]['message']
    assert 'never' in [f for f in found if f['subject'] == 'public.d'][0]['message']


def test_autovacuum_off_is_critical():
    facts = {'autovacuum': {'settings': {'autovacuum': False, 'track_counts': True}, 'tables': []}}
    f = problems(evaluate(facts, T, ['autovacuum']))[0]
    assert (f['id'], f['severity'], f['subject']) == ('autovacuum_off', 'critical', 'autovacuum')


# --- connections, xmin, wraparound -----------------------------------------------------------

@pytest.mark.parametrize('total,severity', [(50, 'ok'), (80, 'warning'), (88, 'critical')])
def test_connections(total, severity):
    usable = 97
    facts = {'connections': {'total': total, 'usable': usable, 'used_percent': round(100.0 * total / usable, 2),
                             'active': 1, 'idle': 0, 'idle_in_transaction': 0}}
    assert by_id(evaluate(facts, T, ['connections']), 'connections')[0]['severity'] == severity


def test_xmin_holders():
    facts = {'xmin': {
        'sessions': [
            {'pid': 1, 'backend_type': 'client backend', 'state': 'idle in transaction', 'xact_age_seconds': 7200,
             'state_age_seconds': 600, 'application_name': 'app', 'usename': 'u', 'datname': 'prefect', 'query': 'x'},
            {'pid': 2, 'backend_type': 'autovacuum worker', 'state': 'active', 'xact_age_seconds': 9000,
             'state_age_seconds': 9000},
            {'pid': 3, 'backend_type': 'client backend', 'state': 'active', 'xact_age_seconds': 30,
             'state_age_seconds': 30}],
        'prepared_transactions': [{'gid': 'g1', 'age_seconds': 3, 'xid_age': 10, 'database': 'prefect'}],
        'replication_slots': [
            {'slot_name': 'gone', 'slot_type': 'logical', 'active': False, 'xmin_age': None, 'catalog_xmin_age': 50},
            {'slot_name': 'busy', 'slot_type': 'physical', 'active': True, 'xmin_age': 20, 'catalog_xmin_age': None},
            {'slot_name': 'far', 'slot_type': 'physical', 'active': True, 'xmin_age': 20000000,
             'catalog_xmin_age': None},
            {'slot_name': 'plain', 'slot_type': 'physical', 'active': False, 'xmin_age': None,
             'catalog_xmin_age': None}],
        'standby_feedback': [{'application_name': 's1', 'backend_xmin_age': 20000001}]}}
    found = problems(evaluate(facts, T, ['xmin']))
    assert sorted((f['id'], f['subject']) for f in found) == [
        ('idle_in_transaction', 'pid 1 (u, app)'), ('long_transaction', 'pid 1 (u, app)'),
        ('prepared_transaction', 'prepared transaction g1'),
        ('replication_slot', 'slot far'), ('replication_slot', 'slot gone'), ('standby_xmin', 'standby s1')]
    slot = [f for f in found if f['subject'] == 'slot gone'][0]
    assert "pg_drop_replication_slot('gone')" in slot['remediation'] and 'inactive' in slot['message']


def test_prepared_threshold():
    t = normalize_thresholds({'prepared_transaction_max_age': '1m'})
    facts = {'xmin': {'prepared_transactions': [{'gid': 'g', 'age_seconds': 30}]}}
    assert not problems(evaluate(facts, t, ['xmin']))


def test_wraparound():
    facts = {'wraparound': {'autovacuum_freeze_max_age': 200000000, 'autovacuum_multixact_freeze_max_age': 400000000,
                            'databases': [
                                {'datname': 'prefect', 'xid_age': 170000000, 'xid_percent': 85.0,
                                 'mxid_age': 210000000, 'mxid_percent': 52.5},
                                {'datname': 'postgres', 'xid_age': 1000, 'xid_percent': 0.0, 'mxid_age': 0,
                                 'mxid_percent': 0.0}]}}
    found = problems(evaluate(facts, T, ['wraparound']))
    assert sorted((f['id'], f['severity'], f['subject']) for f in found) == [
        ('mxid_wraparound', 'warning', 'database prefect'), ('xid_wraparound', 'critical', 'database prefect')]


# --- prefect ---------------------------------------------------------------------------------

@pytest.mark.parametrize('runs,expected', [
    (0, (7, 7)), (99.9, (7, 7)), (100, (3, 5)), (1000, (3, 5)), (1000.1, (1, 2)), (50000, (1, 2)), (None, None)])
def test_recommended_events_retention(runs, expected):
    r = recommended_events_retention(runs)
    assert (r['min_days'], r['max_days']) == expected if expected else r is None


def prefect_facts(**kw):
    facts = {'readable': True, 'retention': {'events_retention_seconds': 7 * 86400,
                                             'flow_run_retention_seconds': 90 * 86400,
                                             'event_retention_overrides': {}, 'grace_seconds': 86400},
             'events': {'oldest_age_seconds': 3 * 86400, 'by_type': []},
             'flow_runs': {'per_day_7d_average': 50.0, 'oldest_eligible': {'age_seconds': 30 * 86400}}}
    facts.update(kw)
    return facts


def test_prefect_quiet_when_within_retention():
    assert not problems(evaluate({'prefect': prefect_facts()}, T, ['prefect']))


def test_retention_drift():
    facts = prefect_facts(events={'oldest_age_seconds': 9 * 86400, 'beyond_retention_estimate': 5000, 'by_type': [
        {'event': 'prefect.flow-run.heartbeat', 'retention_seconds': 2 * 86400, 'oldest_age_seconds': 4 * 86400}]},
        flow_runs={'per_day_7d_average': 50.0, 'oldest_eligible': {'age_seconds': 120 * 86400},
                   'beyond_retention_estimate': 9000})
    found = problems(evaluate({'prefect': facts}, T, ['prefect']))
    assert sorted(f['subject'] for f in found) == ['events', 'events prefect.flow-run.heartbeat', 'flow_run']
    assert all(f['id'] == 'retention_drift' for f in found)


def test_retention_grace_and_disabled_flow_run_retention():
    facts = prefect_facts(events={'oldest_age_seconds': 7.5 * 86400, 'by_type': []},
                          flow_runs={'per_day_7d_average': 5, 'oldest_eligible': {'age_seconds': 900 * 86400}})
    facts['retention']['flow_run_retention_seconds'] = None
    assert not problems(evaluate({'prefect': facts}, T, ['prefect']))


def test_events_retention_recommendation():
    facts = prefect_facts(flow_runs={'per_day_7d_average': 214.3, 'oldest_eligible': None})
    f = problems(evaluate({'prefect': facts}, T, ['prefect']))[0]
    assert (f['id'], f['value'], f['threshold']) == ('events_retention_recommendation', 7.0, 5)
    assert '3-5 days' in f['message'] and '100 to 1,000' in f['message']
    facts['retention']['events_retention_seconds'] = 4 * 86400
    assert not problems(evaluate({'prefect': facts}, T, ['prefect']))


def test_prefect_unreadable():
    f = problems(evaluate({'prefect': {'readable': False, 'reason': 'no SELECT on events'}}, T, ['prefect']))
    assert [x['id'] for x in f] == ['prefect_access']


# --- growth -----------------------------------------------------------------------------------

@pytest.mark.parametrize('kind,severity', [('check_mode', 'ok'), ('standby', 'ok'), ('disabled', 'ok'),
                                           ('privilege', 'warning'), ('busy', 'warning')])
def test_history_not_recorded(kind, severity):
    facts = {'growth': {'history': {'recorded': False, 'reason': 'because', 'reason_kind': kind, 'table': 't'}}}
    f = by_id(evaluate(facts, T, ['growth']), 'history_not_recorded')
    assert [x['severity'] for x in f] == [severity]


@pytest.mark.parametrize('days,severity', [(None, None), (100.0, 'ok'), (20.0, 'warning'), (3.0, 'critical')])
def test_disk_full_forecast(days, severity):
    facts = {'growth': {'history': {'recorded': True}, 'days_until_full': days, 'rate_bytes_per_day': 10 ** 9,
                        'rate_of': 'disk_used', 'rate_window': '7d', 'full_at': 'x'}}
    f = by_id(evaluate(facts, T, ['growth']), 'disk_full_forecast')
    assert [x['severity'] for x in f] == ([severity] if severity else ['ok'])


# --- checkpoints --------------------------------------------------------------------------------

def checkpoints(timed, requested, max_wal_size=1073741824):
    total = timed + requested
    return {'checkpoints': {'source': 'pg_stat_checkpointer', 'timed': timed, 'requested': requested,
                            'requested_percent': round(100.0 * requested / total, 2) if total else None,
                            'max_wal_size': max_wal_size}}


def test_checkpoint_thresholds_default():
    assert T['checkpoints_requested_percent'] == 30.0
    assert T['checkpoints_min_count'] == 10 and isinstance(T['checkpoints_min_count'], int)


@pytest.mark.parametrize('timed,requested,severity', [
    (7, 3, 'ok'),          # exactly 30%: not above the threshold
    (69, 31, 'warning'),   # 31%
    (2, 8, 'warning'),     # 80% of exactly the minimum count
    (1, 8, 'ok'),          # 89% but 9 checkpoints, fewer than the minimum
    (0, 0, 'ok'),          # no checkpoint since the reset: no percent
    (100, 0, 'ok'),
])
def test_checkpoints_requested(timed, requested, severity):
    found = evaluate(checkpoints(timed, requested), T, ['checkpoints'])
    assert [(f['id'], f['check'], f['severity']) for f in found] == [
        ('checkpoints_requested', 'checkpoints', severity)]


def test_checkpoints_requested_message_and_remediation():
    f = evaluate(checkpoints(10, 30), T, ['checkpoints'])[0]
    assert (f['severity'], f['value'], f['threshold'], f['subject']) == ('warning', 75.0, 30.0, 'checkpoints')
    assert '30 of 40 checkpoints (75.0%) were requested' in f['message']
    assert 'max_wal_size 1.0 GB' in f['message']
    assert 'raise max_wal_size' in f['remediation'] and '2.0 GB' in f['remediation']
    assert 'max_wal_rate' in f['remediation']


def test_checkpoints_under_the_minimum_count_and_without_percent_say_so():
    few = evaluate(checkpoints(0, 9), T, ['checkpoints'])[0]
    assert few['severity'] == 'ok' and 'fewer than 10 to judge' in few['message']
    none = evaluate({'checkpoints': {'timed': 0, 'requested': 0, 'requested_percent': None}},
                    normalize_thresholds({'checkpoints_min_count': 0}), ['checkpoints'])[0]
    assert none['severity'] == 'ok'


def test_checkpoint_thresholds_can_be_changed():
    t = normalize_thresholds({'checkpoints_requested_percent': 80, 'checkpoints_min_count': '3'})
    assert t['checkpoints_min_count'] == 3
    assert problems(evaluate(checkpoints(1, 3), t, ['checkpoints'])) == []
    assert problems(evaluate(checkpoints(0, 3), t, ['checkpoints']))[0]['severity'] == 'warning'


# --- evaluator, summary ------------------------------------------------------------------------

def test_failed_check_produces_no_rule_findings_and_ok_per_rule():
    findings = evaluate({'disk': None, 'indexes': {'invalid': []}}, T, ['disk', 'indexes'])
    assert [(f['id'], f['severity']) for f in findings] == [('invalid_index', 'ok')]


def test_every_rule_id_is_documented_in_the_module():
    from ansible_collections.prefectdb.maintenance.plugins.modules import health
    for rule_id in RULE_IDS:
        assert rule_id in health.RETURN, rule_id
    for check in CHECKS:
        assert check in health.DOCUMENTATION


def test_summary_fail_on_and_message():
    findings = [{'id': 'a', 'severity': 'ok', 'subject': 's'}, {'id': 'b', 'severity': 'warning', 'subject': 'x'},
                {'id': 'c', 'severity': 'critical', 'subject': 'y'}]
    s = summarize(findings)
    assert s == {'worst': 'critical', 'critical': 1, 'warning': 1, 'ok': 1, 'ids': ['b', 'c']}
    assert should_fail(s, 'critical') and should_fail(s, 'warning') and not should_fail(s, 'none')
    assert not should_fail(summarize(findings[:2]), 'critical')
    assert message(s, findings, 'prefect') == 'health of prefect: 1 critical, 1 warning: critical c y; warning b x'
    assert 'no warning or critical' in message(summarize(findings[:1]), findings[:1], 'prefect')


def test_autovacuum_frequent_uses_the_7_day_window_first():
    from ansible_collections.prefectdb.maintenance.plugins.module_utils.health_rules import (
        DEFAULT_THRESHOLDS, normalize_thresholds, rule_autovacuum_frequent)
    t = normalize_thresholds(DEFAULT_THRESHOLDS)
    facts = {'windows': {'1d': {'tables': [{'table': 'public.log', 'autovacuums_per_day': 500.0}]},
                         '7d': {'tables': [{'table': 'public.log', 'autovacuums_per_day': 60.0},
                                           {'table': 'public.events', 'autovacuums_per_day': 10.0},
                                           {'table': 'public.flow', 'autovacuums_per_day': None}]}}}
    found, ok = rule_autovacuum_frequent(facts, t)
    assert [(f['id'], f['subject'], f['value'], f['threshold']) for f in found] == [
        ('autovacuum_frequent', 'public.log', 60.0, 48.0)]
    assert 'over the last 7d' in found[0]['message']
    assert rule_autovacuum_frequent({'windows': {'1d': None, '7d': None}}, t) == ([], None)
    found, ok = rule_autovacuum_frequent({'windows': {'1d': {'tables': [{'table': 'x', 'autovacuums_per_day': 1}]}}}, t)
    assert found == [] and ok == 'no table autovacuumed more than 48 times a day (over 1d)'
