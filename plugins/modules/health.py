#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: prefectdb.maintenance contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: health
short_description: Read-only health checks of a Prefect server's PostgreSQL database
version_added: 0.1.0
description:
  - Runs the checks of Prefect's database maintenance guide and what PostgreSQL monitors add to them, and
    returns what it measured (RV(facts)) and what needs attention (RV(findings)).
  - Every query reads catalogs and statistics; none reads a Prefect table's rows. Prefect facts come from
    index ends (the oldest event, the oldest eligible flow run) and a 7-day index range (flow runs per day),
    so the run time does not grow with the size of the tables.
  - It changes nothing, except its own history table (O(history)), which is skipped in check mode, on a
    standby and without privilege, each with a finding rather than a failure.
  - A login with only C(pg_monitor) runs every check. Without SELECT on C(events) and C(flow_run) the
    prefect check reports what statistics show and says what it could not see; without SELECT on a table
    its bloat estimate falls back to the space of dead rows (a lower bound).
author:
  - prefectdb.maintenance developers (@prefectdb)
extends_documentation_fragment:
  - prefectdb.maintenance.connection
attributes:
  check_mode:
    support: full
    description: The same facts and findings; the history snapshot is not written.
  diff_mode:
    support: none
    description: Nothing is changed.
options:
  checks:
    description:
      - Which checks to run; the default runs all.
      - C(tables) sizes, row estimates, dead rows, vacuum and analyze times, reloptions, relfrozenxid age.
      - C(bloat) estimated wasted space of tables and B-tree indexes, with pgstattuple_approx for flagged tables.
      - C(indexes) size, scans, unused and invalid indexes.
      - C(disk) filesystem or stated volume usage.
      - C(autovacuum) server settings and per table the time since the last (auto)vacuum.
      - C(connections) connections against max_connections.
      - C(xmin) what holds the xmin horizon back (transactions, prepared transactions, slots, standbys).
      - C(wraparound) transaction and multixact ID age of every database.
      - C(checkpoints) timed and requested checkpoints since the statistics reset (C(pg_stat_checkpointer) from
        PostgreSQL 17, C(pg_stat_bgwriter) before), with max_wal_size and checkpoint_timeout.
      - C(prefect) event and flow run ages, runs per day, retention drift.
      - C(growth) the history snapshot and growth per day, days until the disk is full.
      - The hourly playbook runs C([disk, connections]).
    type: list
    elements: str
    choices: [tables, bloat, indexes, disk, autovacuum, connections, xmin, wraparound, checkpoints, prefect, growth]
    default: [tables, bloat, indexes, disk, autovacuum, connections, xmin, wraparound, checkpoints, prefect, growth]
  top_tables:
    description:
      - How many of the largest tables RV(facts.tables) reports. The Prefect tables are always reported, and
        so is any table a finding names.
    type: int
    default: 20
  fail_on:
    description:
      - Fail the task when a finding is at least this severe, after returning the full result
        (for AWX/Tower notifications). C(none) never fails on findings.
    type: str
    choices: [none, warning, critical]
    default: none
  thresholds:
    description:
      - When a finding is a warning or critical. Defaults follow Prefect's database maintenance guide where
        it gives a figure. Durations take seconds or strings such as C(24h), C(5m), C(P1D).
    type: dict
    default: {}
    suboptions:
      disk_used_warning_percent:
        description: Disk used above this is a warning (an early warning; the guide gives only the 80% red flag).
        type: float
        default: 70.0
      disk_used_critical_percent:
        description: Disk used above this is critical (the guide's red flag).
        type: float
        default: 80.0
      disk_full_warning_days:
        description: A disk full in fewer days than this at the measured growth rate is a warning.
        type: float
        default: 30.0
      disk_full_critical_days:
        description: A disk full in fewer days than this is critical.
        type: float
        default: 7.0
      dead_rows_monitor_percent:
        description: Dead-row ratio (n_dead_tup / n_live_tup x 100) above this is a warning to monitor (the guide's 20%).
        type: float
        default: 20.0
      dead_rows_vacuum_percent:
        description: Dead-row ratio above this is a warning recommending a manual VACUUM (the guide's 50%).
        type: float
        default: 50.0
      dead_rows_critical_percent:
        description: Dead-row ratio above this is critical (the guide's 100%).
        type: float
        default: 100.0
      dead_rows_min:
        description: Tables with fewer dead rows than this are not judged by their ratio.
        type: int
        default: 1000
      bloat_warning_percent:
        description:
          - Estimated table bloat (wasted space relative to the space in use, the guide's scale) above this is a warning.
        type: float
        default: 50.0
      bloat_critical_percent:
        description:
          - Estimated table bloat above this is critical when the estimate is reliable or measured by
            pgstattuple_approx; an unreliable estimate stays a warning.
        type: float
        default: 100.0
      bloat_min_bytes:
        description: Tables and indexes wasting less than this are not reported as bloated; also the size
          from which pgstattuple_approx is used.
        type: int
        default: 10485760
      index_bloat_warning_percent:
        description: Estimated B-tree index bloat above this is a warning.
        type: float
        default: 100.0
      unused_index_min_bytes:
        description: Indexes smaller than this are not listed as unused.
        type: int
        default: 10485760
      connections_warning_percent:
        description: Connections in use above this share of the usable ones is a warning.
        type: float
        default: 80.0
      connections_critical_percent:
        description: Connections in use above this share of the usable ones is critical.
        type: float
        default: 90.0
      autovacuum_stale_after:
        description: An active table not (auto)vacuumed for longer than this is a warning (the guide's 24 hours).
        type: raw
        default: 24h
      autovacuum_max_per_day:
        description:
          - A table autovacuumed more often than this many times a day, measured between the stored snapshots of
            O(history) (over 7 days, else 1 day), is a warning (finding C(autovacuum_frequent), check C(growth)).
        type: float
        default: 48.0
      active_table_min_changes:
        description: A table is active when at least this many rows changed since its last vacuum.
        type: int
        default: 1000
      transaction_max_age:
        description: A transaction open longer than this is a warning.
        type: raw
        default: 1h
      idle_in_transaction_max_age:
        description: A session idle in transaction longer than this is a warning.
        type: raw
        default: 5m
      prepared_transaction_max_age:
        description: A prepared transaction older than this is a warning; the default C(0s) reports every one
          (Prefect never prepares transactions, and each holds the xmin horizon).
        type: raw
        default: 0s
      xmin_horizon_max_age:
        description:
          - A replication slot or standby feedback holding the xmin horizon more than this many transactions back
            is a warning. An inactive slot holding it is a warning at any age.
        type: int
        default: 10000000
      wraparound_warning_percent:
        description: Transaction ID age above this share of autovacuum_freeze_max_age (multixact age of
          autovacuum_multixact_freeze_max_age) is a warning.
        type: float
        default: 50.0
      wraparound_critical_percent:
        description: Transaction or multixact ID age above this share is critical.
        type: float
        default: 80.0
      checkpoints_requested_percent:
        description:
          - A share of requested (WAL-triggered) checkpoints above this, of all checkpoints since the statistics
            reset, is a warning (finding C(checkpoints_requested)) - max_wal_size is too small for the write load.
        type: float
        default: 30.0
      checkpoints_min_count:
        description:
          - With fewer checkpoints than this since the statistics reset, the share of requested ones is not
            judged, so a freshly reset counter says nothing.
        type: int
        default: 10
  disk_total_bytes:
    description:
      - The size of the database volume, for managed databases where the module cannot stat() the data
        directory. Used space is then every database plus WAL.
      - When set it takes precedence over the filesystem figures.
      - Without it and without access to the data directory, disk usage is C(unknown), never guessed.
    type: int
  events_retention_period:
    description:
      - The events retention the server is configured with (C(PREFECT_SERVER_EVENTS_RETENTION_PERIOD),
        Prefect's default 7 days); the oldest event is compared with it.
    type: raw
    default: 7d
  flow_run_retention_period:
    description:
      - The flow run retention in force (C(PREFECT_SERVER_SERVICES_DB_VACUUM_RETENTION_PERIOD), Prefect's
        default 90 days, or the retention module's); the oldest eligible flow run is compared with it.
      - Set to null when no flow run retention is wanted, to skip that comparison.
    type: raw
    default: 90d
  event_retention_overrides:
    description:
      - Per event type retention (C(PREFECT_SERVER_SERVICES_DB_VACUUM_EVENT_RETENTION_OVERRIDES)), capped by
        O(events_retention_period); the oldest event of each type is compared with it.
    type: dict
    default: {prefect.flow-run.heartbeat: 7d}
  retention_grace:
    description: How far past a retention period data may be before it counts as drift (retention runs periodically).
    type: raw
    default: 1d
  history:
    description:
      - Store a compact snapshot per run in O(history_schema).health_snapshot (created on first use) and report
        growth per day over 1, 7 and 30 days. Only runs that include the C(growth) check record one.
    type: bool
    default: true
  history_schema:
    description:
      - Schema of the history table, written as the other modules take names - a plain identifier (letters, digits
        and C(_), folded to lower case) or a double-quoted one (C('"Ops History"')). Anything else fails the module.
    type: str
    default: prefectdb_maintenance
  history_keep:
    description: Snapshots older than this are deleted when a new one is recorded.
    type: raw
    default: 90d
  pgstattuple:
    description:
      - Use pgstattuple_approx() (extension pgstattuple, executable by pg_stat_scan_tables and so pg_monitor)
        for tables the estimate flags and that are at least O(thresholds.bloat_min_bytes). It reads the pages
        the visibility map does not mark all-visible.
    type: bool
    default: true
  statement_timeout:
    description: statement_timeout of the module's session; a check whose query exceeds it reports a
      C(check_failed) finding and the others still run.
    type: raw
    default: 30s
  lock_timeout:
    description:
      - lock_timeout of the module's session. Sizes need a share lock on each relation; when one is locked
        exclusively (VACUUM FULL, a rewrite) the sizes of the last VACUUM/ANALYZE are used instead.
    type: raw
    default: 5s
notes:
  - The bloat estimate, its error against pgstattuple and the benchmark figures are in the collection's
    docs/health.md.
seealso:
  - module: prefectdb.maintenance.info
  - name: Prefect database maintenance guide
    description: The checks and thresholds this module follows.
    link: https://docs.prefect.io/v3/advanced/database-maintenance
'''

EXAMPLES = r'''
- name: Full health check, fail the task on a critical finding
  prefectdb.maintenance.health:
    fail_on: critical
  register: health

- name: Hourly, only the red flags that move fast
  prefectdb.maintenance.health:
    checks: [disk, connections]
    disk_total_bytes: 107374182400   # a managed database with a 100 GiB volume

- name: Show what needs attention
  ansible.builtin.debug:
    msg: "{{ health.findings | selectattr('severity', 'ne', 'ok') | map(attribute='message') | list }}"

- name: Stricter thresholds and Prefect's retention settings
  prefectdb.maintenance.health:
    events_retention_period: 3d
    flow_run_retention_period: 30d
    thresholds:
      dead_rows_vacuum_percent: 30
      transaction_max_age: 15m
'''

RETURN = r'''
msg:
  description: One line naming the worst findings, or saying there is none.
  returned: always
  type: str
  sample: "health of prefect: 1 critical, 2 warning: critical dead_rows public.log; warning retention_drift events"
changed:
  description: True only when the history schema and table were created by this run.
  returned: always
  type: bool
summary:
  description: Counts of findings by severity, the worst severity and the ids of non-ok findings.
  returned: always
  type: dict
  sample: {"worst": "warning", "critical": 0, "warning": 2, "ok": 18, "ids": ["retention_drift"]}
checks:
  description: The checks that ran.
  returned: always
  type: list
  elements: str
findings:
  description:
    - What needs attention, and one C(ok) finding per rule that found nothing, so every rule's state shows.
    - Ids are stable - dead_rows, table_bloat, index_bloat, invalid_index, disk_used, autovacuum_off,
      autovacuum_disabled, autovacuum_stale, connections, long_transaction, idle_in_transaction,
      prepared_transaction, replication_slot, standby_xmin, xid_wraparound, mxid_wraparound,
      checkpoints_requested, prefect_access, retention_drift, events_retention_recommendation,
      history_not_recorded, disk_full_forecast, autovacuum_frequent, check_failed.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Rule id.
      type: str
      sample: dead_rows
    check:
      description: The check the rule belongs to.
      type: str
      sample: tables
    severity:
      description: C(ok), C(warning) or C(critical).
      type: str
      sample: critical
    subject:
      description: What the finding is about (a table, a session, a slot, the disk).
      type: str
      sample: public.log
    value:
      description: The measured value (percent, seconds, days, transaction ages), or null.
      type: raw
      sample: 150.0
    threshold:
      description: The threshold it was compared with, or null.
      type: raw
      sample: 100.0
    message:
      description: What was found, for a person.
      type: str
    remediation:
      description: What to do about it, or null.
      type: str
facts:
  description: What was measured, one key per check that ran (null when the check failed) plus C(database).
    Bytes are integers, times ISO-8601 UTC, ages in seconds, percentages floats.
  returned: always
  type: dict
  contains:
    database:
      description: name, size_bytes, server_version, server_version_num, in_recovery, block_size, collected_at,
        postmaster_start_time, stats_reset (when statistics of this database began), login (user, is_superuser, roles).
      type: dict
    tables:
      description:
        - tables (list, largest first) with qualified, is_prefect, total_bytes, heap_bytes, index_bytes,
          toast_bytes, rows_estimate (pg_class.reltuples), live_rows, dead_rows, dead_row_ratio_percent
          (the guide's n_dead_tup / n_live_tup x 100), last_vacuum, last_autovacuum, last_analyze,
          last_autoanalyze and their counts, seconds_since_vacuum, relfrozenxid_age, relminmxid_age,
          reloptions, toast_reloptions and autovacuum (the settings in effect and where each comes from).
        - table_count, reported, top_tables, sizes_method.
      type: dict
    bloat:
      description:
        - tables and indexes (lists) with relation, method (C(pg_stats), C(dead_rows) lower bound,
          C(catalog_widths), null when not estimated), actual_bytes, expected_bytes, wasted_bytes, wasted_percent,
          bloat_ratio_percent (wasted relative to the space in use), reliable, reasons; tables also
          pgstattuple_approx (the measured heap figures or null) and toast_pgstattuple_approx (measured for
          TOAST-heavy tables, whose TOAST the estimate does not cover).
        - pgstattuple (installed, usable, used_for).
      type: dict
    indexes:
      description: indexes of the reported tables (size, scans, tuples read/fetched, valid), unused (0 scans, not
        unique, at least thresholds.unused_index_min_bytes), unused_bytes, invalid (including *_ccnew/*_ccold
        leftovers of failed concurrent builds), index_count.
      type: dict
    disk:
      description: data_directory, method (C(statvfs), C(disk_total_bytes) or C(unknown)), verified, total_bytes,
        available_bytes, used_bytes, used_percent, database_bytes, cluster_bytes, wal_bytes, reason.
      type: dict
    autovacuum:
      description: settings (durations in seconds, memory in bytes), workers_running, workers, and per table
        enabled, seconds_since_vacuum, changes_since_vacuum, the dead-row and insert triggers and vacuum_due.
      type: dict
    connections:
      description: total, active, idle, idle_in_transaction, this_database, replication, max_connections,
        superuser_reserved_connections, reserved_connections, usable, used_percent, by_application.
      type: dict
    xmin:
      description: horizon (oldest_xmin_age and what holds it), sessions with a transaction or snapshot (age,
        state, application_name, xact_start, query truncated), idle_in_transaction (pids),
        prepared_transactions, replication_slots (xmin and catalog_xmin ages, retained_wal_bytes),
        standby_feedback (pg_stat_replication backend_xmin ages).
      type: dict
    wraparound:
      description: autovacuum_freeze_max_age, autovacuum_multixact_freeze_max_age, databases (xid_age, mxid_age,
        xid_percent, mxid_percent) and the oldest_relations of this database.
      type: dict
    checkpoints:
      description:
        - source (C(pg_stat_checkpointer) from PostgreSQL 17, C(pg_stat_bgwriter) before), timed, requested,
          requested_percent (null when there was no checkpoint), write_ms, sync_ms, buffers_written and
          stats_reset (ISO-8601 UTC), all counted since the statistics reset.
        - The settings max_wal_size (bytes), checkpoint_timeout (seconds) and checkpoint_completion_target.
      type: dict
    prefect:
      description:
        - is_prefect_database, schema, readable, reason, retention (the periods compared, in seconds),
          row_estimates and deletes_since_stats_reset per Prefect table.
        - events (oldest, newest, their ages, beyond_retention_estimate from the planner, by_type for the
          overridden event types).
        - flow_runs (last_7_days, per_day_7d_average, per_day, oldest_eligible terminal top-level run,
          beyond_retention_estimate).
      type: dict
    growth:
      description: history (table, recorded, created, snapshots, reason), windows (1d, 7d, 30d, each null until a
        snapshot that old exists, else database_bytes_per_day, disk_used_bytes_per_day and per table
        bytes_per_day, rows_per_day and autovacuums_per_day), rate_bytes_per_day, rate_window, rate_of,
        days_until_full, full_at, and series (the last snapshot of each of the last 30 days, oldest first - at, database_bytes, disk_used_bytes -
        for charts).
      type: dict
  sample:
    database: {"name": "prefect", "size_bytes": 11811160064, "in_recovery": false}
    disk: {"method": "statvfs", "used_percent": 41.2, "available_bytes": 65971519488}
'''

import traceback

from ansible_collections.prefectdb.maintenance.plugins.module_utils.connection import (
    connect, prefect_module, set_session_timeouts,
)
from ansible_collections.prefectdb.maintenance.plugins.module_utils.durations import DurationError, parse_duration
from ansible_collections.prefectdb.maintenance.plugins.module_utils.health_collectors import (
    Context, collect_autovacuum, collect_bloat, collect_checkpoints, collect_connections, collect_indexes,
    collect_tables, collect_wraparound, collect_xmin, database_facts, reported_tables,
)
from ansible_collections.prefectdb.maintenance.plugins.module_utils.health_disk import collect_disk
from ansible_collections.prefectdb.maintenance.plugins.module_utils.health_history import (
    collect_growth, compact_snapshot,
)
from ansible_collections.prefectdb.maintenance.plugins.module_utils.health_prefect import collect_prefect
from ansible_collections.prefectdb.maintenance.plugins.module_utils.health_rules import (
    CHECKS, DEFAULT_THRESHOLDS, ThresholdError, check_failed, evaluate, message, normalize_thresholds,
    should_fail, summarize,
)
from ansible_collections.prefectdb.maintenance.plugins.module_utils.identifiers import IdentifierError, parse_qualified_name

try:
    import psycopg2
except ImportError:  # pragma: no cover - prefect_module() reports it
    psycopg2 = None

_THRESHOLD_TYPES = {float: 'float', int: 'int', str: 'raw'}


def argument_spec():
    thresholds = dict((name, dict(type=_THRESHOLD_TYPES[type(value)], default=value))
                      for name, value in DEFAULT_THRESHOLDS.items())
    return dict(
        checks=dict(type='list', elements='str', choices=list(CHECKS), default=list(CHECKS)),
        top_tables=dict(type='int', default=20),
        fail_on=dict(type='str', choices=['none', 'warning', 'critical'], default='none'),
        thresholds=dict(type='dict', default={}, options=thresholds),
        disk_total_bytes=dict(type='int'),
        events_retention_period=dict(type='raw', default='7d'),
        flow_run_retention_period=dict(type='raw', default='90d'),
        event_retention_overrides=dict(type='dict', default={'prefect.flow-run.heartbeat': '7d'}),
        retention_grace=dict(type='raw', default='1d'),
        history=dict(type='bool', default=True),
        history_schema=dict(type='str', default='prefectdb_maintenance'),
        history_keep=dict(type='raw', default='90d'),
        pgstattuple=dict(type='bool', default=True),
        statement_timeout=dict(type='raw', default='30s'),
        lock_timeout=dict(type='raw', default='5s'),
    )


def validate(params):
    """Options turned into numbers; raises ValueError with one clear message."""
    durations = {}
    for name in ('events_retention_period', 'retention_grace', 'history_keep', 'statement_timeout', 'lock_timeout'):
        durations[name] = parse_duration(params[name], name)
    flow = params['flow_run_retention_period']
    durations['flow_run_retention_period'] = None if flow in (None, '') else parse_duration(
        flow, 'flow_run_retention_period')
    overrides = {}
    for event, value in (params['event_retention_overrides'] or {}).items():
        overrides[event] = parse_duration(value, 'event_retention_overrides[%s]' % event)
    if params['top_tables'] < 0:
        raise ValueError('top_tables: %d is negative' % params['top_tables'])
    if params['disk_total_bytes'] is not None and params['disk_total_bytes'] <= 0:
        raise ValueError('disk_total_bytes: %d is not a size' % params['disk_total_bytes'])
    if not params['checks']:
        raise ValueError('checks: give at least one check')
    # a name as the other modules take them: plain (folded) or double-quoted, never a raw string
    # that would become a schema named 'x; DROP ...'
    try:
        parent, name = parse_qualified_name(params['history_schema'], default_schema=None)
    except IdentifierError as e:
        raise ValueError('history_schema: %s' % e)
    if parent is not None:
        raise ValueError('history_schema: %r names a schema and something in it; give the schema alone'
                         % params['history_schema'])
    params['history_schema'] = name
    thresholds = normalize_thresholds(params['thresholds'])
    return durations, overrides, thresholds


def main():
    module = prefect_module(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    try:
        durations, overrides, thresholds = validate(params)
    except (DurationError, ThresholdError, ValueError) as e:
        module.fail_json(msg='health: %s; nothing was read or changed' % e, changed=False)
    checks = [c for c in CHECKS if c in params['checks']]
    conn = connect(module)
    facts, errors, changed = {}, [], False
    try:
        set_session_timeouts(conn, lock_timeout=durations['lock_timeout'],
                             statement_timeout=durations['statement_timeout'])
        ctx = Context(conn, top_tables=params['top_tables'], thresholds=thresholds,
                      use_pgstattuple=params['pgstattuple'], disk_total_bytes=params['disk_total_bytes'])
        facts['database'] = database_facts(ctx)
        retention = {
            'events_retention_seconds': durations['events_retention_period'],
            'flow_run_retention_seconds': durations['flow_run_retention_period'],
            'event_retention_overrides': overrides,
            'grace_seconds': durations['retention_grace'],
        }
        collectors = {
            'tables': collect_tables,
            'bloat': collect_bloat,
            'indexes': collect_indexes,
            'disk': collect_disk,
            'autovacuum': collect_autovacuum,
            'connections': collect_connections,
            'xmin': collect_xmin,
            'wraparound': collect_wraparound,
            'checkpoints': collect_checkpoints,
            'prefect': lambda c: collect_prefect(c, retention),
        }
        for check in checks:
            try:
                if check == 'growth':
                    facts[check] = growth(ctx, module, facts, durations)
                    changed = bool(facts[check]['history']['created'])
                else:
                    facts[check] = collectors[check](ctx)
            except psycopg2.Error as e:
                facts[check] = None
                errors.append(check_failed(check, ' '.join(str(e).split())))
    except psycopg2.Error as e:
        conn.close()
        module.fail_json(msg='health: %s; nothing was changed' % ' '.join(str(e).split()), changed=False,
                         exception=traceback.format_exc())
    conn.close()

    findings = evaluate(facts, thresholds, checks) + errors
    summary = summarize(findings)
    result = dict(changed=changed, checks=checks, facts=facts, findings=findings, summary=summary,
                  msg=message(summary, findings, facts['database']['name']))
    if should_fail(summary, params['fail_on']):
        result['msg'] = 'fail_on=%s: %s' % (params['fail_on'], result['msg'])
        module.fail_json(**result)
    module.exit_json(**result)


def growth(ctx, module, facts, durations):
    """The growth check: needs the table sizes and disk figures of this run."""
    disk = facts.get('disk')
    if disk is None:
        try:
            disk = collect_disk(ctx)
        except psycopg2.Error:
            disk = None
    current = compact_snapshot(facts['database']['size_bytes'], reported_tables(ctx), disk)
    return collect_growth(ctx.conn, module.params['history'], module.params['history_schema'],
                          durations['history_keep'], module.check_mode, facts['database']['in_recovery'], current,
                          lock_timeout=durations['lock_timeout'])


if __name__ == '__main__':
    main()
