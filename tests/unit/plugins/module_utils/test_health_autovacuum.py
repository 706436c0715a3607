"""health_autovacuum: settings, reloptions, what is in effect, triggers."""
from ansible_collections.prefectdb.maintenance.plugins.module_utils.health_autovacuum import (
    autovacuum_triggers, effective_autovacuum, normalize_setting, normalize_settings, parse_reloptions,
)

SERVER = normalize_settings([
    {'name': 'autovacuum', 'setting': 'on', 'unit': None, 'vartype': 'bool'},
    {'name': 'autovacuum_naptime', 'setting': '60', 'unit': 's', 'vartype': 'integer'},
    {'name': 'autovacuum_vacuum_threshold', 'setting': '50', 'unit': None, 'vartype': 'integer'},
    {'name': 'autovacuum_vacuum_scale_factor', 'setting': '0.2', 'unit': None, 'vartype': 'real'},
    {'name': 'autovacuum_vacuum_insert_threshold', 'setting': '1000', 'unit': None, 'vartype': 'integer'},
    {'name': 'autovacuum_vacuum_insert_scale_factor', 'setting': '0.2', 'unit': None, 'vartype': 'real'},
    {'name': 'autovacuum_analyze_threshold', 'setting': '50', 'unit': None, 'vartype': 'integer'},
    {'name': 'autovacuum_analyze_scale_factor', 'setting': '0.1', 'unit': None, 'vartype': 'real'},
    {'name': 'autovacuum_vacuum_cost_limit', 'setting': '-1', 'unit': None, 'vartype': 'integer'},
    {'name': 'vacuum_cost_limit', 'setting': '200', 'unit': None, 'vartype': 'integer'},
    {'name': 'autovacuum_vacuum_cost_delay', 'setting': '2', 'unit': 'ms', 'vartype': 'real'},
    {'name': 'vacuum_cost_delay', 'setting': '0', 'unit': 'ms', 'vartype': 'real'},
    {'name': 'autovacuum_freeze_max_age', 'setting': '200000000', 'unit': None, 'vartype': 'integer'},
    {'name': 'autovacuum_work_mem', 'setting': '-1', 'unit': 'kB', 'vartype': 'integer'},
    {'name': 'maintenance_work_mem', 'setting': '65536', 'unit': 'kB', 'vartype': 'integer'},
])


def test_normalize_setting_units():
    assert SERVER['autovacuum'] is True
    assert SERVER['autovacuum_naptime'] == 60
    assert SERVER['autovacuum_vacuum_cost_delay'] == 0.002
    assert SERVER['maintenance_work_mem'] == 64 * 1024 * 1024
    assert SERVER['autovacuum_work_mem'] == -1
    assert normalize_setting('16384', '8kB', 'integer') == 16384 * 8192
    assert normalize_setting('5', 'min', 'integer') == 300
    assert normalize_setting('replica', None, 'enum') == 'replica'
    assert normalize_setting(None) is None


def test_parse_reloptions():
    ro = parse_reloptions(['autovacuum_enabled=false', 'fillfactor=90', 'autovacuum_vacuum_scale_factor=0.01',
                           'autovacuum_vacuum_cost_delay=5', 'vacuum_index_cleanup=auto'])
    assert ro == {'autovacuum_enabled': False, 'fillfactor': 90, 'autovacuum_vacuum_scale_factor': 0.01,
                  'autovacuum_vacuum_cost_delay': 0.005, 'vacuum_index_cleanup': 'auto'}
    assert parse_reloptions(None) == {}


def test_effective_settings_prefer_reloptions():
    eff = effective_autovacuum(parse_reloptions(['autovacuum_vacuum_scale_factor=0.01',
                                                 'autovacuum_freeze_max_age=100000000']), SERVER)
    assert eff['vacuum_scale_factor'] == 0.01 and eff['source']['vacuum_scale_factor'] == 'table'
    assert eff['vacuum_threshold'] == 50 and eff['source']['vacuum_threshold'] == 'server'
    assert eff['vacuum_cost_limit'] == 200          # -1 falls back to vacuum_cost_limit
    assert eff['vacuum_cost_delay'] == 0.002
    assert eff['freeze_max_age'] == 100000000
    assert eff['enabled'] is True
    off = effective_autovacuum(parse_reloptions(['autovacuum_enabled=off']), SERVER)
    assert off['enabled'] is False and off['table_enabled'] is False
    server_off = effective_autovacuum({}, dict(SERVER, autovacuum=False))
    assert server_off['enabled'] is False and server_off['table_enabled'] is True


def test_triggers():
    eff = effective_autovacuum({}, SERVER)
    t = autovacuum_triggers(eff, 10000, 2049, 0, 0)
    assert t['vacuum_dead_rows_trigger'] == 2050 and t['vacuum_due'] is False
    assert autovacuum_triggers(eff, 10000, 2051, 0, 0)['vacuum_due'] is True
    assert autovacuum_triggers(eff, 10000, 0, 3001, 0)['vacuum_due'] is True      # insert trigger 1000 + 2000
    assert autovacuum_triggers(eff, -1, 51, 0, 0)['vacuum_due'] is True           # never vacuumed: reltuples 0
    assert autovacuum_triggers(eff, 10000, 0, 0, 1051)['analyze_due'] is True
    no_insert = dict(eff, vacuum_insert_threshold=-1)
    t = autovacuum_triggers(no_insert, 10000, 0, 10 ** 6, 0)
    assert t['vacuum_insert_trigger'] is None and t['vacuum_due'] is False


def test_postgresql_18_caps_the_dead_rows_trigger_at_autovacuum_vacuum_max_threshold():
    pg18 = dict(SERVER, autovacuum_vacuum_max_threshold=100000000)
    eff = effective_autovacuum({}, pg18)
    assert eff['vacuum_max_threshold'] == 100000000 and eff['source']['vacuum_max_threshold'] == 'server'
    # 50 + 0.2 * 1e9 would be 200,000,050: PostgreSQL 18 vacuums at 100,000,000 dead rows
    t = autovacuum_triggers(eff, 10 ** 9, 100000001, 0, 0)
    assert t['vacuum_dead_rows_trigger'] == 100000000 and t['vacuum_due'] is True
    assert autovacuum_triggers(eff, 10000, 0, 0, 0)['vacuum_dead_rows_trigger'] == 2050  # below the cap
    table = effective_autovacuum(parse_reloptions(['autovacuum_vacuum_max_threshold=5000']), pg18)
    assert table['source']['vacuum_max_threshold'] == 'table'
    assert autovacuum_triggers(table, 10 ** 6, 0, 0, 0)['vacuum_dead_rows_trigger'] == 5000
    uncapped = effective_autovacuum(parse_reloptions(['autovacuum_vacuum_max_threshold=-1']), pg18)
    assert autovacuum_triggers(uncapped, 10 ** 9, 0, 0, 0)['vacuum_dead_rows_trigger'] == 200000050


def test_before_18_there_is_no_cap():
    eff = effective_autovacuum({}, SERVER)
    assert eff['vacuum_max_threshold'] is None
    assert autovacuum_triggers(eff, 10 ** 9, 0, 0, 0)['vacuum_dead_rows_trigger'] == 200000050
