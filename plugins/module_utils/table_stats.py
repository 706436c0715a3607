# -*- coding: utf-8 -*-
# Copyright: prefectdb.maintenance contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only statistics the vacuum, reindex and backup modules select and
report with: dead tuples and sizes of tables, sizes and bloat inputs of
indexes, leftovers of failed concurrent index builds, where the data lives.

Every function only reads (catalogs and statistics views); the decisions are
made by the pure functions of vacuum_plan.py and reindex_plan.py.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.prefectdb.maintenance.plugins.module_utils.connection import fetch_all, fetch_one

# ordinary tables only: VACUUM, pg_repack and the statistics here are about them
_TABLES = """
    SELECT c.oid, n.nspname AS schema, c.relname AS name,
           c.reltuples::bigint AS reltuples, c.relfilenode,
           coalesce(s.n_live_tup, 0) AS n_live_tup,
           coalesce(s.n_dead_tup, 0) AS n_dead_tup,
           coalesce(s.n_mod_since_analyze, 0) AS n_mod_since_analyze,
           s.last_vacuum, s.last_autovacuum, s.last_analyze, s.last_autoanalyze,
           coalesce(s.vacuum_count, 0) AS vacuum_count,
           coalesce(s.analyze_count, 0) AS analyze_count,
           pg_relation_size(c.oid) AS heap_bytes,
           pg_table_size(c.oid) AS table_bytes,
           pg_indexes_size(c.oid) AS index_bytes,
           pg_total_relation_size(c.oid) AS total_bytes,
           c.reltablespace AS tablespace_oid,
           coalesce(ts.spcname, 'pg_default') AS tablespace,
           EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e') AS extension_member
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid
      LEFT JOIN pg_tablespace ts ON ts.oid = c.reltablespace
     WHERE c.relkind = 'r' AND c.relpersistence <> 't'
"""


def server_info(conn):
    """Version, database, privileges and block size of the server."""
    row = fetch_one(conn, """
        SELECT current_setting('server_version_num')::int AS server_version_num,
               current_setting('server_version') AS server_version,
               current_database() AS database,
               current_user AS user,
               r.rolsuper AS is_superuser,
               r.rolsuper OR pg_has_role(current_user, 'pg_read_all_settings', 'USAGE') AS can_read_settings,
               current_setting('block_size')::int AS block_size
          FROM pg_roles r WHERE r.rolname = current_user""")
    row['server_major'] = row['server_version_num'] // 10000
    return row


def tables_in_schema(conn, schema):
    """Every ordinary table of a schema, with its statistics and sizes, largest first."""
    return fetch_all(conn, _TABLES + ' AND n.nspname = %s ORDER BY total_bytes DESC, name', (schema,))


def tables_by_name(conn, names):
    """Statistics of the tables named [(schema, name)]; (rows, missing names)."""
    if not names:
        return [], []
    rows = fetch_all(conn, _TABLES + """
        AND (n.nspname, c.relname) IN (SELECT * FROM unnest(%s::text[], %s::text[]))""",
                     ([s for s, dummy in names], [t for dummy, t in names]))
    found = dict(((r['schema'], r['name']), r) for r in rows)
    ordered = [found[name] for name in names if name in found]
    missing = [name for name in names if name not in found]
    return ordered, missing


def table_by_oid(conn, oid):
    return fetch_one(conn, _TABLES + ' AND c.oid = %s', (oid,))


def relation_kinds(conn, names):
    """{(schema, name): relkind} for the names that exist as any relation (for messages)."""
    if not names:
        return {}
    rows = fetch_all(conn, """
        SELECT n.nspname AS schema, c.relname AS name, c.relkind
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE (n.nspname, c.relname) IN (SELECT * FROM unnest(%s::text[], %s::text[]))""",
                     ([s for s, dummy in names], [t for dummy, t in names]))
    return dict(((r['schema'], r['name']), r['relkind']) for r in rows)


def repack_keys(conn, table_oids):
    """{table oid: name of its primary key or of a unique index on NOT NULL columns}.

    pg_repack needs one of them to replay the changes made while it copies; a
    usable unique index is valid, immediate, not partial and not on expressions.
    """
    if not table_oids:
        return {}
    rows = fetch_all(conn, """
        SELECT i.indrelid AS table_oid, ci.relname AS name, i.indisprimary
          FROM pg_index i
          JOIN pg_class ci ON ci.oid = i.indexrelid
         WHERE i.indrelid = ANY(%s::oid[])
           AND i.indisunique AND i.indisvalid AND i.indimmediate
           AND i.indpred IS NULL AND i.indexprs IS NULL
           AND NOT EXISTS (
                 SELECT 1
                   FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, pos)
                   JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                  WHERE k.pos <= i.indnkeyatts AND NOT a.attnotnull)
         ORDER BY i.indisprimary DESC, ci.relname""", (list(table_oids),))
    keys = {}
    for row in rows:
        keys.setdefault(row['table_oid'], row['name'])
    return keys


# --- indexes ---------------------------------------------------------------

_INDEXES = """
    SELECT ci.oid, n.nspname AS schema, ci.relname AS name,
           ct.oid AS table_oid, tn.nspname AS table_schema, ct.relname AS table_name,
           am.amname AS method,
           i.indisvalid AS valid, i.indisready AS ready, i.indisunique AS is_unique,
           i.indisprimary AS is_primary, i.indisexclusion AS is_exclusion,
           i.indnatts AS natts,
           pg_relation_size(ci.oid) AS bytes,
           coalesce(pg_stat_get_numscans(ci.oid), 0) AS scans,
           ci.reltuples::bigint AS reltuples,
           ct.reltuples::bigint AS table_reltuples,
           i.indpred IS NOT NULL AS partial,
           coalesce((SELECT option_value::int FROM pg_options_to_table(ci.reloptions)
                      WHERE option_name = 'fillfactor'), 0) AS fillfactor,
           i.indkey::text AS indkey, i.indclass::text AS indclass, i.indoption::text AS indoption,
           coalesce(pg_get_expr(i.indexprs, i.indrelid), '') AS expressions,
           coalesce(pg_get_expr(i.indpred, i.indrelid), '') AS predicate,
           con.contype AS constraint_type,
           pg_get_indexdef(ci.oid) AS definition
      FROM pg_index i
      JOIN pg_class ci ON ci.oid = i.indexrelid
      JOIN pg_namespace n ON n.oid = ci.relnamespace
      JOIN pg_class ct ON ct.oid = i.indrelid
      JOIN pg_namespace tn ON tn.oid = ct.relnamespace
      JOIN pg_am am ON am.oid = ci.relam
      LEFT JOIN pg_constraint con ON con.conindid = ci.oid AND con.conrelid = ct.oid
     WHERE ct.relkind = 'r' AND ct.relpersistence <> 't'
"""


def indexes_in_schema(conn, schema):
    """Every index on the ordinary tables of a schema, largest first."""
    return fetch_all(conn, _INDEXES + ' AND tn.nspname = %s ORDER BY bytes DESC, name', (schema,))


def indexes_by_name(conn, names):
    """Indexes named [(schema, name)]; (rows, missing names)."""
    if not names:
        return [], []
    rows = fetch_all(conn, _INDEXES + """
        AND (n.nspname, ci.relname) IN (SELECT * FROM unnest(%s::text[], %s::text[]))""",
                     ([s for s, dummy in names], [t for dummy, t in names]))
    found = dict(((r['schema'], r['name']), r) for r in rows)
    return [found[name] for name in names if name in found], [name for name in names if name not in found]


def indexes_on_tables(conn, table_oids):
    """Every index of the given tables (valid or not)."""
    if not table_oids:
        return []
    return fetch_all(conn, _INDEXES + ' AND ct.oid = ANY(%s::oid[]) ORDER BY table_name, name', (list(table_oids),))


def index_by_oid(conn, oid):
    return fetch_one(conn, _INDEXES + ' AND ci.oid = %s', (oid,))


def index_by_name(conn, schema, name):
    return fetch_one(conn, _INDEXES + ' AND n.nspname = %s AND ci.relname = %s', (schema, name))


def index_column_stats(conn, index_oids):
    """{index oid: [column stats]} with null_frac and avg_width from pg_stats for
    each index column (table columns from the table's statistics, expression
    columns from the index's own); None where ANALYZE has not seen the column."""
    if not index_oids:
        return {}
    rows = fetch_all(conn, """
        SELECT i.indexrelid AS index_oid, k.pos, k.attnum, a.attname,
               s.null_frac, s.avg_width, a.attnotnull
          FROM pg_index i
         CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, pos)
          LEFT JOIN pg_attribute a
                 ON (k.attnum <> 0 AND a.attrelid = i.indrelid AND a.attnum = k.attnum)
                 OR (k.attnum = 0 AND a.attrelid = i.indexrelid AND a.attnum = k.pos)
          LEFT JOIN pg_class rel ON rel.oid = a.attrelid
          LEFT JOIN pg_namespace rn ON rn.oid = rel.relnamespace
          LEFT JOIN pg_stats s
                 ON s.schemaname = rn.nspname AND s.tablename = rel.relname
                AND s.attname = a.attname AND NOT s.inherited
         WHERE i.indexrelid = ANY(%s::oid[])
         ORDER BY i.indexrelid, k.pos""", (list(index_oids),))
    stats = {}
    for row in rows:
        stats.setdefault(row['index_oid'], []).append({
            'column': row['attname'],
            'null_frac': None if row['null_frac'] is None else float(row['null_frac']),
            'avg_width': row['avg_width'],
            'not_null': bool(row['attnotnull']),
        })
    return stats


def invalid_indexes_on_tables(conn, table_oids):
    """Invalid indexes on the given tables (leftovers of failed concurrent builds among them)."""
    if not table_oids:
        return []
    return fetch_all(conn, _INDEXES + ' AND ct.oid = ANY(%s::oid[]) AND NOT i.indisvalid ORDER BY table_name, name',
                     (list(table_oids),))


def index_builds_in_progress(conn):
    """CREATE INDEX / REINDEX running in this database: [{pid, table_oid, index_oid, command, phase}]."""
    return fetch_all(conn, """
        SELECT p.pid, p.relid AS table_oid, p.index_relid AS index_oid, p.command, p.phase
          FROM pg_stat_progress_create_index p
         WHERE p.datname = current_database() AND p.pid <> pg_backend_pid()""")


# --- where the data lives ----------------------------------------------------

def storage_location(conn, tablespace_oid=0):
    """Where a tablespace's files are and how to tell this server's data
    directory from another's: {data_directory, directory, start_epoch, port}.

    data_directory needs superuser or pg_read_all_settings; without them it is None.
    """
    row = fetch_one(conn, """
        SELECT CASE WHEN r.rolsuper OR pg_has_role(current_user, 'pg_read_all_settings', 'USAGE')
                    THEN current_setting('data_directory') END AS data_directory,
               nullif(pg_tablespace_location(%s::oid), '') AS tablespace_directory,
               floor(extract(epoch FROM pg_postmaster_start_time()))::bigint AS start_epoch,  -- as postmaster.pid
               current_setting('port')::int AS port
          FROM pg_roles r WHERE r.rolname = current_user""", (int(tablespace_oid or 0),))
    row['directory'] = row['tablespace_directory'] or row['data_directory']
    return row


def database_table_bytes(conn):
    """Bytes of table data (heap and TOAST, no indexes) in the database, outside the system schemas."""
    return fetch_one(conn, """
        SELECT coalesce(sum(pg_table_size(c.oid)), 0)::bigint AS table_bytes,
               coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint AS total_bytes,
               pg_database_size(current_database()) AS database_bytes
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'm') AND c.relpersistence <> 't'
           AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'""")
