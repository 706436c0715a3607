"""The batch loop's control logic (adaptive size, retry smaller then skip, max_runtime)
with a scripted walker and a stand-in connection that only records BEGIN/COMMIT/ROLLBACK;
the SQL itself is exercised against PostgreSQL in tests/integration/test_retention*.py."""
import datetime

import psycopg2.errors
import pytest

from ansible_collections.prefectdb.maintenance.plugins.module_utils import retention_engine as engine
from ansible_collections.prefectdb.maintenance.plugins.module_utils.retention_plan import build_plan

UTC = datetime.timezone.utc


class Cursor(object):
    def __init__(self, log):
        self.log = log

    def execute(self, sql, params=None):
        if 'pg_current_wal_insert_lsn' not in sql:   # the WAL position, read around each batch
            self.log.append(sql)

    def fetchone(self):
        return (0,)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class Connection(object):
    """Only what connection.transaction() uses."""

    def __init__(self):
        self.log = []

    def cursor(self):
        return Cursor(self.log)


class Clock(object):
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class ScriptedWalker(engine.Walker):
    """Each step takes `cost(size)` seconds on the clock; keys 0..total-1; some keys lock."""

    unit = 'rows'
    table = 'events'

    def __init__(self, eng, clock, total, locked=(), cost=lambda size: 0.001 * size):
        self.clock, self.total, self.locked, self.cost = clock, total, set(locked), cost
        self.sizes = []
        super(ScriptedWalker, self).__init__(eng)

    def initial_cursor(self):
        return 0

    def step(self, cur, size):
        self.sizes.append(size)
        self.clock.now += self.cost(size)
        keys = range(self.cursor, min(self.total, self.cursor + size))
        if self.locked.intersection(keys):
            raise psycopg2.errors.LockNotAvailable('canceling statement due to lock timeout')
        end = self.cursor + len(keys)
        return engine.Step(done=end >= self.total, cursor=end, deleted={'events': len(keys)})

    def skip(self, cur, size):
        end = min(self.total, self.cursor + size)
        return engine.Step(done=end >= self.total, cursor=end)


def make(max_runtime=None, batch_size=200, max_batch_size=20000, **extra):
    params = {'now': '2026-01-01T00:00:00Z', 'batch_size': batch_size, 'max_batch_size': max_batch_size}
    if max_runtime is not None:
        params['max_runtime'] = max_runtime
    params.update(extra)
    plan = build_plan(params)
    clock = Clock()
    warnings = []
    eng = engine.RetentionEngine(Connection(), plan, warnings.append, clock=clock, server_version_num=150018)
    return eng, clock, warnings


def test_batches_grow_towards_the_target_and_stop_at_the_end():
    eng, clock, warnings = make(target_batch_seconds=0.25)
    walker = ScriptedWalker(eng, clock, total=100000, cost=lambda size: 0.00005 * size)   # 50 us a row
    result = engine.CleanupResult('old_events')
    eng.walk(result, walker, 200, 20000)
    assert result.status == 'finished' and result.deleted == {'events': 100000}
    assert walker.sizes[:5] == [200, 400, 800, 1600, 3200]
    assert max(walker.sizes) == 5000                      # 0.25 s / 50 us
    assert result.batches == len(walker.sizes) and result.retries == 0 and warnings == []
    assert eng.conn.log.count('BEGIN') == eng.conn.log.count('COMMIT') == result.batches
    assert result.walks == [{'table': 'events', 'walk': 'keyset', 'batches': result.batches,
                             'seconds': round(clock.now, 3)}]


def test_a_lock_is_retried_smaller_then_the_smallest_batch_is_skipped():
    eng, clock, warnings = make(target_batch_seconds=0.25)
    walker = ScriptedWalker(eng, clock, total=1000, locked={500}, cost=lambda size: 0.0001 * size)
    result = engine.CleanupResult('old_events')
    eng.walk(result, walker, 800, 800)
    assert walker.sizes[:11] == [
        800, 400,               # 0..799 holds the locked key: half of it passes
        800, 400, 200, 100,     # from 400: three halvings until 400..499 passes
        200, 100, 50, 25,       # from 500: four tries fail, the last 25 keys are skipped
        50]                     # and the walk goes on after them
    assert result.retries == 8 and result.skipped_batches == 1
    assert result.deleted == {'events': 975}
    assert result.status == 'finished'
    assert eng.conn.log.count('ROLLBACK') == 8
    assert len(warnings) == 1
    assert warnings[0].startswith('retention old_events: skipped a batch of 25 rows after 4 tries: ')
    assert 'lock timeout' in warnings[0]


def test_a_batch_that_cannot_even_be_skipped_stops_the_cleanup():
    eng, clock, warnings = make()

    class Stuck(ScriptedWalker):
        def skip(self, cur, size):
            raise psycopg2.errors.LockNotAvailable('canceling statement due to lock timeout')

    result = engine.CleanupResult('old_events')
    eng.walk(result, Stuck(eng, clock, total=10, locked={0}), 8, 8)
    assert result.status == 'stopped' and result.deleted == {}
    assert 'could not be skipped either' in warnings[0]


def test_max_runtime_stops_between_batches():
    eng, clock, warnings = make(max_runtime=1)
    walker = ScriptedWalker(eng, clock, total=10 ** 9, cost=lambda size: 0.3)
    result = engine.CleanupResult('old_events')
    eng.walk(result, walker, 200, 20000)
    assert result.status == 'stopped'
    assert result.batches == 4                 # 0.3, 0.6, 0.9, 1.2 s: the fourth was in flight
    assert eng.stopped is True


def test_other_errors_are_not_retried():
    eng, clock, warnings = make()

    class Broken(ScriptedWalker):
        def step(self, cur, size):
            raise psycopg2.errors.InsufficientPrivilege('permission denied for table events')

    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        eng.walk(engine.CleanupResult('old_events'), Broken(eng, clock, total=10), 8, 8)
    assert eng.conn.log == ['BEGIN', 'ROLLBACK']


def test_cleanup_result_adds_up_and_reports():
    result = engine.CleanupResult('old_flow_runs')
    result.add({'flow_run': 3, 'log': 0}, {'artifact_collection': 0})
    result.add({'flow_run': 2, 'task_run': 6})
    result.batch_seconds = [0.2, 0.3]
    result.seconds = 0.5
    result.batches = 2
    result.status = 'finished'
    out = result.as_dict()
    assert out['deleted'] == {'flow_run': 5, 'task_run': 6} and out['updated'] == {}
    assert out['rows_per_second'] == 22 and out['batch_seconds'] == {'p50': 0.2, 'p95': 0.3, 'max': 0.3}
    result.status = 'counted'
    assert result.as_dict()['rows_per_second'] == 0


def test_override_predicate():
    params = {}
    cutoff = datetime.datetime(2025, 12, 31, tzinfo=UTC)
    sql = engine.override_predicate([('prefect.flow-run.heartbeat', cutoff), ('acme', cutoff)], params, alias='e')
    assert sql == '((e.event = %(t0)s AND e.occurred < %(c0)s) OR (e.event = %(t1)s AND e.occurred < %(c1)s))'
    assert params == {'t0': 'prefect.flow-run.heartbeat', 'c0': cutoff, 't1': 'acme', 'c1': cutoff}
    assert engine.override_predicate([], {}) == 'false'


class WalWriter(ScriptedWalker):
    """Each batch writes `wal` bytes of WAL, read back through the engine's WAL position."""

    def __init__(self, eng, clock, total, wal, cost):
        self.wal, self.position = wal, 0
        super(WalWriter, self).__init__(eng, clock, total, cost=cost)
        eng.wal_position = lambda: self.position

    def step(self, cur, size):
        self.position += self.wal
        return super(WalWriter, self).step(cur, size)


def throttled(wal, cost, total=500, **extra):
    eng, clock, warnings = make(batch_size=100, max_batch_size=100, target_batch_seconds=0.1, **extra)
    slept = []

    def sleep(seconds):
        slept.append(round(seconds, 6))
        clock.now += seconds
    eng.sleep = sleep
    walker = WalWriter(eng, clock, total, wal, cost=lambda size: cost)
    result = engine.CleanupResult('old_events')
    eng.walk(result, walker, 100, 100)
    return result, slept, clock


def test_rests_after_each_batch_to_stay_at_max_wal_rate():
    # 2 MiB in 0.05 s at 4 MiB/s: rest 0.45 s after each batch but the last
    result, slept, clock = throttled(wal=2 * 1024 ** 2, cost=0.05, max_wal_rate='4MB')
    assert result.status == 'finished' and result.batches == 5
    assert slept == [0.45] * 4 and clock.now == pytest.approx(2.05)
    out = result.as_dict()
    assert out['wal_bytes'] == 10 * 1024 ** 2 and out['paused_seconds'] == 1.8


def test_a_slow_batch_needs_no_rest():
    result, slept, dummy = throttled(wal=1024 ** 2, cost=0.5, max_wal_rate='4MB')   # 2 MiB/s already
    assert result.status == 'finished' and slept == [] and result.as_dict()['paused_seconds'] == 0.0


def test_no_limit_never_rests():
    result, slept, dummy = throttled(wal=64 * 1024 ** 2, cost=0.01, max_wal_rate=0)
    assert result.status == 'finished' and slept == [] and result.wal_bytes == 5 * 64 * 1024 ** 2


def test_a_rest_ends_at_max_runtime():
    # 4 MiB in 0.05 s would rest 0.95 s; max_runtime is 0.5 s: rest 0.45 s, then stop
    result, slept, clock = throttled(wal=4 * 1024 ** 2, cost=0.05, max_wal_rate='4MB', max_runtime=0.5)
    assert slept == [0.45] and result.status == 'stopped' and result.batches == 1
    assert clock.now == pytest.approx(0.5)
