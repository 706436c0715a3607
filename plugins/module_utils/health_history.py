# -*- coding: utf-8 -*-
# Copyright: prefectdb.maintenance contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The health module's own history: one compact snapshot per run in
<history_schema>.health_snapshot, and the growth maths over 1, 7 and 30 days.

The growth maths are pure functions; the SQL helpers take an open connection."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json

from ansible_collections.prefectdb.maintenance.plugins.module_utils.connection import (
    LockBusy, acquire_advisory_lock, fetch_all, fetch_one, fetch_value, milliseconds, release_advisory_lock,
    transaction,
)
from ansible_collections.prefectdb.maintenance.plugins.module_utils.results import iso_utc

try:
    import psycopg2
    from psycopg2 import sql as pgsql
except ImportError:  # pragma: no cover - guarded by connection.prefect_module()
    psycopg2 = None
    pgsql = None

LOCK_NAME = 'health-history'
LOCK_WAIT_SECONDS = 10

HISTORY_TABLE = 'health_snapshot'
DAY = 86400.0
# window name -> seconds; a snapshot at least TOLERANCE of the window younger still counts,
# so a daily run a few seconds early still finds yesterday's snapshot
WINDOWS = (('1d', 1 * DAY), ('7d', 7 * DAY), ('30d', 30 * DAY))
TOLERANCE = 0.1
RATE_PREFERENCE = ('7d', '1d', '30d')


# --- pure ------------------------------------------------------------------------

def compact_snapshot(database_bytes, tables, disk):
    """The row stored per run: database size, disk figures and per-table
    [total_bytes, rows_estimate, autovacuum_count] for the reported tables."""
    disk = disk or {}
    return {
        'database_bytes': int(database_bytes),
        'disk_total_bytes': disk.get('total_bytes'),
        'disk_available_bytes': disk.get('available_bytes'),
        'disk_used_bytes': disk.get('used_bytes'),
        'disk_method': disk.get('method'),
        'tables': dict((t['qualified'], [int(t['total_bytes']), int(max(t.get('rows_estimate') or 0, 0)),
                                         int(t.get('autovacuum_count') or 0)])
                       for t in tables),
    }


def _per_day(now_value, base_value, days):
    if now_value is None or base_value is None or days <= 0:
        return None
    return int(round((float(now_value) - float(base_value)) / days))


def _autovacuums_per_day(now_figures, then_figures, days):
    """Autovacuum runs a day between two snapshots; None for snapshots without the
    count (older format) or when the statistics were reset in between."""
    if len(now_figures) < 3 or len(then_figures) < 3 or days <= 0 or now_figures[2] < then_figures[2]:
        return None
    return round((now_figures[2] - then_figures[2]) / days, 2)


def window_growth(current, base, now):
    """Growth per day between a base snapshot and the current one.
    current/base: compact_snapshot() dicts; base also has taken_at (datetime)."""
    elapsed = (now - base['taken_at']).total_seconds()
    days = elapsed / DAY
    same_disk = (base.get('disk_method') is not None and base.get('disk_method') == current.get('disk_method'))
    tables = []
    base_tables = base.get('tables') or {}
    for name, now_figures in sorted((current.get('tables') or {}).items()):
        if name not in base_tables:
            continue
        then_figures = base_tables[name]
        tables.append({
            'table': name,
            'bytes_per_day': _per_day(now_figures[0], then_figures[0], days),
            'rows_per_day': _per_day(now_figures[1], then_figures[1], days),
            'bytes_then': int(then_figures[0]),
            'bytes_now': int(now_figures[0]),
            'autovacuums_per_day': _autovacuums_per_day(now_figures, then_figures, days),
        })
    tables.sort(key=lambda t: (-(t['bytes_per_day'] or 0), t['table']))
    return {
        'base_taken_at': iso_utc(base['taken_at']),
        'elapsed_days': round(days, 3),
        'database_bytes_per_day': _per_day(current.get('database_bytes'), base.get('database_bytes'), days),
        'disk_used_bytes_per_day': _per_day(current.get('disk_used_bytes'), base.get('disk_used_bytes'), days)
        if same_disk else None,
        'tables': tables,
    }


def days_until_full(available_bytes, bytes_per_day):
    """Days until the free space is used at this rate; None when not filling or unknown."""
    if available_bytes is None or bytes_per_day is None or bytes_per_day <= 0:
        return None
    return round(float(available_bytes) / float(bytes_per_day), 1)


def growth_facts(current, bases, now):
    """growth facts from the current snapshot and {window: base snapshot or None}."""
    windows = {}
    for name, dummy in WINDOWS:
        base = bases.get(name)
        windows[name] = window_growth(current, base, now) if base else None
    rate, source, rate_kind = None, None, None
    for name in RATE_PREFERENCE:
        window = windows.get(name)
        if not window:
            continue
        if window['disk_used_bytes_per_day'] is not None:
            rate, source, rate_kind = window['disk_used_bytes_per_day'], name, 'disk_used'
        elif window['database_bytes_per_day'] is not None:
            rate, source, rate_kind = window['database_bytes_per_day'], name, 'database'
        break
    days = days_until_full(current.get('disk_available_bytes'), rate)
    return {
        'windows': windows,
        'rate_bytes_per_day': rate,
        'rate_window': source,
        'rate_of': rate_kind,
        'days_until_full': days,
        'full_at': iso_utc(now + datetime.timedelta(days=days)) if days is not None else None,
    }


# --- SQL -------------------------------------------------------------------------

def _table(schema):
    return pgsql.SQL('{}.{}').format(pgsql.Identifier(schema), pgsql.Identifier(HISTORY_TABLE))


def privileges(conn, schema):
    """What this login may do with the history table."""
    return fetch_one(conn, """
        SELECT n.oid IS NOT NULL AS schema_exists,
               c.oid IS NOT NULL AS table_exists,
               has_database_privilege(current_database(), 'CREATE') AS database_create,
               CASE WHEN n.oid IS NOT NULL THEN has_schema_privilege(n.oid, 'CREATE') END AS schema_create,
               CASE WHEN n.oid IS NOT NULL THEN has_schema_privilege(n.oid, 'USAGE') END AS schema_usage,
               CASE WHEN c.oid IS NOT NULL THEN has_table_privilege(c.oid, 'INSERT') END AS table_insert,
               CASE WHEN c.oid IS NOT NULL THEN has_table_privilege(c.oid, 'SELECT') END AS table_select,
               CASE WHEN c.oid IS NOT NULL THEN has_table_privilege(c.oid, 'DELETE') END AS table_delete
          FROM (SELECT 1) AS one
          LEFT JOIN pg_namespace n ON n.nspname = %(schema)s
          LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = %(table)s""",
                     {'schema': schema, 'table': HISTORY_TABLE})


def write_refusal(priv):
    """Why this login cannot record a snapshot, or None when it can."""
    if not priv['schema_exists']:
        return None if priv['database_create'] else 'no CREATE privilege on the database to create the schema'
    if not priv['schema_usage']:
        return 'no USAGE privilege on the history schema'
    if not priv['table_exists']:
        return None if priv['schema_create'] else 'no CREATE privilege on the history schema to create the table'
    if not (priv['table_insert'] and priv['table_select'] and priv['table_delete']):
        return 'no INSERT, SELECT and DELETE privilege on the history table'
    return None


def ensure_table(cur, schema):
    """Create the schema and table when missing (inside the caller's transaction).
    Returns True when something was created."""
    cur.execute("SELECT to_regclass(format('%%I.%%I', %s::text, %s::text)) IS NULL", (schema, HISTORY_TABLE))
    if not cur.fetchone()[0]:
        return False
    # CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when the schema exists
    cur.execute('SELECT NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = %s)', (schema,))
    if cur.fetchone()[0]:
        cur.execute(pgsql.SQL('CREATE SCHEMA {}').format(pgsql.Identifier(schema)))
    cur.execute(pgsql.SQL("""
        CREATE TABLE IF NOT EXISTS {} (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            taken_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            database_bytes bigint NOT NULL,
            disk_total_bytes bigint,
            disk_available_bytes bigint,
            disk_used_bytes bigint,
            disk_method text,
            tables jsonb NOT NULL
        )""").format(_table(schema)))
    cur.execute(pgsql.SQL('CREATE INDEX IF NOT EXISTS {} ON {} (taken_at)').format(
        pgsql.Identifier('%s_taken_at' % HISTORY_TABLE), _table(schema)))
    cur.execute(pgsql.SQL('COMMENT ON TABLE {} IS %s').format(_table(schema)),
                ('prefectdb.maintenance health snapshots (one per run of prefectdb.maintenance.health)',))
    return True


def insert_snapshot(cur, schema, snapshot, keep_seconds):
    """Store the snapshot and drop those older than keep_seconds; returns rows removed."""
    insert = pgsql.SQL("""
        INSERT INTO {} (database_bytes, disk_total_bytes, disk_available_bytes, disk_used_bytes, disk_method, tables)
        VALUES (%s, %s, %s, %s, %s, %s)""").format(_table(schema))
    cur.execute(insert, (snapshot['database_bytes'], snapshot['disk_total_bytes'], snapshot['disk_available_bytes'],
                         snapshot['disk_used_bytes'], snapshot['disk_method'],
                         json.dumps(snapshot['tables'], sort_keys=True)))
    cur.execute(pgsql.SQL('DELETE FROM {} WHERE taken_at < now() - make_interval(secs => %s)').format(
        _table(schema)), (float(keep_seconds),))
    return cur.rowcount


def read_bases(conn, schema):
    """{window: the latest snapshot at least (1 - TOLERANCE) x window old, or None}
    and the number of snapshots stored."""
    bases = {}
    for name, seconds in WINDOWS:
        row = fetch_one(conn, pgsql.SQL("""
            SELECT taken_at, database_bytes, disk_total_bytes, disk_available_bytes, disk_used_bytes, disk_method,
                   tables
              FROM {} WHERE taken_at <= now() - make_interval(secs => %s)
             ORDER BY taken_at DESC LIMIT 1""").format(_table(schema)), (seconds * (1 - TOLERANCE),))
        if row and isinstance(row.get('tables'), str):
            row['tables'] = json.loads(row['tables'])
        bases[name] = row
    count = fetch_value(conn, pgsql.SQL('SELECT count(*) FROM {}').format(_table(schema)))
    return bases, int(count or 0)


def read_series(conn, schema, days=31):
    """The last snapshot of each day over the last `days` days, oldest first, for charts
    (31: the snapshot taken 30 days ago, at this hour, is in)."""
    rows = fetch_all(conn, pgsql.SQL("""
        SELECT DISTINCT ON (date_trunc('day', taken_at)) taken_at, database_bytes, disk_used_bytes
          FROM {} WHERE taken_at > now() - make_interval(days => %s)
         ORDER BY date_trunc('day', taken_at), taken_at DESC""").format(_table(schema)), (days,))
    return [{'at': iso_utc(r['taken_at']), 'database_bytes': int(r['database_bytes']),
             'disk_used_bytes': None if r['disk_used_bytes'] is None else int(r['disk_used_bytes'])} for r in rows]


def collect_growth(conn, enabled, schema, keep_seconds, check_mode, in_recovery, current, lock_timeout=5):
    """The growth check: record this run's snapshot when allowed, then growth over
    1, 7 and 30 days from the stored ones. Never fails the module: what could not be
    done is said in history.reason."""
    table_name = '%s.%s' % (schema, HISTORY_TABLE)
    history = {'table': table_name, 'recorded': False, 'created': False, 'snapshots': 0, 'removed': 0,
               'reason': None, 'reason_kind': None, 'remediation': None}
    now = fetch_value(conn, 'SELECT now()')
    if not enabled:
        history.update(reason='history is false', reason_kind='disabled')
        result = growth_facts(current, {}, now)
        result['history'] = history
        result['series'] = []
        return result
    priv = privileges(conn, schema)
    refusal = kind = remediation = None
    if check_mode:
        refusal, kind = 'check mode: nothing is written', 'check_mode'
    elif in_recovery:
        refusal, kind = 'the server is a standby (in recovery) and read-only', 'standby'
    else:
        refusal = write_refusal(priv)
        if refusal:
            kind = 'privilege'
            remediation = ('GRANT CREATE ON DATABASE to this login (or create schema %s owned by it) so the module '
                           'can keep its snapshots, or set history: false' % schema)
    if refusal is None:
        try:
            key = acquire_advisory_lock(conn, LOCK_NAME, wait=True, wait_timeout=LOCK_WAIT_SECONDS)
        except LockBusy as e:
            refusal, kind = str(e), 'busy'
        else:
            try:
                with transaction(conn) as cur:
                    cur.execute("SELECT set_config('lock_timeout', %s, true)", (milliseconds(lock_timeout),))
                    history['created'] = ensure_table(cur, schema)
                    history['removed'] = insert_snapshot(cur, schema, current, keep_seconds)
                history['recorded'] = True
            except psycopg2.Error as e:
                refusal, kind = 'could not write the snapshot: %s' % ' '.join(str(e).split()), 'error'
                history['created'] = False
            finally:
                release_advisory_lock(conn, key)
    if refusal:
        history.update(reason=refusal, reason_kind=kind, remediation=remediation)
    readable = history['recorded'] or (priv['table_exists'] and priv['schema_usage'] and priv['table_select'])
    bases, series = {}, []
    if readable:
        bases, history['snapshots'] = read_bases(conn, schema)
        series = read_series(conn, schema)
    result = growth_facts(current, bases, now)
    result['history'] = history
    result['series'] = series
    return result
