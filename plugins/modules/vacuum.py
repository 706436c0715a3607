#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: prefectdb.maintenance contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: vacuum
short_description: VACUUM, ANALYZE, VACUUM FULL (explicit opt-in) or pg_repack on a Prefect database
version_added: 0.1.0
description:
  - Runs C(VACUUM), C(VACUUM ANALYZE), C(ANALYZE), C(VACUUM FULL) or the C(pg_repack) client on tables of the
    Prefect database, one table at a time, and reports per table its duration, dead tuples and bytes before and after.
  - With O(tables=auto) the module reads the statistics (C(pg_stat_all_tables)) and picks the tables whose dead
    tuples reach O(min_dead_tuples) and O(min_dead_ratio) percent of the live ones (Prefect's maintenance guide calls
    more than 50% bloat a reason for a manual VACUUM), and that are at least O(min_size); it returns which tables it
    picked and why, and why it left the others.
  - C(VACUUM) runs outside a transaction block on the module's autocommit connection, with C(SKIP_LOCKED) where the
    server supports it (PostgreSQL 12+), so a table another session has locked is skipped and reported instead of
    waited for.
  - C(VACUUM FULL) rewrites the table under an C(ACCESS EXCLUSIVE) lock, which B(blocks every read and every write of
    the table until it finishes); Prefect's API stalls on that table meanwhile. It needs O(allow_full=true) and refuses
    tables larger than O(max_full_size). Use O(mode=repack) to rebuild a bloated table online instead.
  - O(mode=repack) runs the C(pg_repack) client, which rebuilds a table online and holds an exclusive lock only
    briefly at the start and the end. It needs the C(pg_repack) extension in the database (C(CREATE EXTENSION
    pg_repack), by a superuser), a client of the same version on the host running the module, a superuser login, a
    primary key or a unique index on NOT NULL columns on each table, and free disk of at least twice the table with
    its indexes. When any of that is missing the module fails with a message saying what, and never falls back to
    C(VACUUM FULL).
  - A pg_repack that was interrupted (killed, its connection cut) leaves its trigger C(repack_trigger) on the table,
    which copies every write into C(repack.log_<oid>), and its work tables; pg_repack then refuses the table. Before
    repacking a table the module drops such leftovers with pg_repack's own C(repack.repack_drop()) (under
    O(lock_timeout)) and says so, unless a pg_repack session is connected to the database at that moment.
author:
  - prefectdb.maintenance developers (@prefectdb)
extends_documentation_fragment:
  - prefectdb.maintenance.connection
  - prefectdb.maintenance.write_safety
attributes:
  check_mode:
    support: full
    description: Returns the plan (the tables, why, and the statements or commands) and executes nothing.
  diff_mode:
    support: none
    description: VACUUM changes no data or settings; the result reports sizes and dead tuples instead.
options:
  mode:
    description:
      - C(vacuum) runs C(VACUUM); C(vacuum_analyze) runs C(VACUUM (ANALYZE)); C(analyze) runs C(ANALYZE) only.
      - C(full) runs C(VACUUM FULL), which blocks reads and writes of each table while it runs; it needs
        O(allow_full=true).
      - C(repack) runs the C(pg_repack) client, online.
    type: str
    choices: [vacuum, vacuum_analyze, analyze, full, repack]
    default: vacuum_analyze
  tables:
    description:
      - C(auto), or a list of table names (C(log), C(public.events), C('"Quoted"."Name"')).
      - C(auto) considers every ordinary table of O(schema) and picks by O(min_dead_tuples), O(min_dead_ratio) and
        O(min_size), most dead tuples first. For O(mode=analyze) the criteria apply to the rows modified since the
        last C(ANALYZE) instead of dead tuples.
      - A listed table that does not exist, or that the mode must refuse, fails the module before anything runs.
    type: raw
    default: auto
  schema:
    description:
      - The schema O(tables=auto) looks in, and the schema of unqualified table names. With O(tables=auto), a schema
        that does not exist fails the module.
    type: str
    default: public
  min_dead_ratio:
    description:
      - For O(tables=auto), dead tuples as a percentage of live tuples a table must reach (may exceed 100), as Prefect's
        database maintenance guide computes bloat. A table whose live tuples are all gone counts as above any ratio.
    type: float
    default: 50
  min_dead_tuples:
    description:
      - For O(tables=auto), the number of dead tuples a table must have.
    type: int
    default: 1000
  min_size:
    description:
      - For O(tables=auto), the size a table must have, with its indexes and TOAST, as bytes or with a unit
        (C(64MB), C(1GB)).
    type: raw
    default: 0
  skip_locked:
    description:
      - Use C(SKIP_LOCKED) (PostgreSQL 12+), so a table locked by another session is skipped and reported
        instead of waited for.
      - Without it, or on older servers, a lock wait ends after O(lock_timeout) and the table is reported as skipped.
    type: bool
    default: true
  parallel:
    description:
      - C(PARALLEL) workers for index vacuuming (PostgreSQL 13+), modes C(vacuum) and C(vacuum_analyze) only.
        C(0) disables parallel vacuum. Unset, the server decides.
    type: int
  index_cleanup:
    description:
      - C(INDEX_CLEANUP) of modes C(vacuum) and C(vacuum_analyze) (C(on)/C(off) PostgreSQL 12+, C(auto) 14+).
        Unset, the server's default or the table's C(vacuum_index_cleanup) applies.
    type: str
    choices: [auto, 'on', 'off']
  process_toast:
    description:
      - C(PROCESS_TOAST) (PostgreSQL 14+). Unset, the TOAST table is processed. VACUUM FULL always processes it.
    type: bool
  allow_full:
    description:
      - Required for O(mode=full). VACUUM FULL blocks reads and writes of each table for its whole run.
    type: bool
    default: false
  max_full_size:
    description:
      - O(mode=full) refuses tables larger than this (with indexes and TOAST), as bytes or with a unit. Listed tables
        above it fail the module before anything runs; O(tables=auto) leaves them out and says why.
    type: raw
    default: 1GiB
  repack_binary:
    description:
      - The C(pg_repack) client (a file, or the directory holding it), for O(mode=repack).
      - Unset, C(/usr/lib/postgresql/<server major>/bin/pg_repack) is used, then C(pg_repack) on C(PATH).
    type: path
  free_space:
    description:
      - Free bytes of the file system holding the tables, for O(mode=repack) when the module does not run on the
        database host (as bytes or with a unit).
      - Unset, the module measures the free space of the server's data directory (or the table's tablespace) itself,
        which works only on the database host with a login that may read C(data_directory); otherwise O(mode=repack)
        fails, asking for this option.
    type: raw
  max_runtime:
    description:
      - Start no new table once this long has passed since the first table began (a duration such as C(30m)); the
        tables left are reported in RV(left). A table already running is not interrupted.
      - Unset, there is no limit.
    type: raw
  cost_delay:
    description:
      - C(vacuum_cost_delay) of the module's session, in milliseconds, for C(VACUUM) and C(ANALYZE) (modes
        C(vacuum), C(vacuum_analyze), C(analyze)). The default C(2) with O(cost_limit=200) is autovacuum's own pace
        (PostgreSQL 12 and later). C(0) runs them unthrottled, PostgreSQL's default for a manual VACUUM, for a
        quiet hour.
      - Unthrottled, a VACUUM of tables that retention emptied dirties pages and writes WAL as fast as the disk
        goes, and a live Prefect server's commits wait behind that WAL (its p99 latency rose to 2.95 times idle,
        against 1.21 times with C(2), which took 6.6 times as long; benchmarks/RESULTS.md, light touch). C(20)
        dirties at most about 4 MB a second, at many times the run time.
      - VACUUM FULL and pg_repack are not throttled by it.
    type: float
    default: 2
  cost_limit:
    description:
      - C(vacuum_cost_limit) of the module's session, the cost after which VACUUM and ANALYZE sleep O(cost_delay).
    type: int
    default: 200
notes:
  - The module's connection sets C(lock_timeout); VACUUM takes a C(SHARE UPDATE EXCLUSIVE) lock (VACUUM FULL an
    C(ACCESS EXCLUSIVE) one) on each table. For O(mode=repack), pg_repack waits at most O(lock_timeout) (at least one
    second) for its exclusive locks, runs with C(--no-kill-backend) so it never cancels Prefect's sessions, and skips
    the table when the wait times out.
  - The password reaches C(pg_repack) through the environment (C(PGPASSWORD)), never its command line.
  - Required privileges. VACUUM and ANALYZE need ownership of each table (or superuser, or C(pg_maintain) on
    PostgreSQL 17). pg_repack needs a superuser login. The server only warns and skips a table the login may not
    process; the module reports that table as failed, with the server's warning.
seealso:
  - module: prefectdb.maintenance.reindex
  - module: prefectdb.maintenance.autovacuum
  - name: pg_repack
    description: Reorganize tables in PostgreSQL databases with minimal locks.
    link: https://reorg.github.io/pg_repack/
  - name: VACUUM
    description: The PostgreSQL documentation of VACUUM and its options.
    link: https://www.postgresql.org/docs/current/sql-vacuum.html
'''

EXAMPLES = r'''
- name: Vacuum and analyze the tables Prefect's guide would call bloated
  prefectdb.maintenance.vacuum:
    tables: auto
  register: vacuumed

- name: Rebuild the log and events tables online after a retention run
  prefectdb.maintenance.vacuum:
    mode: repack
    tables: [log, events]
    max_runtime: 2h

- name: VACUUM FULL a small table in a maintenance window (blocks reads and writes while it runs)
  prefectdb.maintenance.vacuum:
    mode: full
    allow_full: true
    max_full_size: 256MB
    tables: [artifact_collection]

- name: Show what auto would pick, without running anything
  prefectdb.maintenance.vacuum:
    tables: auto
    min_dead_ratio: 20
    min_size: 64MB
  check_mode: true
'''

RETURN = r'''
mode:
  description: The mode that ran (or would run).
  returned: always
  type: str
  sample: vacuum_analyze
selection:
  description: C(auto) when the module picked the tables, C(list) when they were given.
  returned: always
  type: str
  sample: auto
tables:
  description: The tables processed (or planned), in order, with what happened to each.
  returned: always
  type: list
  elements: dict
  contains:
    table:
      description: schema.table
      type: str
      sample: public.log
    reason:
      description: Why the table was picked (C(listed) for a given list).
      type: str
      sample: "120000 dead tuples (150% of 80000 live), 48 MB: at least 1000 dead tuples and 50%"
    status:
      description: C(planned) (check mode), C(done), C(skipped) (lock not available), C(failed), C(not_started)
        (O(max_runtime) passed).
      type: str
      sample: done
    statement:
      description: The SQL statement, or the pg_repack command line (without any password).
      type: str
      sample: VACUUM (ANALYZE, SKIP_LOCKED) public.log
    duration_seconds:
      description: How long the table took.
      type: float
      sample: 1.84
    dead_tuples_before:
      description: C(n_dead_tup) before.
      type: int
      sample: 120000
    dead_tuples_after:
      description: C(n_dead_tup) after, as the statistics report it.
      type: int
      sample: 0
    bytes_before:
      description: Size of the table with its indexes and TOAST before (C(pg_total_relation_size)).
      type: int
      sample: 50331648
    bytes_after:
      description: The same after.
      type: int
      sample: 20971520
    message:
      description: The server's or pg_repack's message for a skipped or failed table.
      type: str
      sample: skipping vacuum of "log" --- lock not available
not_selected:
  description: With O(tables=auto), the tables not picked and why.
  returned: always
  type: list
  elements: dict
  sample: [{"table": "public.flow", "reason": "0 dead tuples (0% of 20 live), 104 kB: fewer than 1000 dead tuples"}]
left:
  description: Tables not started because O(max_runtime) had passed.
  returned: always
  type: list
  elements: str
  sample: [public.events]
bytes_reclaimed:
  description: Sum of bytes before minus bytes after over the tables done (may be negative after ANALYZE).
  returned: always
  type: int
  sample: 29360128
repack:
  description: For O(mode=repack), the client used and the checks made.
  returned: when mode is repack
  type: dict
  sample:
    client: /usr/lib/postgresql/15/bin/pg_repack
    client_version: 1.4.8
    extension_version: 1.4.8
    free_space_bytes: 72057594037
    free_space_source: statvfs of /var/lib/postgresql/15/main
notes:
  description: Remarks about options the server does not support and similar.
  returned: always
  type: list
  elements: str
  sample: []
cost_delay:
  description: The C(vacuum_cost_delay) the session ran with, in milliseconds (0 unthrottled).
  returned: always
  type: float
  sample: 0.0
cost_limit:
  description: The C(vacuum_cost_limit) the session ran with.
  returned: always
  type: int
  sample: 200
server_version_num:
  description: The server's version as a number.
  returned: always
  type: int
  sample: 150018
'''

import math
import os
import time

from ansible_collections.prefectdb.maintenance.plugins.module_utils.client_programs import (
    ClientProgramError, candidate_paths, libpq_environment, parse_version, version_text,
)
from ansible_collections.prefectdb.maintenance.plugins.module_utils.connection import (
    build_connect_kwargs, connect, execute, exclusive_run, fetch_value, prefect_module, psycopg2,
    server_error, set_session_timeouts, write_argument_spec,
)
from ansible_collections.prefectdb.maintenance.plugins.module_utils.durations import DurationError, parse_duration
from ansible_collections.prefectdb.maintenance.plugins.module_utils.host_storage import local_free_bytes
from ansible_collections.prefectdb.maintenance.plugins.module_utils.identifiers import (
    IdentifierError, parse_qualified_name,
)
from ansible_collections.prefectdb.maintenance.plugins.module_utils.results import jsonable
from ansible_collections.prefectdb.maintenance.plugins.module_utils.sizes import SizeError, format_size, parse_size
from ansible_collections.prefectdb.maintenance.plugins.module_utils import table_stats
from ansible_collections.prefectdb.maintenance.plugins.module_utils import vacuum_plan as plan

if psycopg2 is not None:
    from psycopg2 import sql as pgsql

MODULE_NAME = 'vacuum'

LOCK_NOT_AVAILABLE = '55P03'
FULL_REFUSED = ('mode=full refused: VACUUM FULL takes an ACCESS EXCLUSIVE lock that blocks every read and write of '
                'each table for the whole rewrite, so Prefect stalls on it. Set allow_full: true to accept that, or use '
                'mode=repack to rebuild tables online. Nothing was changed.')


class Inputs(object):
    """The module's options, checked and converted; fails the module on bad input."""

    def __init__(self, module):
        p = module.params
        self.mode = p['mode']
        self.schema = p['schema']
        try:
            self.lock_timeout = parse_duration(p['lock_timeout'], 'lock_timeout')
            self.max_runtime = None if p['max_runtime'] in (None, '') else parse_duration(p['max_runtime'], 'max_runtime')
            self.min_size = parse_size(p['min_size'], 'min_size')
            self.max_full_size = parse_size(p['max_full_size'], 'max_full_size')
            self.free_space = None if p['free_space'] in (None, '') else parse_size(p['free_space'], 'free_space')
        except (DurationError, SizeError) as e:
            module.fail_json(msg='%s; nothing was changed.' % e, changed=False)
        if self.max_runtime is not None and self.max_runtime <= 0:
            module.fail_json(msg='max_runtime must be a positive duration, not %r; nothing was changed.' % p['max_runtime'],
                             changed=False)
        if p['min_dead_ratio'] < 0 or p['min_dead_tuples'] < 0:
            module.fail_json(msg='min_dead_ratio and min_dead_tuples must not be negative; nothing was changed.',
                             changed=False)
        self.auto, self.names = self._tables(module, p['tables'])

    def _tables(self, module, tables):
        if isinstance(tables, str) and tables.strip().lower() == 'auto':
            return True, []
        if isinstance(tables, str) or not isinstance(tables, list) or not tables:
            module.fail_json(msg='tables must be auto or a non-empty list of table names, not %r; nothing was changed.'
                             % (tables,), changed=False)
        names = []
        for name in tables:
            try:
                parsed = parse_qualified_name(name, default_schema=self.schema)
            except IdentifierError as e:
                module.fail_json(msg='tables: %s; nothing was changed.' % e, changed=False)
            if parsed not in names:
                names.append(parsed)
        return False, names


def qualified_sql(schema, name):
    return pgsql.SQL('{}.{}').format(pgsql.Identifier(schema), pgsql.Identifier(name))


def quoted_name(conn, schema, name):
    return qualified_sql(schema, name).as_string(conn)


def choose_tables(module, conn, inputs, repack_keys_of):
    """(plan entries, not_selected) where each entry is {'table': row, 'reason': text}."""
    mode = inputs.mode
    if inputs.auto:
        if not fetch_value(conn, 'SELECT count(*) FROM pg_namespace WHERE nspname = %s', (inputs.schema,)):
            module.fail_json(msg='schema: %s does not exist; nothing was changed.' % inputs.schema, changed=False)
        tables = table_stats.tables_in_schema(conn, inputs.schema)
        keys = repack_keys_of(tables) if mode == 'repack' else None
        selected, not_selected = plan.select_tables(
            tables, mode, min_dead_ratio=module.params['min_dead_ratio'],
            min_dead_tuples=module.params['min_dead_tuples'], min_size=inputs.min_size,
            max_full_size=inputs.max_full_size if mode == 'full' else None, repack_keys=keys)
        return selected, not_selected
    tables, missing = table_stats.tables_by_name(conn, inputs.names)
    if missing:
        kinds = table_stats.relation_kinds(conn, missing)
        described = []
        for schema, name in missing:
            kind = kinds.get((schema, name))
            described.append('%s.%s%s' % (schema, name, ' (not an ordinary table: relkind %s)' % kind if kind else
                                          ' (does not exist)'))
        module.fail_json(msg='tables not found: %s; nothing was changed.' % ', '.join(described), changed=False)
    keys = repack_keys_of(tables) if mode == 'repack' else None
    refusals = plan.explicit_refusals(tables, mode, inputs.max_full_size if mode == 'full' else None, keys)
    if refusals:
        module.fail_json(msg='%s. Nothing was changed.' % ' '.join(refusals), changed=False)
    return [{'table': t, 'reason': 'listed'} for t in tables], []


# --- pg_repack -------------------------------------------------------------------

class Repack(object):
    """The pg_repack client and the checks it needs, done before anything runs."""

    def __init__(self, module, conn, inputs, info):
        self.module = module
        self.conn = conn
        self.inputs = inputs
        self.info = info
        self.facts = {}
        self.free_by_tablespace = {}

    def fail(self, msg):
        self.module.fail_json(msg='mode=repack: %s. Nothing was changed (and VACUUM FULL is never used instead).' % msg,
                              changed=False, repack=self.facts)

    def prepare(self):
        if not self.info['is_superuser']:
            self.fail('pg_repack needs a superuser login; "%s" is not a superuser' % self.info['user'])
        self.facts['extension_version'] = fetch_value(
            self.conn, "SELECT extversion FROM pg_extension WHERE extname = 'pg_repack'")
        self.client = self._find_client()
        rc, out, err = self.module.run_command([self.client, '--version'])
        version = parse_version(out or err) if rc == 0 else None
        self.facts.update(client=self.client, client_version=version_text(version) if version else None)
        problem = plan.repack_version_problem(version, self.facts['extension_version'])
        if problem:
            self.fail(problem)
        try:
            self.env = libpq_environment(build_connect_kwargs(self.module.params), 'pg_repack')
        except ClientProgramError as e:
            self.fail(str(e))

    def _find_client(self):
        override = self.module.params['repack_binary']
        for path in candidate_paths('pg_repack', self.info['server_major'], override=override):
            if os.path.isfile(path) and os.access(path, os.X_OK):
                return path
        if override:
            self.fail('the pg_repack client %s does not exist or is not executable (repack_binary)' % override)
        self.fail('the pg_repack client was not found; install postgresql-%d-repack on the host running the module, '
                  'or set repack_binary' % self.info['server_major'])
        return None

    def free_space(self, table):
        """(free bytes, source text) for the table's tablespace; fails when unknown."""
        if self.inputs.free_space is not None:
            return self.inputs.free_space, 'free_space option'
        location = table_stats.storage_location(self.conn, table['tablespace_oid'])
        free, reason = local_free_bytes(location)
        if free is None:
            self.fail('cannot tell the free disk space of the database server (%s); set free_space to the free bytes '
                      'of the file system holding the tables, or run the module on the database host' % reason)
        return free, 'statvfs of %s' % location['directory']

    def space_refusal(self, table):
        free, source = self.free_space(table)
        self.facts.update(free_space_bytes=free, free_space_source=source)
        return plan.repack_space_refusal(table, free)

    def command(self, table):
        return [self.client, '--no-kill-backend', '--wait-timeout=%d' % self.wait_timeout(),
                '--dbname=%s' % self.info['database'],
                '--table=%s' % quoted_name(self.conn, table['schema'], table['name'])]

    def wait_timeout(self):
        if not self.inputs.lock_timeout:
            return 60  # lock_timeout 0 means no limit; pg_repack's own default
        return max(1, int(math.ceil(self.inputs.lock_timeout)))

    def leftovers(self, table):
        """What an interrupted pg_repack left on the table: its trigger and its work tables."""
        return fetch_value(self.conn, """
            SELECT array_remove(ARRAY[
                (SELECT 'trigger repack_trigger' FROM pg_trigger WHERE tgrelid = %(oid)s AND tgname = 'repack_trigger'),
                (SELECT 'repack.' || relname FROM pg_class WHERE relnamespace = to_regnamespace('repack')
                    AND relname IN ('log_' || %(oid)s::oid::text, 'table_' || %(oid)s::oid::text) ORDER BY 1 LIMIT 1),
                (SELECT 'repack.' || relname FROM pg_class WHERE relnamespace = to_regnamespace('repack')
                    AND relname IN ('log_' || %(oid)s::oid::text, 'table_' || %(oid)s::oid::text) ORDER BY 1 OFFSET 1)
            ], NULL)""", {'oid': table['oid']}) or []

    def clear_leftovers(self, table):
        """Drop what an interrupted pg_repack left on the table, with pg_repack's own repack_drop(),
        unless a pg_repack is connected to the database now. (status, message): status None when
        the table may be repacked."""
        found = self.leftovers(table)
        if not found:
            return None, None
        what = ', '.join(found)
        if fetch_value(self.conn, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                                  " AND application_name = 'pg_repack'"):
            return 'skipped', ('a pg_repack left %s on the table and a pg_repack session is connected to the database '
                               'now; left alone' % what)
        try:
            fetch_value(self.conn, 'SELECT repack.repack_drop(%s::oid, 4)', (table['oid'],))
        except psycopg2.Error as e:
            return 'failed', 'could not drop what an interrupted pg_repack left (%s): %s' % (what, server_error(e))
        return None, 'dropped what an interrupted pg_repack left (%s)' % what

    def run(self, table):
        status, note = self.clear_leftovers(table)
        if status:
            return status, note
        rc, out, err = self.module.run_command(self.command(table), environ_update=self.env)
        status, message = plan.repack_outcome(rc, '%s\n%s' % (out or '', err or ''))
        return status, '; '.join(m for m in (note, message) if m) or None


# --- running -------------------------------------------------------------------

def run_table(conn, entry, statement, repack):
    """Process one table; returns the report entry."""
    table = entry['table']
    before = table_stats.table_by_oid(conn, table['oid']) or table
    del conn.notices[:]
    started = time.monotonic()
    status, message = 'done', None
    if repack is not None:
        refusal = repack.space_refusal(before)
        if refusal:
            status, message = 'failed', refusal
        else:
            status, message = repack.run(before)
    else:
        try:
            execute(conn, statement)
            notice = plan.skipped_notice(conn.notices)
            denied = plan.permission_notice(conn.notices)
            if denied:
                status, message = 'failed', plan.permission_failure(denied, conn.server_version)
            elif notice:
                status, message = 'skipped', notice
        except psycopg2.Error as e:
            reason = server_error(e)
            if e.pgcode == LOCK_NOT_AVAILABLE:
                status, message = 'skipped', 'lock not available within lock_timeout: %s' % reason
            else:
                status, message = 'failed', reason
    duration = time.monotonic() - started
    # after a lost connection (server restart, pg_terminate_backend) keep the statement's own error
    after = {} if conn.closed else table_stats.table_by_oid(conn, table['oid']) or {}
    return {
        'table': plan.qualified(table),
        'reason': entry['reason'],
        'status': status,
        'statement': entry['statement'],
        'duration_seconds': round(duration, 3),
        'dead_tuples_before': int(before['n_dead_tup']),
        'dead_tuples_after': int(after['n_dead_tup']) if after else None,
        'bytes_before': int(before['total_bytes']),
        'bytes_after': int(after['total_bytes']) if after else None,
        'message': message,
    }


def planned_entry(entry, status='planned'):
    table = entry['table']
    return {
        'table': plan.qualified(table),
        'reason': entry['reason'],
        'status': status,
        'statement': entry['statement'],
        'duration_seconds': None,
        'dead_tuples_before': int(table['n_dead_tup']),
        'dead_tuples_after': None,
        'bytes_before': int(table['total_bytes']),
        'bytes_after': None,
        'message': None,
    }


def summary(mode, reports, left, check_mode):
    done = [r for r in reports if r['status'] == 'done']
    if check_mode:
        if not reports:
            return '%s: no table to process' % mode
        return '%s: would process %d table(s): %s' % (mode, len(reports), ', '.join(r['table'] for r in reports))
    if not reports:
        return '%s: no table to process' % mode
    parts = ['%s: %d of %d table(s) done' % (mode, len(done), len(reports) - len(left))]
    reclaimed = sum(r['bytes_before'] - r['bytes_after'] for r in done if r['bytes_after'] is not None)
    if mode != 'analyze':
        parts.append('%s reclaimed' % format_size(reclaimed))
    for status in ('skipped', 'failed'):
        names = [r['table'] for r in reports if r['status'] == status]
        if names:
            described = ['%s (%s)' % (r['table'], r['message']) for r in reports if r['status'] == status]
            parts.append('%s: %s' % (status, ', '.join(described)))
    if left:
        parts.append('not started after max_runtime: %s' % ', '.join(left))
    return '; '.join(parts)


def main():
    argument_spec = dict(
        mode=dict(type='str', default='vacuum_analyze', choices=list(plan.MODES)),
        tables=dict(type='raw', default='auto'),
        schema=dict(type='str', default='public'),
        min_dead_ratio=dict(type='float', default=50),
        min_dead_tuples=dict(type='int', default=1000),
        min_size=dict(type='raw', default=0),
        skip_locked=dict(type='bool', default=True),
        parallel=dict(type='int'),
        index_cleanup=dict(type='str', choices=['auto', 'on', 'off']),
        process_toast=dict(type='bool'),
        allow_full=dict(type='bool', default=False),
        max_full_size=dict(type='raw', default='1GiB'),
        repack_binary=dict(type='path'),
        free_space=dict(type='raw'),
        max_runtime=dict(type='raw'),
        cost_delay=dict(type='float', default=plan.DEFAULT_COST_DELAY_MS),
        cost_limit=dict(type='int', default=plan.DEFAULT_COST_LIMIT),
    )
    argument_spec.update(write_argument_spec())
    module = prefect_module(argument_spec, supports_check_mode=True)
    inputs = Inputs(module)
    mode = inputs.mode
    if mode == 'full' and not module.params['allow_full']:
        module.fail_json(msg=FULL_REFUSED, changed=False)
    try:
        cost = plan.cost_settings(module.params['cost_delay'], module.params['cost_limit'])
    except plan.PlanError as e:
        module.fail_json(msg='%s; nothing was changed.' % e, changed=False)

    conn = connect(module)
    try:
        with exclusive_run(module, conn, MODULE_NAME):
            set_session_timeouts(conn, lock_timeout=inputs.lock_timeout)
            for setting, value in cost:
                execute(conn, 'SELECT set_config(%s, %s, false)', (setting, value))
            info = table_stats.server_info(conn)
            notes = []
            command, options = None, []
            if mode != 'repack':
                try:
                    command, options, notes = plan.vacuum_options(
                        mode, info['server_version_num'], skip_locked=module.params['skip_locked'],
                        parallel=module.params['parallel'], index_cleanup=module.params['index_cleanup'],
                        process_toast=module.params['process_toast'])
                except plan.PlanError as e:
                    module.fail_json(msg='%s; nothing was changed.' % e, changed=False)
            elif any(module.params[o] is not None for o in ('parallel', 'index_cleanup', 'process_toast')):
                module.fail_json(msg='parallel, index_cleanup and process_toast are VACUUM options; mode=repack does not '
                                     'take them. Nothing was changed.', changed=False)

            repack = None
            if mode == 'repack':
                repack = Repack(module, conn, inputs, info)
                repack.prepare()

            def keys_of(tables):
                return table_stats.repack_keys(conn, [t['oid'] for t in tables])

            entries, not_selected = choose_tables(module, conn, inputs, keys_of)
            if repack is not None:
                # the disk check, before anything runs: listed tables fail the run, auto leaves them out
                kept = []
                for entry in entries:
                    refusal = repack.space_refusal(entry['table'])
                    if refusal and not inputs.auto:
                        repack.fail(refusal)
                    if refusal:
                        not_selected.append({'table': entry['table'], 'reason': '%s; but %s' % (entry['reason'], refusal)})
                    else:
                        kept.append(entry)
                entries = kept
            for entry in entries:
                table = entry['table']
                if repack is not None:
                    entry['statement'] = ' '.join(repack.command(table))
                else:
                    statement = pgsql.SQL('{} {}{}').format(
                        pgsql.SQL(command),
                        pgsql.SQL('(%s) ' % ', '.join(options)) if options else pgsql.SQL(''),
                        qualified_sql(table['schema'], table['name']))
                    entry['sql'] = statement
                    entry['statement'] = statement.as_string(conn)

            result = dict(
                mode=mode, selection='auto' if inputs.auto else 'list',
                not_selected=[{'table': plan.qualified(e['table']), 'reason': e['reason']} for e in not_selected],
                notes=notes, left=[], server_version_num=info['server_version_num'],
                cost_delay=module.params['cost_delay'], cost_limit=module.params['cost_limit'],
            )
            if module.check_mode:
                reports = [planned_entry(e) for e in entries]
                if repack is not None:
                    result['repack'] = repack.facts
                module.exit_json(changed=bool(reports), tables=reports, bytes_reclaimed=0,
                                 msg=summary(mode, reports, [], True), **jsonable(result))

            reports, left = [], []
            started = None
            for entry in entries:
                now = time.monotonic()
                if started is None:
                    started = now
                elif not plan.budget_left(started, now, inputs.max_runtime):
                    left.append(plan.qualified(entry['table']))
                    reports.append(planned_entry(entry, status='not_started'))
                    continue
                try:
                    reports.append(run_table(conn, entry, entry.get('sql'), repack))
                except psycopg2.Error as e:  # reading the statistics around it failed
                    failed = planned_entry(entry, status='failed')
                    failed['message'] = server_error(e)
                    reports.append(failed)
            done = [r for r in reports if r['status'] == 'done']
            result.update(
                tables=reports, left=left,
                bytes_reclaimed=sum(r['bytes_before'] - r['bytes_after'] for r in done if r['bytes_after'] is not None))
            if repack is not None:
                result['repack'] = repack.facts
            changed = bool(done)
            msg = summary(mode, reports, left, False)
            failed = [r for r in reports if r['status'] == 'failed']
            if failed:
                module.fail_json(changed=changed, msg='%s. The tables marked done were processed; the failed ones are '
                                                      'as before.' % msg, **jsonable(result))
            module.exit_json(changed=changed, msg=msg, **jsonable(result))
    except psycopg2.Error as e:
        module.fail_json(changed=False, msg='vacuum: the server refused a statement while planning: %s. '
                                            'Nothing was changed.' % server_error(e))
    finally:
        conn.close()


if __name__ == '__main__':
    main()
