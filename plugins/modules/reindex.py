#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: prefectdb.maintenance contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: reindex
short_description: REINDEX CONCURRENTLY bloated indexes of a Prefect database and clean up failed rebuilds
version_added: 0.1.0
description:
  - Rebuilds indexes with C(REINDEX INDEX CONCURRENTLY), one index at a time, so Prefect keeps reading and writing
    the tables meanwhile. Reports the bytes of each index before and after.
  - With O(indexes=auto) the module estimates the bloat of every B-tree index of O(schema) from its size and the
    planner's statistics (C(pg_class.reltuples), C(pg_stats) widths and null fractions) and picks those at least
    O(min_index_size) with at least O(min_bloat_ratio) percent estimated bloat; it returns which it picked and why,
    and why it left the others.
  - A failed concurrent rebuild leaves an invalid index behind, named like the original with C(_ccnew) (the new
    index) or C(_ccold) (the old one, swapped out but not dropped). Before and after the rebuilds the module looks
    for them on the tables it works on and drops them with C(DROP INDEX CONCURRENTLY) - a C(_ccold) always, a
    C(_ccnew) when the index it was built for is rebuilt in this run (the retry). With O(indexes=auto) an index with
    a C(_ccnew) leftover is picked for that retry whatever its bloat. Leftovers on a table where another session is
    building an index right now are left alone.
  - When a rebuild fails on a lock timeout, a deadlock or a cancel, the module drops what that attempt left and
    tries again up to O(retries) times.
author:
  - prefectdb.maintenance developers (@prefectdb)
extends_documentation_fragment:
  - prefectdb.maintenance.connection
  - prefectdb.maintenance.write_safety
attributes:
  check_mode:
    support: full
    description: Returns the plan (indexes to rebuild and leftovers to drop, with reasons) and executes nothing.
  diff_mode:
    support: none
    description: Index definitions do not change; the result reports sizes instead.
options:
  indexes:
    description:
      - C(auto), or a list of index names (C(ix_log__timestamp), C(public.pk_events)).
      - A listed index that does not exist, or that REINDEX CONCURRENTLY cannot rebuild (an exclusion constraint's
        index, a leftover), fails the module before anything runs.
    type: raw
    default: auto
  schema:
    description:
      - The schema O(indexes=auto) looks in, and the schema of unqualified index names. With O(indexes=auto), a
        schema that does not exist fails the module.
    type: str
    default: public
  min_bloat_ratio:
    description:
      - For O(indexes=auto), the estimated bloat, as a percentage of the index's size, an index must reach.
      - A B-tree filled by random inserts is about 30% empty by nature; below that a rebuild gains little for long.
    type: float
    default: 30
  min_index_size:
    description:
      - For O(indexes=auto), the size an index must have, as bytes or with a unit (C(10MB)).
    type: raw
    default: 10MB
  min_scans:
    description:
      - For O(indexes=auto), the index scans (C(pg_stat_user_indexes.idx_scan), counted since the statistics were last
        reset) an index must have had. The monthly rebuild is for bloated indexes that are used; an unused one is better
        dropped (the health module lists them). C(0) picks by bloat and size alone.
    type: int
    default: 0
  retries:
    description:
      - How many times a rebuild that failed on a lock timeout, a deadlock or a cancel is tried again, after dropping
        what the failed attempt left.
    type: int
    default: 1
  max_runtime:
    description:
      - Start no new rebuild once this long has passed since the first one began (a duration such as C(1h)); the
        indexes left are reported in RV(left). A rebuild already running is not interrupted.
      - Unset, there is no limit.
    type: raw
notes:
  - Needs PostgreSQL 12 or newer (REINDEX CONCURRENTLY). The login must own the tables (or be a superuser).
  - REINDEX CONCURRENTLY and DROP INDEX CONCURRENTLY run outside a transaction block, on the module's autocommit
    connection. They wait for transactions using the table at several points; O(lock_timeout) bounds each wait, and a
    rebuild that times out is cleaned up and retried (O(retries)).
  - The bloat estimate reads statistics only (no C(pgstattuple) scan). B-tree deduplication (PostgreSQL 13+) makes
    indexes with many equal keys smaller than estimated, so their bloat is underestimated, never overestimated.
    Non-B-tree indexes (GIN, GiST) have no estimate and are rebuilt only when listed.
seealso:
  - module: prefectdb.maintenance.vacuum
  - name: REINDEX
    description: The PostgreSQL documentation of REINDEX, and what a failed REINDEX CONCURRENTLY leaves behind.
    link: https://www.postgresql.org/docs/current/sql-reindex.html
'''

EXAMPLES = r'''
- name: Rebuild the indexes estimated at least 30% bloated and at least 10 MB
  prefectdb.maintenance.reindex:
    indexes: auto
  register: reindexed

- name: Rebuild two indexes of the log table after a large retention run
  prefectdb.maintenance.reindex:
    indexes: [ix_log__flow_run_id_timestamp, pk_log]
    lock_timeout: 10s
    retries: 2

- name: Show what auto would rebuild and which leftovers it would drop
  prefectdb.maintenance.reindex:
    indexes: auto
    min_bloat_ratio: 40
    min_index_size: 100MB
  check_mode: true
'''

RETURN = r'''
selection:
  description: C(auto) when the module picked the indexes, C(list) when they were given.
  returned: always
  type: str
  sample: auto
indexes:
  description: The indexes rebuilt (or planned), in order, with what happened to each.
  returned: always
  type: list
  elements: dict
  contains:
    index:
      description: schema.index
      type: str
      sample: public.ix_log__flow_run_id_timestamp
    table:
      description: schema.table
      type: str
      sample: public.log
    reason:
      description: Why it was picked (C(listed) for a given list).
      type: str
      sample: "48 MB, estimated bloat 30 MB (62.5%): at least 30% and 10 MB"
    status:
      description: C(planned) (check mode), C(done), C(failed), C(not_started) (O(max_runtime) passed).
      type: str
      sample: done
    statement:
      description: The SQL statement.
      type: str
      sample: REINDEX INDEX CONCURRENTLY "public"."ix_log__flow_run_id_timestamp"
    attempts:
      description: How many times the rebuild ran.
      type: int
      sample: 1
    bytes_before:
      description: Size of the index before.
      type: int
      sample: 50331648
    bytes_after:
      description: Size of the index after.
      type: int
      sample: 18874368
    estimated_bloat_bytes:
      description: The estimate the selection used, or null without one.
      type: int
      sample: 31457280
    estimated_bloat_ratio:
      description: Estimated bloat as a percentage of the index's size, or null.
      type: float
      sample: 62.5
    duration_seconds:
      description: How long the rebuild took, attempts included.
      type: float
      sample: 4.2
    message:
      description: The server's message for a failed rebuild (or for a failed attempt that was retried).
      type: str
      sample: "canceling statement due to lock timeout"
not_selected:
  description: With O(indexes=auto), the indexes not picked and why.
  returned: always
  type: list
  elements: dict
  sample:
    - index: public.ix_log__level
      table: public.log
      reason: "160 kB, estimated bloat 0 bytes (0%): smaller than min_index_size 10 MB; below min_bloat_ratio 30%"
leftovers:
  description: Invalid indexes left by failed concurrent builds, found before, during (a failed attempt) or after the
    rebuilds, and what was done with each.
  returned: always
  type: list
  elements: dict
  contains:
    index:
      description: schema.index of the leftover.
      type: str
      sample: public.ix_log__timestamp_ccnew
    table:
      description: schema.table
      type: str
      sample: public.log
    kind:
      description: C(ccnew) or C(ccold).
      type: str
      sample: ccnew
    base:
      description: The index it was built for, when it still exists.
      type: str
      sample: public.ix_log__timestamp
    phase:
      description: C(before), C(retry) (left by an attempt of this run) or C(after).
      type: str
      sample: before
    action:
      description: C(dropped), C(would_drop) (check mode), C(kept) or C(failed) (the drop failed).
      type: str
      sample: dropped
    reason:
      description: Why it was dropped or kept.
      type: str
      sample: the new index of a failed REINDEX CONCURRENTLY of public.ix_log__timestamp, which is rebuilt now
    bytes:
      description: Its size.
      type: int
      sample: 8192
    statement:
      description: The DROP statement, when one ran.
      type: str
      sample: DROP INDEX CONCURRENTLY IF EXISTS "public"."ix_log__timestamp_ccnew"
    message:
      description: The server's messages of failed drop attempts, or null.
      type: str
      sample: "drop attempt in phase retry: canceling statement due to lock timeout"
left:
  description: Indexes not started because O(max_runtime) had passed.
  returned: always
  type: list
  elements: str
  sample: []
bytes_reclaimed:
  description: Bytes before minus bytes after over the rebuilt indexes, plus the bytes of the dropped leftovers.
  returned: always
  type: int
  sample: 31457280
'''

import time

from ansible_collections.prefectdb.maintenance.plugins.module_utils.connection import (
    connect, execute, exclusive_run, fetch_value, prefect_module, psycopg2, server_error, set_session_timeouts,
    write_argument_spec,
)
from ansible_collections.prefectdb.maintenance.plugins.module_utils.durations import DurationError, parse_duration
from ansible_collections.prefectdb.maintenance.plugins.module_utils.identifiers import (
    IdentifierError, parse_qualified_name,
)
from ansible_collections.prefectdb.maintenance.plugins.module_utils.results import jsonable
from ansible_collections.prefectdb.maintenance.plugins.module_utils.sizes import SizeError, format_size, parse_size
from ansible_collections.prefectdb.maintenance.plugins.module_utils import reindex_plan as plan
from ansible_collections.prefectdb.maintenance.plugins.module_utils import table_stats

if psycopg2 is not None:
    from psycopg2 import sql as pgsql

MODULE_NAME = 'reindex'


class Inputs(object):
    """The module's options, checked and converted; fails the module on bad input."""

    def __init__(self, module):
        p = module.params
        self.schema = p['schema']
        try:
            self.lock_timeout = parse_duration(p['lock_timeout'], 'lock_timeout')
            self.max_runtime = None if p['max_runtime'] in (None, '') else parse_duration(p['max_runtime'], 'max_runtime')
            self.min_index_size = parse_size(p['min_index_size'], 'min_index_size')
        except (DurationError, SizeError) as e:
            module.fail_json(msg='%s; nothing was changed.' % e, changed=False)
        if self.max_runtime is not None and self.max_runtime <= 0:
            module.fail_json(msg='max_runtime must be a positive duration, not %r; nothing was changed.' % p['max_runtime'],
                             changed=False)
        if p['retries'] < 0 or p['min_bloat_ratio'] < 0 or p['min_scans'] < 0:
            module.fail_json(msg='retries, min_bloat_ratio and min_scans must not be negative; nothing was changed.',
                             changed=False)
        self.retries = p['retries']
        self.min_scans = p['min_scans']
        self.min_bloat_ratio = p['min_bloat_ratio']
        indexes = p['indexes']
        self.auto, self.names = False, []
        if isinstance(indexes, str) and indexes.strip().lower() == 'auto':
            self.auto = True
        elif isinstance(indexes, str) or not isinstance(indexes, list) or not indexes:
            module.fail_json(msg='indexes must be auto or a non-empty list of index names, not %r; nothing was changed.'
                             % (indexes,), changed=False)
        else:
            for name in indexes:
                try:
                    parsed = parse_qualified_name(name, default_schema=self.schema)
                except IdentifierError as e:
                    module.fail_json(msg='indexes: %s; nothing was changed.' % e, changed=False)
                if parsed not in self.names:
                    self.names.append(parsed)


def qualified_sql(schema, name):
    return pgsql.SQL('{}.{}').format(pgsql.Identifier(schema), pgsql.Identifier(name))


class Reindexer(object):
    def __init__(self, module, conn, inputs):
        self.module = module
        self.conn = conn
        self.inputs = inputs
        self.leftovers = []   # report entries, in the order found
        self.reported = {}    # index oid -> its report entry
        self.dropped_bytes = 0

    # --- planning ---------------------------------------------------------------

    def estimates(self, indexes, block_size):
        stats = table_stats.index_column_stats(self.conn, [i['oid'] for i in indexes if i['method'] == 'btree'])
        return dict((i['oid'], plan.btree_estimate(i, stats.get(i['oid'], []), block_size)) for i in indexes)

    def choose(self, block_size):
        """(entries, not_selected, target table oids, all indexes on those tables)."""
        inputs = self.inputs
        if inputs.auto:
            if not fetch_value(self.conn, 'SELECT count(*) FROM pg_namespace WHERE nspname = %s', (inputs.schema,)):
                self.module.fail_json(msg='schema: %s does not exist; nothing was changed.' % inputs.schema,
                                      changed=False)
            indexes = table_stats.indexes_in_schema(self.conn, inputs.schema)
            estimates = self.estimates(indexes, block_size)
            retry = {}
            for leftover in plan.find_leftovers(indexes):
                if leftover['kind'] == 'ccnew' and leftover['base'] is not None:
                    retry.setdefault(leftover['base']['oid'], plan.index_name(leftover['index']))
            selected, not_selected = plan.select_indexes(indexes, estimates, inputs.min_bloat_ratio,
                                                         inputs.min_index_size, retry, inputs.min_scans)
            tables = sorted(set(i['table_oid'] for i in indexes))
            return selected, not_selected, tables, indexes
        found, missing = table_stats.indexes_by_name(self.conn, inputs.names)
        if missing:
            self.module.fail_json(msg='indexes not found: %s; nothing was changed.' % ', '.join(
                plan.qualified(s, n) for s, n in missing), changed=False)
        refusals = [r for r in (plan.refusal_for(i) for i in found) if r]
        if refusals:
            self.module.fail_json(msg='%s. Nothing was changed.' % '; '.join(refusals), changed=False)
        estimates = self.estimates(found, block_size)
        entries = [{'index': i, 'reason': 'listed', 'estimate': estimates[i['oid']][0]} for i in found]
        tables = sorted(set(i['table_oid'] for i in found))
        return entries, [], tables, table_stats.indexes_on_tables(self.conn, tables)

    def busy_tables(self):
        return dict((b['table_oid'], b['pid']) for b in table_stats.index_builds_in_progress(self.conn))

    def leftover_plan(self, indexes, rebuilding):
        busy = self.busy_tables()
        planned = []
        for leftover in plan.find_leftovers(indexes):
            action, reason = plan.leftover_action(leftover, rebuilding, busy)
            planned.append((leftover, action, reason))
        return planned

    # --- doing ------------------------------------------------------------------

    def _report(self, leftover, reason, phase, action):
        """The report entry of a leftover, by oid: a name comes back when a later attempt builds a new one."""
        index = leftover['index']
        report = self.reported.get(index['oid'])
        if report is None:
            report = {
                'index': plan.index_name(index), 'table': plan.table_name(index), 'kind': leftover['kind'],
                'base': plan.index_name(leftover['base']) if leftover['base'] else None, 'phase': phase,
                'action': action, 'reason': reason, 'bytes': int(index['bytes']), 'message': None,
            }
            self.reported[index['oid']] = report
            self.leftovers.append(report)
        return report

    def drop_leftover(self, leftover, reason, phase):
        """DROP INDEX CONCURRENTLY, tried again like a rebuild when a lock wait times out."""
        index = leftover['index']
        report = self._report(leftover, reason, phase, 'would_drop' if self.module.check_mode else 'failed')
        if self.module.check_mode or report['action'] == 'dropped':
            return report
        statement = pgsql.SQL('DROP INDEX CONCURRENTLY IF EXISTS {}').format(qualified_sql(index['schema'], index['name']))
        report['statement'] = statement.as_string(self.conn)
        attempts = 0
        while True:
            attempts += 1
            try:
                execute(self.conn, statement)
            except psycopg2.Error as e:
                failure = server_error(e)
                report['message'] = '; '.join(m for m in (report['message'], 'drop attempt in phase %s: %s' % (
                    phase, failure)) if m)
                if plan.retriable(e.pgcode) and attempts <= self.inputs.retries:
                    continue
                report['action'] = 'failed'
                return report
            report['action'] = 'dropped'
            self.dropped_bytes += int(index['bytes'])
            return report

    def apply_leftover_plan(self, planned, phase):
        for leftover, action, reason in planned:
            known = self.reported.get(leftover['index']['oid'])
            if known is not None and known['action'] != 'failed':
                continue  # reported before the rebuilds already
            if action == 'drop':
                self.drop_leftover(leftover, reason, phase)
            elif known is None:
                self._report(leftover, reason, phase, 'kept')

    def rebuild(self, entry):
        index = entry['index']
        report = {
            'index': plan.index_name(index), 'table': plan.table_name(index), 'reason': entry['reason'],
            'status': 'done', 'statement': entry['statement'], 'attempts': 0, 'bytes_before': int(index['bytes']),
            'bytes_after': None, 'duration_seconds': None, 'message': None,
            'estimated_bloat_bytes': (entry['estimate'] or {}).get('bloat_bytes'),
            'estimated_bloat_ratio': (entry['estimate'] or {}).get('bloat_ratio'),
        }
        current = table_stats.index_by_name(self.conn, index['schema'], index['name'])
        if current is None:
            report.update(status='failed', message='the index no longer exists')
            return report
        report['bytes_before'] = int(current['bytes'])
        started = time.monotonic()
        messages = []
        while True:
            report['attempts'] += 1
            before = plan.find_leftovers(table_stats.indexes_on_tables(self.conn, [index['table_oid']]))
            try:
                execute(self.conn, entry['sql'])
                break
            except psycopg2.Error as e:
                message = server_error(e)
                messages.append('attempt %d: %s' % (report['attempts'], message))
                if self.conn.closed:
                    messages.append('the connection to the server was lost, so the leftover index %s_ccnew the '
                                    'interrupted rebuild may have left is dropped by the next run that rebuilds %s'
                                    % (index['name'], plan.index_name(index)))
                    report['status'] = 'failed'
                    break
                retry = plan.retriable(e.pgcode) and report['attempts'] <= self.inputs.retries
                after = plan.find_leftovers(table_stats.indexes_on_tables(self.conn, [index['table_oid']]))
                for leftover in plan.new_leftovers(before, after):
                    why = ('left by attempt %d of this run (%s); dropped %s' % (
                        report['attempts'], message, 'before the retry' if retry else 'as the rebuild failed'))
                    self.drop_leftover(leftover, why, 'retry')
                if not retry:
                    report['status'] = 'failed'
                    break
        report['message'] = '; '.join(messages) or None
        report['duration_seconds'] = round(time.monotonic() - started, 3)
        after_index = None if self.conn.closed else table_stats.index_by_name(self.conn, index['schema'], index['name'])
        report['bytes_after'] = int(after_index['bytes']) if after_index else None
        return report


def planned_report(entry, status):
    index = entry['index']
    return {
        'index': plan.index_name(index), 'table': plan.table_name(index), 'reason': entry['reason'], 'status': status,
        'statement': entry['statement'], 'attempts': 0, 'bytes_before': int(index['bytes']), 'bytes_after': None,
        'duration_seconds': None, 'message': None,
        'estimated_bloat_bytes': (entry['estimate'] or {}).get('bloat_bytes'),
        'estimated_bloat_ratio': (entry['estimate'] or {}).get('bloat_ratio'),
    }


def summary(reports, leftovers, left, check_mode):
    dropped = [r for r in leftovers if r['action'] in ('dropped', 'would_drop')]
    if check_mode:
        parts = ['would rebuild %d index(es)%s' % (len(reports), ': %s' % ', '.join(r['index'] for r in reports)
                                                   if reports else '')]
        if dropped:
            parts.append('would drop %d leftover(s): %s' % (len(dropped), ', '.join(r['index'] for r in dropped)))
        return '; '.join(parts)
    done = [r for r in reports if r['status'] == 'done']
    reclaimed = sum(r['bytes_before'] - r['bytes_after'] for r in done if r['bytes_after'] is not None)
    parts = ['rebuilt %d of %d index(es), %s smaller' % (len(done), len(reports) - len(left), format_size(reclaimed))]
    if dropped:
        parts.append('dropped %d leftover(s): %s' % (len(dropped), ', '.join(r['index'] for r in dropped)))
    failed = [r for r in reports if r['status'] == 'failed']
    if failed:
        parts.append('failed: %s' % ', '.join('%s (%s)' % (r['index'], r['message']) for r in failed))
    failed_drops = [r for r in leftovers if r['action'] == 'failed']
    if failed_drops:
        parts.append('could not drop: %s' % ', '.join('%s (%s)' % (r['index'], r['message']) for r in failed_drops))
    if left:
        parts.append('not started after max_runtime: %s' % ', '.join(left))
    return '; '.join(parts)


def main():
    argument_spec = dict(
        indexes=dict(type='raw', default='auto'),
        schema=dict(type='str', default='public'),
        min_bloat_ratio=dict(type='float', default=30),
        min_index_size=dict(type='raw', default='10MB'),
        min_scans=dict(type='int', default=0),
        retries=dict(type='int', default=1),
        max_runtime=dict(type='raw'),
    )
    argument_spec.update(write_argument_spec())
    module = prefect_module(argument_spec, supports_check_mode=True)
    inputs = Inputs(module)

    conn = connect(module)
    try:
        with exclusive_run(module, conn, MODULE_NAME):
            set_session_timeouts(conn, lock_timeout=inputs.lock_timeout)
            info = table_stats.server_info(conn)
            if info['server_version_num'] < plan.REINDEX_CONCURRENTLY_SINCE:
                module.fail_json(msg='REINDEX CONCURRENTLY needs PostgreSQL 12 or newer; the server is %s. Nothing was '
                                     'changed.' % info['server_version'], changed=False)
            worker = Reindexer(module, conn, inputs)
            entries, not_selected, tables, indexes = worker.choose(info['block_size'])
            for entry in entries:
                entry['sql'] = pgsql.SQL('REINDEX INDEX CONCURRENTLY {}').format(
                    qualified_sql(entry['index']['schema'], entry['index']['name']))
                entry['statement'] = entry['sql'].as_string(conn)
            rebuilding = set((e['index']['schema'], e['index']['name']) for e in entries)
            result = dict(
                selection='auto' if inputs.auto else 'list', left=[],
                not_selected=[{'index': plan.index_name(e['index']), 'table': plan.table_name(e['index']),
                               'reason': e['reason']} for e in not_selected],
            )

            worker.apply_leftover_plan(worker.leftover_plan(indexes, rebuilding), 'before')
            if module.check_mode:
                reports = [planned_report(e, 'planned') for e in entries]
                result.update(indexes=reports, leftovers=worker.leftovers, bytes_reclaimed=0)
                changed = bool(reports) or any(r['action'] == 'would_drop' for r in worker.leftovers)
                module.exit_json(changed=changed, msg=summary(reports, worker.leftovers, [], True), **jsonable(result))

            reports, left, started = [], [], None
            for entry in entries:
                now = time.monotonic()
                if started is None:
                    started = now
                elif inputs.max_runtime is not None and now - started >= inputs.max_runtime:
                    left.append(plan.index_name(entry['index']))
                    reports.append(planned_report(entry, 'not_started'))
                    continue
                try:
                    reports.append(worker.rebuild(entry))
                except psycopg2.Error as e:  # reading the catalogs around it failed
                    failed = planned_report(entry, 'failed')
                    failed['message'] = server_error(e)
                    reports.append(failed)
            # after: what the rebuilds (or someone else meanwhile) left on these tables
            try:
                worker.apply_leftover_plan(
                    worker.leftover_plan(table_stats.indexes_on_tables(conn, tables), rebuilding), 'after')
            except psycopg2.Error as e:
                after_scan_error = 'the search for leftovers after the rebuilds failed: %s' % server_error(e)
            else:
                after_scan_error = None

            done = [r for r in reports if r['status'] == 'done']
            result.update(indexes=reports, leftovers=worker.leftovers, left=left,
                          bytes_reclaimed=sum(r['bytes_before'] - r['bytes_after'] for r in done
                                              if r['bytes_after'] is not None) + worker.dropped_bytes)
            changed = bool(done) or any(r['action'] == 'dropped' for r in worker.leftovers)
            msg = summary(reports, worker.leftovers, left, False)
            if after_scan_error:
                msg = '%s; %s' % (msg, after_scan_error)
            if (after_scan_error or any(r['status'] == 'failed' for r in reports)
                    or any(r['action'] == 'failed' for r in worker.leftovers)):
                module.fail_json(changed=changed, msg='%s. Indexes not marked done are as before.' % msg,
                                 **jsonable(result))
            module.exit_json(changed=changed, msg=msg, **jsonable(result))
    except psycopg2.Error as e:
        module.fail_json(changed=False, msg='reindex: the server refused a statement while planning: %s. '
                                            'Nothing was changed.' % server_error(e))
    finally:
        conn.close()


if __name__ == '__main__':
    main()
