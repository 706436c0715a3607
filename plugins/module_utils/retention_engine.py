# -*- coding: utf-8 -*-
# Copyright: prefectdb.maintenance contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The batched delete engine behind the retention module.

Every batch is one short transaction. Batches walk their table in key order from
where the last one stopped (keyset pagination) and never re-scan from the start:
the flow-run walk follows ix_flow_run__end_time_desc, the orphan hunts follow the
flow_run_id indexes of log and artifact, the event walks follow the occurred
indexes in bounded time ranges, or, when most of a table goes, sweep its heap in
ctid ranges so each page is read once. The batch size adapts to a target
transaction duration. A batch that meets a lock (lock_timeout) or runs too long
(statement_timeout) is rolled back and retried smaller, then skipped with a
warning; nothing ever waits without bound. Nothing is stored outside the
database: a later run finds what is left by the same queries.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json
import time

from ansible_collections.prefectdb.maintenance.plugins.module_utils.connection import (
    execute, fetch_all, fetch_one, fetch_value, set_session_timeouts, transaction)
from ansible_collections.prefectdb.maintenance.plugins.module_utils.prefect_schema import TERMINAL_STATE_TYPES
from ansible_collections.prefectdb.maintenance.plugins.module_utils.retention_plan import (
    batch_figures, choose_strategy, next_batch_size, wal_pause)
from ansible_collections.prefectdb.maintenance.plugins.module_utils.vacuum_plan import DEFAULT_COST_LIMIT

try:
    import psycopg2
    import psycopg2.errors
    RETRYABLE = (psycopg2.errors.LockNotAvailable, psycopg2.errors.QueryCanceled,
                 psycopg2.errors.DeadlockDetected, psycopg2.errors.SerializationFailure)
except ImportError:  # pragma: no cover - the module checks psycopg2 first
    psycopg2 = None
    RETRYABLE = ()

# Retries of one batch, each with half the size, before it is skipped.
MAX_RETRIES = 3

TERMINAL_SQL = '(%s)' % ', '.join("'%s'" % t for t in TERMINAL_STATE_TYPES)

# Tables a flow run's deletion cascades to (foreign keys ON DELETE CASCADE).
CASCADE_TABLES = ('flow_run_state', 'task_run', 'task_run_state', 'flow_run_input')

# The tables each cleanup needs.
CLEANUP_TABLES = {
    'orphaned_logs': ('log', 'flow_run'),
    'orphaned_artifacts': ('artifact', 'flow_run'),
    'old_flow_runs': ('flow_run', 'task_run', 'log', 'artifact'),
    'stale_artifact_collections': ('artifact_collection', 'artifact'),
    'event_retention_overrides': ('events', 'event_resources'),
    'old_events': ('events', 'event_resources'),
}


class EngineError(Exception):
    """A batch failed for a reason retrying cannot fix; `results` holds what was done before."""

    def __init__(self, message, results):
        super(EngineError, self).__init__(message)
        self.results = results


class CleanupResult(object):
    """What one cleanup did: rows per table, batches, times."""

    def __init__(self, name):
        self.name = name
        self.status = 'not_started'
        self.deleted = {}
        self.updated = {}
        self.batches = 0
        self.retries = 0
        self.skipped_batches = 0
        self.batch_seconds = []
        self.seconds = 0.0
        self.strategy = {}
        self.walks = []
        self.wal_bytes = 0
        self.paused = 0.0

    def add(self, deleted=None, updated=None):
        for target, counts in ((self.deleted, deleted), (self.updated, updated)):
            for table, count in (counts or {}).items():
                if count:
                    target[table] = target.get(table, 0) + int(count)

    @property
    def rows(self):
        return sum(self.deleted.values()) + sum(self.updated.values())

    def as_dict(self):
        result = {
            'status': self.status,
            'deleted': dict(self.deleted),
            'updated': dict(self.updated),
            'batches': self.batches,
            'retries': self.retries,
            'skipped_batches': self.skipped_batches,
            'seconds': round(self.seconds, 3),
        }
        # in check mode nothing is deleted: no rate to report
        result.update(batch_figures(self.batch_seconds, 0 if self.status == 'counted' else self.rows, self.seconds))
        if self.strategy:
            result['strategy'] = dict(self.strategy)
        if self.walks:
            result['walks'] = list(self.walks)
        if self.batches:
            result['wal_bytes'] = int(self.wal_bytes)
            result['paused_seconds'] = round(self.paused, 3)
        return result


class Step(object):
    """The outcome of one batch: rows touched and where the walk goes next."""

    def __init__(self, done, cursor, deleted=None, updated=None, also=None):
        self.done = done
        self.cursor = cursor
        self.deleted = deleted or {}
        self.updated = updated or {}
        # rows that belong to another cleanup's result: (CleanupResult, {table: n})
        self.also = also


# --- walkers: one per cleanup and table; step() runs inside a transaction --------

class Walker(object):
    """Keyset walk over one table. `cursor` moves only after a batch commits."""

    unit = 'rows'
    kind = 'keyset'
    table = None

    def __init__(self, engine):
        self.engine = engine
        self.cursor = self.initial_cursor()

    def label(self):
        return self.table

    def initial_cursor(self):
        return None

    def step(self, cur, size):
        raise NotImplementedError

    def skip(self, cur, size):
        """Where the walk would be after `size` more keys, without deleting."""
        raise NotImplementedError


class OrphanWalker(Walker):
    """Rows of `table` whose flow_run_id names no flow run. Walks the distinct
    flow_run_id values of the table's flow_run_id index in chunks of index entries
    (never an anti-join over the whole table per batch), and deletes the rows of
    the chunk's orphaned ids through the same index."""

    unit = 'index entries'

    def __init__(self, engine, table):
        self.table = table
        super(OrphanWalker, self).__init__(engine)

    def _chunk_sql(self):
        after = '' if self.cursor is None else ' AND flow_run_id > %(after)s::uuid'
        return ('chunk AS MATERIALIZED (SELECT flow_run_id FROM {t} WHERE flow_run_id IS NOT NULL' + after +
                ' ORDER BY flow_run_id LIMIT %(n)s),'
                ' last AS (SELECT flow_run_id AS id FROM chunk ORDER BY flow_run_id DESC LIMIT 1)').format(t=self.table)

    def step(self, cur, size):
        after = '' if self.cursor is None else 'f.id > %(after)s::uuid AND '
        # the chunk's distinct ids less the flow runs in the same key range: one short
        # range scan of pk_flow_run instead of a probe per id; no recheck is needed, the
        # statement sees one snapshot
        cur.execute(
            'WITH ' + self._chunk_sql() + ','
            ' orphans AS MATERIALIZED (SELECT flow_run_id AS id FROM chunk EXCEPT'
            '  SELECT f.id FROM flow_run f WHERE ' + after + 'f.id <= (SELECT id FROM last)),'
            ' d AS (DELETE FROM {t} x WHERE x.flow_run_id = ANY(ARRAY(SELECT id FROM orphans)) RETURNING 1)'
            ' SELECT (SELECT count(*) FROM chunk), (SELECT id::text FROM last),'
            ' (SELECT count(*) FROM d)'.format(t=self.table), {'after': self.cursor, 'n': size})
        seen, last, deleted = cur.fetchone()
        return Step(done=seen < size, cursor=last or self.cursor, deleted={self.table: deleted})

    def skip(self, cur, size):
        cur.execute('WITH ' + self._chunk_sql() + ' SELECT (SELECT count(*) FROM chunk), (SELECT id::text FROM last)',
                    {'after': self.cursor, 'n': size})
        seen, last = cur.fetchone()
        return Step(done=seen < size, cursor=last or self.cursor)


class FlowRunWalker(Walker):
    """Top-level terminal flow runs that ended before the cutoff, in end_time ranges
    along ix_flow_run__end_time_desc (see RangeWalker), locked FOR UPDATE SKIP LOCKED
    as Prefect does. Subflows of a batch's runs that qualify themselves go in the same
    transaction (Prefect reaches them once the foreign key has made them top-level),
    and so do the logs and artifacts of every run deleted: no orphans are made."""

    unit = 'flow runs'
    kind = 'range'
    table = 'flow_run'
    ELIGIBLE = ('parent_task_run_id IS NULL AND state_type IN ' + TERMINAL_SQL + ' AND end_time IS NOT NULL')

    def __init__(self, engine, cutoff):
        self.cutoff = cutoff
        self.bounds = RangeWalker(engine, 'flow_run', cutoff, where=self.ELIGIBLE)
        self.bounds.column = 'end_time'
        super(FlowRunWalker, self).__init__(engine)

    def initial_cursor(self):
        return '-infinity'

    def _hi(self, cur, size):
        self.bounds.cursor = self.cursor
        return self.bounds.next_bound(cur, size)

    def step(self, cur, size):
        hi = self._hi(cur, size)
        cur.execute('SELECT id::text FROM flow_run WHERE ' + self.ELIGIBLE +
                    ' AND end_time >= %(lo)s AND end_time < %(hi)s FOR UPDATE SKIP LOCKED',
                    {'lo': self.cursor, 'hi': hi})
        ids = [r[0] for r in cur.fetchall()]
        frontier = list(ids)
        while frontier:
            # subflows of the runs going, that qualify themselves; level by level so a
            # locked subflow (skipped) keeps its own subflows, as in Prefect
            cur.execute(
                'SELECT c.id::text FROM task_run t JOIN flow_run c ON c.parent_task_run_id = t.id'
                ' WHERE t.flow_run_id = ANY(%(ids)s::uuid[]) AND c.state_type IN ' + TERMINAL_SQL +
                ' AND c.end_time IS NOT NULL AND c.end_time < %(cutoff)s FOR UPDATE OF c SKIP LOCKED',
                {'ids': frontier, 'cutoff': self.cutoff})
            frontier = [r[0] for r in cur.fetchall()]
            ids.extend(frontier)
        deleted = {}
        if ids:
            params = {'ids': ids}
            before = _cascade_counts(cur)
            cur.execute('DELETE FROM log WHERE flow_run_id = ANY(%(ids)s::uuid[])', params)
            deleted['log'] = cur.rowcount
            cur.execute('DELETE FROM artifact WHERE flow_run_id = ANY(%(ids)s::uuid[])', params)
            deleted['artifact'] = cur.rowcount
            cur.execute('DELETE FROM flow_run WHERE id = ANY(%(ids)s::uuid[])', params)
            deleted['flow_run'] = cur.rowcount
            for table, count in _cascade_counts(cur).items():
                deleted[table] = count - before.get(table, 0)
        return Step(done=hi >= self.cutoff, cursor=hi, deleted=deleted)

    def skip(self, cur, size):
        hi = self._hi(cur, size)
        return Step(done=hi >= self.cutoff, cursor=hi)


def _cascade_counts(cur):
    """Rows deleted from the cascade tables by this session's not yet reported
    transactions (statistics are flushed only between transactions, so the
    difference across statements of one transaction is exact)."""
    cur.execute('SELECT relname, pg_stat_get_xact_tuples_deleted(oid) FROM pg_class'
                ' WHERE oid = ANY(ARRAY[' + ', '.join("to_regclass('%s')" % t for t in CASCADE_TABLES) + '])')
    return dict(cur.fetchall())


class CollectionWalker(Walker):
    """Artifact collections whose latest_id names no artifact, in id order: re-pointed
    to the newest artifact left with the same key (by created, then id, copying the
    columns Prefect copies), or deleted when none is left."""

    unit = 'collections'
    table = 'artifact_collection'

    def _select(self, cur, size, lock):
        after = '' if self.cursor is None else ' AND ac.id > %(after)s::uuid'
        cur.execute(
            'SELECT ac.id::text FROM artifact_collection ac'
            ' WHERE NOT EXISTS (SELECT 1 FROM artifact a WHERE a.id = ac.latest_id)' + after +
            ' ORDER BY ac.id LIMIT %(n)s' + (' FOR UPDATE SKIP LOCKED' if lock else ''),
            {'after': self.cursor, 'n': size})
        return [r[0] for r in cur.fetchall()]

    def step(self, cur, size):
        ids = self._select(cur, size, lock=True)
        if not ids:
            return Step(done=True, cursor=self.cursor)
        params = {'ids': ids}
        cur.execute(
            # Prefect copies through its ORM, where a SQL NULL json becomes JSON null
            "UPDATE artifact_collection ac SET latest_id = n.id, data = coalesce(n.data, 'null'::json),"
            ' description = n.description,'
            ' type = n.type, created = n.created, updated = n.updated, flow_run_id = n.flow_run_id,'
            " task_run_id = n.task_run_id, metadata_ = coalesce(n.metadata_, 'null'::json)"
            ' FROM artifact_collection s CROSS JOIN LATERAL (SELECT a.* FROM artifact a WHERE a.key = s.key'
            '  ORDER BY a.created DESC, a.id DESC LIMIT 1) n'
            ' WHERE s.id = ANY(%(ids)s::uuid[]) AND ac.id = s.id'
            ' AND NOT EXISTS (SELECT 1 FROM artifact x WHERE x.id = s.latest_id)', params)
        repointed = cur.rowcount
        cur.execute(
            'DELETE FROM artifact_collection ac WHERE ac.id = ANY(%(ids)s::uuid[])'
            ' AND NOT EXISTS (SELECT 1 FROM artifact x WHERE x.id = ac.latest_id)', params)
        return Step(done=len(ids) < size, cursor=max(ids), deleted={'artifact_collection': cur.rowcount},
                    updated={'artifact_collection': repointed})

    def skip(self, cur, size):
        ids = self._select(cur, size, lock=False)
        return Step(done=len(ids) < size, cursor=max(ids) if ids else self.cursor)


FAR_FUTURE = datetime.datetime(9999, 12, 31, tzinfo=datetime.timezone.utc)


class RangeWalker(Walker):
    """Rows of `table` matching `where` with `column` in [start, cutoff), walked in ranges
    [lo, hi) along the column's index, each holding about `size` rows: hi is the value
    of the size-th row after lo (whole instants: rows sharing a value are never split).
    hi is computed first and handed to the batch's statement as a constant, so the
    planner sees the exact bounds. Subclasses say what a range does (action)."""

    unit = 'rows'
    kind = 'range'
    column = 'occurred'

    def __init__(self, engine, table, cutoff, where='true', params=None, start='-infinity', label=None):
        self.table = table
        self.cutoff = cutoff
        self.where = where
        self.params = params or {}
        self.start = start
        self.text = label or table
        super(RangeWalker, self).__init__(engine)

    def initial_cursor(self):
        return self.start

    def label(self):
        return self.text

    def _params(self, size, hi=None):
        params = dict(self.params)
        params.update({'lo': self.cursor, 'c': self.cutoff, 'n': size, 'hi': hi})
        return params

    def next_bound(self, cur, size):
        """hi for a batch of about `size` rows from the cursor."""
        walked = ('SELECT {k} FROM {t} WHERE ' + self.where + ' AND {k} {op} %(lo)s AND {k} < %(c)s ORDER BY {k}').format
        cur.execute(
            'WITH h AS (' + walked(k=self.column, t=self.table, op='>=') + ' OFFSET %(n)s LIMIT 1)'
            # many rows at one instant: take the whole instant rather than loop on it
            ' SELECT CASE WHEN (SELECT {k} FROM h) = %(lo)s::timestamptz THEN coalesce(('.format(k=self.column) +
            walked(k=self.column, t=self.table, op='>') + ' LIMIT 1), %(c)s)'
            ' ELSE coalesce((SELECT {k} FROM h), %(c)s) END'.format(k=self.column), self._params(size))
        return cur.fetchone()[0]

    def in_range(self, alias=''):
        """The batch's range, for the action's statement."""
        prefix = alias + '.' if alias else ''
        return '{p}{k} >= %(lo)s AND {p}{k} < %(hi)s'.format(p=prefix, k=self.column)

    def action(self, cur, params):
        """Delete the batch's rows; -> Step (cursor and done are filled in by step)."""
        raise NotImplementedError

    def step(self, cur, size):
        hi = self.next_bound(cur, size)
        step = self.action(cur, self._params(size, hi))
        step.cursor, step.done = hi, hi >= self.cutoff
        return step

    def skip(self, cur, size):
        hi = self.next_bound(cur, size)
        return Step(done=hi >= self.cutoff, cursor=hi)


class DeleteRange(RangeWalker):
    """Deletes the walked rows; with `also`, counts those matching `also_where` to
    another cleanup's result."""

    def __init__(self, engine, table, cutoff, also=None, also_where='false', **kwargs):
        self.also = also
        self.also_where = also_where
        super(DeleteRange, self).__init__(engine, table, cutoff, **kwargs)

    def action(self, cur, params):
        cur.execute('WITH d AS (DELETE FROM {t} WHERE {w} AND {r} RETURNING ({a}) AS o)'
                    ' SELECT count(*) FILTER (WHERE NOT o), count(*) FILTER (WHERE o) FROM d'.format(
                        t=self.table, w=self.where, r=self.in_range(), a=self.also_where), params)
        mine, others = cur.fetchone()
        return Step(done=False, cursor=None, deleted={self.table: mine},
                    also=(self.also, {self.table: others}) if self.also is not None else None)


class ResourcesOfEvents(RangeWalker):
    """Walks events of one overridden type older than its cutoff, and deletes their
    event_resources that the global period does not take (occurred at or after its
    cutoff): what Prefect's override pass deletes beyond the global pass."""

    def __init__(self, engine, event_type, cutoff, global_cutoff):
        super(ResourcesOfEvents, self).__init__(
            engine, 'events', cutoff, where='event = %(type)s', params={'type': event_type, 'g': global_cutoff},
            label='event_resources (of %s events)' % event_type)

    def action(self, cur, params):
        cur.execute('WITH d AS (DELETE FROM event_resources WHERE event_id = ANY(ARRAY('
                    'SELECT id FROM events WHERE event = %(type)s AND ' + self.in_range() + '))'
                    ' AND occurred >= %(g)s RETURNING 1) SELECT count(*) FROM d', params)
        return Step(done=False, cursor=None, deleted={'event_resources': cur.fetchone()[0]})


class RecentResources(RangeWalker):
    """Walks event_resources at or after the global cutoff and deletes those whose
    event is of an overridden type and older than the type's cutoff. The other way to
    find what ResourcesOfEvents finds, cheaper when few resources are that recent."""

    def __init__(self, engine, global_cutoff, overrides):
        params = {}
        self.predicate = override_predicate(overrides, params, alias='e')
        super(RecentResources, self).__init__(engine, 'event_resources', FAR_FUTURE, params=params,
                                              start=global_cutoff, label='event_resources (recent, of overridden events)')

    def action(self, cur, params):
        cur.execute('WITH d AS (DELETE FROM event_resources r WHERE ' + self.in_range('r') +
                    ' AND EXISTS (SELECT 1 FROM events e WHERE e.id = r.event_id AND ' + self.predicate + ')'
                    ' RETURNING 1) SELECT count(*) FROM d', params)
        return Step(done=False, cursor=None, deleted={'event_resources': cur.fetchone()[0]})


class SweepWalker(Walker):
    """Rows of `table` matching `where`, found by sweeping the heap in ranges of pages
    (TID range scans, PostgreSQL 14+): each page is read once, as a sequential scan
    would, instead of once per row in index order. Used when a large share of the
    table goes. Rows added past the table's end while it runs are newer than the
    cutoff in Prefect's data, and a later run catches any that are not. With `also`,
    rows matching `also_where` are counted to another cleanup's result."""

    unit = 'pages'
    kind = 'sweep'

    def __init__(self, engine, table, where, params, pages, also=None, also_where='false'):
        self.table = table
        self.where = where
        self.params = params
        self.pages = pages
        self.also = also
        self.also_where = also_where
        super(SweepWalker, self).__init__(engine)

    def initial_cursor(self):
        return 0

    def step(self, cur, size):
        end = self.cursor + size
        params = dict(self.params)
        params.update({'a': '(%d,0)' % self.cursor, 'b': '(%d,0)' % end})
        cur.execute(
            'WITH d AS (DELETE FROM {t} WHERE ctid >= %(a)s::tid AND ctid < %(b)s::tid AND ({w})'
            ' RETURNING ({o}) AS o) SELECT count(*) FILTER (WHERE NOT o), count(*) FILTER (WHERE o) FROM d'.format(
                t=self.table, w=self.where, o=self.also_where), params)
        mine, others = cur.fetchone()
        return Step(done=end >= self.pages, cursor=end, deleted={self.table: mine},
                    also=(self.also, {self.table: others}) if self.also is not None else None)

    def skip(self, cur, size):
        end = self.cursor + size
        return Step(done=end >= self.pages, cursor=end)


def override_predicate(overrides, params, alias=''):
    """SQL for "an event of an overridden type older than the type's cutoff"; fills params."""
    prefix = alias + '.' if alias else ''
    parts = []
    for index, (event_type, cutoff) in enumerate(overrides):
        params['t%d' % index], params['c%d' % index] = event_type, cutoff
        parts.append('({p}event = %(t{i})s AND {p}occurred < %(c{i})s)'.format(p=prefix, i=index))
    return '(%s)' % ' OR '.join(parts) if parts else 'false'


# --- the engine ---------------------------------------------------------------------

class RetentionEngine(object):
    """Runs the plan's cleanups batch by batch; see the module docstring."""

    def __init__(self, conn, plan, warn, clock=None, server_version_num=None, sleep=None):
        self.conn = conn
        self.plan = plan
        self.warn = warn
        self.clock = clock or time.monotonic
        self.sleep = sleep or time.sleep
        self.started = self.clock()
        self.deadline = None if plan.max_runtime is None else self.started + plan.max_runtime
        self.stopped = False
        self.server_version_num = server_version_num or int(fetch_value(conn, 'SHOW server_version_num'))

    # -- time --
    def out_of_time(self):
        if self.deadline is not None and self.clock() >= self.deadline:
            self.stopped = True
        return self.stopped

    # -- WAL: what the server's commits wait for --
    def wal_position(self):
        """Bytes of WAL the server has inserted so far (the whole server's, so a batch's
        count includes what others wrote meanwhile: the rest errs on the long side)."""
        return int(fetch_value(self.conn, "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')") or 0)

    def rest(self, result, wal_bytes, seconds):
        """Rest after a batch so batches and rests stay at plan.max_wal_rate; not past max_runtime."""
        pause = wal_pause(wal_bytes, seconds, self.plan.max_wal_rate)
        if self.deadline is not None:
            pause = min(pause, max(0.0, self.deadline - self.clock()))
        if pause > 0:
            self.sleep(pause)
            result.paused += pause

    # -- the loop every walker shares --
    def walk(self, result, walker, start_size, max_size):
        began, batches = self.clock(), result.batches
        try:
            self._walk(result, walker, start_size, max_size)
        finally:
            result.walks.append({'table': walker.label(), 'walk': walker.kind, 'batches': result.batches - batches,
                                 'seconds': round(self.clock() - began, 3)})

    def _walk(self, result, walker, start_size, max_size):
        size = start_size
        while True:
            if self.out_of_time():
                result.status = 'stopped'
                return
            attempt_size = size
            retries = 0
            wal_before = self.wal_position()
            while True:
                began = self.clock()
                try:
                    with transaction(self.conn) as cur:
                        step = walker.step(cur, attempt_size)
                    break
                except RETRYABLE as e:
                    result.retries += 1
                    retries += 1
                    if retries <= MAX_RETRIES and attempt_size > 1:
                        attempt_size = max(1, attempt_size // 2)
                        continue
                    step = self._skip(result, walker, attempt_size, e)
                    if step is None:
                        return
                    break
            elapsed = self.clock() - began
            wal = max(0, self.wal_position() - wal_before)
            result.batches += 1
            result.batch_seconds.append(elapsed)
            result.wal_bytes += wal
            result.add(step.deleted, step.updated)
            if step.also:
                step.also[0].add(step.also[1])
            walker.cursor = step.cursor
            size = next_batch_size(attempt_size, elapsed, self.plan.target_batch_seconds, max_size)
            if step.done:
                result.status = 'finished'
                return
            self.rest(result, wal, elapsed)

    def _skip(self, result, walker, size, error):
        reason = _reason(error)
        try:
            with transaction(self.conn) as cur:
                step = walker.skip(cur, size)
        except RETRYABLE as e:
            self.warn('retention %s: stopped: %s; the batch could not be skipped either (%s). '
                      'The rest is left for the next run.' % (result.name, reason, _reason(e)))
            result.status = 'stopped'
            return None
        result.skipped_batches += 1
        step.deleted, step.updated, step.also = {}, {}, None
        self.warn('retention %s: skipped a batch of %d %s after %d tries: %s. Those rows are left for the next run.'
                  % (result.name, size, walker.unit, MAX_RETRIES + 1, reason))
        return step

    # -- the cleanups --
    def run(self):
        set_session_timeouts(self.conn, lock_timeout=self.plan.lock_timeout,
                             statement_timeout=self.plan.statement_timeout)
        # A batch need not wait for its WAL to reach the disk before the next one starts
        # (and before its row locks are released): a crash can undo at most the last
        # fraction of a second of deletions, which the next run deletes again. Only this
        # session's own transactions are affected.
        execute(self.conn, "SELECT set_config('synchronous_commit', 'off', false)")
        names = self.plan.cleanups
        results = [CleanupResult(name) for name in names]
        by_name = dict((r.name, r) for r in results)
        for result in results:
            if result.name == 'event_retention_overrides':
                continue  # runs with old_events, which decides how to walk the events
            if self.out_of_time():
                result.status = 'stopped'
                continue
            try:
                if result.name == 'old_events':
                    self._events(by_name.get('event_retention_overrides'), result)
                else:
                    began = self.clock()
                    try:
                        getattr(self, '_' + result.name)(result)
                    finally:
                        result.seconds += self.clock() - began
            except psycopg2.Error as e:
                raise EngineError('retention %s failed: %s' % (result.name, _reason(e)), results)
        overrides = by_name.get('event_retention_overrides')
        if overrides is not None and overrides.status == 'not_started' and self.stopped:
            overrides.status = 'stopped'
        return results

    def _sizes(self):
        return self.plan.batch_size, self.plan.max_batch_size

    def _orphaned_logs(self, result):
        start, cap = self._sizes()
        # a chunk only reads index entries until it finds orphans: let it be larger
        self.walk(result, OrphanWalker(self, 'log'), start * 10, cap * 10)

    def _orphaned_artifacts(self, result):
        start, cap = self._sizes()
        self.walk(result, OrphanWalker(self, 'artifact'), start * 10, cap * 10)

    def _old_flow_runs(self, result):
        start, cap = self._sizes()
        self.walk(result, FlowRunWalker(self, self.plan.flow_run_cutoff()), start, cap)

    def _stale_artifact_collections(self, result):
        start, cap = self._sizes()
        self.walk(result, CollectionWalker(self), start, cap)

    def _timed_walk(self, result, walker, start, cap):
        began = self.clock()
        try:
            self.walk(result, walker, start, cap)
        finally:
            result.seconds += self.clock() - began
        return result.status == 'finished'

    def _sweep_sizes(self, estimate):
        """batch_size and max_batch_size, in rows, as pages of this table."""
        start, cap = self._sizes()
        per_page = max(1.0, float(estimate['table_rows']) / max(1, estimate['pages']))
        return max(1, int(start / per_page)), max(1, int(cap / per_page))

    def _events(self, overrides_result, old):
        """Both event cleanups, in three steps that leave what Prefect's two passes leave:
        1. event_resources older than the cutoff, by their own occurred (old_events);
        2. event_resources newer than that whose event is of an overridden type and older
           than the type's cutoff (what Prefect's override pass takes beyond the global one);
        3. events older than the cutoff (old_events) or of an overridden type older than
           its cutoff (counted to the overrides when newer than the global cutoff).
        Resources go before their events, as in Prefect. Each step walks its table in
        time ranges, or sweeps it when a large share of it goes."""
        start, cap = self._sizes()
        version = self.server_version_num
        cutoff = self.plan.events_cutoff()
        overrides = self.plan.override_cutoffs() if overrides_result is not None else []
        finished = self._events_steps(overrides_result, old, overrides, cutoff, start, cap, version)
        if overrides_result is not None:
            overrides_result.status = 'finished' if finished else 'stopped'
        if not finished:
            old.status = 'stopped'

    def _events_steps(self, overrides_result, old, overrides, cutoff, start, cap, version):
        # 1.
        resources = estimate_rows(self.conn, 'event_resources', 'occurred < %(c)s', {'c': cutoff})
        if choose_strategy(resources['rows'], resources['pages'], version) == 'sweep':
            walker = SweepWalker(self, 'event_resources', 'occurred < %(c)s', {'c': cutoff}, resources['pages'])
            sizes = self._sweep_sizes(resources)
        else:
            walker, sizes = DeleteRange(self, 'event_resources', cutoff), (start, cap)
        old.strategy['event_resources'] = walker.kind
        if not self._timed_walk(old, walker, *sizes):
            return False
        # 2. from whichever side has fewer rows to look at
        if overrides:
            recent = estimate_rows(self.conn, 'event_resources', 'occurred >= %(c)s', {'c': cutoff})['rows']
            params = {}
            overridden = estimate_rows(self.conn, 'events', override_predicate(overrides, params), params)
            per_event = resources['table_rows'] / max(1.0, overridden['table_rows'])
            if recent <= overridden['rows'] * per_event:
                walkers = [RecentResources(self, cutoff, overrides)]
                overrides_result.strategy['event_resources'] = 'range (recent resources)'
            else:
                walkers = [ResourcesOfEvents(self, event_type, type_cutoff, cutoff)
                           for event_type, type_cutoff in overrides]
                overrides_result.strategy['event_resources'] = 'range (resources of overridden events)'
            for walker in walkers:
                if not self._timed_walk(overrides_result, walker, start, cap):
                    return False
        # 3.
        params = {'c': cutoff}
        override_sql = override_predicate(overrides, params)
        where = 'occurred < %(c)s OR ' + override_sql
        events = estimate_rows(self.conn, 'events', where, params)
        if choose_strategy(events['rows'], events['pages'], version) == 'sweep':
            old.strategy['events'] = 'sweep'
            if overrides_result is not None:
                overrides_result.strategy['events'] = 'sweep (with old_events)'
            walker = SweepWalker(self, 'events', where, params, events['pages'], also=overrides_result,
                                 also_where='occurred >= %(c)s AND ' + override_sql)
            return self._timed_walk(old, walker, *self._sweep_sizes(events))
        old.strategy['events'] = 'range'
        if not self._timed_walk(old, DeleteRange(self, 'events', cutoff), start, cap):
            return False
        if overrides_result is not None:
            overrides_result.strategy['events'] = 'range'
        for event_type, type_cutoff in overrides:
            if type_cutoff > cutoff:
                walker = DeleteRange(self, 'events', type_cutoff, where='event = %(type)s', params={'type': event_type},
                                     start=cutoff, label='events (%s)' % event_type)
                if not self._timed_walk(overrides_result, walker, start, cap):
                    return False
        return True


def _reason(error):
    text = ' '.join(str(getattr(error, 'pgerror', None) or error).split())
    return text or error.__class__.__name__


def estimate_rows(conn, table, predicate, params):
    """The planner's estimate of the rows matching predicate, the table's rows and pages."""
    plan = fetch_value(conn, 'EXPLAIN (FORMAT JSON) SELECT 1 FROM {t} WHERE {p}'.format(t=table, p=predicate), params)
    whole = fetch_value(conn, 'EXPLAIN (FORMAT JSON) SELECT 1 FROM {t}'.format(t=table))
    pages = fetch_value(conn, "SELECT pg_relation_size(%s) / current_setting('block_size')::int", (table,))
    return {'rows': _plan_rows(plan), 'table_rows': _plan_rows(whole), 'pages': int(pages)}


def _plan_rows(explained):
    if isinstance(explained, str):
        explained = json.loads(explained)
    return float(explained[0]['Plan']['Plan Rows'])


def missing_tables(conn, cleanups):
    """Tables the cleanups need that do not exist on the search_path."""
    needed = []
    for name in cleanups:
        for table in CLEANUP_TABLES[name]:
            if table not in needed:
                needed.append(table)
    rows = fetch_all(conn, 'SELECT t AS name FROM unnest(%s::text[]) t WHERE to_regclass(t) IS NULL', (needed,))
    return [r['name'] for r in rows]


def database_now(conn):
    return fetch_value(conn, 'SELECT now()')


def vacuum_tables(conn, tables, warn, cost_delay_ms):
    """VACUUM (ANALYZE) each table outside any transaction, at the session's cost-based
    delay of cost_delay_ms per 200 cost units (the vacuum module's pace); returns {table: seconds}."""
    done = {}
    execute(conn, "SELECT set_config('statement_timeout', '0', false)")
    execute(conn, "SELECT set_config('vacuum_cost_delay', %s, false), set_config('vacuum_cost_limit', %s, false)",
            ('%gms' % cost_delay_ms, str(DEFAULT_COST_LIMIT)))
    for table in tables:
        began = time.monotonic()
        try:
            execute(conn, 'VACUUM (ANALYZE) {t}'.format(t=table))
        except RETRYABLE as e:
            warn('retention vacuum_after: VACUUM (ANALYZE) %s did not run: %s; autovacuum will get to it.'
                 % (table, _reason(e)))
            continue
        done[table] = round(time.monotonic() - began, 3)
    return done


# --- check mode: exact counts, nothing deleted ----------------------------------------

def _doomed_cte(cutoff_param):
    return ('doomed(id) AS (SELECT id FROM flow_run WHERE parent_task_run_id IS NULL'
            ' AND state_type IN ' + TERMINAL_SQL + ' AND end_time IS NOT NULL AND end_time < ' + cutoff_param +
            ' UNION SELECT c.id FROM doomed d JOIN task_run t ON t.flow_run_id = d.id'
            ' JOIN flow_run c ON c.parent_task_run_id = t.id WHERE c.state_type IN ' + TERMINAL_SQL +
            ' AND c.end_time IS NOT NULL AND c.end_time < ' + cutoff_param + ')')


def count_cleanups(conn, plan):
    """What each cleanup of the plan would delete or re-point, counted exactly with
    read-only queries (one snapshot per query) in the order the cleanups run."""
    results = []
    names = plan.cleanups
    flow_runs = 'old_flow_runs' in names
    params = {'cutoff': plan.flow_run_cutoff() if flow_runs else None, 'ecut': plan.events_cutoff()}
    for name in names:
        result = CleanupResult(name)
        began = time.monotonic()
        if name in ('orphaned_logs', 'orphaned_artifacts'):
            table = 'log' if name == 'orphaned_logs' else 'artifact'
            result.add({table: fetch_value(
                conn, 'SELECT count(*) FROM {t} x WHERE x.flow_run_id IS NOT NULL'
                ' AND NOT EXISTS (SELECT 1 FROM flow_run f WHERE f.id = x.flow_run_id)'.format(t=table))})
        elif name == 'old_flow_runs':
            row = fetch_one(conn, 'WITH RECURSIVE ' + _doomed_cte('%(cutoff)s') + ','
                            ' tr AS MATERIALIZED (SELECT id FROM task_run WHERE flow_run_id IN (SELECT id FROM doomed))'
                            ' SELECT (SELECT count(*) FROM doomed) AS flow_run,'
                            ' (SELECT count(*) FROM log WHERE flow_run_id IN (SELECT id FROM doomed)) AS log,'
                            ' (SELECT count(*) FROM artifact WHERE flow_run_id IN (SELECT id FROM doomed)) AS artifact,'
                            ' (SELECT count(*) FROM flow_run_state WHERE flow_run_id IN (SELECT id FROM doomed))'
                            '   AS flow_run_state,'
                            ' (SELECT count(*) FROM tr) AS task_run,'
                            ' (SELECT count(*) FROM task_run_state WHERE task_run_id IN (SELECT id FROM tr))'
                            '   AS task_run_state,'
                            ' (SELECT count(*) FROM flow_run_input WHERE flow_run_id IN (SELECT id FROM doomed))'
                            '   AS flow_run_input', params)
            result.add(row)
        elif name == 'stale_artifact_collections':
            gone = ('SELECT a.id FROM artifact a WHERE a.flow_run_id IS NOT NULL'
                    ' AND NOT EXISTS (SELECT 1 FROM flow_run f WHERE f.id = a.flow_run_id)')
            if flow_runs:
                gone += ' UNION ALL SELECT a.id FROM artifact a WHERE a.flow_run_id IN (SELECT id FROM doomed)'
            row = fetch_one(
                conn, 'WITH RECURSIVE ' + (_doomed_cte('%(cutoff)s') + ', ' if flow_runs else '') +
                'gone AS MATERIALIZED (' + gone + '),'
                ' stale AS (SELECT ac.key FROM artifact_collection ac WHERE NOT EXISTS (SELECT 1 FROM artifact a'
                '  WHERE a.id = ac.latest_id AND a.id NOT IN (SELECT id FROM gone)))'
                ' SELECT count(*) FILTER (WHERE k.left_over) AS repointed,'
                ' count(*) FILTER (WHERE NOT k.left_over) AS deleted FROM (SELECT EXISTS (SELECT 1 FROM artifact a'
                '  WHERE a.key = s.key AND a.id NOT IN (SELECT id FROM gone)) AS left_over FROM stale s) k', params)
            result.add({'artifact_collection': row['deleted']}, {'artifact_collection': row['repointed']})
        elif name == 'event_retention_overrides':
            # what the overrides delete beyond events_retention_period
            oparams = {'ecut': plan.events_cutoff()}
            events_sql = override_predicate(plan.override_cutoffs(), oparams)
            resources_sql = override_predicate(plan.override_cutoffs(), oparams, alias='e')
            row = fetch_one(conn, 'SELECT (SELECT count(*) FROM events WHERE occurred >= %(ecut)s AND ' + events_sql +
                            ') AS events, (SELECT count(*) FROM event_resources r WHERE r.occurred >= %(ecut)s'
                            ' AND EXISTS (SELECT 1 FROM events e WHERE e.id = r.event_id AND ' + resources_sql +
                            ')) AS event_resources', oparams)
            result.add(row)
        elif name == 'old_events':
            result.add({
                'events': fetch_value(conn, 'SELECT count(*) FROM events WHERE occurred < %(ecut)s', params),
                'event_resources': fetch_value(conn, 'SELECT count(*) FROM event_resources WHERE occurred < %(ecut)s',
                                               params)})
        result.status = 'counted'
        result.seconds = time.monotonic() - began
        results.append(result)
    return results
