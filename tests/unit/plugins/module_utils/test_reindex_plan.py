"""The reindex module's decisions without a database: B-tree bloat estimate, auto selection, leftovers."""
import pytest

from ansible_collections.prefectdb.maintenance.plugins.module_utils import reindex_plan as p

BLOCK = 8192


def index(name='ix_log__timestamp', oid=10, bytes_=100 * BLOCK, reltuples=10000, valid=True, method='btree',
          table_oid=1, indkey='9', indclass='3128', **extra):
    row = {'oid': oid, 'schema': 'public', 'name': name, 'table_oid': table_oid, 'table_schema': 'public',
           'table_name': 'log', 'method': method, 'valid': valid, 'is_unique': False, 'is_exclusion': False,
           'bytes': bytes_, 'reltuples': reltuples, 'table_reltuples': reltuples, 'partial': False, 'fillfactor': 0,
           'indkey': indkey, 'indclass': indclass, 'indoption': '0', 'expressions': '', 'predicate': '',
           'constraint_type': None}
    row.update(extra)
    return row


def column(width=8, null_frac=0.0, name='timestamp'):
    return {'column': name, 'avg_width': width, 'null_frac': null_frac, 'not_null': null_frac == 0}


def test_estimate_of_a_packed_index_is_no_bloat():
    # 8-byte key: 8 header + 8 data + 4 line pointer = 20 bytes; (8192-40)*0.9 // 20 = 366 per page
    estimate, why = p.btree_estimate(index(bytes_=29 * BLOCK), [column()], BLOCK)
    assert why is None
    assert estimate == {'estimated_bytes': (1 + 28) * BLOCK, 'bloat_bytes': 0, 'bloat_ratio': 0.0}


def test_estimate_counts_the_pages_beyond_what_the_tuples_need():
    estimate, dummy = p.btree_estimate(index(bytes_=290 * BLOCK), [column()], BLOCK)
    assert estimate['bloat_bytes'] == (290 - 29) * BLOCK
    assert estimate['bloat_ratio'] == 90.0


def test_nulls_add_a_bitmap_to_their_tuples_and_shrink_the_data():
    # 16-byte uuid, half NULL: half the headers 8+4 aligned to 16, half 8 -> 12; data 8; 4 line pointer
    per_page = int((BLOCK - 40) * 0.9 // (12 + 8 + 4))
    estimate, dummy = p.btree_estimate(index(bytes_=1000 * BLOCK, reltuples=per_page * 100),
                                       [column(16, 0.5, 'flow_run_id')], BLOCK)
    assert estimate['estimated_bytes'] == 101 * BLOCK
    # a column that is never NULL adds no bitmap
    none, dummy = p.btree_estimate(index(bytes_=1000 * BLOCK), [column(16, 0.0)], BLOCK)
    some, dummy = p.btree_estimate(index(bytes_=1000 * BLOCK), [column(16, 0.1)], BLOCK)
    assert none['estimated_bytes'] <= some['estimated_bytes']


def test_fillfactor_of_the_index_is_used():
    full, dummy = p.btree_estimate(index(fillfactor=100, bytes_=1000 * BLOCK), [column()], BLOCK)
    default, dummy = p.btree_estimate(index(bytes_=1000 * BLOCK), [column()], BLOCK)
    assert full['estimated_bytes'] < default['estimated_bytes']


@pytest.mark.parametrize('row,columns,why', [
    (index(method='gin'), [column()], 'no bloat estimate for gin indexes'),
    (index(), [column(None)], 'no statistics for timestamp: ANALYZE public.log first'),
    (index(), [], 'no column statistics'),
    (index(reltuples=-1, table_reltuples=-1), [column()], 'the index was never vacuumed or analyzed (no tuple count)'),
    (index(reltuples=-1, partial=True), [column()], 'the index was never vacuumed or analyzed (no tuple count)'),
])
def test_no_estimate_says_why(row, columns, why):
    assert p.btree_estimate(row, columns, BLOCK) == (None, why)


def test_the_tables_tuples_stand_in_for_an_index_never_vacuumed():
    estimate, why = p.btree_estimate(index(reltuples=-1, table_reltuples=10000, bytes_=29 * BLOCK), [column()], BLOCK)
    assert why is None and estimate['bloat_bytes'] == 0


@pytest.mark.parametrize('name,kind', [
    ('ix_log__timestamp_ccnew', 'ccnew'), ('ix_log__timestamp_ccnew12', 'ccnew'), ('pk_log_ccold', 'ccold'),
    ('ix_log__timestamp', None), ('ccnew', None), ('ix_ccnew_thing', None), ('', None),
])
def test_leftover_kind(name, kind):
    assert p.leftover_kind(name) == kind


def test_leftovers_find_their_index_by_shape_even_when_the_name_was_truncated():
    base = index('ix_flow_run__scheduler_deployment_id_auto_scheduled_next_schedu', oid=1)
    other = index('ix_flow_run__scheduler_deployment_id_auto_scheduled_other', oid=2, indkey='3')
    leftover = index('ix_flow_run__scheduler_deployment_id_auto_scheduled_nex_ccnew', oid=3, valid=False)
    found = p.find_leftovers([base, other, leftover])
    assert len(found) == 1 and found[0]['kind'] == 'ccnew' and found[0]['base'] is base


def test_an_invalid_index_with_another_name_is_no_leftover_and_a_valid_ccnew_is_not_touched():
    assert p.find_leftovers([index('broken', valid=False), index('x_ccnew', valid=True)]) == []


def test_a_leftover_whose_index_is_gone_has_no_base():
    found = p.find_leftovers([index('ix_gone_ccnew', valid=False)])
    assert found[0]['base'] is None


def leftover(kind='ccnew', base=True, table_oid=1):
    row = index('ix_log__timestamp_' + kind, oid=20, valid=False, table_oid=table_oid)
    return {'index': row, 'kind': kind, 'base': index() if base else None}


def test_ccold_is_always_dropped():
    action, reason = p.leftover_action(leftover('ccold'), set(), {})
    assert action == 'drop'
    assert reason == 'the old index a failed REINDEX CONCURRENTLY swapped out of public.ix_log__timestamp and could not drop'


def test_ccnew_is_dropped_only_when_its_index_is_rebuilt():
    assert p.leftover_action(leftover(), {('public', 'ix_log__timestamp')}, {}) == (
        'drop', 'the new index of a failed REINDEX CONCURRENTLY of public.ix_log__timestamp, which is rebuilt now')
    action, reason = p.leftover_action(leftover(), set(), {})
    assert action == 'keep' and 'list public.ix_log__timestamp in indexes to retry its rebuild' in reason
    action, reason = p.leftover_action(leftover(base=False), set(), {})
    assert action == 'keep' and 'original index no longer exists' in reason


def test_leftovers_on_a_table_with_a_build_running_are_left_alone():
    action, reason = p.leftover_action(leftover('ccold'), set(), {1: 4242})
    assert action == 'keep' and reason.startswith('an index build by pid 4242 is running on public.log')


def test_refusals():
    assert p.refusal_for(index()) is None
    assert 'exclusion constraint' in p.refusal_for(index(is_exclusion=True))
    assert 'invalid leftover' in p.refusal_for(index('x_ccnew', valid=False))


def test_select_indexes():
    bloated = index('bloated', oid=1, bytes_=2000 * BLOCK)
    fine = index('fine', oid=2, bytes_=2000 * BLOCK)
    small = index('small', oid=3, bytes_=10 * BLOCK)
    gin = index('gin', oid=4, method='gin')
    broken = index('broken', oid=5, valid=False)
    retry = index('retried', oid=6)
    planted = index('retried_ccnew', oid=7, valid=False)
    estimates = {1: ({'bloat_bytes': 1500 * BLOCK, 'bloat_ratio': 75.0, 'estimated_bytes': 500 * BLOCK}, None),
                 2: ({'bloat_bytes': 100 * BLOCK, 'bloat_ratio': 5.0, 'estimated_bytes': 1900 * BLOCK}, None),
                 3: ({'bloat_bytes': 8 * BLOCK, 'bloat_ratio': 80.0, 'estimated_bytes': 2 * BLOCK}, None),
                 4: (None, 'no bloat estimate for gin indexes'),
                 6: ({'bloat_bytes': 0, 'bloat_ratio': 0.0, 'estimated_bytes': BLOCK}, None)}
    selected, rest = p.select_indexes([bloated, fine, small, gin, broken, retry, planted], estimates,
                                      min_bloat_ratio=30, min_index_size=1024 ** 2, retry={6: 'public.retried_ccnew'})
    assert [e['index']['name'] for e in selected] == ['bloated', 'retried']
    assert selected[0]['reason'] == '15.6 MB, estimated bloat 11.7 MB (75%): at least 30% and 1 MB'
    assert selected[1]['reason'] == 'retry: a failed REINDEX CONCURRENTLY left public.retried_ccnew'
    reasons = dict((e['index']['name'], e['reason']) for e in rest)
    assert reasons['fine'].endswith('below min_bloat_ratio 30%')
    assert reasons['small'].endswith('smaller than min_index_size 1 MB')
    assert reasons['gin'] == '800 kB: no bloat estimate for gin indexes; smaller than min_index_size 1 MB'
    assert reasons['broken'].startswith('invalid index (not a REINDEX CONCURRENTLY leftover)')
    assert 'retried_ccnew' not in reasons


def test_new_leftovers_and_retriable_errors():
    a, b = leftover(), leftover('ccold')
    b['index'] = dict(b['index'], oid=21)
    assert p.new_leftovers([a], [a, b]) == [b]
    assert p.retriable('55P03') and p.retriable('40P01') and p.retriable('57014')
    assert not p.retriable('42P01') and not p.retriable(None)


def test_min_scans_leaves_unused_indexes_to_be_dropped_not_rebuilt():
    used = dict(index('used', oid=1, bytes_=2000 * BLOCK), scans=5000)
    unused = dict(index('unused', oid=2, bytes_=2000 * BLOCK), scans=3)
    estimate = ({'bloat_bytes': 1500 * BLOCK, 'bloat_ratio': 75.0, 'estimated_bytes': 500 * BLOCK}, None)
    selected, rest = p.select_indexes([used, unused], {1: estimate, 2: estimate}, min_bloat_ratio=30,
                                      min_index_size=0, min_scans=1000)
    assert [e['index']['name'] for e in selected] == ['used']
    assert rest[0]['reason'] == ('15.6 MB, 3 scans since the statistics were reset: fewer than min_scans 1000 '
                                 '(an index that is not used is better dropped than rebuilt)')
    selected, rest = p.select_indexes([used, unused], {1: estimate, 2: estimate}, min_bloat_ratio=30, min_index_size=0)
    assert len(selected) == 2
