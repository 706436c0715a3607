"""health_bloat: estimates from statistics, pure maths."""
import math

import pytest

from ansible_collections.prefectdb.maintenance.plugins.module_utils.health_bloat import (
    align, btree_tuple_bytes, current_tuples, dead_rows_lower_bound, estimate_btree_bloat, estimate_table_bloat,
    heap_tuple_bytes, pgstattuple_wasted,
)

UUID = {'attname': 'id', 'attlen': 16, 'typalign': 'c', 'has_stats': True, 'null_frac': 0, 'avg_width': 16}
TS = {'attname': 'ts', 'attlen': 8, 'typalign': 'd', 'has_stats': True, 'null_frac': 0, 'avg_width': 8}
INT4 = {'attname': 'n', 'attlen': 4, 'typalign': 'i', 'has_stats': True, 'null_frac': 0, 'avg_width': 4}


def text(width, null_frac=0.0, name='t'):
    return {'attname': name, 'attlen': -1, 'typalign': 'i', 'has_stats': True, 'null_frac': null_frac,
            'avg_width': width}


def test_align():
    assert [align(x, 8) for x in (0, 1, 8, 9, 23.2)] == [0, 8, 8, 16, 24]


def test_heap_tuple_bytes_matches_postgres_layout():
    # (uuid, timestamptz): header 23 -> 24, data 16 + 8 = 24 -> 48 bytes, as pgstattuple reports for such rows
    assert heap_tuple_bytes([UUID, TS]) == 48
    # int4 then timestamptz: the timestamp is aligned to 8 -> 4 + 4 pad + 8 = 16
    assert heap_tuple_bytes([INT4, TS]) == 24 + 16
    # a NULL stores no data but adds the bitmap: 1 column -> 23 + 1 = 24; 9 columns -> 23 + 2 -> 32
    assert heap_tuple_bytes([dict(INT4, null_frac=0.5)]) == 0.5 * (24 + 8) + 0.5 * 24
    # nine int4, 10% NULL: without NULLs 24 + 40 (36 aligned), with one 32 + 32: 64 either way
    assert heap_tuple_bytes([dict(INT4, attname=str(i), null_frac=0.1) for i in range(9)]) == 64
    # short text (1-byte header) is not aligned
    assert heap_tuple_bytes([INT4, text(10), INT4]) == 24 + align(4 + 10 + 2 + 4, 8)


def test_btree_tuple_bytes():
    assert btree_tuple_bytes([UUID]) == 8 + 16
    assert btree_tuple_bytes([TS, UUID]) == 8 + 24
    # 10% NULL keys: 16-byte tuples either way (8 + 8 data, or 8 + 4 bitmap aligned to 16 and no data)
    assert btree_tuple_bytes([dict(TS, null_frac=0.1)]) == 16


def test_current_tuples_scales_density_like_the_planner():
    assert current_tuples(1000, 10, 20) == 2000
    assert current_tuples(1000, 0, 5) == 1000
    assert current_tuples(-1, 0, 5) is None


def fixed_table(rows, pages, **kw):
    table = {'qualified': 'public.t', 'heap_main_bytes': pages * 8192, 'heap_bytes': pages * 8192, 'relpages': pages,
             'reltuples': rows, 'fillfactor': 100, 'toast_bytes': 0, 'n_mod_since_analyze': 0, 'stats_visible': True}
    table.update(kw)
    return table


def test_packed_fixed_width_table_has_no_waste():
    # 48-byte tuples + 4-byte line pointers: floor((8192 - 24) / 52) = 157 per page
    rows = 157 * 100
    est = estimate_table_bloat(fixed_table(rows, 100), [UUID, TS])
    assert est['method'] == 'pg_stats' and est['reliable'] is True
    assert est['wasted_bytes'] == 0 and est['bloat_ratio_percent'] == 0.0


def test_half_empty_table():
    # the same rows spread over twice the pages (after deleting half and vacuuming)
    rows = 157 * 100
    est = estimate_table_bloat(fixed_table(rows, 200, relpages=200), [UUID, TS])
    assert est['wasted_bytes'] == 100 * 8192
    assert est['wasted_percent'] == 50.0 and est['bloat_ratio_percent'] == 100.0
    assert est['rows_estimate'] == rows


def test_fillfactor_is_expected_space_not_bloat():
    rows = int((8192 - 24 - 8192 * 0.3) // 52) * 100
    est = estimate_table_bloat(fixed_table(rows, 100, fillfactor=70), [UUID, TS])
    assert est['wasted_bytes'] == 0


def test_unreliable_reasons():
    est = estimate_table_bloat(fixed_table(10000, 100, n_mod_since_analyze=5000, toast_bytes=10 ** 9),
                               [UUID, dict(text(30), has_stats=False, attname='payload')])
    assert est['reliable'] is False
    assert any('stale statistics' in r for r in est['reasons'])
    assert any('TOAST-heavy' in r for r in est['reasons'])
    assert any('no column statistics for payload' in r for r in est['reasons'])
    never = estimate_table_bloat(fixed_table(-1, 0), [UUID])
    assert never['wasted_bytes'] is None and never['reliable'] is False


def test_without_column_statistics_falls_back_to_dead_rows_lower_bound():
    table = fixed_table(1000, 100, stats_visible=False, n_live_tup=750, n_dead_tup=250)
    est = estimate_table_bloat(table, [])
    assert est['method'] == 'dead_rows' and est['reliable'] is False
    assert est['wasted_bytes'] == 25 * 8192 and est['wasted_percent'] == 25.0
    assert 'lower bound' in est['reasons'][0]
    assert dead_rows_lower_bound({'heap_main_bytes': 0})['wasted_bytes'] == 0


def index(rows, pages, **kw):
    base = {'qualified': 'public.ix', 'index_bytes': pages * 8192, 'relpages': pages, 'reltuples': rows,
            'access_method': 'btree', 'unique': True, 'fillfactor': None}
    base.update(kw)
    return base


def test_btree_estimate():
    # uuid keys: 8 + 16 = 24 + 4 = 28 bytes; floor((8192 - 40) * 0.9 / 28) = 262 per leaf page
    per_page = math.floor((8192 - 40) * 0.9 / 28)
    leaves = 1000
    rows = per_page * leaves
    expected_pages = 1 + leaves + math.ceil(leaves / per_page)
    est = estimate_btree_bloat(index(rows, expected_pages), [UUID])
    assert est['wasted_bytes'] == 0 and est['method'] == 'pg_stats'
    bloated = estimate_btree_bloat(index(rows, expected_pages * 2), [UUID])
    assert bloated['wasted_bytes'] == expected_pages * 8192
    assert bloated['bloat_ratio_percent'] == 100.0


def test_btree_without_statistics():
    fixed = estimate_btree_bloat(index(1000, 10), [dict(UUID, has_stats=False)])
    assert fixed['method'] == 'catalog_widths' and fixed['wasted_bytes'] is not None
    varlen = estimate_btree_bloat(index(1000, 10), [dict(text(20), has_stats=False, attname='name')])
    assert varlen['method'] is None and 'without visible column statistics' in varlen['reasons'][0]
    gin = estimate_btree_bloat(index(1000, 10, access_method='gin'), [UUID])
    assert gin['method'] is None and gin['reasons'] == ['gin index: not estimated']


def test_btree_duplicates_are_flagged():
    est = estimate_btree_bloat(index(100000, 400, unique=False), [dict(TS, n_distinct=50)])
    assert est['reliable'] is False and 'deduplication' in est['reasons'][0]
    unique_like = estimate_btree_bloat(index(100000, 400, unique=False), [dict(TS, n_distinct=-1)])
    assert unique_like['reliable'] is True


def test_pgstattuple_wasted():
    exact = pgstattuple_wasted({'table_len': 1000, 'tuple_len': 500, 'dead_tuple_len': 100, 'free_space': 300})
    assert exact == {'actual_bytes': 1000, 'wasted_bytes': 400, 'wasted_percent': 40.0,
                     'bloat_ratio_percent': pytest.approx(66.67)}
    approx = pgstattuple_wasted({'table_len': 1000, 'dead_tuple_len': 0, 'approx_free_space': 1000})
    assert approx['wasted_bytes'] == 1000 and approx['bloat_ratio_percent'] is None
