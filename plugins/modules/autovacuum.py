#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: prefectdb.maintenance contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: autovacuum
short_description: Per-table autovacuum settings of a Prefect database, idempotent, with presets
version_added: 0.1.0
description:
  - Sets or removes the per-table autovacuum storage parameters with C(ALTER TABLE ... SET) and C(ALTER TABLE ... RESET)
    of a Prefect server's PostgreSQL database, from a preset, from explicit values, or both.
  - Compares wanted and current values as typed values (C(0.05) = C(0.050) = C(5e-2); C(on) = C(true) = C(1)),
    reading TOAST parameters from the table's TOAST table. When nothing differs it reports C(changed=false)
    and sends no statement.
  - Every input is checked before anything is touched (parameter names known by the server's version,
    types, ranges, table names, that each table exists, is an ordinary table the login may alter and, for
    C(toast.*) parameters, has a TOAST table); a bad request fails with one message listing every bad entry,
    changing nothing.
  - One C(ALTER TABLE) per table that needs a change, each in its own transaction with C(SET LOCAL lock_timeout).
    C(ALTER TABLE ... SET) waits for a C(SHARE UPDATE EXCLUSIVE) lock (held by a running VACUUM, ANALYZE,
    CREATE INDEX CONCURRENTLY or another ALTER TABLE), so it never queues longer than O(lock_timeout)
    behind Prefect's traffic. A table whose lock is not granted in time fails with a message naming who holds
    it; the other tables are still applied and the result says which; the module then fails.
  - Check mode sends no DDL at all (no execute-and-rollback, which would take the locks) and returns the
    statements that would run. Diff mode returns each changed table's parameters before and after.
author:
  - prefectdb.maintenance developers (@prefectdb)
extends_documentation_fragment:
  - prefectdb.maintenance.connection
  - prefectdb.maintenance.write_safety
attributes:
  check_mode:
    support: full
    description: Reads the catalog and returns what would change and the statements that would run; sends no DDL.
  diff_mode:
    support: full
    description: Returns the storage parameters of each changed table before and after.
options:
  tables:
    description:
      - Table name (C(log), C(public.log), or a double-quoted name) mapped to its storage parameters and values.
        Unqualified names are in schema C(public).
      - 'Accepted parameters: every C(autovacuum_*) and C(vacuum_*) parameter and C(log_autovacuum_min_duration)
        the server''s version knows, the same with a C(toast.) prefix for the TOAST table where PostgreSQL allows
        it (not the analyze ones), plus C(fillfactor) and C(toast_tuple_target). Version-gated:
        C(autovacuum_vacuum_insert_threshold) and C(autovacuum_vacuum_insert_scale_factor) need PostgreSQL 13,
        C(autovacuum_vacuum_max_threshold) and C(vacuum_max_eager_freeze_failure_rate) need PostgreSQL 18;
        C(vacuum_index_cleanup) takes C(auto), C(on) or C(off).'
      - 'Ranges as the server enforces them: scale factors 0 to 100, thresholds 0 or more (insert and max
        thresholds -1 or more), C(autovacuum_vacuum_cost_delay) 0 to 100 ms, C(autovacuum_vacuum_cost_limit)
        1 to 10000, C(fillfactor) 10 to 100, C(toast_tuple_target) 128 to the block size less 32 (8160).'
      - A value of C(null) means "not set", so the parameter is RESET if it is set.
      - Entries override the O(preset) value of the same parameter on the same table, and add tables to it.
      - With O(state=absent) the values are ignored (a list of names is accepted too).
    type: dict
    default: {}
  preset:
    description:
      - Settings to start from; O(tables) entries override them.
      - C(none) adds nothing.
      - 'C(prefect): the settings of Prefect''s database maintenance guide ("Tune autovacuum for Prefect
        workloads", U(https://docs.prefect.io/v3/advanced/database-maintenance)).'
      - 'Values of C(prefect): C(events) autovacuum_vacuum_scale_factor=0.05, autovacuum_vacuum_threshold=1000,
        autovacuum_analyze_scale_factor=0.02; C(flow_run_state) autovacuum_vacuum_scale_factor=0.1,
        autovacuum_analyze_scale_factor=0.05; C(flow_run) autovacuum_vacuum_scale_factor=0.1,
        autovacuum_vacuum_threshold=500.'
      - 'C(prefect_high_volume): stronger settings for the tables a busy Prefect server writes most, with
        C(flow_run) kept at the guide''s values. Why these tables: C(events) and C(event_resources) receive
        every state change and heartbeat and Prefect''s db_vacuum service trims them every hour (events
        retention 7 days by default), so about 1/168 of each is deleted every hour. C(log), C(task_run_state)
        and C(flow_run_state) are append-only history deleted in bulk when flow runs pass the retention period
        (90 days by default, hourly batches), about 1% a day. C(task_run) is rewritten at every state change
        and nearly all its columns are indexed (state_type, state_name, start_time, updated, ...), so no update
        is HOT: each one leaves a dead row and new entries in some fifteen indexes.'
      - 'Values of C(prefect_high_volume): C(log) autovacuum_vacuum_scale_factor=0.01,
        autovacuum_vacuum_threshold=5000, autovacuum_vacuum_insert_scale_factor=0.01,
        autovacuum_vacuum_insert_threshold=10000, autovacuum_analyze_scale_factor=0.02,
        autovacuum_vacuum_cost_limit=1000, toast.autovacuum_vacuum_scale_factor=0.05; C(events)
        autovacuum_vacuum_scale_factor=0.02, autovacuum_vacuum_threshold=1000,
        autovacuum_vacuum_insert_scale_factor=0.02, autovacuum_vacuum_insert_threshold=10000,
        autovacuum_analyze_scale_factor=0.01, autovacuum_vacuum_cost_limit=1000,
        toast.autovacuum_vacuum_scale_factor=0.05; C(event_resources) autovacuum_vacuum_scale_factor=0.02,
        autovacuum_vacuum_threshold=1000, autovacuum_vacuum_insert_scale_factor=0.02,
        autovacuum_vacuum_insert_threshold=10000, autovacuum_analyze_scale_factor=0.01,
        autovacuum_vacuum_cost_limit=1000; C(task_run) autovacuum_vacuum_scale_factor=0.02,
        autovacuum_vacuum_threshold=1000, autovacuum_analyze_scale_factor=0.02, autovacuum_vacuum_cost_limit=1000;
        C(task_run_state) autovacuum_vacuum_scale_factor=0.02, autovacuum_vacuum_threshold=1000,
        autovacuum_vacuum_insert_scale_factor=0.05, autovacuum_vacuum_insert_threshold=10000,
        autovacuum_analyze_scale_factor=0.02, autovacuum_vacuum_cost_limit=1000; C(flow_run_state)
        autovacuum_vacuum_scale_factor=0.02, autovacuum_vacuum_threshold=1000,
        autovacuum_vacuum_insert_scale_factor=0.05, autovacuum_vacuum_insert_threshold=10000,
        autovacuum_analyze_scale_factor=0.02, autovacuum_vacuum_cost_limit=1000; C(flow_run)
        autovacuum_vacuum_scale_factor=0.1, autovacuum_vacuum_threshold=500.'
      - 'Small scale factors with fixed thresholds. With PostgreSQL''s default scale factor 0.2 a 50-million-row
        log table is vacuumed after 10 million dead rows, some twenty days of retention deletes, and the
        space stays dead until then. C(log) autovacuum_vacuum_scale_factor 0.01 with
        autovacuum_vacuum_threshold 5000 vacuums after about each day''s retention sweep; C(events),
        C(event_resources), C(task_run), C(task_run_state) and C(flow_run_state) take 0.02 with threshold 1000,
        keeping dead rows near 2% of the table. The fixed thresholds keep small, young tables from being
        vacuumed every minute; above about 100,000 rows the scale factor decides.'
      - 'Insert thresholds (PostgreSQL 13 and later) so freezing and the visibility map keep up.
        Append-only tables are otherwise vacuumed only for their deletes or by the anti-wraparound vacuum,
        which then reads and freezes the whole table at once. Insert-triggered vacuums set visibility-map bits,
        so index-only scans stay index-only, and freeze old pages as they go; they visit only pages not yet
        all-visible, so frequent ones are cheap. autovacuum_vacuum_insert_scale_factor 0.01 on C(log), 0.02 on
        C(events) and C(event_resources), 0.05 on C(task_run_state) and C(flow_run_state), each with
        autovacuum_vacuum_insert_threshold 10000. (PostgreSQL 18 applies the insert scale factor to the
        unfrozen part of the table only, which makes these vacuums more frequent still on old tables.)'
      - 'Fresher statistics: autovacuum_analyze_scale_factor 0.01 on C(events) and C(event_resources), whose
        queries filter on C(occurred) ranges that move every minute, and 0.02 on C(log), C(task_run),
        C(task_run_state) and C(flow_run_state).'
      - 'Cost limits so vacuum keeps pace: autovacuum_vacuum_cost_limit 1000 on all six tables. The default
        (vacuum_cost_limit 200 with a 2 ms cost delay) lets autovacuum dirty about 40 MB/s, shared by every worker;
        a retention sweep dirties every page it deletes from, and a vacuum that cannot keep up lets the table
        grow. Tables with their own cost limit leave autovacuum''s cost balancing, so each worker on one of them
        gets the full 1000 (about 200 MB/s of dirtied pages; three workers at most by default): check the disk''s
        budget.'
      - 'TOAST: toast.autovacuum_vacuum_scale_factor 0.05 on C(log) and C(events). Long messages, tracebacks
        and event payloads live in their TOAST tables, which do not inherit the table''s settings and would wait
        for 20% dead chunks.'
      - 'Left alone on purpose: freeze ages (retention deletes these rows long before freezing them early would
        pay off, and eager freezing writes WAL for rows about to go), the cost delay (the 2 ms default is right
        since PostgreSQL 12) and autovacuum_enabled.'
    type: str
    choices: [none, prefect, prefect_high_volume]
    default: none
  state:
    description:
      - C(present) sets the wanted parameters.
      - C(absent) RESETs the listed parameters (and those of O(preset)) to the server's defaults.
    type: str
    choices: [present, absent]
    default: present
  exclusive:
    description:
      - Also RESET the autovacuum parameters set on the listed tables but not wanted, that is every C(autovacuum_*),
        C(vacuum_*) and C(log_autovacuum_min_duration) parameter, on the table or its TOAST table.
      - C(fillfactor), C(toast_tuple_target) and parameters this module does not manage (C(parallel_workers),
        C(user_catalog_table), ...) are never reset by it. Tables not listed are never touched.
      - With O(state=absent), resets every autovacuum parameter of the listed tables.
    type: bool
    default: false
  missing:
    description:
      - What to do about a listed table that does not exist.
      - C(fail) refuses the whole request, changing nothing. C(ignore) reports it in RV(missing_tables) and
        manages the others.
    type: str
    choices: [fail, ignore]
    default: fail
notes:
  - The login must own the tables (or be a member of the owning role, or a superuser), as C(ALTER TABLE) requires.
  - A normal autovacuum worker that holds the table's lock is cancelled by the server after C(deadlock_timeout)
    (1s by default) when this module waits for the lock, so O(lock_timeout) of a few seconds is enough in the
    usual case; an anti-wraparound vacuum is never cancelled and makes the table fail until it finishes.
  - O(lock_timeout) must be more than 0 here (0 would wait forever).
seealso:
  - module: prefectdb.maintenance.health
  - name: Prefect database maintenance guide
    description: The autovacuum settings the C(prefect) preset applies.
    link: https://docs.prefect.io/v3/advanced/database-maintenance
  - name: PostgreSQL storage parameters
    description: What each parameter does.
    link: https://www.postgresql.org/docs/current/sql-createtable.html#SQL-CREATETABLE-STORAGE-PARAMETERS
'''

EXAMPLES = r'''
- name: Apply the settings of Prefect's maintenance guide
  prefectdb.maintenance.autovacuum:
    preset: prefect

- name: A busy server, with one value of the preset overridden and one table added
  prefectdb.maintenance.autovacuum:
    preset: prefect_high_volume
    lock_timeout: 3s
    tables:
      log:
        autovacuum_vacuum_cost_limit: 2000
      artifact:
        autovacuum_vacuum_scale_factor: 0.05
        toast.autovacuum_vacuum_scale_factor: 0.05

- name: Preview what would change (run with --check --diff, or set it here)
  prefectdb.maintenance.autovacuum:
    preset: prefect_high_volume
  check_mode: true
  diff: true
  register: preview

- name: Show the statements that would run
  ansible.builtin.debug:
    var: preview.statements

- name: Own settings only, removing any other autovacuum setting on these tables
  prefectdb.maintenance.autovacuum:
    exclusive: true
    tables:
      events:
        autovacuum_vacuum_scale_factor: 0.02
        autovacuum_analyze_scale_factor: 0.01
      log:
        autovacuum_vacuum_scale_factor: 0.01
        autovacuum_vacuum_cost_limit: null   # make sure it is not set

- name: Back to the server's defaults for two parameters
  prefectdb.maintenance.autovacuum:
    state: absent
    tables:
      events: [autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold]

- name: Connection once for every module of the collection
  module_defaults:
    group/prefectdb.maintenance.postgres: "{{ prefectdb_connection }}"
  block:
    - name: Tune autovacuum
      prefectdb.maintenance.autovacuum:
        preset: prefect
'''

RETURN = r'''
changed:
  description: Whether a statement was applied (in check mode, whether one would be).
  returned: always
  type: bool
  sample: true
msg:
  description: What happened, for people.
  returned: always
  type: str
  sample: "autovacuum: changed 2 of 3 tables (events, flow_run); 1 already as wanted (flow_run_state)"
tables:
  description: Per table (named as in the request, C(public.) left out), what it had, has, and what ran.
  returned: when the request was valid
  type: dict
  sample:
    events:
      table: public.events
      status: changed
      before: {autovacuum_vacuum_scale_factor: "0.2"}
      after: {autovacuum_vacuum_scale_factor: "0.05", autovacuum_vacuum_threshold: "1000",
              autovacuum_analyze_scale_factor: "0.02"}
      set: {autovacuum_vacuum_scale_factor: "0.05", autovacuum_vacuum_threshold: "1000",
            autovacuum_analyze_scale_factor: "0.02"}
      reset: []
      statements:
        - ALTER TABLE "public"."events" SET ("autovacuum_vacuum_scale_factor" = '0.05', ...)
  contains:
    table:
      description: Schema-qualified table name.
      type: str
    status:
      description: >-
        C(unchanged), C(changed), C(would_change) (check mode), C(failed) (its statement did not apply,
        see C(msg)), or C(missing) (does not exist, with O(missing=ignore)).
      type: str
    before:
      description: The table's storage parameters before, as C(pg_class.reloptions) holds them; TOAST ones as C(toast.<name>).
      type: dict
    after:
      description: The storage parameters after (read back from the catalog; in check mode, what they would be).
      type: dict
    set:
      description: The parameters set, with the text sent.
      type: dict
    reset:
      description: The parameters reset.
      type: list
      elements: str
    statements:
      description: The statement run (or that would run); empty when nothing differs.
      type: list
      elements: str
    msg:
      description: Why the table failed or was skipped.
      type: str
      returned: when status is failed or missing
statements:
  description: Every statement run, or that would run in check mode, in order.
  returned: always
  type: list
  elements: str
changed_tables:
  description: Tables changed (or that would change in check mode).
  returned: always
  type: list
  elements: str
failed_tables:
  description: Tables whose statement failed (for example on O(lock_timeout)); they were left unchanged.
  returned: always
  type: list
  elements: str
missing_tables:
  description: Listed tables that do not exist (only with O(missing=ignore); otherwise the module fails).
  returned: always
  type: list
  elements: str
errors:
  description: Every problem found in the request, when it was refused.
  returned: on an invalid request
  type: list
  elements: str
server_version_num:
  description: The server's version number.
  returned: when connected
  type: int
  sample: 150018
diff:
  description: In diff mode, the storage parameters of each changed table before and after.
  returned: in diff mode
  type: dict
  contains:
    before:
      description: Table name to its parameters before.
      type: dict
    after:
      description: Table name to its parameters after.
      type: dict
'''


from ansible_collections.prefectdb.maintenance.plugins.module_utils.connection import (
    connect, exclusive_run, fetch_all, fetch_one, milliseconds, prefect_module, transaction, write_argument_spec,
)
from ansible_collections.prefectdb.maintenance.plugins.module_utils.durations import (
    DurationError, format_duration, parse_duration,
)
from ansible_collections.prefectdb.maintenance.plugins.module_utils.reloptions import (
    PRESETS, alter_statement, build_request, catalogue, current_reloptions, plan_table, version_text,
)

try:
    import psycopg2
except ImportError:  # pragma: no cover - prefect_module() reports the missing library
    psycopg2 = None

MODULE_NAME = 'autovacuum'
LOCK_NOT_AVAILABLE = '55P03'
# lock modes that conflict with the SHARE UPDATE EXCLUSIVE lock ALTER TABLE ... SET takes
CONFLICTING_MODES = ['ShareUpdateExclusiveLock', 'ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock',
                     'AccessExclusiveLock']


def read_tables(conn, targets):
    """For each target, in order: whether it exists, kind, TOAST table, owner and reloptions."""
    rows = fetch_all(conn, """
        SELECT t.ord, c.oid::bigint AS oid, c.relkind, c.reltoastrelid::bigint AS toast_oid,
               c.reloptions, tc.reloptions AS toast_reloptions,
               pg_get_userbyid(c.relowner) AS owner,
               CASE WHEN c.oid IS NULL THEN NULL ELSE pg_has_role(c.relowner, 'USAGE') END AS may_alter
          FROM unnest(%s::text[], %s::text[]) WITH ORDINALITY AS t(schema_name, table_name, ord)
          LEFT JOIN pg_namespace n ON n.nspname = t.schema_name
          LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.table_name
          LEFT JOIN pg_class tc ON tc.oid = c.reltoastrelid
         ORDER BY t.ord""", ([t.schema for t in targets], [t.table for t in targets]))
    return [row if row['oid'] is not None else None for row in rows]


def target_problems(targets, rows, missing, user):
    """Problems only the catalog can show; (errors, missing targets)."""
    errors, absent = [], []
    kinds = {'v': 'a view', 'm': 'a materialized view', 'p': 'a partitioned table', 'f': 'a foreign table',
             'i': 'an index', 'S': 'a sequence', 'I': 'a partitioned index', 'c': 'a composite type'}
    for target, row in zip(targets, rows):
        if row is None:
            if missing == 'ignore':
                absent.append(target)
            else:
                errors.append('%s: table %s does not exist (set missing=ignore to skip missing tables)' % (
                    target.label, target.qualified))
            continue
        if row['relkind'] != 'r':
            errors.append('%s: %s is %s, not an ordinary table' % (
                target.label, target.qualified, kinds.get(row['relkind'], 'not a table')))
            continue
        if not row['may_alter']:
            errors.append('%s: login "%s" may not alter %s: only its owner "%s", a member of that role or a '
                          'superuser may' % (target.label, user, target.qualified, row['owner']))
        if target.wants_toast() and not row['toast_oid']:
            errors.append('%s: %s has no TOAST table, so toast.* parameters cannot be stored (%s)' % (
                target.label, target.qualified,
                ', '.join(k for k, v in target.wanted.items() if k.startswith('toast.') and v is not None)))
    return errors, absent


def lock_holders(conn, relation_ids):
    rows = fetch_all(conn, """
        SELECT DISTINCT l.pid, a.application_name, a.backend_type, a.state, left(a.query, 120) AS query
          FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'relation' AND l.granted AND l.pid <> pg_backend_pid()
           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND l.relation = ANY(%s::oid[]) AND l.mode = ANY(%s)
         ORDER BY l.pid""", ([int(r) for r in relation_ids if r], CONFLICTING_MODES))
    described = []
    for r in rows:
        who = r['application_name'] or r['backend_type'] or 'unknown'
        what = ', %s' % r['state'] if r['state'] else ''
        query = ': %s' % ' '.join(r['query'].split()) if r['query'] else ''
        described.append('pid %s (%s%s%s)' % (r['pid'], who, what, query))
    return described


def apply_statement(conn, statement, lock_timeout, row):
    """Run one ALTER TABLE in its own transaction; return None or why it failed."""
    try:
        with transaction(conn) as cur:
            cur.execute("SELECT set_config('lock_timeout', %s, true)", (milliseconds(lock_timeout),))
            cur.execute(statement)
        return None
    except psycopg2.Error as e:
        reason = ' '.join(str(e).split()) or type(e).__name__
        if getattr(e, 'pgcode', None) == LOCK_NOT_AVAILABLE:
            try:
                holders = lock_holders(conn, [row['oid'], row['toast_oid']])
            except psycopg2.Error:
                holders = []
            return ('could not get the SHARE UPDATE EXCLUSIVE lock within lock_timeout=%s; %s; '
                    'the table was left unchanged, retry later or raise lock_timeout' % (
                        format_duration(lock_timeout),
                        'held by %s' % '; '.join(holders) if holders else 'another session held a conflicting lock'))
        return '%s; the table was left unchanged' % reason


def summary(names):
    return ', '.join(names)


def main():
    argument_spec = dict(
        tables=dict(type='dict', default={}),
        preset=dict(type='str', default='none', choices=list(PRESETS)),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        exclusive=dict(type='bool', default=False),
        missing=dict(type='str', default='fail', choices=['fail', 'ignore']),
    )
    argument_spec.update(write_argument_spec())
    module = prefect_module(argument_spec, supports_check_mode=True)
    p = module.params

    problems = []
    lock_timeout = None
    try:
        lock_timeout = parse_duration(p['lock_timeout'], 'lock_timeout')
        if lock_timeout < 0.001:
            problems.append('lock_timeout: must be at least 1ms (0 would wait for the lock forever)')
    except DurationError as e:
        problems.append(str(e))
    try:
        parse_duration(p['wait_timeout'], 'wait_timeout')
    except DurationError as e:
        problems.append(str(e))

    conn = connect(module)
    try:
        server = fetch_one(conn, """
            SELECT current_setting('server_version_num')::int AS version_num,
                   current_setting('block_size')::int AS block_size, current_user AS login""")
        version_num = server['version_num']
        targets, errors, notes = build_request(p['tables'], p['preset'], p['state'], version_num,
                                               server['block_size'])
        problems.extend(errors)
        rows = read_tables(conn, targets)
        errors, absent = target_problems(targets, rows, p['missing'], server['login'])
        problems.extend(errors)
        if problems:
            module.fail_json(
                changed=False, errors=problems, server_version_num=version_num,
                msg='%s: %d problem%s in the request, nothing was changed: %s' % (
                    MODULE_NAME, len(problems), '' if len(problems) == 1 else 's',
                    '; '.join('(%d) %s' % (i + 1, e) for i, e in enumerate(problems))))
        for note in notes:
            module.warn('%s (PostgreSQL %s)' % (note, version_text(version_num)))

        with exclusive_run(module, conn, MODULE_NAME):
            result = run(module, conn, targets, absent, version_num, server['block_size'], lock_timeout)
    finally:
        conn.close()
    if result['failed_tables']:
        module.fail_json(**result)
    module.exit_json(**result)


def run(module, conn, targets, absent, version_num, block_size, lock_timeout):
    """Plan every table under the advisory lock, apply (unless check mode), read back."""
    p = module.params
    known = catalogue(version_num, block_size)
    present = [t for t in targets if t not in absent]
    rows = read_tables(conn, present)  # again, now that we hold the lock
    report, statements, diff_before, diff_after = {}, [], {}, {}
    changed, failed, unchanged = [], [], []
    for target in absent:
        report[target.name] = {'table': target.qualified, 'status': 'missing', 'before': {}, 'after': {},
                               'set': {}, 'reset': [], 'statements': [],
                               'msg': 'table %s does not exist; ignored (missing=ignore)' % target.qualified}
    pending = []
    for target, row in zip(present, rows):
        if row is None:  # dropped between the checks and the lock
            failed.append(target.name)
            report[target.name] = {'table': target.qualified, 'status': 'failed', 'before': {}, 'after': {},
                                   'set': {}, 'reset': [], 'statements': [],
                                   'msg': 'table %s was dropped while this module ran' % target.qualified}
            continue
        current = current_reloptions(row['reloptions'], row['toast_reloptions'])
        plan = plan_table(target.wanted, current, p['state'], p['exclusive'], known)
        statement = alter_statement(target.schema, target.table, plan)
        text = statement.as_string(conn) if statement is not None else None
        report[target.name] = {'table': target.qualified, 'status': 'unchanged', 'before': dict(plan.before),
                               'after': dict(plan.after), 'set': dict(plan.set), 'reset': list(plan.reset),
                               'statements': [text] if text else []}
        if statement is None:
            unchanged.append(target.name)
            continue
        statements.append(text)
        pending.append((target, row, statement))

    for target, row, statement in pending:
        entry = report[target.name]
        if module.check_mode:
            entry['status'] = 'would_change'
            changed.append(target.name)
            continue
        error = apply_statement(conn, statement, lock_timeout, row)
        if error:
            entry.update(status='failed', msg=error)
            failed.append(target.name)
        else:
            entry['status'] = 'changed'
            changed.append(target.name)

    if pending and not module.check_mode:
        # read back what the server now holds: the truth for `after`, and proof the change stuck
        applied = [t for t, dummy, dummy2 in pending]
        for target, row in zip(applied, read_tables(conn, applied)):
            entry = report[target.name]
            if row is None:
                continue
            entry['after'] = dict(current_reloptions(row['reloptions'], row['toast_reloptions']))
            if entry['status'] == 'changed' and plan_table(target.wanted, entry['after'], p['state'],
                                                           p['exclusive'], known).changed:
                entry.update(status='failed', msg='the server did not keep every change: now %s' % entry['after'])
                changed.remove(target.name)
                failed.append(target.name)

    for target in present:
        entry = report[target.name]
        if entry['status'] in ('changed', 'would_change'):
            diff_before[target.name] = entry['before']
            diff_after[target.name] = entry['after']

    result = {
        'changed': bool(changed),
        'tables': report,
        'statements': statements,
        'changed_tables': changed,
        'failed_tables': failed,
        'missing_tables': [t.name for t in absent],
        'server_version_num': version_num,
        'msg': message(module.check_mode, targets, changed, failed, unchanged, absent, report),
    }
    if module._diff:
        result['diff'] = {'before': diff_before, 'after': diff_after}
    return result


def message(check_mode, targets, changed, failed, unchanged, absent, report):
    parts = []
    total = len(targets)
    if failed:
        parts.append('%d of %d table%s failed: %s' % (len(failed), total, '' if total == 1 else 's', '; '.join(
            '%s: %s' % (name, report[name]['msg']) for name in failed)))
    if changed:
        parts.append('%s %d of %d table%s (%s)%s' % (
            'would change' if check_mode else 'changed', len(changed), total, '' if total == 1 else 's',
            summary(changed), '; check mode, no statement sent' if check_mode else ''))
    if unchanged:
        parts.append('%d already as wanted (%s)' % (len(unchanged), summary(unchanged)))
    if absent:
        parts.append('%d missing table%s ignored (%s)' % (
            len(absent), '' if len(absent) == 1 else 's', summary(t.name for t in absent)))
    if not targets:
        parts.append('no table requested (give tables or a preset)')
    elif not changed and not failed:
        parts.append('nothing changed')
    return '%s: %s' % (MODULE_NAME, '; '.join(parts))


if __name__ == '__main__':
    main()
