"""Storage parameters: catalogue by version, typed comparison, presets, plans and statements, without a database."""
import os
import re

import pytest
import yaml
from psycopg2 import sql

from ansible_collections.prefectdb.maintenance.plugins.module_utils import reloptions as r
from ansible_collections.prefectdb.maintenance.plugins.modules import autovacuum as module


def render(composed):
    """psycopg2.sql objects as text without a connection (quoting as PostgreSQL does)."""
    if isinstance(composed, sql.Composed):
        return ''.join(render(part) for part in composed.seq)
    if isinstance(composed, sql.SQL):
        return composed.string
    if isinstance(composed, sql.Identifier):
        return '.'.join('"%s"' % s.replace('"', '""') for s in composed.strings)
    if isinstance(composed, sql.Literal):
        assert isinstance(composed.wrapped, str)
        return "'%s'" % composed.wrapped.replace("'", "''")
    raise AssertionError('unexpected %r' % (composed,))


# --- the catalogue ----------------------------------------------------------------

def test_catalogue_is_gated_by_version():
    pg14, pg15, pg17, pg18 = (set(r.catalogue(v)) for v in (140009, 150018, 170002, 180000))
    assert pg14 == pg15 == pg17
    assert pg18 - pg17 == {'autovacuum_vacuum_max_threshold', 'toast.autovacuum_vacuum_max_threshold',
                           'vacuum_max_eager_freeze_failure_rate', 'toast.vacuum_max_eager_freeze_failure_rate'}
    assert pg17 - pg18 == set()
    pg12 = set(r.catalogue(120000))
    assert pg14 - pg12 == {'autovacuum_vacuum_insert_threshold', 'autovacuum_vacuum_insert_scale_factor',
                           'toast.autovacuum_vacuum_insert_threshold', 'toast.autovacuum_vacuum_insert_scale_factor'}
    assert set(r.catalogue(None)) == pg18


def test_catalogue_knows_which_parameters_a_toast_table_takes():
    known = r.catalogue(150018)
    for name in ('autovacuum_enabled', 'autovacuum_vacuum_scale_factor', 'autovacuum_vacuum_threshold',
                 'autovacuum_vacuum_cost_delay', 'autovacuum_vacuum_cost_limit', 'autovacuum_freeze_max_age',
                 'log_autovacuum_min_duration', 'vacuum_truncate', 'vacuum_index_cleanup',
                 'autovacuum_vacuum_insert_scale_factor'):
        assert name in known and 'toast.' + name in known
    for name in ('autovacuum_analyze_scale_factor', 'autovacuum_analyze_threshold', 'fillfactor',
                 'toast_tuple_target'):
        assert name in known and 'toast.' + name not in known
    # parameters this module does not manage
    assert 'parallel_workers' not in known and 'user_catalog_table' not in known


def test_vacuum_index_cleanup_is_boolean_before_14_and_an_enum_since():
    assert r.catalogue(130000)['vacuum_index_cleanup'].kind == 'bool'
    assert r.catalogue(140000)['vacuum_index_cleanup'].kind == 'enum'
    option = r.catalogue(150018)['vacuum_index_cleanup']
    assert r.parse_input(option, 'AUTO') == 'auto'
    assert r.parse_input(option, True) == 'on'  # YAML reads `on` as true
    assert r.parse_input(option, 'no') == 'off'
    with pytest.raises(r.ReloptionError):
        r.parse_input(option, 'sometimes')


def test_toast_tuple_target_follows_the_block_size():
    assert r.catalogue(150018)['toast_tuple_target'].maximum == 8160
    assert r.catalogue(150018, block_size=16384)['toast_tuple_target'].maximum == 16352
    with pytest.raises(r.ReloptionError):
        r.parse_input(r.catalogue(150018)['toast_tuple_target'], 8161)
    assert r.parse_input(r.catalogue(150018, block_size=16384)['toast_tuple_target'], 16000) == 16000


@pytest.mark.parametrize('name,low,high', [
    ('autovacuum_vacuum_scale_factor', 0, 100),
    ('autovacuum_analyze_scale_factor', 0, 100),
    ('autovacuum_vacuum_insert_scale_factor', 0, 100),
    ('autovacuum_vacuum_threshold', 0, 2147483647),
    ('autovacuum_vacuum_insert_threshold', -1, 2147483647),
    ('autovacuum_vacuum_cost_delay', 0, 100),
    ('autovacuum_vacuum_cost_limit', 1, 10000),
    ('autovacuum_freeze_max_age', 100000, 2000000000),
    ('autovacuum_multixact_freeze_max_age', 10000, 2000000000),
    ('autovacuum_freeze_min_age', 0, 1000000000),
    ('log_autovacuum_min_duration', -1, 2147483647),
    ('fillfactor', 10, 100),
    ('toast_tuple_target', 128, 8160),
])
def test_ranges_are_the_servers(name, low, high):
    option = r.catalogue(150018)[name]
    assert r.parse_input(option, low) == low
    assert r.parse_input(option, high) == high
    step = 1 if option.kind == 'int' else 0.001
    for bad in (low - step, high + step):
        with pytest.raises(r.ReloptionError) as e:
            r.parse_input(option, bad)
        assert 'out of range' in str(e.value)


def test_18_parameters():
    known = r.catalogue(180000)
    assert r.parse_input(known['autovacuum_vacuum_max_threshold'], -1) == -1
    assert r.parse_input(known['vacuum_max_eager_freeze_failure_rate'], '0.03') == 0.03
    with pytest.raises(r.ReloptionError):
        r.parse_input(known['vacuum_max_eager_freeze_failure_rate'], 1.5)


# --- values ---------------------------------------------------------------------

@pytest.mark.parametrize('value,expected', [
    (0.05, 0.05), ('0.05', 0.05), ('0.050', 0.05), ('5e-2', 0.05), (' 5E-2 ', 0.05), (1, 1.0), ('.5', 0.5),
])
def test_real_input(value, expected):
    assert r.parse_input(r.catalogue()['autovacuum_vacuum_scale_factor'], value) == expected


@pytest.mark.parametrize('value', ['0,05', 'five', '1_0', 'nan', 'inf', True, None, [0.1], {}, ''])
def test_real_input_rejects(value):
    with pytest.raises(r.ReloptionError):
        r.parse_input(r.catalogue()['autovacuum_vacuum_scale_factor'], value)


@pytest.mark.parametrize('value,expected', [(1000, 1000), ('1000', 1000), (1000.0, 1000), ('1e3', 1000), ('+7', 7)])
def test_int_input(value, expected):
    assert r.parse_input(r.catalogue()['autovacuum_vacuum_threshold'], value) == expected


@pytest.mark.parametrize('value', [1000.5, '1000.5', '10 rows', False, '0x10', None])
def test_int_input_rejects(value):
    with pytest.raises(r.ReloptionError):
        r.parse_input(r.catalogue()['autovacuum_vacuum_threshold'], value)


@pytest.mark.parametrize('value,expected', [
    (True, True), (False, False), ('on', True), ('OFF', False), ('yes', True), ('no', False), ('1', True),
    ('0', False), (1, True), (0, False), ('true', True), ('t', True), ('f', False),
])
def test_bool_input(value, expected):
    assert r.parse_input(r.catalogue()['autovacuum_enabled'], value) is expected


@pytest.mark.parametrize('value', ['maybe', 2, 0.5, None, 'o', ''])
def test_bool_input_rejects(value):
    with pytest.raises(r.ReloptionError):
        r.parse_input(r.catalogue()['autovacuum_enabled'], value)


@pytest.mark.parametrize('name,stored,wanted,same', [
    ('autovacuum_vacuum_scale_factor', '0.050', 0.05, True),
    ('autovacuum_vacuum_scale_factor', '5e-2', 0.05, True),
    ('autovacuum_vacuum_scale_factor', '.05', 0.05, True),
    ('autovacuum_vacuum_scale_factor', '0.05', 0.5, False),
    ('autovacuum_vacuum_scale_factor', '0.0500000001', 0.05, False),
    ('autovacuum_enabled', 'on', True, True),
    ('autovacuum_enabled', 'ON', True, True),
    ('autovacuum_enabled', '1', True, True),
    ('autovacuum_enabled', 'tru', True, True),  # PostgreSQL takes unique prefixes
    ('autovacuum_enabled', 'of', False, True),
    ('autovacuum_enabled', 'off', True, False),
    ('autovacuum_vacuum_threshold', '0x3e8', 1000, True),  # strtol base 0
    ('autovacuum_vacuum_threshold', '01750', 1000, True),  # octal, as PostgreSQL reads it
    ('autovacuum_vacuum_threshold', '1e3', 1000, True),
    ('autovacuum_vacuum_threshold', '999.6', 1000, True),  # rounded
    ('autovacuum_vacuum_threshold', '1000', 1001, False),
    ('vacuum_index_cleanup', 'TRUE', 'on', True),
    ('vacuum_index_cleanup', 'auto', 'on', False),
    ('autovacuum_vacuum_scale_factor', 'garbage', 0.05, False),
])
def test_same_value_compares_typed_values(name, stored, wanted, same):
    assert r.same_value(r.catalogue(150018)[name], stored, wanted) is same


def test_format_value_is_what_postgresql_reads_back_the_same():
    known = r.catalogue()
    for name, value, text in (('autovacuum_vacuum_scale_factor', 0.05, '0.05'), ('autovacuum_enabled', False, 'false'),
                              ('autovacuum_vacuum_threshold', 1000, '1000'), ('vacuum_index_cleanup', 'off', 'off'),
                              ('autovacuum_vacuum_cost_delay', 2.0, '2.0'),
                              ('autovacuum_vacuum_insert_scale_factor', 1e-05, '1e-05')):
        assert r.format_value(known[name], value) == text
        assert r.same_value(known[name], text, value)


def test_current_reloptions_reads_the_toast_table_too():
    current = r.current_reloptions(['fillfactor=90', 'autovacuum_enabled=off'], ['autovacuum_enabled=false'])
    assert current == {'fillfactor': '90', 'autovacuum_enabled': 'off', 'toast.autovacuum_enabled': 'false'}
    assert r.current_reloptions(None, None) == {}


def test_is_vacuum_key():
    for key in ('autovacuum_enabled', 'toast.autovacuum_enabled', 'vacuum_truncate', 'toast.vacuum_index_cleanup',
                'log_autovacuum_min_duration', 'toast.log_autovacuum_min_duration', 'autovacuum_some_future_knob'):
        assert r.is_vacuum_key(key)
    for key in ('fillfactor', 'toast_tuple_target', 'parallel_workers', 'user_catalog_table'):
        assert not r.is_vacuum_key(key)


# --- requests -------------------------------------------------------------------

def test_request_merges_tables_over_the_preset():
    targets, errors, notes = r.build_request(
        {'events': {'autovacuum_vacuum_scale_factor': '0.01', 'autovacuum_analyze_scale_factor': None},
         'public.artifact': {'autovacuum_enabled': 'off'}},
        preset='prefect', server_version_num=150018)
    assert errors == [] and notes == []
    by_name = dict((t.name, t) for t in targets)
    assert [t.name for t in targets] == ['events', 'flow_run_state', 'flow_run', 'artifact']
    assert by_name['events'].wanted == {'autovacuum_vacuum_scale_factor': 0.01, 'autovacuum_vacuum_threshold': 1000,
                                        'autovacuum_analyze_scale_factor': None}
    assert by_name['events'].source['autovacuum_vacuum_threshold'] == 'preset'
    assert by_name['events'].source['autovacuum_vacuum_scale_factor'] == 'tables'
    assert by_name['events'].label == 'tables.events'
    assert by_name['flow_run'].wanted == {'autovacuum_vacuum_scale_factor': 0.1, 'autovacuum_vacuum_threshold': 500}
    assert by_name['artifact'].wanted == {'autovacuum_enabled': False}


def test_request_lists_every_bad_entry():
    tables = {
        'log': {'autovacuum_vacuum_scale_factor': 150, 'autovacum_enabled': True, 'autovacuum_enabled': 'maybe',
                'toast.autovacuum_analyze_scale_factor': 0.1, 'toast.fillfactor': 90,
                'autovacuum_vacuum_max_threshold': 1000, 'parallel_workers': 4, 'toast': {'autovacuum_enabled': 0},
                'autovacuum_vacuum_cost_delay': -1},
        'public.log': {},
        'flow run': {},
        'events': ['autovacuum_enabled'],
        'task_run': {'fillfactor': 5, 'autovacuum_vacuum_threshold': 100},
    }
    targets, errors, dummy = r.build_request(tables, server_version_num=150018)
    text = '\n'.join(errors)
    assert len(errors) == 13, text
    assert 'tables.log.autovacuum_vacuum_scale_factor: 150 is out of range: a number from 0 to 100' in errors
    assert 'tables.log.autovacum_enabled: not a storage parameter this module manages; ' \
           'did you mean autovacuum_enabled?' in errors
    assert "tables.log.autovacuum_enabled: 'maybe' is not a boolean (use true or false)" in errors
    assert 'tables.log.toast.autovacuum_analyze_scale_factor: cannot be set on a TOAST table ' \
           '(it applies to the table itself: use autovacuum_analyze_scale_factor)' in errors
    assert 'tables.log.toast.fillfactor: cannot be set on a TOAST table' in text
    assert 'tables.log.autovacuum_vacuum_max_threshold: needs PostgreSQL 18 or later; the server is 15.18' in errors
    assert 'tables.log.parallel_workers: not a storage parameter this module manages' in text
    assert 'tables.log.toast: write TOAST parameters as toast.<name>' in text
    assert 'tables.log.autovacuum_vacuum_cost_delay: -1 is out of range: a number from 0 to 100' in errors
    assert 'tables.public.log: names the same table as tables.log (public.log)' in errors
    assert "tables.flow run: 'flow run' is not a plain identifier" in text
    assert 'tables.events: expected a mapping of storage parameters to values, got list' in errors
    assert 'tables.task_run.fillfactor: 5 is out of range: an integer from 10 to 100' in errors
    # the good entry of a bad request is still understood
    assert dict((t.name, t.wanted) for t in targets)['task_run'] == {'autovacuum_vacuum_threshold': 100}


def test_absent_takes_names_and_ignores_values():
    targets, errors, dummy = r.build_request(
        {'events': ['autovacuum_vacuum_scale_factor', 'toast.autovacuum_enabled'],
         'log': {'autovacuum_vacuum_threshold': 'whatever'}}, state='absent', server_version_num=150018)
    assert errors == []
    assert targets[0].wanted == {'autovacuum_vacuum_scale_factor': None, 'toast.autovacuum_enabled': None}
    assert targets[1].wanted == {'autovacuum_vacuum_threshold': None}
    dummy, errors, dummy2 = r.build_request({'events': ['nonsense']}, state='absent', server_version_num=150018)
    assert errors == ['tables.events.nonsense: not a storage parameter this module manages']


def test_empty_entries_and_no_request():
    targets, errors, dummy = r.build_request({'log': None}, server_version_num=150018)
    assert errors == [] and targets[0].wanted == {}
    assert r.build_request({}, server_version_num=150018) == ([], [], [])


def test_preset_values_the_server_does_not_know_are_left_out_with_a_note():
    targets, errors, notes = r.build_request({}, preset='prefect_high_volume', server_version_num=120000)
    assert errors == []
    assert all('insert' not in key for t in targets for key in t.wanted)
    assert 'preset prefect_high_volume: log.autovacuum_vacuum_insert_scale_factor left out: ' \
           'needs PostgreSQL 13 or later; the server is 12.0' in notes


# --- presets --------------------------------------------------------------------

@pytest.mark.parametrize('version', [140000, 150018, 160000, 170000, 180000])
@pytest.mark.parametrize('preset', ['prefect', 'prefect_high_volume'])
def test_presets_are_valid_on_every_supported_version(preset, version):
    targets, errors, notes = r.build_request({}, preset=preset, server_version_num=version)
    assert errors == [] and notes == []
    assert sum(len(t.wanted) for t in targets) == sum(len(v) for v in r.PRESETS[preset].values())


def test_prefect_preset_is_the_guides():
    assert r.PRESETS['prefect'] == {
        'events': {'autovacuum_vacuum_scale_factor': 0.05, 'autovacuum_vacuum_threshold': 1000,
                   'autovacuum_analyze_scale_factor': 0.02},
        'flow_run_state': {'autovacuum_vacuum_scale_factor': 0.1, 'autovacuum_analyze_scale_factor': 0.05},
        'flow_run': {'autovacuum_vacuum_scale_factor': 0.1, 'autovacuum_vacuum_threshold': 500},
    }


def test_high_volume_preset_covers_the_busy_tables():
    assert set(r.PRESETS['prefect_high_volume']) == {
        'log', 'events', 'event_resources', 'task_run', 'task_run_state', 'flow_run_state', 'flow_run'}
    assert r.PRESETS['prefect_high_volume']['flow_run'] == r.PRESETS['prefect']['flow_run']


# PostgreSQL defaults the presets are compared with
DEFAULTS = {'autovacuum_vacuum_threshold': 50, 'autovacuum_vacuum_scale_factor': 0.2,
            'autovacuum_analyze_threshold': 50, 'autovacuum_analyze_scale_factor': 0.1}


def trigger(settings, kind, rows):
    """Dead (or changed) rows after which autovacuum vacuums (or analyzes) a table of `rows` rows."""
    threshold = settings.get('autovacuum_%s_threshold' % kind, DEFAULTS['autovacuum_%s_threshold' % kind])
    scale = settings.get('autovacuum_%s_scale_factor' % kind, DEFAULTS['autovacuum_%s_scale_factor' % kind])
    return threshold + scale * rows


@pytest.mark.parametrize('rows', [10 ** 5, 10 ** 6, 10 ** 7, 10 ** 8])
def test_high_volume_is_never_weaker_than_the_guide_where_it_matters(rows):
    guide, strong = r.PRESETS['prefect'], r.PRESETS['prefect_high_volume']
    for table, settings in strong.items():
        for kind in ('vacuum', 'analyze'):
            assert trigger(settings, kind, rows) <= trigger(guide.get(table, {}), kind, rows), (table, kind)
            if table != 'flow_run':
                assert trigger(settings, kind, rows) < trigger({}, kind, rows), (table, kind)


def documented_values(preset):
    """The 'Values of C(preset): C(table) key=value, ...; ...' item of the preset option's docs."""
    doc = yaml.safe_load(module.DOCUMENTATION)
    items = [i for i in doc['options']['preset']['description'] if i.startswith('Values of C(%s):' % preset)]
    assert len(items) == 1, preset
    body = items[0].split(':', 1)[1].strip().rstrip('.')
    result = {}
    for group in body.split('; '):
        table, dummy, pairs = re.match(r'C\((\w+)\) (.*)', group).group(1, 0, 2)
        result[table] = dict((k, yaml.safe_load(v)) for k, v in (pair.split('=') for pair in pairs.split(', ')))
    return result


@pytest.mark.parametrize('preset', ['prefect', 'prefect_high_volume'])
def test_the_module_docs_show_every_preset_value(preset):
    assert documented_values(preset) == r.PRESETS[preset]


def test_the_module_docs_explain_every_high_volume_table():
    doc = yaml.safe_load(module.DOCUMENTATION)
    reasoning = ' '.join(i for i in doc['options']['preset']['description'] if not i.startswith('Values of'))
    for table in r.PRESETS['prefect_high_volume']:
        assert 'C(%s)' % table in reasoning
    for key in ('autovacuum_vacuum_insert_scale_factor', 'autovacuum_vacuum_insert_threshold',
                'autovacuum_vacuum_cost_limit', 'toast.autovacuum_vacuum_scale_factor', 'autovacuum_analyze_scale_factor'):
        assert key in reasoning


def test_the_table_in_docs_autovacuum_md_shows_the_presets():
    path = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'docs', 'autovacuum.md')
    with open(path) as f:
        rows = [line for line in f if re.match(r'^\| `\w+` \| `', line)]
    found = {'prefect': {}, 'prefect_high_volume': {}}
    for line in rows:
        table, key, guide, strong = [c.strip().strip('`') for c in line.strip().strip('|').split('|')]
        for preset, value in (('prefect', guide), ('prefect_high_volume', strong)):
            if value != '-':
                found[preset].setdefault(table, {})[key] = yaml.safe_load(value)
    for preset in found:
        assert found[preset] == dict((t, dict(v)) for t, v in r.PRESETS[preset].items())


# --- plans and statements -----------------------------------------------------------

def test_nothing_to_do_when_values_mean_the_same():
    plan = r.plan_table({'autovacuum_vacuum_scale_factor': 0.05, 'autovacuum_enabled': True},
                        {'autovacuum_vacuum_scale_factor': '5e-2', 'autovacuum_enabled': 'on'})
    assert not plan.changed
    assert r.alter_statement('public', 'events', plan) is None
    assert plan.after == plan.before


def test_plan_sets_changes_and_resets_nulls():
    current = {'autovacuum_vacuum_scale_factor': '0.2', 'autovacuum_vacuum_cost_limit': '500', 'fillfactor': '90'}
    plan = r.plan_table({'autovacuum_vacuum_scale_factor': 0.05, 'autovacuum_vacuum_threshold': 1000,
                         'autovacuum_vacuum_cost_limit': None, 'autovacuum_enabled': None}, current)
    assert plan.set == {'autovacuum_vacuum_scale_factor': '0.05', 'autovacuum_vacuum_threshold': '1000'}
    assert plan.reset == ['autovacuum_vacuum_cost_limit']
    assert plan.after == {'autovacuum_vacuum_scale_factor': '0.05', 'autovacuum_vacuum_threshold': '1000',
                          'fillfactor': '90'}
    assert plan.before == current


def test_exclusive_resets_unwanted_vacuum_keys_only():
    current = {'autovacuum_vacuum_scale_factor': '0.05', 'autovacuum_vacuum_cost_limit': '500',
               'toast.autovacuum_enabled': 'false', 'vacuum_truncate': 'off', 'fillfactor': '90',
               'parallel_workers': '2', 'toast_tuple_target': '256'}
    plan = r.plan_table({'autovacuum_vacuum_scale_factor': 0.05}, current, exclusive=True)
    assert plan.set == {}
    assert plan.reset == ['autovacuum_vacuum_cost_limit', 'toast.autovacuum_enabled', 'vacuum_truncate']
    assert plan.after == {'autovacuum_vacuum_scale_factor': '0.05', 'fillfactor': '90', 'parallel_workers': '2',
                          'toast_tuple_target': '256'}
    # without exclusive the others stay
    assert not r.plan_table({'autovacuum_vacuum_scale_factor': 0.05}, current).changed


def test_absent_resets_only_what_is_set():
    current = {'autovacuum_vacuum_scale_factor': '0.05', 'fillfactor': '90', 'toast.autovacuum_enabled': 'off'}
    plan = r.plan_table({'autovacuum_vacuum_scale_factor': 0.05, 'autovacuum_vacuum_threshold': 1000,
                         'toast.autovacuum_enabled': None}, current, state='absent')
    assert plan.set == {} and plan.reset == ['autovacuum_vacuum_scale_factor', 'toast.autovacuum_enabled']
    plan = r.plan_table({}, current, state='absent', exclusive=True)
    assert plan.reset == ['autovacuum_vacuum_scale_factor', 'toast.autovacuum_enabled']
    assert not r.plan_table({'autovacuum_vacuum_threshold': None}, current, state='absent').changed


def test_statement_sets_and_resets_in_one_alter_table():
    plan = r.plan_table({'autovacuum_vacuum_scale_factor': 0.05, 'toast.autovacuum_enabled': False,
                         'autovacuum_vacuum_cost_limit': None},
                        {'autovacuum_vacuum_cost_limit': '500', 'toast.vacuum_truncate': 'off'}, exclusive=True)
    text = render(r.alter_statement('public', 'events', plan))
    assert text == ('ALTER TABLE "public"."events" SET ("autovacuum_vacuum_scale_factor" = \'0.05\', '
                    '"toast"."autovacuum_enabled" = \'false\'), '
                    'RESET ("autovacuum_vacuum_cost_limit", "toast"."vacuum_truncate")')


def test_statement_quotes_odd_table_names():
    plan = r.plan_table({'fillfactor': 90}, {})
    assert render(r.alter_statement('my schema', 'Odd"Name', plan)) == \
        'ALTER TABLE "my schema"."Odd""Name" SET ("fillfactor" = \'90\')'
    plan = r.plan_table({}, {'fillfactor': '90'}, state='absent', exclusive=True)
    assert not plan.changed  # fillfactor is not an autovacuum key


def test_version_text():
    assert r.version_text(150018) == '15.18'
    assert r.version_text(180000) == '18.0'


# --- the module's pure helpers ------------------------------------------------------

def test_message_says_what_happened():
    targets, dummy, dummy2 = r.build_request({'log': {}, 'events': {}, 'gone': {}}, server_version_num=150018)
    log, events, gone = targets
    report = {'log': {'msg': 'could not get the lock'}}
    text = module.message(False, targets, ['events'], ['log'], [], [gone], report)
    assert text == ('autovacuum: 1 of 3 tables failed: log: could not get the lock; changed 1 of 3 tables (events); '
                    '1 missing table ignored (gone)')
    assert module.message(True, targets[:2], ['log', 'events'], [], [], [], {}) == \
        'autovacuum: would change 2 of 2 tables (log, events); check mode, no statement sent'
    assert module.message(False, targets[:2], [], [], ['log', 'events'], [], {}) == \
        'autovacuum: 2 already as wanted (log, events); nothing changed'
    assert module.message(False, [], [], [], [], [], {}) == 'autovacuum: no table requested (give tables or a preset)'
