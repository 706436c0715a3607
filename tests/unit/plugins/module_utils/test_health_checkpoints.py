"""health_collectors: the checkpoint statistics of each major under one shape."""
import datetime

import pytest

from ansible_collections.prefectdb.maintenance.plugins.module_utils.health_collectors import (
    checkpoint_facts, checkpoint_stats_sql,
)


@pytest.mark.parametrize('version,source', [
    (140009, 'pg_stat_bgwriter'), (150018, 'pg_stat_bgwriter'), (160009, 'pg_stat_bgwriter'),
    (169999, 'pg_stat_bgwriter'), (170000, 'pg_stat_checkpointer'), (170012, 'pg_stat_checkpointer'),
    (180006, 'pg_stat_checkpointer'),
])
def test_the_view_follows_the_major(version, source):
    got, sql = checkpoint_stats_sql(version)
    assert got == source
    assert 'FROM %s' % source in sql
    for alias in ('timed', 'requested', 'write_ms', 'sync_ms', 'buffers_written', 'stats_reset', 'max_wal_size',
                  'checkpoint_timeout', 'checkpoint_completion_target'):
        assert alias in sql, alias


def test_column_names_of_each_view():
    dummy, old = checkpoint_stats_sql(160000)
    assert 'checkpoints_timed AS timed' in old and 'checkpoints_req AS requested' in old
    assert 'checkpoint_write_time AS write_ms' in old and 'buffers_checkpoint AS buffers_written' in old
    assert 'num_' not in old
    dummy, new = checkpoint_stats_sql(170000)
    assert 'num_timed AS timed' in new and 'num_requested AS requested' in new
    assert 'write_time AS write_ms' in new and 'sync_time AS sync_ms' in new
    assert 'checkpoints_' not in new and 'buffers_checkpoint' not in new


def row(**kw):
    base = {'timed': 30, 'requested': 10, 'write_ms': 1234.567, 'sync_ms': 8.4, 'buffers_written': 900,
            'stats_reset': datetime.datetime(2026, 11, 1, 12, 0, tzinfo=datetime.timezone.utc),
            'max_wal_size': 1073741824, 'checkpoint_timeout': 300, 'checkpoint_completion_target': 0.9}
    base.update(kw)
    return base


def test_facts_are_normalized():
    facts = checkpoint_facts(row(), 'pg_stat_checkpointer')
    assert facts == {
        'source': 'pg_stat_checkpointer', 'timed': 30, 'requested': 10, 'requested_percent': 25.0,
        'write_ms': 1235, 'sync_ms': 8, 'buffers_written': 900, 'stats_reset': facts['stats_reset'],
        'max_wal_size': 1073741824, 'checkpoint_timeout': 300, 'checkpoint_completion_target': 0.9,
    }
    assert facts['stats_reset'] == '2026-11-01T12:00:00Z'


def test_no_checkpoint_yet_has_no_percent():
    facts = checkpoint_facts(row(timed=0, requested=0, stats_reset=None), 'pg_stat_bgwriter')
    assert facts['requested_percent'] is None and facts['stats_reset'] is None
