"""Bad input, table-driven: every case fails with one clear error that names what was wrong,
and the database is as before (fingerprint of every table's rows, reloptions and indexes,
and the list of schemas). All cases run in one ansible-playbook run: one inventory host per
case (forks in parallel), one task per module guarded by `when`."""
import os
import shutil
import tempfile

import pytest
import yaml

from testbed import BIN, run_playbook

DURATION = 'is not a duration; use seconds'
SIZE = 'is not a size; use bytes'
NOT_PLAIN = 'is not a plain identifier: use letters, digits and _, or double-quote it'

# (case, module, args, fragments the message must hold); '{dest}' is a fresh directory
CASES = [
    # the connection, on every module
    ('port_wrong_type', 'info', {'login_port': 'abc'}, ["argument 'login_port' is of type str"]),
    ('port_out_of_range', 'info', {'login_port': 70000}, ['port 70000', 'invalid port number']),
    ('host_refuses', 'health', {'login_port': 1}, ['on 127.0.0.1 port 1', 'Connection refused']),
    ('host_unknown', 'autovacuum', {'login_host': 'no-such-host.invalid', 'preset': 'prefect'},
     ['on no-such-host.invalid port', 'could not translate host name']),
    ('wrong_password', 'retention', {'login_password': 'not-the-password'},
     ['could not connect to database', 'password authentication failed for user "postgres"']),
    ('unknown_user', 'vacuum', {'login_user': 'no_such_user'}, ['as "no_such_user"', 'password authentication failed']),
    ('unknown_database', 'reindex', {'login_db': 'no_such_database'}, ['database "no_such_database" does not exist']),
    ('wrong_password_backup', 'backup', {'login_password': 'nope', 'dest': '{dest}'}, ['password authentication failed']),
    ('ssl_mode_choice', 'info', {'ssl_mode': 'sometimes'}, ['value of ssl_mode must be one of', 'got: sometimes']),
    ('connect_params_type', 'info', {'connect_params': 'fast'}, ["argument 'connect_params' is of type str"]),
    ('connect_params_unknown', 'autovacuum', {'connect_params': {'no_such_option': '1'}, 'preset': 'prefect'},
     ['invalid connection option "no_such_option"']),
    ('unknown_option', 'retention', {'no_such_option': 1}, ['Unsupported parameters', 'no_such_option']),
    ('lock_timeout_text', 'autovacuum', {'lock_timeout': 'soon', 'preset': 'prefect'}, ["lock_timeout: 'soon'", DURATION]),
    ('lock_timeout_negative', 'vacuum', {'lock_timeout': '-5s', 'tables': ['log']}, ["lock_timeout: '-5s'", DURATION]),
    ('wait_not_bool', 'reindex', {'wait': 'perhaps'}, ["argument 'wait' is of type str", 'not a valid boolean']),
    ('wait_timeout_text', 'retention', {'wait_timeout': 'forever'}, ["wait_timeout: 'forever'", DURATION]),
    # health
    ('health_unknown_check', 'health', {'checks': ['tables', 'nonsense']}, ['value of checks', 'no match for: nonsense']),
    ('health_top_tables_type', 'health', {'top_tables': 'many'}, ["argument 'top_tables' is of type str"]),
    ('health_top_tables_negative', 'health', {'top_tables': -1}, ['top_tables: -1 is negative']),
    ('health_fail_on_choice', 'health', {'fail_on': 'sometimes'}, ['value of fail_on must be one of']),
    ('health_unknown_threshold', 'health', {'thresholds': {'no_such_threshold': 1}},
     ['Unsupported parameters', 'thresholds.no_such_threshold']),
    ('health_events_period', 'health', {'events_retention_period': '7 parsecs'},
     ["events_retention_period: '7 parsecs'", DURATION]),
    ('health_grace_negative', 'health', {'retention_grace': '-1d'}, ["retention_grace: '-1d'", DURATION]),
    ('health_schema_semicolon', 'health', {'history_schema': 'ops; DROP SCHEMA public'},
     ["history_schema: 'ops; DROP SCHEMA public'", NOT_PLAIN]),
    ('health_schema_quote', 'health', {'history_schema': 'ops"history'}, ['history_schema:', 'unbalanced double quote']),
    ('health_schema_space', 'health', {'history_schema': 'ops history'}, ["history_schema: 'ops history'", NOT_PLAIN]),
    ('health_history_keep', 'health', {'history_keep': 'a while'}, ["history_keep: 'a while'", DURATION]),
    ('health_statement_timeout', 'health', {'statement_timeout': 'x'}, ["statement_timeout: 'x'", DURATION]),
    ('health_disk_total_negative', 'health', {'disk_total_bytes': -5}, ['disk_total_bytes: -5 is not a size']),
    # autovacuum
    ('av_unknown_table', 'autovacuum', {'tables': {'no_such_table': {'autovacuum_vacuum_scale_factor': 0.1}}},
     ['table public.no_such_table does not exist', 'nothing was changed']),
    ('av_unknown_reloption', 'autovacuum', {'tables': {'log': {'autovacuum_turbo': 1}}},
     ['tables.log.autovacuum_turbo: not a storage parameter']),
    ('av_reloption_quotes', 'autovacuum', {'tables': {'log': {"fillfactor'; DROP TABLE log; --": 50}}},
     ["tables.log.fillfactor'; DROP TABLE log; --: not a storage parameter"]),
    ('av_value_type', 'autovacuum', {'tables': {'log': {'autovacuum_vacuum_scale_factor': 'abc'}}},
     ["autovacuum_vacuum_scale_factor: 'abc' is not a number"]),
    ('av_value_too_big', 'autovacuum', {'tables': {'log': {'autovacuum_vacuum_scale_factor': 500}}},
     ['autovacuum_vacuum_scale_factor: 500 is out of range: a number from 0 to 100']),
    ('av_value_negative', 'autovacuum', {'tables': {'log': {'autovacuum_vacuum_threshold': -1}}},
     ['autovacuum_vacuum_threshold: -1 is out of range']),
    ('av_name_semicolon', 'autovacuum', {'tables': {'log; DROP TABLE flow_run': {'autovacuum_enabled': False}}},
     ["'log; DROP TABLE flow_run' " + NOT_PLAIN]),
    ('av_name_quote', 'autovacuum', {'tables': {'lo"g': {'autovacuum_enabled': False}}}, ['unbalanced double quote']),
    ('av_name_space', 'autovacuum', {'tables': {'flow run': {'autovacuum_enabled': False}}}, ["'flow run' " + NOT_PLAIN]),
    ('av_name_unicode', 'autovacuum', {'tables': {u'l\u00f6g': {'autovacuum_enabled': False}}},
     [u"'l\u00f6g' " + NOT_PLAIN]),
    ('av_quoted_unicode_missing', 'autovacuum', {'tables': {u'"\u00e9v\u00e9nements"': {'autovacuum_enabled': False}}},
     [u'public.\u00e9v\u00e9nements does not exist']),
    ('av_preset_choice', 'autovacuum', {'preset': 'turbo'}, ['value of preset must be one of', 'got: turbo']),
    ('av_state_choice', 'autovacuum', {'state': 'gone', 'preset': 'prefect'}, ['value of state must be one of']),
    ('av_missing_choice', 'autovacuum', {'missing': 'maybe', 'preset': 'prefect'}, ['value of missing must be one of']),
    ('av_tables_type', 'autovacuum', {'tables': 'log'}, ["argument 'tables' is of type str"]),
    ('av_parameters_type', 'autovacuum', {'tables': {'log': 'fast'}},
     ['tables.log: expected a mapping of storage parameters to values, got str']),
    # retention
    ('ret_unknown_cleanup', 'retention', {'enabled': ['events', 'everything']},
     ['value of enabled must be one or more of: events, flow_runs, orphans', 'no match for: everything']),
    ('ret_period_below_minimum', 'retention', {'enabled': ['flow_runs'], 'retention_period': '30m'},
     ['retention_period: 30m is too short; Prefect requires more than 1 hour']),
    ('ret_period_text', 'retention', {'enabled': ['flow_runs'], 'retention_period': 'ninety days'},
     ["retention_period: 'ninety days'", DURATION]),
    ('ret_events_period_zero', 'retention', {'events_retention_period': 0},
     ['events_retention_period: must be more than 0']),
    ('ret_override_text', 'retention', {'event_retention_overrides': {'prefect.flow-run.heartbeat': 'soon'}},
     ["event_retention_overrides[prefect.flow-run.heartbeat]: 'soon'", DURATION]),
    ('ret_overrides_type', 'retention', {'event_retention_overrides': ['prefect.flow-run.heartbeat']},
     ["argument 'event_retention_overrides' is of type list"]),
    ('ret_batch_zero', 'retention', {'batch_size': 0}, ['batch_size: must be more than 0']),
    ('ret_batch_type', 'retention', {'batch_size': 'big'}, ["argument 'batch_size' is of type str"]),
    ('ret_max_batch_below_batch', 'retention', {'batch_size': 500, 'max_batch_size': 10},
     ['max_batch_size: 10 is smaller than batch_size 500']),
    ('ret_target_zero', 'retention', {'target_batch_seconds': 0}, ['target_batch_seconds: 0 is out of range']),
    ('ret_statement_timeout_short', 'retention', {'statement_timeout': '0.1s', 'target_batch_seconds': 0.25},
     ['statement_timeout: 0.1s must be at least twice target_batch_seconds']),
    ('ret_now_text', 'retention', {'now': 'yesterday'}, ["now: 'yesterday' is not an ISO-8601 timestamp"]),
    ('ret_max_runtime_text', 'retention', {'max_runtime': 'a while'}, ["max_runtime: 'a while'", DURATION]),
    ('ret_vacuum_after_type', 'retention', {'vacuum_after': 'perhaps'}, ["argument 'vacuum_after' is of type str"]),
    ('ret_max_wal_rate_text', 'retention', {'max_wal_rate': 'fast'}, ['max_wal_rate', "'fast'"]),
    ('ret_vacuum_cost_delay_range', 'retention', {'vacuum_after': True, 'vacuum_cost_delay': 250},
     ['vacuum_cost_delay: 250 is out of range; use 0 (no delay) to 100 milliseconds']),
    # vacuum
    ('vac_mode_choice', 'vacuum', {'mode': 'turbo'}, ['value of mode must be one of', 'got: turbo']),
    ('vac_unknown_table', 'vacuum', {'tables': ['log', 'no_such_table']},
     ['tables not found: public.no_such_table (does not exist)']),
    ('vac_not_a_table', 'vacuum', {'tables': ['ix_log__timestamp']}, ['public.ix_log__timestamp (not an ordinary table']),
    ('vac_name_semicolon', 'vacuum', {'tables': ['log; DROP TABLE flow_run']},
     ["tables: 'log; DROP TABLE flow_run' " + NOT_PLAIN]),
    ('vac_name_quote', 'vacuum', {'tables': ['"unterminated']}, ['unbalanced double quote']),
    ('vac_name_unicode', 'vacuum', {'tables': [u'\u00e9v\u00e9nements']}, [NOT_PLAIN]),
    ('vac_tables_type', 'vacuum', {'tables': 'everything'}, ["tables must be auto or a non-empty list", "'everything'"]),
    ('vac_unknown_schema', 'vacuum', {'schema': 'no_such_schema'}, ['schema: no_such_schema does not exist']),
    ('vac_ratio_negative', 'vacuum', {'min_dead_ratio': -5}, ['min_dead_ratio and min_dead_tuples must not be negative']),
    ('vac_tuples_negative', 'vacuum', {'min_dead_tuples': -1}, ['must not be negative']),
    ('vac_min_size_text', 'vacuum', {'min_size': '12 parsecs'}, ["min_size: '12 parsecs'", SIZE]),
    ('vac_parallel_range', 'vacuum', {'parallel': -1, 'tables': ['log']}, ['parallel must be between 0 and 1024, not -1']),
    ('vac_index_cleanup_choice', 'vacuum', {'index_cleanup': 'sometimes'}, ['value of index_cleanup must be one of']),
    ('vac_full_without_allow', 'vacuum', {'mode': 'full', 'tables': ['log']}, ['mode=full refused', 'allow_full: true']),
    ('vac_max_full_size_text', 'vacuum', {'mode': 'full', 'allow_full': True, 'max_full_size': 'huge', 'tables': ['log']},
     ["max_full_size: 'huge'", SIZE]),
    ('vac_repack_binary_missing', 'vacuum', {'mode': 'repack', 'tables': ['log'], 'repack_binary': '/no/such/pg_repack'},
     ['the pg_repack client /no/such/pg_repack does not exist or is not executable']),
    ('vac_free_space_text', 'vacuum', {'mode': 'repack', 'tables': ['log'], 'free_space': 'plenty'},
     ["free_space: 'plenty'", SIZE]),
    ('vac_max_runtime_negative', 'vacuum', {'max_runtime': '-5m'}, ["max_runtime: '-5m'", DURATION]),
    # reindex
    ('ri_unknown_index', 'reindex', {'indexes': ['ix_log__timestamp', 'no_such_index']},
     ['indexes not found: public.no_such_index']),
    ('ri_table_for_index', 'reindex', {'indexes': ['log']}, ['indexes not found: public.log']),
    ('ri_name_semicolon', 'reindex', {'indexes': ['ix_log__timestamp; DROP TABLE log']}, [NOT_PLAIN]),
    ('ri_name_space', 'reindex', {'indexes': ['ix log']}, ["'ix log' " + NOT_PLAIN]),
    ('ri_empty_list', 'reindex', {'indexes': []}, ['indexes must be auto or a non-empty list of index names, not []']),
    ('ri_indexes_type', 'reindex', {'indexes': 'everything'}, ["not 'everything'"]),
    ('ri_unknown_schema', 'reindex', {'schema': 'no_such_schema'}, ['schema: no_such_schema does not exist']),
    ('ri_ratio_negative', 'reindex', {'min_bloat_ratio': -1}, ['min_bloat_ratio', 'must not be negative']),
    ('ri_size_text', 'reindex', {'min_index_size': 'big'}, ["min_index_size: 'big'", SIZE]),
    ('ri_retries_negative', 'reindex', {'retries': -1}, ['retries', 'must not be negative']),
    ('ri_min_scans_negative', 'reindex', {'min_scans': -1}, ['min_scans', 'must not be negative']),
    ('ri_max_runtime_zero', 'reindex', {'max_runtime': 0}, ['max_runtime must be a positive duration, not 0']),
    # backup
    ('bk_dest_missing', 'backup', {}, ['missing required arguments: dest']),
    ('bk_dest_is_a_file', 'backup', {'dest': '/etc/hostname'}, ['dest /etc/hostname exists and is not a directory']),
    ('bk_keep_zero', 'backup', {'dest': '{dest}', 'keep': 0}, ['keep must be at least 1, not 0']),
    ('bk_verify_choice', 'backup', {'dest': '{dest}', 'verify': 'checksum'}, ['value of verify must be one of']),
    ('bk_compress_range', 'backup', {'dest': '{dest}', 'compress': 12}, ['compress must be between 0 and 9, not 12']),
    ('bk_compress_type', 'backup', {'dest': '{dest}', 'compress': 'max'}, ["argument 'compress' is of type str"]),
    ('bk_bindir_missing', 'backup', {'dest': '{dest}', 'bindir': '/no/such/dir'}, ['no pg_dump in /no/such/dir (bindir)']),
    ('bk_ratio_negative', 'backup', {'dest': '{dest}', 'estimate_ratio': -1}, ['estimate_ratio must be positive']),
    ('bk_reserve_text', 'backup', {'dest': '{dest}', 'reserve': 'lots'}, ["reserve: 'lots'", SIZE]),
    ('bk_prefix_escapes', 'backup', {'dest': '{dest}', 'prefix': '../escape'},
     ["prefix '../escape' must start with a letter or digit"]),
    ('bk_prefix_semicolon', 'backup', {'dest': '{dest}', 'prefix': 'x;rm -rf'}, ["prefix 'x;rm -rf' must start"]),
]
MODULES = ('info', 'health', 'autovacuum', 'retention', 'vacuum', 'reindex', 'backup')


def fill(value, dest):
    if isinstance(value, str):
        return value.replace('{dest}', dest)
    if isinstance(value, dict):
        return dict((k, fill(v, dest)) for k, v in value.items())
    if isinstance(value, list):
        return [fill(v, dest) for v in value]
    return value


def schemas(cluster, db):
    return cluster.sql(db, 'SELECT nspname::text FROM pg_namespace ORDER BY 1')


def run_cases(cluster, db, cases, tmp, check=False, forks=4):
    """One ansible-playbook run: a host per case, a task per module."""
    dest = os.path.join(tmp, 'dumps')
    hosts = dict(('case_%s' % name, {'case_module': module, 'case_args': fill(args, dest)})
                 for name, module, args, dummy in cases)
    inventory = os.path.join(tmp, 'inventory.yml')
    with open(inventory, 'w') as f:
        yaml.safe_dump({'all': {'hosts': hosts, 'vars': {'ansible_connection': 'local',
                                                         'ansible_python_interpreter': os.path.join(BIN, 'python')}}},
                       f, allow_unicode=True)
    tasks = [{'name': module, 'prefectdb.maintenance.%s' % module: '{{ case_args }}',
              'when': "case_module == '%s'" % module, 'ignore_errors': True, 'check_mode': check} for module in MODULES]
    play = {'hosts': 'all', 'gather_facts': False,
            'module_defaults': {'group/prefectdb.maintenance.postgres': cluster.connection_args(db)}, 'tasks': tasks}
    run = run_playbook([play], inventory=inventory, extra_args=['--forks', str(forks)])
    results, collided = {}, []
    for entry in run.results:
        name = entry['host'][len('case_'):]
        if entry['status'] != 'skipped':
            results[name] = entry['result']
        elif 'lock_holder' in entry['result']:
            # two cases of one module that pass the argument checks meet at its advisory
            # lock, and the second is skipped as any second run is: run those again, alone
            collided.append(name)
    if collided and forks > 1:
        dummy, again, dummy = run_cases(cluster, db, [c for c in cases if c[0] in collided], tmp, check, forks=1)
        results.update(again)
    return run, results, dest


@pytest.fixture
def tmp():
    path = tempfile.mkdtemp(prefix='prefectdb-bad-input-')
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_each_bad_input_fails_with_one_clear_error_and_changes_nothing(cluster, history_db, tmp):
    assert len(CASES) >= 50 and len(set(c[0] for c in CASES)) == len(CASES)
    assert set(c[1] for c in CASES) == set(MODULES)
    before = cluster.fingerprint(history_db), schemas(cluster, history_db)
    run, results, dest = run_cases(cluster, history_db, CASES, tmp)
    problems = []
    for name, module, dummy, fragments in CASES:
        result = results.get(name)
        if result is None:
            problems.append('%s: no result (%s)' % (name, run.stdout[-500:]))
            continue
        msg = result.get('msg')
        if not result.get('failed') or result.get('changed') or result.get('skipped'):
            problems.append('%s: not one clean failure: failed=%s changed=%s msg=%r' % (
                name, result.get('failed'), result.get('changed'), msg))
        elif not isinstance(msg, str) or '\n' in msg.strip() or 'Traceback' in msg or 'MODULE FAILURE' in msg:
            problems.append('%s: not one clear message: %r' % (name, msg))
        elif [f for f in fragments if f not in msg]:
            problems.append('%s: %r lacks %r' % (name, msg, [f for f in fragments if f not in msg]))
    assert not problems, '\n'.join(problems)
    assert (cluster.fingerprint(history_db), schemas(cluster, history_db)) == before
    assert not os.path.exists(dest) or os.listdir(dest) == []


def test_an_event_override_longer_than_the_events_period_is_capped_with_a_warning(cluster, history_db, tmp):
    case = ('override_capped', 'retention', {'events_retention_period': '7d', 'now': '2026-01-01T00:00:00Z',
                                             'event_retention_overrides': {'prefect.flow-run.heartbeat': '30d',
                                                                           'prefect.flow-run.Running': '2d'}}, [])
    before = cluster.fingerprint(history_db)
    dummy, results, dummy2 = run_cases(cluster, history_db, [case], tmp, check=True, forks=1)
    result = results['override_capped']
    assert not result['failed'], result['msg']
    assert result['settings']['event_retention_overrides'] == {'prefect.flow-run.heartbeat': 604800,
                                                               'prefect.flow-run.Running': 172800}
    assert result['cutoffs']['event_retention_overrides']['prefect.flow-run.heartbeat'] == result['cutoffs']['events']
    capped = [w for w in result['warnings'] if w.startswith('event_retention_overrides[prefect.flow-run.heartbeat]')]
    assert capped and 'is longer than events_retention_period' in capped[0] and 'capped' in capped[0], \
        result['warnings']
    assert not [w for w in result['warnings'] if 'prefect.flow-run.Running' in w]
    assert cluster.fingerprint(history_db) == before
