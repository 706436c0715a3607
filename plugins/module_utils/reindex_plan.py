# -*- coding: utf-8 -*-
# Copyright: prefectdb.maintenance contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the reindex module does, decided without a database: the estimated
bloat of a B-tree index from its size and the planner's statistics, which
indexes `auto` picks and why, which invalid leftovers of failed concurrent
builds (*_ccnew*, *_ccold*) to drop and which to keep."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import math
import re

from ansible_collections.prefectdb.maintenance.plugins.module_utils.sizes import format_size

REINDEX_CONCURRENTLY_SINCE = 120000

# page layout of a B-tree (src/include/storage/bufpage.h, access/nbtree.h)
PAGE_HEADER = 24
BTREE_SPECIAL = 16
ITEM_ID = 4
INDEX_TUPLE_HEADER = 8
NULL_BITMAP = 4          # IndexAttributeBitMapData: INDEX_MAX_KEYS (32) bits
BTREE_DEFAULT_FILLFACTOR = 90
MAXALIGN = 8             # 64-bit servers

_LEFTOVER = re.compile(r'^(?P<base>.*)_(?P<kind>ccnew|ccold)(?P<n>\d*)$')

# errors after which a new attempt may succeed: lock_not_available, deadlock_detected, query_canceled
RETRIABLE_SQLSTATES = ('55P03', '40P01', '57014')


class PlanError(ValueError):
    """Bad input or a refusal: one clear message, nothing was changed."""


def qualified(schema, name):
    return '%s.%s' % (schema, name)


def index_name(index):
    return qualified(index['schema'], index['name'])


def table_name(index):
    return qualified(index['table_schema'], index['table_name'])


def _align(num, alignment=MAXALIGN):
    return int(math.ceil(num / float(alignment)) * alignment)


# --- bloat -----------------------------------------------------------------------

def btree_estimate(index, columns, block_size=8192):
    """Estimated bloat of a B-tree index: (estimate dict, None) or (None, why not).

    The leaf pages a fresh index at its fillfactor would need are computed from
    the tuple count (pg_class.reltuples) and each column's average width and
    null fraction (pg_stats); the pages beyond that, of the index's actual size,
    are bloat. Deduplication (PostgreSQL 13+) makes indexes with many equal keys
    smaller than this estimate, so it errs towards too little bloat, never too much.
    """
    if index.get('method') != 'btree':
        return None, 'no bloat estimate for %s indexes' % index.get('method')
    if not columns:
        return None, 'no column statistics'
    unanalyzed = [c['column'] or '?' for c in columns if c.get('avg_width') is None]
    if unanalyzed:
        return None, 'no statistics for %s: ANALYZE %s first' % (', '.join(unanalyzed), table_name(index))
    tuples = index.get('reltuples')
    if tuples is None or tuples < 0:
        tuples = None if index.get('partial') else index.get('table_reltuples')
    if tuples is None or tuples < 0:
        return None, 'the index was never vacuumed or analyzed (no tuple count)'
    # only tuples holding a NULL carry the null bitmap (which takes the header to the next
    # MAXALIGN); the largest null fraction stands in for the share of such tuples
    with_nulls = max((c.get('null_frac') or 0) for c in columns)
    plain_header = _align(INDEX_TUPLE_HEADER)
    header = plain_header + with_nulls * (_align(INDEX_TUPLE_HEADER + NULL_BITMAP) - plain_header)
    data = _align(sum((1 - (c.get('null_frac') or 0)) * c['avg_width'] for c in columns))
    fillfactor = index.get('fillfactor') or BTREE_DEFAULT_FILLFACTOR
    usable = (block_size - PAGE_HEADER - BTREE_SPECIAL) * fillfactor / 100.0
    per_page = max(1, int(usable // (header + data + ITEM_ID)))
    expected_pages = 1 + int(math.ceil(tuples / float(per_page)))  # the metapage and the leaves
    actual_pages = int(index['bytes']) // block_size
    bloat_pages = max(0, actual_pages - expected_pages)
    return {
        'estimated_bytes': expected_pages * block_size,
        'bloat_bytes': bloat_pages * block_size,
        'bloat_ratio': round(100.0 * bloat_pages / actual_pages, 1) if actual_pages else 0.0,
    }, None


# --- leftovers of failed concurrent builds ----------------------------------------

def leftover_kind(name):
    """'ccnew' or 'ccold' for the names REINDEX CONCURRENTLY gives its transient indexes, else None."""
    match = _LEFTOVER.match(name or '')
    return match.group('kind') if match else None


def shape(index):
    """What makes two indexes the same index: table, method, columns, operator classes, expressions, predicate."""
    return (index['table_oid'], index['method'], index['indkey'], index['indclass'], index['indoption'],
            index['expressions'], index['predicate'], bool(index['is_unique']))


def base_of(leftover, indexes):
    """The valid index a leftover was built for (same shape; its name truncated
    to fit the suffix is a prefix of the base's name), or None."""
    prefix = _LEFTOVER.match(leftover['name']).group('base')
    candidates = [i for i in indexes
                  if i['valid'] and not leftover_kind(i['name']) and i['schema'] == leftover['schema']
                  and i['name'].startswith(prefix) and shape(i) == shape(leftover)]
    candidates.sort(key=lambda i: (i['name'] != prefix, len(i['name']), i['name']))
    return candidates[0] if candidates else None


def find_leftovers(indexes):
    """Invalid indexes named *_ccnew* or *_ccold*, each with its kind and base index (or None)."""
    found = []
    for index in indexes:
        kind = leftover_kind(index['name'])
        if kind and not index['valid']:
            base = base_of(index, indexes)
            found.append({'index': index, 'kind': kind, 'base': base})
    return found


def leftover_action(leftover, rebuilding, busy_tables):
    """('drop'|'keep', reason) for one leftover.

    `rebuilding` is the set of (schema, name) of the indexes this run rebuilds;
    `busy_tables` maps a table oid to the pid of another session building an
    index on it right now (whose transient indexes must not be touched).
    A *_ccold is the old index a REINDEX CONCURRENTLY swapped out and failed to
    drop: always dropped. A *_ccnew is the new index of a failed rebuild: dropped
    when its index is rebuilt again in this run (the retry), else kept and reported.
    """
    index = leftover['index']
    pid = busy_tables.get(index['table_oid'])
    if pid:
        return 'keep', 'an index build by pid %s is running on %s: it may be that build\'s own index' % (
            pid, table_name(index))
    base = leftover['base']
    if leftover['kind'] == 'ccold':
        return 'drop', ('the old index a failed REINDEX CONCURRENTLY swapped out%s and could not drop' %
                        (' of %s' % index_name(base) if base else ''))
    if base is None:
        return 'keep', 'a failed concurrent build whose original index no longer exists; drop it if it is not needed'
    if (base['schema'], base['name']) in rebuilding:
        return 'drop', 'the new index of a failed REINDEX CONCURRENTLY of %s, which is rebuilt now' % index_name(base)
    return 'keep', ('the new index of a failed REINDEX CONCURRENTLY of %s; list %s in indexes to retry its rebuild, '
                    'which drops this first' % (index_name(base), index_name(base)))


# --- choosing indexes --------------------------------------------------------------

def refusal_for(index):
    """Why REINDEX INDEX CONCURRENTLY cannot or should not rebuild this index, or None."""
    if leftover_kind(index['name']) and not index['valid']:
        return '%s is an invalid leftover of a failed concurrent build; it is dropped, not rebuilt' % index_name(index)
    if index.get('is_exclusion') or index.get('constraint_type') == 'x':
        return '%s backs an exclusion constraint, which REINDEX CONCURRENTLY cannot rebuild' % index_name(index)
    return None


def evaluate_index(index, estimate, why_not, min_bloat_ratio=30.0, min_index_size=0, min_scans=0):
    """(picked, reason) for one index under the `auto` thresholds."""
    size = int(index['bytes'])
    scans = int(index.get('scans') or 0)
    if scans < min_scans:
        return False, '%s, %d scans since the statistics were reset: fewer than min_scans %d (an index that is not ' \
                      'used is better dropped than rebuilt)' % (format_size(size), scans, min_scans)
    if estimate is None:
        small = '; smaller than min_index_size %s' % format_size(min_index_size) if size < min_index_size else ''
        return False, '%s: %s%s' % (format_size(size), why_not, small)
    facts = '%s, estimated bloat %s (%s%%)' % (format_size(size), format_size(estimate['bloat_bytes']),
                                               _num(estimate['bloat_ratio']))
    misses = []
    if size < min_index_size:
        misses.append('smaller than min_index_size %s' % format_size(min_index_size))
    if estimate['bloat_ratio'] < min_bloat_ratio:
        misses.append('below min_bloat_ratio %s%%' % _num(min_bloat_ratio))
    if misses:
        return False, '%s: %s' % (facts, '; '.join(misses))
    return True, '%s: at least %s%% and %s' % (facts, _num(min_bloat_ratio), format_size(min_index_size))


def _num(value):
    return ('%.1f' % value).rstrip('0').rstrip('.')


def select_indexes(indexes, estimates, min_bloat_ratio=30.0, min_index_size=0, retry=None, min_scans=0):
    """`auto`: (selected, not_selected), each entry {'index': row, 'reason': text, 'estimate': dict or None}.

    `estimates` maps an index oid to (estimate, why_not). `retry` maps the oid
    of an index to the name of a *_ccnew leftover of its failed rebuild: such an
    index is picked whatever its bloat, so the leftover is dropped and the
    rebuild retried. Selected indexes come largest bloat first.
    """
    retry = retry or {}
    selected, not_selected = [], []
    for index in indexes:
        estimate, why_not = estimates.get(index['oid'], (None, 'no estimate'))
        if leftover_kind(index['name']) and not index['valid']:
            continue  # handled as a leftover
        refusal = refusal_for(index)
        if refusal:
            not_selected.append({'index': index, 'reason': refusal, 'estimate': estimate})
            continue
        if not index['valid']:
            not_selected.append({'index': index, 'estimate': estimate,
                                 'reason': 'invalid index (not a REINDEX CONCURRENTLY leftover): list it to rebuild it, '
                                           'or drop it'})
            continue
        if index['oid'] in retry:
            selected.append({'index': index, 'estimate': estimate,
                             'reason': 'retry: a failed REINDEX CONCURRENTLY left %s' % retry[index['oid']]})
            continue
        picked, reason = evaluate_index(index, estimate, why_not, min_bloat_ratio, min_index_size, min_scans)
        (selected if picked else not_selected).append({'index': index, 'reason': reason, 'estimate': estimate})
    selected.sort(key=lambda e: (-(e['estimate'] or {}).get('bloat_bytes', 0), index_name(e['index'])))
    return selected, not_selected


def new_leftovers(before, after):
    """Leftovers present in `after` (find_leftovers output) and not in `before`, by index oid."""
    known = set(item['index']['oid'] for item in before)
    return [item for item in after if item['index']['oid'] not in known]


def retriable(sqlstate):
    return sqlstate in RETRIABLE_SQLSTATES
