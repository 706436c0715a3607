"""The set-based floor for retention: the same rows Prefect's db vacuum removes,
deleted with one plain statement per table and category.

This is the least work PostgreSQL can do for that result, in transactions far
too long for a live server (each statement below is one transaction). The
benchmark compares the retention module with it.

    .venv/bin/python benchmarks/retention_floor.py --port 54331 --db CLONE --now 2026-11-27T00:00:00Z
"""
import argparse
import datetime
import json
import sys
import time

import psycopg2

import benchdb

TERMINAL = "('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED')"


def floor_statements(flow_run_cutoff, events_cutoff, overrides):
    """(category, table, sql, params) in the order Prefect's service runs its cleanups.

    overrides: [(event_type, cutoff)] already capped at the global events period.
    """
    statements = [
        ('orphaned_logs', 'log',
         'DELETE FROM log l WHERE l.flow_run_id IS NOT NULL '
         'AND NOT EXISTS (SELECT 1 FROM flow_run f WHERE f.id = l.flow_run_id)', None),
        ('orphaned_artifacts', 'artifact',
         'DELETE FROM artifact a WHERE a.flow_run_id IS NOT NULL '
         'AND NOT EXISTS (SELECT 1 FROM flow_run f WHERE f.id = a.flow_run_id)', None),
        # the runs to delete, subflows whose parent goes included (as Prefect's loop reaches them)
        ('old_flow_runs', 'flow_run (closure into a temp table)',
         'CREATE TEMP TABLE floor_doomed AS WITH RECURSIVE doomed(id) AS ('
         ' SELECT id FROM flow_run WHERE parent_task_run_id IS NULL AND state_type IN ' + TERMINAL +
         '  AND end_time IS NOT NULL AND end_time < %(cutoff)s'
         ' UNION SELECT c.id FROM doomed d JOIN task_run t ON t.flow_run_id = d.id'
         '  JOIN flow_run c ON c.parent_task_run_id = t.id'
         ' WHERE c.state_type IN ' + TERMINAL + ' AND c.end_time IS NOT NULL AND c.end_time < %(cutoff)s)'
         ' SELECT id FROM doomed', {'cutoff': flow_run_cutoff}),
        ('old_flow_runs', 'log', 'DELETE FROM log WHERE flow_run_id IN (SELECT id FROM floor_doomed)', None),
        ('old_flow_runs', 'artifact', 'DELETE FROM artifact WHERE flow_run_id IN (SELECT id FROM floor_doomed)', None),
        ('old_flow_runs', 'flow_run', 'DELETE FROM flow_run WHERE id IN (SELECT id FROM floor_doomed)', None),
        ('stale_artifact_collections', 'artifact_collection (re-point)',
         "UPDATE artifact_collection ac SET latest_id = n.id, data = coalesce(n.data, 'null'::json),"
         ' description = n.description,'
         ' type = n.type, created = n.created, updated = n.updated, flow_run_id = n.flow_run_id,'
         " task_run_id = n.task_run_id, metadata_ = coalesce(n.metadata_, 'null'::json)"
         ' FROM artifact_collection s CROSS JOIN LATERAL (SELECT * FROM artifact a WHERE a.key = s.key'
         '  ORDER BY a.created DESC, a.id DESC LIMIT 1) n'
         ' WHERE ac.id = s.id AND NOT EXISTS (SELECT 1 FROM artifact x WHERE x.id = s.latest_id)', None),
        ('stale_artifact_collections', 'artifact_collection (delete)',
         'DELETE FROM artifact_collection ac WHERE NOT EXISTS (SELECT 1 FROM artifact x WHERE x.id = ac.latest_id)',
         None),
    ]
    for event_type, cutoff in overrides:
        params = {'type': event_type, 'cutoff': cutoff}
        statements += [
            ('event_retention_overrides', 'event_resources',
             'DELETE FROM event_resources WHERE event_id IN '
             '(SELECT id FROM events WHERE event = %(type)s AND occurred < %(cutoff)s)', params),
            ('event_retention_overrides', 'events',
             'DELETE FROM events WHERE event = %(type)s AND occurred < %(cutoff)s', params),
        ]
    statements += [
        ('old_events', 'event_resources', 'DELETE FROM event_resources WHERE occurred < %(cutoff)s',
         {'cutoff': events_cutoff}),
        ('old_events', 'events', 'DELETE FROM events WHERE occurred < %(cutoff)s', {'cutoff': events_cutoff}),
    ]
    return statements


def run_floor(dsn, now, retention_days=90, events_days=7, overrides=None, flow_runs=True, events=True):
    """Run the floor on an existing database; returns per-statement figures."""
    overrides = {'prefect.flow-run.heartbeat': 7 * 86400} if overrides is None else overrides
    flow_run_cutoff = now - datetime.timedelta(days=retention_days)
    events_cutoff = now - datetime.timedelta(days=events_days)
    capped = [(t, now - datetime.timedelta(seconds=min(s, events_days * 86400))) for t, s in overrides.items()]
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    figures = []
    total = time.monotonic()
    with conn.cursor() as cur:
        for category, table, sql, params in floor_statements(flow_run_cutoff, events_cutoff, capped):
            if category in ('old_events', 'event_retention_overrides') and not events:
                continue
            if category not in ('old_events', 'event_retention_overrides') and not flow_runs:
                continue
            start = time.monotonic()
            cur.execute(sql, params)
            figures.append({'category': category, 'table': table, 'rows': cur.rowcount,
                            'seconds': round(time.monotonic() - start, 3)})
    conn.close()
    return {'seconds': round(time.monotonic() - total, 3), 'statements': figures}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=54331)
    parser.add_argument('--db', required=True)
    parser.add_argument('--now', required=True, help='ISO-8601, e.g. 2026-11-27T00:00:00Z')
    args = parser.parse_args()
    now = datetime.datetime.fromisoformat(args.now.replace('Z', '+00:00'))
    json.dump(run_floor(benchdb.dsn(args.port, args.db, host=args.host), now), sys.stdout, indent=1)
    print()


if __name__ == '__main__':
    main()
