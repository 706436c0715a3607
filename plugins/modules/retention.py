#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: prefectdb.maintenance contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: retention
short_description: Prefect data retention with the semantics of Prefect's db vacuum service, in short batches
version_added: 0.1.0
description:
  - Deletes what Prefect 3.9.1's database vacuum service (C(prefect.server.services.db_vacuum)) deletes,
    with the same settings and the same result, but in short transactions that walk each table once
    instead of re-scanning it batch after batch.
  - C(events) deletes events of the types in O(event_retention_overrides) older than their period
    (each capped at O(events_retention_period)) with their event_resources, then every event and
    event_resources row older than O(events_retention_period) (event_resources by their own C(occurred), as Prefect).
  - C(flow_runs) deletes top-level flow runs in a terminal state (COMPLETED, FAILED, CANCELLED,
    CRASHED) whose C(end_time) is set and older than O(retention_period). Foreign keys cascade to
    their states, task runs and task run states, and inputs. Their logs and artifacts are deleted in
    the same transaction, so no orphans are made. Subflows of a deleted run become top-level (the
    foreign key sets C(parent_task_run_id) to null) and are deleted in the same run when they
    qualify themselves, as Prefect's loop does.
  - C(flow_runs) also turns on the three cleanups of C(orphans), as in Prefect; C(orphans) alone turns on
    just those. Logs and artifacts whose C(flow_run_id) names no flow run are deleted (rows with a null
    C(flow_run_id) are kept). Artifact collections whose C(latest_id) names no artifact are re-pointed to
    the newest artifact left with the same key, copying the columns Prefect copies, or deleted when none is left.
  - Every batch is one transaction of about O(target_batch_seconds). A batch that meets a lock
    (O(lock_timeout)) or runs past O(statement_timeout) is rolled back and retried smaller, then
    skipped with a warning. O(max_runtime) stops the run cleanly; the next run finds what is left
    with the same queries (nothing is stored outside the database).
  - In check mode, the module counts exactly what each cleanup would delete or re-point, and deletes nothing.
author:
  - prefectdb.maintenance developers (@prefectdb)
extends_documentation_fragment:
  - prefectdb.maintenance.connection
  - prefectdb.maintenance.write_safety
attributes:
  check_mode:
    support: full
    description: Counts what each cleanup would delete or re-point, exactly, with read-only queries.
  diff_mode:
    support: none
    description: Rows are not shown; the result counts them per table.
options:
  enabled:
    description:
      - Which cleanups run, as C(PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED).
      - C(events) ages out events; C(flow_runs) deletes old flow runs and turns on C(orphans);
        C(orphans) deletes orphaned logs and artifacts and reconciles stale artifact collections.
      - An empty list does nothing.
    type: list
    elements: str
    choices: [events, flow_runs, orphans]
    default: [events]
  retention_period:
    description:
      - How long after its C(end_time) a top-level terminal flow run is kept, as
        C(PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD). Must be more than 1 hour, as Prefect requires.
      - Seconds or a duration such as C(90d), C(36h) or C(P90D).
    type: raw
    default: 90d
  events_retention_period:
    description:
      - How long events are kept, as C(PREFECT_EVENTS_RETENTION_PERIOD) (C(PREFECT_SERVER_EVENTS_RETENTION_PERIOD)).
    type: raw
    default: 7d
  event_retention_overrides:
    description:
      - Shorter retention for some event types, as C(PREFECT_SERVER_SERVICES_DB_VACUUM_EVENT_RETENTION_OVERRIDES),
        a mapping of event type to duration.
      - An override longer than O(events_retention_period) is capped at it, with a warning (an override can only
        shorten the retention, as in Prefect).
      - Set to C({}) for none.
    type: dict
    default: {prefect.flow-run.heartbeat: 7d}
  batch_size:
    description:
      - Rows in the first batch of each cleanup, as C(PREFECT_SERVER_SERVICES_DB_VACUUM_BATCH_SIZE). The size then
        adapts to O(target_batch_seconds), up to O(max_batch_size).
      - For the orphan hunts a batch counts index entries read, ten times as many.
    type: int
    default: 200
  max_batch_size:
    description:
      - The largest batch, in rows (flow runs for the flow-run cleanup).
    type: int
    default: 50000
  target_batch_seconds:
    description:
      - How long one batch transaction should take; the batch size grows or shrinks towards it.
      - Short batches keep the WAL written at a stretch small, so the server's commits that arrive meanwhile wait
        less, at some cost in speed (more, smaller statements); under O(max_wal_rate) the run takes about as long
        either way.
    type: float
    default: 0.25
  statement_timeout:
    description:
      - The longest one statement of a batch may run before it is cancelled, rolled back and retried smaller.
      - At least twice O(target_batch_seconds).
    type: raw
    default: 30s
  now:
    description:
      - The moment the periods count back from, as ISO-8601 (C(2026-01-01T00:00:00Z)); without an offset, UTC.
      - Unset, the database's clock (C(now())). Set it for deterministic previews and tests.
    type: str
  max_runtime:
    description:
      - Stop starting batches after this long (a duration) and report the cleanups left as C(stopped).
        Unset, the run goes to the end.
      - A batch in flight finishes first, so the run may overshoot by about O(target_batch_seconds).
    type: raw
  max_wal_rate:
    description:
      - The most WAL the batches may write per second, on average, as bytes or a size (C(4MB)); C(0) for no limit.
      - After each batch the module rests as long as it takes to stay at this rate. WAL is what a live Prefect
        server's commits wait for (each commit flushes every WAL record written before it, the batches' too),
        what standbys replay and what WAL archiving ships; at full speed the batches write tens of MB a second
        and the server's commits wait tens to hundreds of milliseconds (benchmarks/RESULTS.md, light touch).
      - The WAL of a batch is read from the server's WAL position, so it includes what other sessions wrote
        meanwhile, and the rest errs on the long side.
      - The default, no limit, deletes as fast as set-based SQL. On a busy server where commit latency matters more
        than how long retention takes, set it (C(4MB) with O(target_batch_seconds=0.05) kept the Prefect
        workload's p99 within 1.4 times its idle p99, at 19.5 times the run time; benchmarks/RESULTS.md).
    type: raw
    default: 0
  vacuum_after:
    description:
      - After the cleanups, run C(VACUUM (ANALYZE)) on each table rows were deleted from or updated in,
        outside any transaction. Skipped, with a warning, when the run stopped at O(max_runtime).
    type: bool
    default: false
  vacuum_cost_delay:
    description:
      - Milliseconds the O(vacuum_after) VACUUM sleeps per 200 cost units (this session's C(vacuum_cost_delay)
        and C(vacuum_cost_limit)), as the O(prefectdb.maintenance.vacuum#module:cost_delay) option of
        M(prefectdb.maintenance.vacuum) does.
      - The default 2 is autovacuum's own pace. An unthrottled VACUUM (C(0)) writes WAL as fast as the disk goes and
        a live server's commits wait behind it; at 2 the light-touch benchmark's Prefect workload kept its p99
        within 1.21 times idle, at 6.6 times the run time (benchmarks/RESULTS.md). C(0) for a quiet hour.
      - From 0 to 100.
    type: float
    default: 2
notes:
  - Needs DELETE and UPDATE on Prefect's tables, and ownership of them (or C(pg_maintain)) for O(vacuum_after).
  - Batches commit with C(synchronous_commit=off) (this session only), so a batch does not wait for its WAL to reach
    the disk; a server crash can undo the last fraction of a second of deletions, which the next run deletes again.
  - The result's per-cleanup figures count every row deleted, those the foreign keys cascaded to included
    (from the transaction's own statistics).
seealso:
  - module: prefectdb.maintenance.vacuum
  - name: Prefect's database vacuum service
    description: The settings these options mirror.
    link: https://docs.prefect.io/v3/advanced/database-maintenance
'''

EXAMPLES = r'''
- name: Age out events as Prefect does by default (7 days, heartbeats 7 days)
  prefectdb.maintenance.retention:
    login_host: db.example.com
    login_user: prefect
    login_password: "{{ vault_prefect_db_password }}"
    login_db: prefect

- name: Delete flow runs that ended more than 30 days ago, with their logs and artifacts, at most 20 minutes
  prefectdb.maintenance.retention:
    enabled: [events, flow_runs]
    retention_period: 30d
    max_runtime: 20m
    vacuum_after: true
  register: retention

- name: Preview what a 14-day event retention would delete
  prefectdb.maintenance.retention:
    events_retention_period: 14d
    event_retention_overrides:
      prefect.flow-run.heartbeat: 2d
  check_mode: true
  register: preview

- name: Show it
  ansible.builtin.debug:
    msg: "{{ preview.cleanups.old_events.deleted }}"
'''

RETURN = r'''
now:
  description: The moment the periods counted back from (O(now) or the database's clock), in UTC.
  returned: always
  type: str
  sample: "2026-01-01T00:00:00Z"
cutoffs:
  description: Rows older than these went (or would go).
  returned: always
  type: dict
  contains:
    flow_runs:
      description: C(end_time) cutoff of flow runs, or null when C(flow_runs) is not enabled.
      type: str
      sample: "2025-10-03T00:00:00Z"
    events:
      description: C(occurred) cutoff of events, or null when C(events) is not enabled.
      type: str
      sample: "2025-12-25T00:00:00Z"
    event_retention_overrides:
      description: C(occurred) cutoff per overridden event type, after the cap.
      type: dict
      sample: {"prefect.flow-run.heartbeat": "2025-12-25T00:00:00Z"}
settings:
  description: The effective settings, durations in seconds, overrides after the cap.
  returned: always
  type: dict
  sample: {"enabled": ["events"], "retention_period": 7776000, "events_retention_period": 604800,
           "event_retention_overrides": {"prefect.flow-run.heartbeat": 604800}, "batch_size": 200,
           "vacuum_cost_delay": 2.0}
cleanups:
  description:
    - One entry per cleanup that ran, in the order they ran; keys among C(orphaned_logs), C(orphaned_artifacts),
      C(old_flow_runs), C(stale_artifact_collections), C(event_retention_overrides), C(old_events).
  returned: always
  type: dict
  contains:
    status:
      description: C(finished); C(stopped) at O(max_runtime) or on a lock it could not get past; C(not_started);
        C(counted) in check mode.
      type: str
      sample: finished
    deleted:
      description: Rows deleted (check mode, that would be) per table, cascaded rows included.
      type: dict
      sample: {"flow_run": 9523, "flow_run_state": 28100, "task_run": 28000, "task_run_state": 84000,
               "log": 95574, "artifact": 2831}
    updated:
      description: Rows updated per table (artifact collections re-pointed).
      type: dict
      sample: {"artifact_collection": 8}
    batches:
      description: Batch transactions committed.
      type: int
      sample: 41
    retries:
      description: Batches rolled back on a lock or statement timeout and retried smaller.
      type: int
      sample: 0
    skipped_batches:
      description: Batches skipped after their retries; their rows are left for the next run.
      type: int
      sample: 0
    seconds:
      description: Wall time of the cleanup.
      type: float
      sample: 2.41
    rows_per_second:
      description: Rows deleted or updated per second.
      type: int
      sample: 98200
    batch_seconds:
      description: p50, p95 and max of the batch transaction times (null in check mode).
      type: dict
      sample: {"p50": 0.21, "p95": 0.27, "max": 0.31}
    strategy:
      description: How the event cleanups walked each table, C(range) (time ranges along the occurred index)
        or C(sweep) (the heap in page ranges, when most of the table goes).
      type: dict
      returned: for the event cleanups
      sample: {"event_resources": "sweep", "events": "sweep"}
    wal_bytes:
      description: WAL the server wrote while the cleanup's batches ran (theirs, and other sessions' meanwhile).
      type: int
      returned: when a batch ran
      sample: 52428800
    paused_seconds:
      description: Time spent resting between batches to stay at O(max_wal_rate) (part of RV(cleanups.seconds)).
      type: float
      returned: when a batch ran
      sample: 11.4
deleted:
  description: Rows deleted (would be, in check mode) per table, over all cleanups.
  returned: always
  type: dict
  sample: {"events": 288192, "event_resources": 748778}
updated:
  description: Rows updated per table, over all cleanups.
  returned: always
  type: dict
  sample: {"artifact_collection": 8}
status:
  description: C(finished) when every cleanup finished, C(stopped) otherwise, C(counted) in check mode.
  returned: always
  type: str
  sample: finished
seconds:
  description: Wall time of the cleanups (without O(vacuum_after)).
  returned: always
  type: float
  sample: 12.7
vacuumed:
  description: Seconds of C(VACUUM (ANALYZE)) per table, with O(vacuum_after).
  returned: always
  type: dict
  sample: {"events": 1.9, "event_resources": 2.3}
peak_memory_kb:
  description: Peak resident memory of the module's process, in KiB (C(ru_maxrss)).
  returned: always
  type: int
  sample: 38200
'''

import resource
import time

from ansible_collections.prefectdb.maintenance.plugins.module_utils.connection import (
    connect, exclusive_run, prefect_module, set_session_timeouts, write_argument_spec)
from ansible_collections.prefectdb.maintenance.plugins.module_utils.results import iso_utc
from ansible_collections.prefectdb.maintenance.plugins.module_utils.retention_engine import (
    EngineError, RetentionEngine, count_cleanups, database_now, missing_tables, vacuum_tables)
from ansible_collections.prefectdb.maintenance.plugins.module_utils.retention_plan import (
    DEFAULT_BATCH_SIZE, DEFAULT_ENABLED, DEFAULT_EVENT_RETENTION_OVERRIDES, DEFAULT_EVENTS_RETENTION_PERIOD,
    DEFAULT_MAX_BATCH_SIZE, DEFAULT_MAX_WAL_RATE, DEFAULT_RETENTION_PERIOD, DEFAULT_STATEMENT_TIMEOUT,
    DEFAULT_TARGET_BATCH_SECONDS, DEFAULT_VACUUM_COST_DELAY_MS, VACUUM_TYPES, PlanError, build_plan)

MODULE = 'retention'


def argument_spec():
    spec = dict(
        enabled=dict(type='list', elements='str', choices=list(VACUUM_TYPES), default=list(DEFAULT_ENABLED)),
        retention_period=dict(type='raw', default=DEFAULT_RETENTION_PERIOD),
        events_retention_period=dict(type='raw', default=DEFAULT_EVENTS_RETENTION_PERIOD),
        event_retention_overrides=dict(type='dict', default=dict(DEFAULT_EVENT_RETENTION_OVERRIDES)),
        batch_size=dict(type='int', default=DEFAULT_BATCH_SIZE),
        max_batch_size=dict(type='int', default=DEFAULT_MAX_BATCH_SIZE),
        target_batch_seconds=dict(type='float', default=DEFAULT_TARGET_BATCH_SECONDS),
        statement_timeout=dict(type='raw', default=DEFAULT_STATEMENT_TIMEOUT),
        now=dict(type='str'),
        max_runtime=dict(type='raw'),
        vacuum_after=dict(type='bool', default=False),
        max_wal_rate=dict(type='raw', default=DEFAULT_MAX_WAL_RATE),
        vacuum_cost_delay=dict(type='float', default=DEFAULT_VACUUM_COST_DELAY_MS),
    )
    spec.update(write_argument_spec())
    return spec


def totals(results):
    deleted, updated = {}, {}
    for result in results:
        for target, counts in ((deleted, result.deleted), (updated, result.updated)):
            for table, count in counts.items():
                target[table] = target.get(table, 0) + count
    return deleted, updated


def summary(deleted, updated, check_mode):
    parts = ['%d %s' % (count, table) for table, count in sorted(deleted.items(), key=lambda item: -item[1])]
    parts += ['%d %s re-pointed' % (count, table) for table, count in sorted(updated.items())]
    if not parts:
        return 'nothing to delete'
    return '%s %s' % ('would delete' if check_mode else 'deleted', ', '.join(parts))


def peak_memory_kb():
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def main():
    module = prefect_module(argument_spec(), supports_check_mode=True)
    try:
        plan = build_plan(module.params)
    except PlanError as e:
        module.fail_json(msg='%s: %s; nothing was changed.' % (MODULE, e), changed=False)
    for warning in plan.warnings:
        module.warn(warning)

    conn = connect(module)
    result = {'cleanups': {}, 'deleted': {}, 'updated': {}, 'vacuumed': {},
              'settings': plan.settings()}
    with exclusive_run(module, conn, MODULE):
        missing = missing_tables(conn, plan.cleanups)
        if missing:
            module.fail_json(msg='%s: this is not a Prefect database (or not on the search_path): missing table %s; '
                                 'nothing was changed.' % (MODULE, ', '.join(missing)), changed=False, **result)
        if plan.now is None:
            plan.set_now(database_now(conn))
        result['now'] = iso_utc(plan.now)
        result['cutoffs'] = {
            'flow_runs': iso_utc(plan.flow_run_cutoff()) if 'flow_runs' in plan.enabled else None,
            'events': iso_utc(plan.events_cutoff()) if 'events' in plan.enabled else None,
            'event_retention_overrides': dict((t, iso_utc(c)) for t, c in plan.override_cutoffs())
            if 'events' in plan.enabled else {},
        }
        began = time.monotonic()
        if module.check_mode:
            set_session_timeouts(conn, lock_timeout=plan.lock_timeout, statement_timeout=plan.max_runtime or 0)
            results = count_cleanups(conn, plan)
            status = 'counted'
        else:
            engine = RetentionEngine(conn, plan, module.warn)
            try:
                results = engine.run()
            except EngineError as e:
                deleted, updated = totals(e.results)
                result.update(cleanups=dict((r.name, r.as_dict()) for r in e.results), deleted=deleted,
                              updated=updated, peak_memory_kb=peak_memory_kb())
                module.fail_json(msg='%s; the batches committed before it stay deleted (%s), the rest is untouched.'
                                 % (e, summary(deleted, updated, False)), changed=bool(deleted or updated), **result)
            status = 'stopped' if any(r.status != 'finished' for r in results) else 'finished'
        result['seconds'] = round(time.monotonic() - began, 3)
        deleted, updated = totals(results)
        if plan.vacuum_after and not module.check_mode and (deleted or updated):
            if status == 'stopped':
                module.warn('retention: vacuum_after skipped because the run stopped at max_runtime; '
                            'autovacuum will get to the tables.')
            else:
                tables = sorted(set(deleted) | set(updated))
                result['vacuumed'] = vacuum_tables(conn, tables, module.warn, plan.vacuum_cost_delay)
    conn.close()
    result.update(
        cleanups=dict((r.name, r.as_dict()) for r in results), deleted=deleted, updated=updated, status=status,
        changed=bool(deleted or updated), peak_memory_kb=peak_memory_kb())
    stopped = [r.name for r in results if r.status not in ('finished', 'counted')]
    msg = 'retention: %s in %.1f s' % (summary(deleted, updated, module.check_mode), result['seconds'])
    if stopped:
        msg += '; stopped before finishing %s (the next run resumes where the data left off)' % ', '.join(stopped)
    result['msg'] = msg
    module.exit_json(**result)


if __name__ == '__main__':
    main()
