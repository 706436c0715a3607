"""health_history: the growth maths; write_refusal."""
import datetime

from ansible_collections.prefectdb.maintenance.plugins.module_utils.health_history import (
    compact_snapshot, days_until_full, growth_facts, window_growth, write_refusal,
)

NOW = datetime.datetime(2026, 11, 27, 2, 0, tzinfo=datetime.timezone.utc)
GB = 2 ** 30


def snap(db, tables, used=None, available=None, method='statvfs', days_ago=None):
    s = compact_snapshot(db, [{'qualified': k, 'total_bytes': v[0], 'rows_estimate': v[1]} for k, v in tables.items()],
                         {'used_bytes': used, 'available_bytes': available, 'total_bytes': 100 * GB,
                          'method': method})
    if days_ago is not None:
        s['taken_at'] = NOW - datetime.timedelta(days=days_ago)
    return s


def test_compact_snapshot():
    s = snap(10, {'public.events': (5, -1)}, used=7, available=3)
    assert s == {'database_bytes': 10, 'disk_total_bytes': 100 * GB, 'disk_available_bytes': 3, 'disk_used_bytes': 7,
                 'disk_method': 'statvfs', 'tables': {'public.events': [5, 0, 0]}}


def test_window_growth_per_day():
    current = snap(20 * GB, {'public.events': (12 * GB, 3000000), 'public.log': (2 * GB, 100), 'public.new': (1, 1)},
                   used=50 * GB, available=50 * GB)
    base = snap(6 * GB, {'public.events': (5 * GB, 1600000), 'public.log': (2 * GB, 100)}, used=36 * GB,
                available=64 * GB, days_ago=7)
    g = window_growth(current, base, NOW)
    assert g['elapsed_days'] == 7.0
    assert g['database_bytes_per_day'] == 2 * GB
    assert g['disk_used_bytes_per_day'] == 2 * GB
    assert [t['table'] for t in g['tables']] == ['public.events', 'public.log']  # fastest first, new table skipped
    assert g['tables'][0]['bytes_per_day'] == GB and g['tables'][0]['rows_per_day'] == 200000
    assert g['tables'][1]['bytes_per_day'] == 0
    assert g['base_taken_at'] == '2026-11-20T02:00:00Z'


def test_disk_rate_needs_the_same_method():
    current = snap(2 * GB, {}, used=50 * GB, available=50 * GB, method='disk_total_bytes')
    base = snap(GB, {}, used=40 * GB, available=60 * GB, method='statvfs', days_ago=1)
    assert window_growth(current, base, NOW)['disk_used_bytes_per_day'] is None


def test_days_until_full():
    assert days_until_full(50 * GB, 2 * GB) == 25.0
    assert days_until_full(50 * GB, 0) is None
    assert days_until_full(50 * GB, -GB) is None
    assert days_until_full(None, GB) is None


def test_growth_facts_prefers_the_7_day_window():
    current = snap(20 * GB, {}, used=50 * GB, available=50 * GB)
    bases = {'1d': snap(19 * GB, {}, used=45 * GB, available=55 * GB, days_ago=1),
             '7d': snap(6 * GB, {}, used=36 * GB, available=64 * GB, days_ago=7),
             '30d': None}
    g = growth_facts(current, bases, NOW)
    assert g['windows']['30d'] is None
    assert (g['rate_window'], g['rate_of'], g['rate_bytes_per_day']) == ('7d', 'disk_used', 2 * GB)
    assert g['days_until_full'] == 25.0 and g['full_at'] == '2026-12-22T02:00:00Z'
    only_day = growth_facts(current, {'1d': bases['1d']}, NOW)
    assert only_day['rate_window'] == '1d' and only_day['days_until_full'] == 10.0


def test_growth_facts_without_history_or_disk():
    g = growth_facts(snap(GB, {}), {}, NOW)
    assert g['rate_bytes_per_day'] is None and g['days_until_full'] is None
    shrinking = growth_facts(snap(GB, {}, available=10), {'7d': snap(2 * GB, {}, days_ago=7, method=None)}, NOW)
    assert shrinking['rate_of'] == 'database' and shrinking['days_until_full'] is None


def priv(**kw):
    base = {'schema_exists': True, 'table_exists': True, 'database_create': False, 'schema_create': False,
            'schema_usage': True, 'table_insert': True, 'table_select': True, 'table_delete': True}
    base.update(kw)
    return base


def test_write_refusal():
    assert write_refusal(priv()) is None
    assert 'CREATE privilege on the database' in write_refusal(priv(schema_exists=False, table_exists=False))
    assert write_refusal(priv(schema_exists=False, table_exists=False, database_create=True)) is None
    assert 'USAGE' in write_refusal(priv(schema_usage=False))
    assert 'on the history schema' in write_refusal(priv(table_exists=False))
    assert write_refusal(priv(table_exists=False, schema_create=True)) is None
    assert 'INSERT, SELECT and DELETE' in write_refusal(priv(table_delete=False))


def test_autovacuums_per_day_between_snapshots():
    import datetime as dt
    from ansible_collections.prefectdb.maintenance.plugins.module_utils.health_history import window_growth
    now = dt.datetime(2026, 1, 8, tzinfo=dt.timezone.utc)
    current = {'database_bytes': 10,
               'tables': {'public.log': [100, 10, 400], 'public.events': [50, 5, 3], 'public.old': [1, 1, 1]}}
    base = {'taken_at': now - dt.timedelta(days=7), 'database_bytes': 5,
            'tables': {'public.log': [90, 9, 50], 'public.events': [40, 4, 10], 'public.old': [1, 1]}}
    tables = dict((t['table'], t) for t in window_growth(current, base, now)['tables'])
    assert tables['public.log']['autovacuums_per_day'] == 50.0
    assert tables['public.events']['autovacuums_per_day'] is None   # statistics reset in between
    assert tables['public.old']['autovacuums_per_day'] is None      # a snapshot of the older format
