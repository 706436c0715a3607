# -*- coding: utf-8 -*-
# Copyright: prefectdb.maintenance contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prefect facts for the health module, from index ends and statistics only:

- events: oldest and newest `occurred` (one index probe each on ix_events__occurred),
  the oldest event of each type with its own retention (ix_events__event_occurred),
  row estimates from pg_class.reltuples, the planner's estimate of rows past retention;
- flow runs per day over the last 7 days (an index range on expected_start_time,
  bounded to 7 days whatever the table's size);
- the oldest eligible terminal top-level flow run (ix_flow_run__end_time_desc walked
  from its old end).

The statements run in a read-only transaction with sequential scans disabled, so
the planner takes the index even on a table whose statistics are stale."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

from ansible_collections.prefectdb.maintenance.plugins.module_utils.connection import fetch_all, transaction
from ansible_collections.prefectdb.maintenance.plugins.module_utils.health_collectors import prefect_schema
from ansible_collections.prefectdb.maintenance.plugins.module_utils.prefect_schema import (
    PREFECT_TABLES, TERMINAL_STATE_TYPES,
)
from ansible_collections.prefectdb.maintenance.plugins.module_utils.results import jsonable

try:
    from psycopg2 import sql as pgsql
except ImportError:  # pragma: no cover - guarded by connection.prefect_module()
    pgsql = None


def _plan_rows(cur, statement, params):
    """The planner's row estimate for a statement (EXPLAIN only: nothing is read)."""
    cur.execute(pgsql.SQL('EXPLAIN (FORMAT JSON) ') + statement, params)
    plan = cur.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]['Plan']['Plan Rows'])


def _one(cur, statement, params=None):
    cur.execute(statement, params)
    row = cur.fetchone()
    if row is None:
        return None
    return dict(zip([d[0] for d in cur.description], row))


def collect_prefect(ctx, retention):
    """retention: {events_retention_seconds, flow_run_retention_seconds (None: not checked),
    event_retention_overrides {type: seconds}, grace_seconds}."""
    schema = prefect_schema(ctx)
    facts = {
        'is_prefect_database': schema is not None,
        'schema': schema,
        'readable': None,
        'reason': None,
        'retention': retention,
        'row_estimates': {},
        'deletes_since_stats_reset': {},
        'events': None,
        'flow_runs': None,
    }
    if schema is None:
        facts['reason'] = 'no Prefect flow_run table on the search_path'
        return facts
    stats = fetch_all(ctx.conn, """
        SELECT c.relname AS name, c.reltuples, s.n_tup_del, s.n_live_tup,
               has_table_privilege(c.oid, 'SELECT') AS readable
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid
         WHERE n.nspname = %s AND c.relname = ANY(%s) AND c.relkind = 'r'""", (schema, list(PREFECT_TABLES)))
    by_name = dict((r['name'], r) for r in stats)
    for name in PREFECT_TABLES:
        row = by_name.get(name)
        if row is None:
            continue
        facts['row_estimates'][name] = None if row['reltuples'] < 0 else int(row['reltuples'])
        facts['deletes_since_stats_reset'][name] = None if row['n_tup_del'] is None else int(row['n_tup_del'])
    missing = [name for name in ('events', 'flow_run') if name not in by_name]
    if missing:
        facts['readable'] = False
        facts['reason'] = 'Prefect tables missing: %s' % ', '.join(missing)
        return facts
    unreadable = [name for name in ('events', 'flow_run') if not by_name[name]['readable']]
    if unreadable:
        facts['readable'] = False
        facts['reason'] = ('this login has no SELECT privilege on %s, so event and flow run ages and runs per day are '
                           'not collected (row estimates and delete counts above come from statistics)'
                           % ', '.join(unreadable))
        return facts
    facts['readable'] = True
    events = pgsql.SQL('{}.{}').format(pgsql.Identifier(schema), pgsql.Identifier('events'))
    flow_run = pgsql.SQL('{}.{}').format(pgsql.Identifier(schema), pgsql.Identifier('flow_run'))
    with transaction(ctx.conn) as cur:
        cur.execute('SET TRANSACTION READ ONLY')
        cur.execute("SET LOCAL enable_seqscan = off")
        facts['events'] = _events(cur, events, retention)
        facts['flow_runs'] = _flow_runs(cur, flow_run, retention)
    return facts


def _events(cur, events, retention):
    ends = _one(cur, pgsql.SQL("""
        SELECT (SELECT occurred FROM {t} ORDER BY occurred ASC LIMIT 1) AS oldest,
               (SELECT occurred FROM {t} ORDER BY occurred DESC LIMIT 1) AS newest,
               now() AS now""").format(t=events))
    oldest, newest, now = ends['oldest'], ends['newest'], ends['now']
    limit = retention.get('events_retention_seconds')
    beyond = None
    if limit is not None and oldest is not None:
        beyond = _plan_rows(cur, pgsql.SQL('SELECT 1 FROM {} WHERE occurred < now() - make_interval(secs => %s)')
                            .format(events), (float(limit),))
    by_type = []
    for event, seconds in sorted((retention.get('event_retention_overrides') or {}).items()):
        effective = min(seconds, limit) if limit is not None else seconds
        row = _one(cur, pgsql.SQL('SELECT occurred FROM {} WHERE event = %s ORDER BY occurred ASC LIMIT 1')
                   .format(events), (event,))
        type_oldest = row['occurred'] if row else None
        by_type.append({
            'event': event,
            'retention_seconds': effective,
            'oldest': jsonable(type_oldest),
            'oldest_age_seconds': None if type_oldest is None else round((now - type_oldest).total_seconds()),
        })
    return {
        'oldest': jsonable(oldest),
        'newest': jsonable(newest),
        'oldest_age_seconds': None if oldest is None else round((now - oldest).total_seconds()),
        'newest_age_seconds': None if newest is None else round((now - newest).total_seconds()),
        'beyond_retention_estimate': beyond,
        'by_type': by_type,
    }


def _flow_runs(cur, flow_run, retention):
    cur.execute(pgsql.SQL("""
        SELECT to_char(expected_start_time AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, count(*) AS flow_runs
          FROM {}
         WHERE expected_start_time >= now() - interval '7 days' AND expected_start_time < now()
         GROUP BY 1 ORDER BY 1""").format(flow_run))
    days = [{'day': d, 'flow_runs': int(n)} for d, n in cur.fetchall()]
    total = sum(d['flow_runs'] for d in days)
    oldest = _one(cur, pgsql.SQL("""
        SELECT id, end_time, state_type::text AS state_type, now() - end_time AS age
          FROM {}
         WHERE end_time IS NOT NULL AND parent_task_run_id IS NULL AND state_type IN %s
         ORDER BY end_time ASC LIMIT 1""").format(flow_run), (TERMINAL_STATE_TYPES,))
    limit = retention.get('flow_run_retention_seconds')
    beyond = None
    if limit is not None and oldest is not None:
        statement = pgsql.SQL("""
            SELECT 1 FROM {} WHERE end_time < now() - make_interval(secs => %s)
               AND parent_task_run_id IS NULL AND state_type IN %s""").format(flow_run)
        beyond = _plan_rows(cur, statement, (float(limit), TERMINAL_STATE_TYPES))
    eligible = None
    if oldest:
        eligible = {
            'id': str(oldest['id']),
            'end_time': jsonable(oldest['end_time']),
            'state_type': oldest['state_type'],
            'age_seconds': round(oldest['age'].total_seconds()),
        }
    return {
        'last_7_days': total,
        'per_day_7d_average': round(total / 7.0, 1),
        'per_day': days,
        'oldest_eligible': eligible,
        'beyond_retention_estimate': beyond,
    }
