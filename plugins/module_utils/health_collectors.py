# -*- coding: utf-8 -*-
# Copyright: prefectdb.maintenance contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only collectors for the health module: catalog and statistics queries that
return plain dicts. None of them reads a table's rows: sizes come from
pg_relation_size, row counts from pg_class.reltuples and pg_stat_*, widths from
pg_stats. A login with pg_monitor can run every one of them.

The Prefect-specific collector lives in health_prefect.py, the disk one in
health_disk.py."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.prefectdb.maintenance.plugins.module_utils.connection import fetch_all, fetch_one
from ansible_collections.prefectdb.maintenance.plugins.module_utils.health_autovacuum import (
    AUTOVACUUM_SETTINGS, autovacuum_triggers, effective_autovacuum, normalize_settings, parse_reloptions,
)
from ansible_collections.prefectdb.maintenance.plugins.module_utils.health_bloat import (
    estimate_btree_bloat, estimate_table_bloat, pgstattuple_wasted,
)
from ansible_collections.prefectdb.maintenance.plugins.module_utils.prefect_schema import PREFECT_TABLES
from ansible_collections.prefectdb.maintenance.plugins.module_utils.results import jsonable

try:
    import psycopg2
    from psycopg2 import errorcodes
except ImportError:  # pragma: no cover - guarded by connection.prefect_module()
    psycopg2 = None
    errorcodes = None

QUERY_TEXT_CHARS = 200
LEFTOVER_PATTERN = r'_cc(new|old)[0-9]*$'


class Context(object):
    """What the collectors share during one run: the connection, options and caches."""

    def __init__(self, conn, top_tables=20, thresholds=None, use_pgstattuple=True, disk_total_bytes=None):
        self.conn = conn
        self.top_tables = top_tables
        self.thresholds = thresholds or {}
        self.use_pgstattuple = use_pgstattuple
        self.disk_total_bytes = disk_total_bytes
        self.cache = {}

    def once(self, key, produce):
        if key not in self.cache:
            self.cache[key] = produce()
        return self.cache[key]


def _int(value):
    return None if value is None else int(value)


def _float(value, digits=2):
    return None if value is None else round(float(value), digits)


# --- server and database -------------------------------------------------------

def database_facts(ctx):
    row = fetch_one(ctx.conn, """
        SELECT current_database() AS name, pg_database_size(current_database()) AS size_bytes,
               current_setting('server_version') AS server_version,
               current_setting('server_version_num')::int AS server_version_num,
               pg_is_in_recovery() AS in_recovery, current_setting('block_size')::int AS block_size,
               now() AS collected_at, pg_postmaster_start_time() AS postmaster_start_time,
               d.stats_reset, current_user AS user, r.rolsuper AS is_superuser,
               ARRAY(SELECT rolname FROM pg_roles
                      WHERE rolname IN ('pg_monitor', 'pg_read_all_stats', 'pg_read_all_settings',
                                        'pg_stat_scan_tables', 'pg_read_all_data')
                        AND pg_has_role(current_user, oid, 'USAGE') ORDER BY rolname) AS roles
          FROM pg_roles r LEFT JOIN pg_stat_database d ON d.datname = current_database()
         WHERE r.rolname = current_user""")
    return {
        'name': row['name'],
        'size_bytes': int(row['size_bytes']),
        'server_version': row['server_version'],
        'server_version_num': row['server_version_num'],
        'in_recovery': bool(row['in_recovery']),
        'block_size': row['block_size'],
        'collected_at': jsonable(row['collected_at']),
        'postmaster_start_time': jsonable(row['postmaster_start_time']),
        'stats_reset': jsonable(row['stats_reset']),
        'login': {'user': row['user'], 'is_superuser': bool(row['is_superuser']), 'roles': list(row['roles'])},
    }


def settings(ctx):
    def produce():
        rows = fetch_all(ctx.conn, 'SELECT name, setting, unit, vartype FROM pg_settings WHERE name = ANY(%s)',
                         (list(AUTOVACUUM_SETTINGS),))
        return normalize_settings(rows)
    return ctx.once('settings', produce)


def prefect_schema(ctx):
    """The schema holding Prefect's flow_run table (on the search_path), or None."""
    def produce():
        row = fetch_one(ctx.conn, """
            SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.oid = to_regclass('flow_run')""")
        return row['nspname'] if row else None
    return ctx.once('prefect_schema', produce)


# --- tables ----------------------------------------------------------------------

_TABLES_SQL = """
    SELECT c.oid AS relid, n.nspname AS schema, c.relname AS name, NULLIF(c.reltoastrelid, 0) AS toast_relid,
           {sizes},
           c.relpages, c.reltuples, c.reloptions, t.reloptions AS toast_reloptions,
           age(c.relfrozenxid) AS relfrozenxid_age, mxid_age(c.relminmxid) AS relminmxid_age,
           GREATEST(age(t.relfrozenxid), 0) AS toast_relfrozenxid_age,
           s.n_live_tup, s.n_dead_tup, s.n_mod_since_analyze, s.n_ins_since_vacuum,
           s.n_tup_ins, s.n_tup_upd, s.n_tup_del, s.n_tup_hot_upd, s.seq_scan, s.idx_scan,
           s.last_vacuum, s.last_autovacuum, s.last_analyze, s.last_autoanalyze,
           s.vacuum_count, s.autovacuum_count, s.analyze_count, s.autoanalyze_count,
           EXTRACT(epoch FROM now() - GREATEST(s.last_vacuum, s.last_autovacuum)) AS seconds_since_vacuum,
           EXTRACT(epoch FROM now() - GREATEST(s.last_analyze, s.last_autoanalyze)) AS seconds_since_analyze,
           has_any_column_privilege(c.oid, 'SELECT') AS stats_visible
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
      LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid
     WHERE c.relkind IN ('r', 'm')
       AND n.nspname NOT IN ('pg_catalog', 'information_schema')
       AND n.nspname !~ '^pg_(toast|temp_)'"""

# Exact sizes (stat() of the files, an AccessShareLock per relation) ...
_EXACT_SIZES = """pg_total_relation_size(c.oid) AS total_bytes,
           pg_relation_size(c.oid, 'main') AS heap_main_bytes,
           pg_table_size(c.oid) AS table_bytes,
           pg_indexes_size(c.oid) AS index_bytes,
           COALESCE(pg_total_relation_size(c.reltoastrelid), 0) AS toast_bytes"""
# ... or, when a relation is locked exclusively (VACUUM FULL, a rewrite), the page
# counts of the last VACUUM/ANALYZE, which need no lock.
_RELPAGES_SIZES = """(c.relpages + COALESCE(t.relpages, 0)
            + COALESCE((SELECT sum(i.relpages) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                         WHERE x.indrelid = c.oid), 0))::bigint * current_setting('block_size')::int AS total_bytes,
           c.relpages::bigint * current_setting('block_size')::int AS heap_main_bytes,
           (c.relpages + COALESCE(t.relpages, 0))::bigint * current_setting('block_size')::int AS table_bytes,
           COALESCE((SELECT sum(i.relpages) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                      WHERE x.indrelid = c.oid), 0)::bigint * current_setting('block_size')::int AS index_bytes,
           COALESCE(t.relpages, 0)::bigint * current_setting('block_size')::int AS toast_bytes"""


def _is_lock_timeout(error):
    return getattr(error, 'pgcode', None) == errorcodes.LOCK_NOT_AVAILABLE


def all_tables(ctx):
    """Every user table with sizes, statistics and autovacuum state (cached)."""
    def produce():
        method = 'pg_relation_size'
        try:
            rows = fetch_all(ctx.conn, _TABLES_SQL.format(sizes=_EXACT_SIZES))
        except psycopg2.Error as e:
            if not _is_lock_timeout(e):
                raise
            rows = fetch_all(ctx.conn, _TABLES_SQL.format(sizes=_RELPAGES_SIZES))
            method = 'relpages (a table was locked exclusively; sizes as of the last VACUUM/ANALYZE)'
        pschema = prefect_schema(ctx)
        server = settings(ctx)
        tables = [_table_facts(row, pschema, server) for row in rows]
        tables.sort(key=lambda t: (-t['total_bytes'], t['qualified']))
        return {'tables': tables, 'sizes_method': method}
    return ctx.once('all_tables', produce)


def _table_facts(row, pschema, server):
    reloptions = parse_reloptions(row['reloptions'])
    toast_reloptions = parse_reloptions(row['toast_reloptions'])
    effective = effective_autovacuum(reloptions, server)
    live = _int(row['n_live_tup']) or 0
    dead = _int(row['n_dead_tup']) or 0
    ins = _int(row['n_ins_since_vacuum']) or 0
    ratio = round(100.0 * dead / live, 2) if live > 0 else (None if dead > 0 else 0.0)
    reltuples = float(row['reltuples']) if row['reltuples'] is not None else -1
    triggers = autovacuum_triggers(effective, reltuples, dead, ins, row['n_mod_since_analyze'])
    table_bytes = int(row['table_bytes'])
    toast_bytes = int(row['toast_bytes'])
    return {
        'relid': int(row['relid']),
        'toast_relid': _int(row['toast_relid']),
        'schema': row['schema'],
        'name': row['name'],
        'qualified': '%s.%s' % (row['schema'], row['name']),
        'is_prefect': row['schema'] == pschema and row['name'] in PREFECT_TABLES,
        'total_bytes': int(row['total_bytes']),
        'heap_bytes': table_bytes - toast_bytes,
        'heap_main_bytes': int(row['heap_main_bytes']),
        'index_bytes': int(row['index_bytes']),
        'toast_bytes': toast_bytes,
        'relpages': int(row['relpages']),
        'reltuples': reltuples,
        'rows_estimate': None if reltuples < 0 else int(reltuples),
        'live_rows': live,
        'dead_rows': dead,
        'dead_row_ratio_percent': ratio,
        'n_mod_since_analyze': _int(row['n_mod_since_analyze']),
        'n_ins_since_vacuum': ins,
        'changes_since_vacuum': dead + ins,
        'inserts': _int(row['n_tup_ins']),
        'updates': _int(row['n_tup_upd']),
        'hot_updates': _int(row['n_tup_hot_upd']),
        'deletes': _int(row['n_tup_del']),
        'seq_scans': _int(row['seq_scan']),
        'index_scans': _int(row['idx_scan']),
        'last_vacuum': jsonable(row['last_vacuum']),
        'last_autovacuum': jsonable(row['last_autovacuum']),
        'last_analyze': jsonable(row['last_analyze']),
        'last_autoanalyze': jsonable(row['last_autoanalyze']),
        'vacuum_count': _int(row['vacuum_count']),
        'autovacuum_count': _int(row['autovacuum_count']),
        'analyze_count': _int(row['analyze_count']),
        'autoanalyze_count': _int(row['autoanalyze_count']),
        'seconds_since_vacuum': _float(row['seconds_since_vacuum'], 0),
        'seconds_since_analyze': _float(row['seconds_since_analyze'], 0),
        'relfrozenxid_age': _int(row['relfrozenxid_age']),
        'relminmxid_age': _int(row['relminmxid_age']),
        'toast_relfrozenxid_age': _int(row['toast_relfrozenxid_age']),
        'fillfactor': reloptions.get('fillfactor', 100),
        'reloptions': reloptions,
        'toast_reloptions': toast_reloptions,
        'autovacuum': dict(effective, **triggers),
        'table_enabled': effective['table_enabled'],
        'toast_enabled': toast_reloptions.get('autovacuum_enabled', True),
        'vacuum_due': triggers['vacuum_due'],
        'stats_visible': bool(row['stats_visible']),
    }


def _flagged(table, t):
    """A table outside the largest N that a rule would name is reported too."""
    if not t:
        return False
    ratio = table['dead_row_ratio_percent']
    if table['dead_rows'] >= t.get('dead_rows_min', 0) and (ratio is None or ratio > t.get(
            'dead_rows_monitor_percent', 0)):
        return True
    if table['table_enabled'] is False or table['toast_enabled'] is False:
        return True
    if table['changes_since_vacuum'] >= t.get('active_table_min_changes', 0):
        since = table['seconds_since_vacuum']
        limit = t.get('autovacuum_stale_after')
        if (since is not None and limit is not None and since > limit) or (since is None and table['vacuum_due']):
            return True
    return False


def reported_tables(ctx):
    """The N largest tables, every Prefect table, and any table a rule would name."""
    def produce():
        everything = all_tables(ctx)['tables']
        chosen = []
        for index, table in enumerate(everything):
            if index < ctx.top_tables or table['is_prefect'] or _flagged(table, ctx.thresholds):
                chosen.append(table)
        return chosen
    return ctx.once('reported_tables', produce)


_TABLE_KEYS = ('qualified', 'schema', 'name', 'is_prefect', 'total_bytes', 'heap_bytes', 'index_bytes', 'toast_bytes',
               'rows_estimate', 'live_rows', 'dead_rows', 'dead_row_ratio_percent', 'n_mod_since_analyze',
               'n_ins_since_vacuum', 'inserts', 'updates', 'hot_updates', 'deletes', 'seq_scans', 'index_scans',
               'last_vacuum', 'last_autovacuum', 'last_analyze', 'last_autoanalyze', 'vacuum_count',
               'autovacuum_count', 'analyze_count', 'autoanalyze_count', 'seconds_since_vacuum',
               'seconds_since_analyze', 'relfrozenxid_age', 'relminmxid_age', 'reloptions', 'toast_reloptions')


def collect_tables(ctx):
    everything = all_tables(ctx)
    chosen = reported_tables(ctx)
    tables = []
    for table in chosen:
        item = dict((k, table[k]) for k in _TABLE_KEYS)
        av = table['autovacuum']
        item['autovacuum'] = {
            'enabled': av['enabled'], 'vacuum_threshold': av['vacuum_threshold'],
            'vacuum_scale_factor': av['vacuum_scale_factor'], 'vacuum_max_threshold': av.get('vacuum_max_threshold'),
            'vacuum_insert_threshold': av['vacuum_insert_threshold'],
            'vacuum_insert_scale_factor': av['vacuum_insert_scale_factor'],
            'analyze_threshold': av['analyze_threshold'], 'analyze_scale_factor': av['analyze_scale_factor'],
            'vacuum_cost_limit': av['vacuum_cost_limit'], 'vacuum_cost_delay': av['vacuum_cost_delay'],
            'freeze_max_age': av['freeze_max_age'], 'source': av['source'],
        }
        tables.append(item)
    return {
        'tables': tables,
        'table_count': len(everything['tables']),
        'reported': len(tables),
        'top_tables': ctx.top_tables,
        'sizes_method': everything['sizes_method'],
    }


# --- autovacuum --------------------------------------------------------------------

def collect_autovacuum(ctx):
    server = settings(ctx)
    workers = fetch_all(ctx.conn, """
        SELECT pid, left(query, %s) AS query, EXTRACT(epoch FROM now() - xact_start) AS running_seconds,
               wait_event_type, wait_event
          FROM pg_stat_activity WHERE backend_type = 'autovacuum worker' ORDER BY xact_start""", (QUERY_TEXT_CHARS,))
    tables = []
    for table in reported_tables(ctx):
        av = table['autovacuum']
        tables.append({
            'qualified': table['qualified'],
            'enabled': av['enabled'],
            'table_enabled': table['table_enabled'],
            'toast_enabled': table['toast_enabled'],
            'last_vacuum': table['last_vacuum'],
            'last_autovacuum': table['last_autovacuum'],
            'seconds_since_vacuum': table['seconds_since_vacuum'],
            'seconds_since_analyze': table['seconds_since_analyze'],
            'changes_since_vacuum': table['changes_since_vacuum'],
            'dead_rows': table['dead_rows'],
            'vacuum_dead_rows_trigger': av['vacuum_dead_rows_trigger'],
            'vacuum_insert_trigger': av['vacuum_insert_trigger'],
            'analyze_trigger': av['analyze_trigger'],
            'vacuum_due': av['vacuum_due'],
            'analyze_due': av['analyze_due'],
            'autovacuum_count': table['autovacuum_count'],
        })
    return {
        'settings': server,
        'workers_running': len(workers),
        'workers': [dict((k, jsonable(v)) for k, v in w.items()) for w in workers],
        'tables': tables,
    }


# --- bloat ---------------------------------------------------------------------------

def _columns_by_relation(rows, key):
    grouped = {}
    for row in rows:
        grouped.setdefault(int(row[key]), []).append(row)
    return grouped


def _pgstattuple_function(ctx):
    row = fetch_one(ctx.conn, """
        SELECT n.nspname AS schema,
               has_function_privilege(p.oid, 'EXECUTE') AS can_execute
          FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
          JOIN pg_proc p ON p.proname = 'pgstattuple_approx' AND p.pronamespace = n.oid
         WHERE e.extname = 'pgstattuple'
         LIMIT 1""")
    return row


def collect_bloat(ctx):
    t = ctx.thresholds
    block_size = ctx.once('block_size', lambda: int(fetch_one(
        ctx.conn, "SELECT current_setting('block_size')::int AS bs")['bs']))
    tables = reported_tables(ctx)
    relids = [table['relid'] for table in tables]
    columns = _columns_by_relation(fetch_all(ctx.conn, """
        SELECT a.attrelid AS relid, a.attnum, a.attname, a.attlen, ty.typalign,
               s.avg_width, s.null_frac, s.n_distinct, s.attname IS NOT NULL AS has_stats
          FROM pg_attribute a
          JOIN pg_type ty ON ty.oid = a.atttypid
          JOIN pg_class c ON c.oid = a.attrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace
          LEFT JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = c.relname
                              AND s.attname = a.attname AND NOT s.inherited
         WHERE a.attrelid = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped
         ORDER BY a.attrelid, a.attnum""", (relids,)), 'relid')
    table_estimates = []
    for table in tables:
        estimate = estimate_table_bloat(table, columns.get(table['relid'], []), block_size)
        estimate['relation'] = table['qualified']
        estimate['pgstattuple_approx'] = None
        estimate['toast_pgstattuple_approx'] = None
        table_estimates.append(estimate)

    pgstattuple = {'installed': False, 'usable': False, 'used_for': []}
    function = _pgstattuple_function(ctx) if ctx.use_pgstattuple else None
    if function:
        pgstattuple.update(installed=True, usable=bool(function['can_execute']), schema=function['schema'])
    if ctx.use_pgstattuple and pgstattuple['usable']:
        floor = t.get('bloat_min_bytes', 0)
        by_name = dict((table['qualified'], table) for table in tables)
        for estimate in table_estimates:
            table = by_name[estimate['relation']]
            ratio = estimate.get('bloat_ratio_percent')
            flagged = not estimate.get('reliable') or (ratio is None and estimate.get('wasted_bytes')) or \
                (ratio or 0) > t.get('bloat_warning_percent', 0)
            if flagged and table['heap_main_bytes'] >= floor:
                estimate['pgstattuple_approx'] = _approx(ctx, function['schema'], table['relid'])
                pgstattuple['used_for'].append(estimate['relation'])
            toast_heavy = any(r.startswith('TOAST-heavy') for r in estimate.get('reasons') or [])
            if toast_heavy and table['toast_relid'] and table['toast_bytes'] >= floor:
                estimate['toast_pgstattuple_approx'] = _approx(ctx, function['schema'], table['toast_relid'])
                pgstattuple['used_for'].append(estimate['relation'] + ' (TOAST)')

    index_estimates = [dict(e, table=i['table']) for i, e in _index_estimates(ctx, tables, block_size)]
    return {'tables': table_estimates, 'indexes': index_estimates, 'pgstattuple': pgstattuple,
            'block_size': block_size}


def _approx(ctx, schema, relid):
    """pgstattuple_approx() figures for one relation, or the error it raised."""
    try:
        row = fetch_one(ctx.conn, 'SELECT * FROM %s.pgstattuple_approx(%%s::oid::regclass)' % _quote_ident(schema),
                        (relid,))
    except psycopg2.Error as e:
        return {'error': ' '.join(str(e).split())}
    figures = pgstattuple_wasted(row)
    figures['scanned_percent'] = _float(row.get('scanned_percent'))
    figures['method'] = 'pgstattuple_approx'
    return figures


def _quote_ident(name):
    return '"%s"' % name.replace('"', '""')


def _index_estimates(ctx, tables, block_size):
    indexes = [i for i in all_indexes(ctx) if i['table_relid'] in set(t['relid'] for t in tables)]
    if not indexes:
        return []
    columns = _columns_by_relation(fetch_all(ctx.conn, """
        SELECT a.attrelid AS indexrelid, a.attnum, a.attname, a.attlen, ty.typalign,
               COALESCE(ts.avg_width, xs.avg_width) AS avg_width,
               COALESCE(ts.null_frac, xs.null_frac) AS null_frac,
               COALESCE(ts.n_distinct, xs.n_distinct) AS n_distinct,
               (ts.attname IS NOT NULL OR xs.attname IS NOT NULL) AS has_stats
          FROM pg_attribute a
          JOIN pg_index i ON i.indexrelid = a.attrelid
          JOIN pg_type ty ON ty.oid = a.atttypid
          JOIN pg_class ic ON ic.oid = i.indexrelid
          JOIN pg_class c ON c.oid = i.indrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace
          LEFT JOIN pg_attribute ta ON ta.attrelid = i.indrelid AND ta.attnum = i.indkey[a.attnum - 1]
                                   AND i.indkey[a.attnum - 1] <> 0
          LEFT JOIN pg_stats ts ON ts.schemaname = n.nspname AND ts.tablename = c.relname
                               AND ts.attname = ta.attname AND NOT ts.inherited
          LEFT JOIN pg_stats xs ON i.indkey[a.attnum - 1] = 0 AND xs.schemaname = n.nspname
                               AND xs.tablename = ic.relname AND xs.attname = a.attname
         WHERE a.attrelid = ANY(%s) AND a.attnum > 0
         ORDER BY a.attrelid, a.attnum""", ([i['indexrelid'] for i in indexes],)), 'indexrelid')
    out = []
    for index in indexes:
        cols = columns.get(index['indexrelid'], [])
        if len(cols) > 1:  # duplicates of the first key say little about a multi-column key
            cols = [dict(c, n_distinct=None) for c in cols]
        out.append((index, estimate_btree_bloat(index, cols, block_size)))
    return out


# --- indexes -------------------------------------------------------------------------

_INDEXES_SQL = """
    SELECT i.indexrelid, i.indrelid AS table_relid, n.nspname AS schema, ic.relname AS name,
           c.relname AS table_name, am.amname AS access_method,
           i.indisunique AS unique, i.indisprimary AS primary, i.indisvalid AS valid, i.indisready AS ready,
           i.indislive AS live, {size} AS index_bytes, ic.relpages, ic.reltuples, ic.reloptions,
           s.idx_scan, s.idx_tup_read, s.idx_tup_fetch,
           EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) AS backs_constraint,
           ic.relname ~ %(leftover)s AS leftover
      FROM pg_index i
      JOIN pg_class ic ON ic.oid = i.indexrelid
      JOIN pg_class c ON c.oid = i.indrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_am am ON am.oid = ic.relam
      LEFT JOIN pg_stat_all_indexes s ON s.indexrelid = i.indexrelid
     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'"""


def all_indexes(ctx):
    def produce():
        params = {'leftover': LEFTOVER_PATTERN}
        try:
            rows = fetch_all(ctx.conn, _INDEXES_SQL.format(size='pg_relation_size(i.indexrelid)'), params)
        except psycopg2.Error as e:
            if not _is_lock_timeout(e):
                raise
            rows = fetch_all(ctx.conn, _INDEXES_SQL.format(
                size="ic.relpages::bigint * current_setting('block_size')::int"), params)
        out = []
        for row in rows:
            reloptions = parse_reloptions(row['reloptions'])
            out.append({
                'indexrelid': int(row['indexrelid']),
                'table_relid': int(row['table_relid']),
                'qualified': '%s.%s' % (row['schema'], row['name']),
                'table': '%s.%s' % (row['schema'], row['table_name']),
                'access_method': row['access_method'],
                'unique': bool(row['unique']),
                'primary': bool(row['primary']),
                'valid': bool(row['valid']),
                'ready': bool(row['ready']),
                'live': bool(row['live']),
                'index_bytes': int(row['index_bytes']),
                'relpages': int(row['relpages']),
                'reltuples': float(row['reltuples']),
                'fillfactor': reloptions.get('fillfactor'),
                'scans': _int(row['idx_scan']),
                'tuples_read': _int(row['idx_tup_read']),
                'tuples_fetched': _int(row['idx_tup_fetch']),
                'backs_constraint': bool(row['backs_constraint']),
                'leftover_of_concurrent_build': bool(row['leftover']),
            })
        out.sort(key=lambda i: (-i['index_bytes'], i['qualified']))
        return out
    return ctx.once('all_indexes', produce)


def collect_indexes(ctx):
    t = ctx.thresholds
    everything = all_indexes(ctx)
    reported = set(table['relid'] for table in reported_tables(ctx))
    keys = ('qualified', 'table', 'access_method', 'unique', 'primary', 'valid', 'index_bytes', 'scans',
            'tuples_read', 'tuples_fetched')
    listed = [dict((k, i[k]) for k in keys) for i in everything if i['table_relid'] in reported]
    unused = [{'qualified': i['qualified'], 'table': i['table'], 'size_bytes': i['index_bytes']}
              for i in everything
              if i['scans'] == 0 and not i['unique'] and not i['backs_constraint'] and i['valid']
              and i['index_bytes'] >= t.get('unused_index_min_bytes', 0)]
    invalid = [{'qualified': i['qualified'], 'table': i['table'], 'size_bytes': i['index_bytes'],
                'valid': i['valid'], 'ready': i['ready'], 'live': i['live'],
                'leftover_of_concurrent_build': i['leftover_of_concurrent_build']}
               for i in everything if not i['valid'] or i['leftover_of_concurrent_build']]
    return {
        'indexes': listed,
        'index_count': len(everything),
        'unused': unused,
        'unused_bytes': sum(u['size_bytes'] for u in unused),
        'invalid': invalid,
    }


# --- connections -----------------------------------------------------------------------

def collect_connections(ctx):
    row = fetch_one(ctx.conn, """
        SELECT count(*) FILTER (WHERE backend_type = 'client backend') AS total,
               count(*) FILTER (WHERE backend_type = 'client backend' AND state = 'active') AS active,
               count(*) FILTER (WHERE backend_type = 'client backend' AND state = 'idle') AS idle,
               count(*) FILTER (WHERE backend_type = 'client backend'
                                  AND state IN ('idle in transaction', 'idle in transaction (aborted)'))
                   AS idle_in_transaction,
               count(*) FILTER (WHERE backend_type = 'client backend' AND datname = current_database())
                   AS this_database,
               count(*) FILTER (WHERE backend_type = 'walsender') AS replication,
               current_setting('max_connections')::int AS max_connections,
               current_setting('superuser_reserved_connections')::int AS superuser_reserved_connections,
               COALESCE(current_setting('reserved_connections', true), '0')::int AS reserved_connections
          FROM pg_stat_activity""")
    by_app = fetch_all(ctx.conn, """
        SELECT COALESCE(NULLIF(application_name, ''), '(none)') AS application_name, datname AS database,
               count(*) AS connections
          FROM pg_stat_activity WHERE backend_type = 'client backend'
         GROUP BY 1, 2 ORDER BY 3 DESC, 1 LIMIT 10""")
    usable = row['max_connections'] - row['superuser_reserved_connections'] - row['reserved_connections']
    facts = dict((k, int(v)) for k, v in row.items())
    facts['usable'] = usable
    facts['used_percent'] = round(100.0 * row['total'] / usable, 2) if usable > 0 else None
    facts['by_application'] = [dict(r, connections=int(r['connections'])) for r in by_app]
    return facts


# --- xmin horizon --------------------------------------------------------------------

def collect_xmin(ctx):
    sessions = fetch_all(ctx.conn, """
        SELECT pid, datname, usename, application_name, client_addr::text AS client_addr, backend_type, state,
               backend_start, xact_start, state_change,
               EXTRACT(epoch FROM now() - xact_start) AS xact_age_seconds,
               EXTRACT(epoch FROM now() - state_change) AS state_age_seconds,
               age(backend_xid) AS xid_age, age(backend_xmin) AS xmin_age,
               wait_event_type, wait_event, left(query, %s) AS query
          FROM pg_stat_activity
         WHERE pid <> pg_backend_pid()
           AND (xact_start IS NOT NULL OR backend_xmin IS NOT NULL OR backend_xid IS NOT NULL)
         ORDER BY GREATEST(age(backend_xmin), age(backend_xid)) DESC NULLS LAST, xact_start NULLS LAST""",
                         (QUERY_TEXT_CHARS,))
    prepared = fetch_all(ctx.conn, """
        SELECT gid, prepared, owner, database, age(transaction) AS xid_age,
               EXTRACT(epoch FROM now() - prepared) AS age_seconds
          FROM pg_prepared_xacts ORDER BY prepared""")
    slots = fetch_all(ctx.conn, """
        SELECT slot_name, plugin, slot_type, database, temporary, active, active_pid,
               xmin::text AS xmin, catalog_xmin::text AS catalog_xmin,
               age(xmin) AS xmin_age, age(catalog_xmin) AS catalog_xmin_age,
               restart_lsn::text AS restart_lsn, wal_status, safe_wal_size,
               pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn()
                                    ELSE pg_current_wal_lsn() END, restart_lsn)::bigint AS retained_wal_bytes
          FROM pg_replication_slots ORDER BY slot_name""")
    standbys = fetch_all(ctx.conn, """
        SELECT pid, application_name, client_addr::text AS client_addr, state, sync_state,
               backend_xmin::text AS backend_xmin, age(backend_xmin) AS backend_xmin_age,
               EXTRACT(epoch FROM replay_lag) AS replay_lag_seconds
          FROM pg_stat_replication ORDER BY application_name""")
    sessions = [dict((k, jsonable(v)) for k, v in s.items()) for s in sessions]
    for s in sessions:
        for key in ('xact_age_seconds', 'state_age_seconds'):
            s[key] = _float(s[key], 1)
    holders = []
    for s in sessions:
        age = max([a for a in (s['xmin_age'], s['xid_age']) if a is not None] or [None]) \
            if (s['xmin_age'] is not None or s['xid_age'] is not None) else None
        if age is not None:
            holders.append((age, 'session', 'pid %s (%s)' % (s['pid'], s['application_name'] or s['backend_type'])))
    for p in prepared:
        holders.append((p['xid_age'], 'prepared_transaction', p['gid']))
    for slot in slots:
        for key in ('xmin_age', 'catalog_xmin_age'):
            if slot[key] is not None:
                holders.append((slot[key], 'replication_slot', slot['slot_name']))
    for standby in standbys:
        if standby['backend_xmin_age'] is not None:
            holders.append((standby['backend_xmin_age'], 'standby_feedback',
                            standby['application_name'] or standby['client_addr']))
    holders.sort(key=lambda h: -h[0])
    horizon = {'oldest_xmin_age': holders[0][0], 'held_by_kind': holders[0][1], 'held_by': holders[0][2]} \
        if holders else {'oldest_xmin_age': None, 'held_by_kind': None, 'held_by': None}
    return {
        'horizon': horizon,
        'sessions': sessions,
        'idle_in_transaction': [s['pid'] for s in sessions if str(s['state'] or '').startswith('idle in transaction')],
        'prepared_transactions': [dict((k, jsonable(v)) for k, v in p.items()) for p in prepared],
        'replication_slots': [dict((k, jsonable(v)) for k, v in s.items()) for s in slots],
        'standby_feedback': [dict((k, jsonable(v)) for k, v in s.items()) for s in standbys],
    }


# --- wraparound ----------------------------------------------------------------------

def collect_wraparound(ctx):
    server = settings(ctx)
    freeze = server.get('autovacuum_freeze_max_age')
    mfreeze = server.get('autovacuum_multixact_freeze_max_age')
    rows = fetch_all(ctx.conn, """
        SELECT datname, age(datfrozenxid) AS xid_age, mxid_age(datminmxid) AS mxid_age, datallowconn
          FROM pg_database ORDER BY age(datfrozenxid) DESC""")
    oldest = fetch_all(ctx.conn, """
        SELECT n.nspname || '.' || c.relname AS relation, c.relkind, age(c.relfrozenxid) AS xid_age,
               mxid_age(c.relminmxid) AS mxid_age
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'm', 't')
         ORDER BY age(c.relfrozenxid) DESC LIMIT 5""")
    databases = []
    for row in rows:
        databases.append({
            'datname': row['datname'],
            'xid_age': int(row['xid_age']),
            'mxid_age': int(row['mxid_age']),
            'xid_percent': round(100.0 * row['xid_age'] / freeze, 2) if freeze else None,
            'mxid_percent': round(100.0 * row['mxid_age'] / mfreeze, 2) if mfreeze else None,
            'allows_connections': bool(row['datallowconn']),
        })
    return {
        'autovacuum_freeze_max_age': freeze,
        'autovacuum_multixact_freeze_max_age': mfreeze,
        'databases': databases,
        'oldest_relations': [dict(r, xid_age=int(r['xid_age']), mxid_age=int(r['mxid_age'])) for r in oldest],
    }


# --- checkpoints ---------------------------------------------------------------------

CHECKPOINTER_SINCE = 170000  # checkpoint counters moved from pg_stat_bgwriter to pg_stat_checkpointer

_CHECKPOINT_SETTINGS = """
           pg_size_bytes(current_setting('max_wal_size')) AS max_wal_size,
           (SELECT setting::int FROM pg_settings WHERE name = 'checkpoint_timeout') AS checkpoint_timeout,
           current_setting('checkpoint_completion_target')::float8 AS checkpoint_completion_target"""


def checkpoint_stats_sql(server_version_num):
    """(source view, SQL) reading the checkpoint counters of this major under one set of names:
    timed, requested, write_ms, sync_ms, buffers_written, stats_reset and the settings."""
    if server_version_num >= CHECKPOINTER_SINCE:
        source = 'pg_stat_checkpointer'
        columns = """num_timed AS timed, num_requested AS requested, write_time AS write_ms,
           sync_time AS sync_ms, buffers_written, stats_reset,"""
    else:
        source = 'pg_stat_bgwriter'
        columns = """checkpoints_timed AS timed, checkpoints_req AS requested, checkpoint_write_time AS write_ms,
           checkpoint_sync_time AS sync_ms, buffers_checkpoint AS buffers_written, stats_reset,"""
    return source, 'SELECT %s%s\n      FROM %s' % (columns, _CHECKPOINT_SETTINGS, source)


def checkpoint_facts(row, source):
    """The normalized facts of one row of checkpoint_stats_sql()."""
    timed = int(row['timed'])
    requested = int(row['requested'])
    total = timed + requested
    return {
        'source': source,
        'timed': timed,
        'requested': requested,
        'requested_percent': round(100.0 * requested / total, 2) if total else None,
        'write_ms': int(round(float(row['write_ms']))),
        'sync_ms': int(round(float(row['sync_ms']))),
        'buffers_written': int(row['buffers_written']),
        'stats_reset': jsonable(row['stats_reset']),
        'max_wal_size': int(row['max_wal_size']),
        'checkpoint_timeout': int(row['checkpoint_timeout']),
        'checkpoint_completion_target': _float(row['checkpoint_completion_target']),
    }


def collect_checkpoints(ctx):
    version = ctx.once('server_version_num', lambda: int(
        fetch_one(ctx.conn, "SELECT current_setting('server_version_num')::int AS v")['v']))
    source, sql = checkpoint_stats_sql(version)
    return checkpoint_facts(fetch_one(ctx.conn, sql), source)
