# -*- coding: utf-8 -*-
# Copyright: prefectdb.maintenance contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bloat estimates from statistics, without reading a table: how many pages the live
rows would fill if the table (or B-tree index) were freshly written, against how
many it has. Pure functions; the collectors feed them catalog and pg_stats rows.

Each estimate says which method produced it and, where the estimate is known to be
unreliable, why (stale or missing statistics, TOAST-heavy tables, B-tree
deduplication, only a lower bound because the login cannot read column statistics)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import math

TYPALIGN = {'c': 1, 's': 2, 'i': 4, 'd': 8}
PAGE_HEADER = 24              # PageHeaderData
ITEM_ID = 4                   # line pointer per tuple
HEAP_TUPLE_HEADER = 23        # HeapTupleHeaderData without the null bitmap
INDEX_TUPLE_HEADER = 8        # IndexTupleData
INDEX_NULL_BITMAP = 4         # IndexAttributeBitMapData (32 attributes)
BTREE_SPECIAL = 16            # BTPageOpaqueData
BTREE_DEFAULT_FILLFACTOR = 90
SHORT_VARLENA_MAX = 126       # values up to this size carry a 1-byte header and no alignment
STALE_FRACTION = 0.2          # rows changed since the last ANALYZE, as a fraction of the estimate


def align(value, alignment):
    """Round value up to a multiple of alignment (like TYPEALIGN); float noise is ignored."""
    value = int(math.ceil(value - 1e-6))
    return ((value + alignment - 1) // alignment) * alignment


def _column_width(column):
    attlen = column.get('attlen') or -1
    if attlen > 0:
        return float(attlen), TYPALIGN.get(column.get('typalign'), 1)
    width = float(column.get('avg_width') or 0)
    alignment = TYPALIGN.get(column.get('typalign'), 1)
    if attlen == -1 and width <= SHORT_VARLENA_MAX:
        alignment = 1
    return width, alignment


def _data_width(columns):
    """Expected bytes of the data part: columns in order, aligned when usually present."""
    offset = 0.0
    for column in columns:
        width, alignment = _column_width(column)
        present = 1.0 - float(column.get('null_frac') or 0)
        if present >= 0.5 and alignment > 1:
            offset = float(align(offset, alignment))
        offset += present * width
    return offset


def _null_probability(columns):
    """Share of tuples carrying a null bitmap: at least the most often NULL column's."""
    return max([float(c.get('null_frac') or 0) for c in columns] or [0.0])


def _tuple_bytes(columns, header, header_with_bitmap, maxalign):
    """Average tuple size: tuples without a NULL (plain header, every column) and tuples
    with one (header with the null bitmap, only the columns present), weighted."""
    with_nulls = _null_probability(columns)
    full = _data_width([dict(c, null_frac=0) for c in columns])
    plain = align(header, maxalign) + align(full, maxalign)
    if with_nulls <= 0:
        return plain
    rest = max(0.0, (_data_width(columns) - (1 - with_nulls) * full) / with_nulls)
    nulls = align(header_with_bitmap, maxalign) + align(rest, maxalign)
    return (1 - with_nulls) * plain + with_nulls * nulls


def heap_tuple_bytes(columns, maxalign=8):
    """Average on-page size of one heap tuple (header, null bitmap, aligned data)."""
    return _tuple_bytes(columns, HEAP_TUPLE_HEADER, HEAP_TUPLE_HEADER + (len(columns) + 7) // 8, maxalign)


def btree_tuple_bytes(columns, maxalign=8):
    """Average size of one B-tree leaf tuple; only tuples holding a NULL carry the bitmap."""
    return _tuple_bytes(columns, INDEX_TUPLE_HEADER, INDEX_TUPLE_HEADER + INDEX_NULL_BITMAP, maxalign)


def current_tuples(reltuples, relpages, current_pages):
    """Rows now, as the planner scales them: reltuples/relpages density times the
    current number of pages. None when the table was never vacuumed or analyzed."""
    if reltuples is None or reltuples < 0:
        return None
    if relpages and relpages > 0 and current_pages is not None:
        return float(round(float(reltuples) / float(relpages) * float(current_pages)))
    return float(reltuples)


def _figures(actual_bytes, expected_bytes):
    wasted = max(0, int(actual_bytes) - int(expected_bytes))
    useful = int(actual_bytes) - wasted
    return {
        'expected_bytes': int(min(expected_bytes, actual_bytes)) if actual_bytes else int(expected_bytes),
        'wasted_bytes': wasted,
        'wasted_percent': round(100.0 * wasted / actual_bytes, 2) if actual_bytes else 0.0,
        # the guide's scale: wasted relative to what is in use (100% = twice the needed size)
        'bloat_ratio_percent': round(100.0 * wasted / useful, 2) if useful > 0 else None,
    }


def estimate_table_bloat(table, columns, block_size=8192, maxalign=8):
    """Estimate the heap's wasted space from column statistics.

    table: heap_main_bytes (main fork now), relpages, reltuples (pg_class), fillfactor,
    toast_bytes, heap_bytes, n_mod_since_analyze, n_live_tup, n_dead_tup, stats_visible
    (whether pg_stats rows were visible for this table).
    columns: [{attname, attlen, typalign, avg_width, null_frac, has_stats}] in attnum order.
    Falls back to the dead-rows lower bound when column statistics are not visible."""
    actual = int(table.get('heap_main_bytes') or 0)
    pages_now = actual // block_size
    reasons = []
    base = {'relation': table.get('qualified'), 'actual_bytes': actual}
    if not table.get('stats_visible'):
        return dict(base, **dead_rows_lower_bound(table))
    tuples = current_tuples(table.get('reltuples'), table.get('relpages'), pages_now)
    if tuples is None:
        result = dict(base, method='pg_stats', reliable=False, expected_bytes=None, wasted_bytes=None,
                      wasted_percent=None, bloat_ratio_percent=None,
                      reasons=['never vacuumed or analyzed: no row estimate'])
        return result
    missing = [c.get('attname') for c in columns if not c.get('has_stats') and (c.get('attlen') or -1) <= 0]
    if missing:
        reasons.append('no column statistics for %s (run ANALYZE)' % ', '.join(sorted(missing)))
    modified = int(table.get('n_mod_since_analyze') or 0)
    if tuples and modified > max(1000, STALE_FRACTION * tuples):
        reasons.append('stale statistics: %d rows changed since the last ANALYZE' % modified)
    toast = int(table.get('toast_bytes') or 0)
    if toast > int(table.get('heap_bytes') or actual):
        reasons.append('TOAST-heavy: most of the table lives in TOAST, whose bloat is not estimated')
    fillfactor = int(table.get('fillfactor') or 100)
    tuple_bytes = heap_tuple_bytes(columns, maxalign) + ITEM_ID
    usable = block_size - PAGE_HEADER - block_size * (100 - fillfactor) / 100.0
    all_fixed = all((c.get('attlen') or -1) > 0 for c in columns)
    per_page = usable / tuple_bytes
    # whole tuples fit on a page: fixed-width ones exactly, variable-width ones leave half a tuple free on average
    per_page = math.floor(per_page) if all_fixed else per_page - 0.5
    per_page = max(1.0, min(per_page, (block_size - PAGE_HEADER) // (HEAP_TUPLE_HEADER + 1 + ITEM_ID)))
    expected_pages = int(math.ceil(tuples / per_page)) if tuples > 0 else 0
    result = dict(base, method='pg_stats', reliable=not reasons, reasons=reasons, tuple_bytes=tuple_bytes,
                  rows_estimate=int(round(tuples)))
    result.update(_figures(actual, expected_pages * block_size))
    return result


def dead_rows_lower_bound(table):
    """What a login without column statistics can know: the space dead rows hold,
    a lower bound (free space left by earlier vacuums is not counted)."""
    actual = int(table.get('heap_main_bytes') or 0)
    live = max(int(table.get('n_live_tup') or 0), 0)
    dead = max(int(table.get('n_dead_tup') or 0), 0)
    wasted = int(actual * dead / float(live + dead)) if (live + dead) else 0
    figures = {
        'expected_bytes': actual - wasted,
        'wasted_bytes': wasted,
        'wasted_percent': round(100.0 * wasted / actual, 2) if actual else 0.0,
        'bloat_ratio_percent': round(100.0 * wasted / (actual - wasted), 2) if actual - wasted > 0 else None,
    }
    return dict(figures, method='dead_rows', reliable=False,
                reasons=['lower bound: column statistics are not visible to this login (needs SELECT on the table), '
                         'so only the space of dead rows is counted, not free space left by earlier vacuums'])


def estimate_btree_bloat(index, columns, block_size=8192, maxalign=8):
    """Estimate a B-tree index's wasted space.

    index: qualified, index_bytes, relpages, reltuples (the index's pg_class), fillfactor,
    unique, access_method. columns: index attributes [{attname, attlen, typalign,
    avg_width, null_frac, has_stats, n_distinct}]; a variable-width attribute without
    statistics makes the estimate impossible."""
    actual = int(index.get('index_bytes') or 0)
    base = {'relation': index.get('qualified'), 'actual_bytes': actual}
    if index.get('access_method') != 'btree':
        return dict(base, method=None, reliable=False, expected_bytes=None, wasted_bytes=None, wasted_percent=None,
                    bloat_ratio_percent=None, reasons=['%s index: not estimated' % index.get('access_method')])
    unknown = [c.get('attname') for c in columns if (c.get('attlen') or -1) <= 0 and not c.get('has_stats')]
    if unknown:
        return dict(base, method=None, reliable=False, expected_bytes=None, wasted_bytes=None, wasted_percent=None,
                    bloat_ratio_percent=None,
                    reasons=['variable-width key %s without visible column statistics: not estimated'
                             % ', '.join(unknown)])
    method = 'pg_stats' if any(c.get('has_stats') for c in columns) else 'catalog_widths'
    pages_now = actual // block_size
    tuples = current_tuples(index.get('reltuples'), index.get('relpages'), pages_now)
    if tuples is None:
        return dict(base, method=method, reliable=False, expected_bytes=None, wasted_bytes=None, wasted_percent=None,
                    bloat_ratio_percent=None, reasons=['no row estimate for the index yet'])
    reasons = []
    if method == 'catalog_widths' and any(float(c.get('null_frac') or 0) == 0 and not c.get('has_stats')
                                          for c in columns):
        reasons.append('fixed-width key sizes from the catalog; NULLs assumed absent')
    first = columns[0] if columns else {}
    n_distinct = first.get('n_distinct')
    if not index.get('unique') and n_distinct is not None and tuples > 0:
        distinct = -n_distinct * tuples if n_distinct < 0 else n_distinct
        if distinct < 0.5 * tuples:
            reasons.append('many duplicate keys: B-tree deduplication packs them, so bloat is underestimated')
    fillfactor = int(index.get('fillfactor') or BTREE_DEFAULT_FILLFACTOR)
    tuple_bytes = btree_tuple_bytes(columns, maxalign) + ITEM_ID
    usable = (block_size - PAGE_HEADER - BTREE_SPECIAL) * fillfactor / 100.0
    per_page = max(1.0, math.floor(usable / tuple_bytes))
    leaf_pages = int(math.ceil(tuples / per_page)) if tuples > 0 else 1
    inner_pages = int(math.ceil(leaf_pages / per_page)) if leaf_pages > 1 else 0
    expected_pages = 1 + leaf_pages + inner_pages  # metapage, leaves, one level of inner pages
    result = dict(base, method=method, reliable=not any(r.startswith('many duplicate') for r in reasons),
                  reasons=reasons, tuple_bytes=tuple_bytes, rows_estimate=int(round(tuples)))
    result.update(_figures(actual, expected_pages * block_size))
    return result


def pgstattuple_wasted(row):
    """wasted bytes and percent from a pgstattuple() or pgstattuple_approx() row."""
    table_len = int(row.get('table_len') or 0)
    dead = int(row.get('dead_tuple_len') or 0)
    free = int(row.get('approx_free_space') if row.get('approx_free_space') is not None else row.get('free_space') or 0)
    wasted = dead + free
    live = table_len - wasted
    return {
        'actual_bytes': table_len,
        'wasted_bytes': wasted,
        'wasted_percent': round(100.0 * wasted / table_len, 2) if table_len else 0.0,
        'bloat_ratio_percent': round(100.0 * wasted / live, 2) if live > 0 else None,
    }
