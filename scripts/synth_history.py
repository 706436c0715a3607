"""Fill a Prefect database with realistic synthetic history, set-based and deterministic.

    .venv/bin/python scripts/synth_history.py --db prefect_demo --flow-runs 100000 --days 180 --seed 1

Connection: the libpq environment (PGHOST, PGPORT, PGUSER, PGPASSWORD) plus --db.
The shape follows rows written by a real Prefect 3.9.1 server running real flows
(docs/synthetic-history.md has the comparison): per flow run ~3 flow_run_state rows,
~3 task runs with ~3 states each, ~10 logs, an artifact every ~3 runs, ~16 events
with ~2.6 event_resources rows each, heartbeat events for runs that ran long; a state
mix of ~85% COMPLETED, ~8% FAILED, some CANCELLED, CRASHED, RUNNING, SCHEDULED,
PENDING; ~2% of terminal runs without end_time; ~5% subflows; and the dirt a real
server accumulates: orphaned logs and artifacts, stale artifact collections.

Ids follow Prefect: UUIDv7 (time-ordered) where the client makes them (task runs,
states, logs, events), UUIDv4 elsewhere. Randomness comes from md5 of (seed, salt,
row number), so the same --seed and --now give the same rows, in any plan.
"""

import argparse
import datetime
import sys
import threading
import time

import psycopg2
import psycopg2.errors

# Tables filled here whose plain (non-constraint) indexes are dropped before a
# bulk load into empty tables and rebuilt after: several times faster.
BULK_TABLES = ('flow_run', 'flow_run_state', 'task_run', 'task_run_state', 'log',
               'artifact', 'artifact_collection', 'events', 'event_resources', 'flow_run_input')

FUNCTIONS = r"""
CREATE FUNCTION pg_temp.h(salt text, i bigint) RETURNS text STABLE LANGUAGE sql AS
$$ SELECT md5(%(seed)s || ':' || salt || ':' || i::text) $$;
CREATE FUNCTION pg_temp.r(salt text, i bigint) RETURNS float8 STABLE LANGUAGE sql AS
$$ SELECT ('x' || substr(pg_temp.h(salt, i), 1, 8))::bit(32)::bigint / 4294967296.0::float8 $$;
CREATE FUNCTION pg_temp.u4(salt text, i bigint) RETURNS uuid STABLE LANGUAGE sql AS
$$ SELECT overlay(overlay(pg_temp.h(salt, i) placing '4' from 13) placing 'a' from 17)::uuid $$;
CREATE FUNCTION pg_temp.u7(ts timestamptz, salt text, i bigint) RETURNS uuid STABLE LANGUAGE sql AS
$$ SELECT overlay(overlay(pg_temp.h(salt, i) placing lpad(to_hex((extract(epoch FROM ts) * 1000)::bigint), 12, '0') || '7'
                          from 1) placing '8' from 17)::uuid $$;
"""

# One row per flow run with every random choice made once.
FLOW_RUNS_PLAN = r"""
CREATE UNLOGGED TABLE g_fr AS
WITH base AS MATERIALIZED (
    SELECT i,
           pg_temp.r('state', i) AS u_state,
           pg_temp.r('dur', i) AS u_dur,
           pg_temp.r('tasks', i) AS u_tasks,
           pg_temp.r('null_end', i) AS u_null_end,
           pg_temp.r('sub', i) AS u_sub,
           pg_temp.r('art', i) AS u_art,
           pg_temp.r('key', i) AS u_key,
           pg_temp.r('flow', i) AS u_flow,
           %(now)s::timestamptz - make_interval(secs => %(days)s * 86400.0 * (%(n)s - i + pg_temp.r('jit', i)) / %(n)s)
               AS expected_start
      FROM generate_series(1, %(n)s) AS i
), typed AS MATERIALIZED (
    SELECT b.*,
           CASE WHEN u_state < 0.85 THEN 'COMPLETED'
                WHEN u_state < 0.93 THEN 'FAILED'
                WHEN u_state < 0.95 THEN 'CANCELLED'
                WHEN u_state < 0.97 THEN 'CRASHED'
                WHEN u_state < 0.98 THEN 'RUNNING'
                WHEN u_state < 0.995 THEN 'SCHEDULED'
                ELSE 'PENDING' END AS state_type,
           -- log-uniform from 5 s to 2 h
           exp(ln(5) + u_dur * ln(7200.0 / 5)) AS duration
      FROM base b
)
SELECT t.*,
       pg_temp.u4('flow_run', i) AS id,
       initcap(lower(state_type)) AS state_name,
       state_type IN ('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED') AS terminal,
       state_type NOT IN ('SCHEDULED', 'PENDING') AS started,
       CASE WHEN state_type IN ('SCHEDULED', 'PENDING') THEN 0 ELSE 1 + floor(u_tasks * 5)::int END AS n_tasks,
       -- heartbeats for runs that ran long: one per 5 minutes
       CASE WHEN state_type IN ('SCHEDULED', 'PENDING') THEN 0 ELSE least(24, floor(duration / 300))::int END AS n_heartbeats,
       CASE WHEN state_type IN ('SCHEDULED', 'PENDING') THEN NULL ELSE expected_start + interval '2 seconds' END AS start_time,
       CASE WHEN state_type IN ('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED') AND u_null_end >= 0.02
            THEN expected_start + interval '2 seconds' + make_interval(secs => duration) END AS end_time,
       1 + floor(u_flow * %(flows)s)::int AS flow_no
  FROM typed t;
ALTER TABLE g_fr ADD PRIMARY KEY (i);
ANALYZE g_fr;
"""

TASK_RUNS_PLAN = r"""
CREATE UNLOGGED TABLE g_tr AS
SELECT f.i, k, f.i * 8 + k AS j,
       pg_temp.u7(f.start_time + make_interval(secs => f.duration * (k - 1) / f.n_tasks), 'task_run', f.i * 8 + k) AS id,
       f.start_time + make_interval(secs => f.duration * (k - 1) / f.n_tasks) AS start_time,
       f.start_time + make_interval(secs => f.duration * (k - 0.1) / f.n_tasks) AS end_time,
       CASE WHEN f.state_type = 'FAILED' AND k = f.n_tasks THEN 'FAILED' ELSE 'COMPLETED' END AS state_type,
       f.flow_no
  FROM g_fr f, generate_series(1, f.n_tasks) AS k;
ALTER TABLE g_tr ADD PRIMARY KEY (i, k);
ANALYZE g_tr;
-- ~5%% of runs are subflows of the previous run's first task
ALTER TABLE g_fr ADD COLUMN parent_task_run_id uuid;
UPDATE g_fr f SET parent_task_run_id = t.id
  FROM g_tr t
 WHERE f.u_sub < 0.05 AND t.i = f.i - 1 AND t.k = 1;
"""

FLOWS = r"""
INSERT INTO flow (id, created, updated, name, tags, labels)
SELECT pg_temp.u4('flow', n), %(start)s::timestamptz, %(start)s::timestamptz, 'flow-' || lpad(n::text, 3, '0'), '[]', '{}'
  FROM generate_series(1, %(flows)s) AS n
ON CONFLICT (name) DO NOTHING;
CREATE UNLOGGED TABLE g_flow AS
SELECT n AS flow_no, f.id, f.name
  FROM generate_series(1, %(flows)s) AS n JOIN flow f ON f.name = 'flow-' || lpad(n::text, 3, '0');
"""

# State rows per run: the path it took; the last one is flow_run.state_id.
STATES_PLAN = r"""
CREATE UNLOGGED TABLE g_frs AS
SELECT f.i, s.n, s.type, initcap(lower(s.type)) AS name, s.ts,
       pg_temp.u7(s.ts, 'frs', f.i * 4 + s.n) AS id,
       s.n = max(s.n) OVER (PARTITION BY f.i) AS latest,
       lag(s.type) OVER (PARTITION BY f.i ORDER BY s.n) AS prev_type
  FROM g_fr f,
       LATERAL (
           SELECT * FROM (VALUES
               (1, CASE WHEN f.state_type = 'SCHEDULED' THEN 'SCHEDULED' ELSE 'PENDING' END, f.expected_start),
               (2, CASE WHEN f.started THEN 'RUNNING' END, f.start_time),
               (3, CASE WHEN f.terminal THEN f.state_type END,
                   coalesce(f.end_time, f.start_time + make_interval(secs => f.duration)))
           ) AS v(n, type, ts)
           WHERE v.type IS NOT NULL
       ) AS s;
CREATE UNLOGGED TABLE g_trs AS
SELECT t.i, t.k, t.j, s.n, s.type, s.ts,
       pg_temp.u7(s.ts, 'trs', t.j * 4 + s.n) AS id,
       s.n = 3 AS latest
  FROM g_tr t,
       LATERAL (VALUES (1, 'PENDING', t.start_time - interval '10 milliseconds'),
                       (2, 'RUNNING', t.start_time),
                       (3, t.state_type, t.end_time)) AS s(n, type, ts);
ANALYZE g_frs;
ANALYZE g_trs;
"""

FLOW_RUN_STATES = r"""
INSERT INTO flow_run_state (id, created, updated, type, timestamp, name, message, state_details, data, flow_run_id)
SELECT s.id, s.ts, s.ts, s.type::state_type, s.ts, s.name,
       CASE WHEN s.type = 'FAILED' THEN 'Flow run encountered an exception: ValueError' ELSE '' END,
       jsonb_build_object('flow_run_id', f.id, 'task_run_id', NULL, 'scheduled_time', NULL, 'cache_key', NULL,
                          'pause_key', NULL, 'deferred', false, 'untrackable_result', false, 'transition_id', NULL),
       NULL, f.id
  FROM g_frs s JOIN g_fr f USING (i);
"""

FLOW_RUN_ROWS = r"""
INSERT INTO flow_run (id, created, updated, name, state_type, state_name, state_timestamp, state_id, run_count,
                      expected_start_time, start_time, end_time, total_run_time, flow_version, parameters,
                      empirical_policy, tags, flow_id, parent_task_run_id, labels, job_variables)
SELECT f.id, f.expected_start - interval '1 minute', coalesce(f.end_time, f.start_time, f.expected_start),
       'synthetic-run-' || f.i, f.state_type::state_type, f.state_name, s.ts, s.id,
       CASE WHEN f.started THEN 1 ELSE 0 END,
       f.expected_start, f.start_time, f.end_time,
       CASE WHEN f.end_time IS NULL THEN interval '0' ELSE f.end_time - f.start_time END,
       md5('flow-' || f.flow_no), jsonb_build_object('k', f.i),
       '{"retries": 0, "resuming": false, "pause_keys": [], "retry_type": null, "max_retries": 0, "retry_delay": 0}',
       '[]', fl.id, f.parent_task_run_id, jsonb_build_object('prefect.flow.id', fl.id), '{}'
  FROM g_fr f
  JOIN g_frs s ON s.i = f.i AND s.latest
  JOIN g_flow fl USING (flow_no);
"""

TASK_RUN_ROWS = r"""
INSERT INTO task_run (id, created, updated, name, state_type, state_name, state_timestamp, state_id, run_count,
                      expected_start_time, start_time, end_time, total_run_time, task_key, dynamic_key,
                      empirical_policy, task_inputs, tags, flow_run_id, flow_run_run_count, labels)
SELECT t.id, t.start_time - interval '20 milliseconds', t.end_time, 'task-' || t.k || '-' || t.i,
       t.state_type::state_type, initcap(lower(t.state_type)), t.end_time, s.id, 1,
       t.start_time - interval '20 milliseconds', t.start_time, t.end_time, t.end_time - t.start_time,
       'flow-' || t.flow_no || '-task-' || t.k, md5(t.j::text),
       '{"retries": 0, "max_retries": 0, "retry_delay": 0, "retry_delay_seconds": 0.0}', '{"x": []}', '[]',
       f.id, 1, '{}'
  FROM g_tr t JOIN g_fr f USING (i) JOIN g_trs s ON s.i = t.i AND s.k = t.k AND s.latest;
INSERT INTO task_run_state (id, created, updated, type, timestamp, name, message, state_details, data, task_run_id)
SELECT s.id, s.ts, s.ts, s.type::state_type, s.ts, initcap(lower(s.type)),
       CASE WHEN s.type = 'FAILED' THEN 'Task run encountered an exception' ELSE '' END,
       jsonb_build_object('flow_run_id', f.id, 'task_run_id', t.id, 'cache_key', NULL, 'deferred', false),
       NULL, t.id
  FROM g_trs s JOIN g_tr t ON t.i = s.i AND t.k = s.k JOIN g_fr f ON f.i = s.i;
"""

INPUTS = r"""
INSERT INTO flow_run_input (id, created, updated, key, value, flow_run_id, sender)
SELECT pg_temp.u4('input', f.i), f.start_time, f.start_time, 'approval', '{"approved": true}', f.id, NULL
  FROM g_fr f
 WHERE f.started AND pg_temp.r('input', f.i) < 0.01;
"""

# ~10 logs a run: 4 from the flow, 2 a task; ghost runs make orphans.
LOGS = r"""
INSERT INTO log (id, created, updated, name, level, flow_run_id, task_run_id, message, timestamp)
SELECT pg_temp.u7(l.ts, 'log', f.i * 16 + l.n), l.ts + interval '1 second', l.ts + interval '1 second',
       'prefect.flow_runs', l.level, f.id, NULL, l.message, l.ts
  FROM g_fr f,
       LATERAL (VALUES
           (1, 20, f.start_time, 'Beginning flow run ''synthetic-run-' || f.i || ''' for flow ''flow-' || f.flow_no || ''''),
           (2, 20, f.start_time + interval '50 milliseconds', 'Opening process...'),
           (3, 20, f.start_time + make_interval(secs => f.duration / 2), 'Processed batch ' || f.i || ' of input records'),
           (4, CASE WHEN f.state_type = 'FAILED' THEN 40 ELSE 20 END,
               coalesce(f.end_time, f.start_time + make_interval(secs => f.duration)),
               CASE WHEN f.state_type = 'FAILED' THEN 'Finished in state Failed(''Flow run encountered an exception: ValueError'')'
                    ELSE 'Finished in state ' || f.state_name || '()' END)
       ) AS l(n, level, ts, message)
 WHERE f.started;
INSERT INTO log (id, created, updated, name, level, flow_run_id, task_run_id, message, timestamp)
SELECT pg_temp.u7(l.ts, 'tlog', t.j * 4 + l.n), l.ts + interval '1 second', l.ts + interval '1 second',
       'prefect.task_runs', l.level, f.id, t.id, l.message, l.ts
  FROM g_tr t JOIN g_fr f USING (i),
       LATERAL (VALUES
           (1, 20, t.start_time, 'Task run ''task-' || t.k || '-' || t.i || ''' started'),
           (2, CASE WHEN t.state_type = 'FAILED' THEN 40 ELSE 20 END, t.end_time,
               'Finished in state ' || initcap(lower(t.state_type)) || '()')
       ) AS l(n, level, ts, message);
-- logs of runs deleted behind Prefect's back (orphans), and logs with no run
INSERT INTO log (id, created, updated, name, level, flow_run_id, task_run_id, message, timestamp)
SELECT pg_temp.u7(f.expected_start, 'ghostlog', f.i * 16 + n), f.expected_start, f.expected_start,
       'prefect.flow_runs', 20, pg_temp.u4('ghost_run', f.i), NULL, 'Log of a flow run deleted directly', f.expected_start
  FROM g_fr f, generate_series(1, 10) AS n
 WHERE pg_temp.r('ghost', f.i) < 0.002;
INSERT INTO log (id, created, updated, name, level, flow_run_id, task_run_id, message, timestamp)
SELECT pg_temp.u7(f.expected_start, 'freelog', f.i), f.expected_start, f.expected_start,
       'prefect.server', 30, NULL, NULL, 'Worker heartbeat missed', f.expected_start
  FROM g_fr f
 WHERE pg_temp.r('freelog', f.i) < 0.01;
"""

# An artifact every ~3 started runs (70% keyed over 200 keys), ghost-run artifacts,
# then one collection per key pointing at its newest artifact; 3% of them stale.
ARTIFACTS = r"""
INSERT INTO artifact (id, created, updated, key, type, data, metadata_, task_run_id, flow_run_id, description)
SELECT pg_temp.u4('artifact', f.i), ts, ts,
       CASE WHEN f.u_key < 0.7 THEN 'report-' || floor(pg_temp.r('keyno', f.i) * 200)::int END,
       CASE WHEN f.u_key < 0.35 THEN 'table' ELSE 'markdown' END,
       to_json('# Report ' || f.i || E'\n\n| rows | seconds |\n|---|---|\n| ' || f.i * 7 || ' | ' || round(f.duration) || ' |'),
       NULL, NULL, f.id, 'Summary of run ' || f.i
  FROM g_fr f, LATERAL (SELECT coalesce(f.end_time, f.start_time) AS ts) x
 WHERE f.started AND f.u_art < 0.3;
INSERT INTO artifact (id, created, updated, key, type, data, metadata_, task_run_id, flow_run_id, description)
SELECT pg_temp.u4('ghost_artifact', f.i), f.expected_start, f.expected_start,
       NULL, 'markdown', to_json('# Ghost report'::text), NULL, NULL, pg_temp.u4('ghost_run', f.i), NULL
  FROM g_fr f
 WHERE pg_temp.r('ghost', f.i) < 0.002 AND pg_temp.r('ghost_art', f.i) < 0.5;
INSERT INTO artifact_collection (id, created, updated, key, latest_id, task_run_id, flow_run_id, type, data, description, metadata_)
SELECT DISTINCT ON (a.key) pg_temp.u4('collection', hashtext(a.key)), a.created, a.updated, a.key,
       CASE WHEN pg_temp.r('stale', hashtext(a.key)) < 0.03 THEN pg_temp.u4('gone_artifact', hashtext(a.key)) ELSE a.id END,
       a.task_run_id, a.flow_run_id, a.type, a.data, a.description, a.metadata_
  FROM artifact a
 WHERE a.key IS NOT NULL
 ORDER BY a.key, a.created DESC, a.id DESC
ON CONFLICT (key) DO NOTHING;
-- collections whose artifacts are all gone
INSERT INTO artifact_collection (id, created, updated, key, latest_id, type, data)
SELECT pg_temp.u4('dead_collection', n), %(start)s::timestamptz, %(start)s::timestamptz, 'retired-report-' || n,
       pg_temp.u4('dead_artifact', n), 'markdown', to_json('# gone'::text)
  FROM generate_series(1, greatest(1, %(n)s / 2000)) AS n
ON CONFLICT (key) DO NOTHING;
"""

# Events: each source SELECT yields (id, occurred, event, resource_id, resource,
# related, related_ids, payload); EVENT_INSERT writes the events and, in the same
# statement, one event_resources row for the primary resource (role '') and one
# per related resource, as Prefect's event persister does.
EVENT_INSERT = r"""
CREATE UNLOGGED TABLE ev_stage AS %s;
INSERT INTO events (id, occurred, event, resource_id, resource, related_resource_ids, related, payload,
                    received, recorded, follows, created, updated)
SELECT id, occurred, event, resource_id, resource, related_ids, related, payload,
       occurred + interval '100 milliseconds', occurred + interval '1 second', NULL,
       occurred + interval '1 second', occurred + interval '1 second'
  FROM ev_stage;
INSERT INTO event_resources (occurred, resource_id, resource_role, resource, event_id, id, created, updated)
SELECT ev.occurred, r.rid, r.role, r.res, ev.id,
       overlay(overlay(md5(ev.id::text || r.n) placing '4' from 13) placing 'a' from 17)::uuid,
       ev.occurred + interval '1 second', ev.occurred + interval '1 second'
  FROM ev_stage ev,
       LATERAL (SELECT ev.resource_id, '', (ev.resource - 'prefect.resource.id')::json, 0::bigint
                UNION ALL
                SELECT x->>'prefect.resource.id', x->>'prefect.resource.role',
                       (x - 'prefect.resource.id' - 'prefect.resource.role')::json, n
                  FROM jsonb_array_elements(ev.related) WITH ORDINALITY AS x(x, n)) AS r(rid, role, res, n);
DROP TABLE ev_stage
"""

# Each of the two sessions fills the rows of half the flow runs: it sees the plan
# through these views first on its search_path.
PART_VIEWS = r"""
CREATE SCHEMA prefectdb_synth_%(part)s;
CREATE VIEW prefectdb_synth_%(part)s.g_fr AS SELECT * FROM prefectdb_synth.g_fr WHERE i %% 2 = %(part)s;
CREATE VIEW prefectdb_synth_%(part)s.g_tr AS SELECT * FROM prefectdb_synth.g_tr WHERE i %% 2 = %(part)s;
CREATE VIEW prefectdb_synth_%(part)s.g_frs AS SELECT * FROM prefectdb_synth.g_frs WHERE i %% 2 = %(part)s;
CREATE VIEW prefectdb_synth_%(part)s.g_trs AS SELECT * FROM prefectdb_synth.g_trs WHERE i %% 2 = %(part)s;
"""

RELATED = r"""
CREATE FUNCTION pg_temp.rel(role text, rid text, name text) RETURNS jsonb STABLE LANGUAGE sql AS
$$ SELECT jsonb_build_object('prefect.resource.id', rid, 'prefect.resource.role', role, 'prefect.resource.name', name) $$;
"""

EVENT_SOURCES = (
    ('flow-run state events', r"""
SELECT pg_temp.u7(s.ts, 'ev_frs', f.i * 4 + s.n) AS id, s.ts AS occurred,
       'prefect.flow-run.' || s.name AS event, 'prefect.flow-run.' || f.id AS resource_id,
       jsonb_build_object('prefect.resource.id', 'prefect.flow-run.' || f.id, 'prefect.resource.name', 'synthetic-run-' || f.i,
                          'prefect.state-name', s.name, 'prefect.state-type', s.type, 'prefect.run-count', '1',
                          'prefect.state-message', '', 'prefect.state-timestamp', s.ts) AS resource,
       CASE WHEN f.parent_task_run_id IS NULL
            THEN jsonb_build_array(pg_temp.rel('flow', 'prefect.flow.' || fl.id, fl.name))
            ELSE jsonb_build_array(pg_temp.rel('flow', 'prefect.flow.' || fl.id, fl.name),
                                   pg_temp.rel('task-run', 'prefect.task-run.' || f.parent_task_run_id, 'parent-task'))
       END AS related,
       CASE WHEN f.parent_task_run_id IS NULL
            THEN jsonb_build_array('prefect.flow.' || fl.id)
            ELSE jsonb_build_array('prefect.flow.' || fl.id, 'prefect.task-run.' || f.parent_task_run_id)
       END AS related_ids,
       jsonb_build_object('intended', jsonb_build_object('from', s.prev_type, 'to', s.type),
                          'initial_state', CASE WHEN s.prev_type IS NOT NULL
                                                THEN jsonb_build_object('name', initcap(lower(s.prev_type)), 'type', s.prev_type) END,
                          'validated_state', jsonb_build_object('name', s.name, 'type', s.type)) AS payload
  FROM g_frs s JOIN g_fr f USING (i) JOIN g_flow fl USING (flow_no)
"""),
    ('task-run state events', r"""
SELECT pg_temp.u7(s.ts, 'ev_trs', s.j * 4 + s.n) AS id, s.ts AS occurred,
       'prefect.task-run.' || initcap(lower(s.type)) AS event, 'prefect.task-run.' || t.id AS resource_id,
       jsonb_build_object('prefect.resource.id', 'prefect.task-run.' || t.id, 'prefect.resource.name', 'task-' || t.k || '-' || t.i,
                          'prefect.state-name', initcap(lower(s.type)), 'prefect.state-type', s.type, 'prefect.run-count', '1',
                          'prefect.orchestration', 'client', 'prefect.state-message', '', 'prefect.state-timestamp', s.ts) AS resource,
       jsonb_build_array(pg_temp.rel('flow-run', 'prefect.flow-run.' || f.id, 'synthetic-run-' || f.i),
                         pg_temp.rel('flow', 'prefect.flow.' || fl.id, fl.name)) AS related,
       jsonb_build_array('prefect.flow-run.' || f.id, 'prefect.flow.' || fl.id) AS related_ids,
       jsonb_build_object('intended', jsonb_build_object('from', CASE s.n WHEN 2 THEN 'PENDING' WHEN 3 THEN 'RUNNING' END, 'to', s.type),
                          'task_run', jsonb_build_object('name', 'task-' || t.k || '-' || t.i, 'task_key', 'flow-' || t.flow_no || '-task-' || t.k,
                                                         'dynamic_key', md5(t.j::text), 'run_count', 1, 'tags', '[]'::jsonb,
                                                         'empirical_policy', '{"retries": 0, "retry_delay": 0}'::jsonb),
                          'validated_state', jsonb_build_object('name', initcap(lower(s.type)), 'type', s.type, 'message', '')) AS payload
  FROM g_trs s JOIN g_tr t ON t.i = s.i AND t.k = s.k JOIN g_fr f ON f.i = t.i JOIN g_flow fl ON fl.flow_no = t.flow_no
"""),
    ('heartbeat events', r"""
SELECT pg_temp.u7(x.ts, 'ev_hb', f.i * 32 + h) AS id, x.ts AS occurred, 'prefect.flow-run.heartbeat' AS event,
       'prefect.flow-run.' || f.id AS resource_id,
       jsonb_build_object('prefect.resource.id', 'prefect.flow-run.' || f.id, 'prefect.resource.name', 'synthetic-run-' || f.i) AS resource,
       jsonb_build_array(pg_temp.rel('flow', 'prefect.flow.' || fl.id, fl.name)) AS related,
       jsonb_build_array('prefect.flow.' || fl.id) AS related_ids,
       '{}'::jsonb AS payload
  FROM g_fr f JOIN g_flow fl USING (flow_no), generate_series(1, f.n_heartbeats) AS h,
       LATERAL (SELECT f.start_time + make_interval(secs => 300.0 * h) AS ts) x
"""),
    ('artifact events', r"""
SELECT pg_temp.u7(a.created, 'ev_art', f.i) AS id, a.created AS occurred, 'prefect.artifact.created' AS event,
       'prefect.artifact.' || a.id AS resource_id,
       jsonb_build_object('prefect.resource.id', 'prefect.artifact.' || a.id, 'prefect.artifact.type', a.type) AS resource,
       jsonb_build_array(pg_temp.rel('flow-run', 'prefect.flow-run.' || f.id, 'synthetic-run-' || f.i)) AS related,
       jsonb_build_array('prefect.flow-run.' || f.id) AS related_ids,
       '{}'::jsonb AS payload
  FROM artifact a JOIN g_fr f ON f.id = a.flow_run_id
"""),
)

COUNT_TABLES = ('flow_run', 'flow_run_state', 'task_run', 'task_run_state', 'flow_run_input', 'log', 'artifact',
                'artifact_collection', 'events', 'event_resources')


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    p.add_argument('--db', required=True, help='database to fill (must hold the Prefect schema)')
    p.add_argument('--flow-runs', type=int, default=10000)
    p.add_argument('--days', type=float, default=180, help='history spread over this many days before --now')
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--now', default=None,
                   help='end of the history, ISO-8601 (default: today 00:00 UTC, so one day gives identical data)')
    p.add_argument('--flows', type=int, default=20, help='distinct flows')
    p.add_argument('--quiet', action='store_true')
    p.add_argument('--verbose', action='store_true', help='time every statement')
    return p.parse_args(argv)


def default_now():
    today = datetime.datetime.now(datetime.timezone.utc).date()
    return datetime.datetime(today.year, today.month, today.day, tzinfo=datetime.timezone.utc).isoformat()


# Primary keys no foreign key points at, dropped and re-added around the bulk load:
# building them once beats millions of inserts into random places of a btree.
FREE_PRIMARY_KEYS = ('events', 'event_resources', 'log')


def droppable_indexes(cur, tables):
    """(table, drop statement, create statement) of the plain indexes on tables and of
    the primary keys of FREE_PRIMARY_KEYS, so the load can run without them."""
    cur.execute("""
        SELECT t.relname, 'DROP INDEX ' || i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
          FROM pg_index i
          JOIN pg_class t ON t.oid = i.indrelid
         WHERE t.relname = ANY(%s) AND t.relnamespace = 'public'::regnamespace
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
        UNION ALL
        SELECT t.relname, format('ALTER TABLE %%I DROP CONSTRAINT %%I', t.relname, c.conname),
               format('ALTER TABLE %%I ADD CONSTRAINT %%I %%s', t.relname, c.conname, pg_get_constraintdef(c.oid))
          FROM pg_constraint c
          JOIN pg_class t ON t.oid = c.conrelid
         WHERE c.contype = 'p' AND t.relname = ANY(%s) AND t.relnamespace = 'public'::regnamespace
         ORDER BY 2""", (list(tables), list(FREE_PRIMARY_KEYS)))
    return cur.fetchall()


class Session(object):
    """One connection of the generator, with its helper functions and timings."""

    def __init__(self, args, params, log, part=None):
        self.args, self.params, self.log, self.part = args, params, log, part
        self.conn = psycopg2.connect(dbname=args.db, application_name='prefectdb synth_history')
        self.conn.autocommit = True
        self.cur = self.conn.cursor()
        self.cur.execute("SET max_parallel_workers_per_gather = 0")
        self.cur.execute("SET work_mem = '256MB'")
        self.cur.execute("SET maintenance_work_mem = '1GB'")
        self.cur.execute("SET search_path = %sprefectdb_synth, public"
                         % ('' if part is None else 'prefectdb_synth_%d, ' % part))
        self.cur.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if self.cur.fetchone()[0]:
            # skip the per-row foreign key triggers: the generator writes consistent rows
            self.cur.execute("SET session_replication_role = replica")
        self.cur.execute(FUNCTIONS % {'seed': "'%d'" % args.seed})
        self.cur.execute(RELATED)

    def step(self, name, sql):
        t0 = time.monotonic()
        self.cur.execute('BEGIN')
        for statement in sql.split(';\n'):
            if statement.strip():
                t1 = time.monotonic()
                self.cur.execute(statement, self.params)
                if self.args.verbose and self.part != 1:
                    self.log('    %6.2f s  %s' % (time.monotonic() - t1, ' '.join(statement.split())[:90]))
        self.cur.execute('COMMIT')
        if self.part != 1:
            self.log('  %-24s %6.1f s%s' % (name, time.monotonic() - t0, '' if self.part is None else ' (half)'))

    def fill(self):
        """Every row that belongs to a flow run, for this session's half of them."""
        for name, sql in (('flow_run_state', FLOW_RUN_STATES), ('flow_run', FLOW_RUN_ROWS),
                          ('task_run + states', TASK_RUN_ROWS), ('flow_run_input', INPUTS), ('log', LOGS)):
            self.step(name, sql)
        for name, source in EVENT_SOURCES:
            self.step(name, EVENT_INSERT.replace('ev_stage', 'ev_stage_%d' % self.part) % source)

    def close(self):
        self.conn.close()


def in_parallel(*jobs):
    """Run each job (a callable) in its own thread; psycopg2 releases the GIL while the server works."""
    errors = []

    def guard(job):
        try:
            job()
        except Exception as e:  # reported after every job has ended
            errors.append(e)

    threads = [threading.Thread(target=guard, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def run_all(cur, statements):
    for statement in statements:
        cur.execute(statement)


def generate(args, log):
    """Plan every flow run in one session, then fill the rows of each half of them in two sessions at once."""
    now = args.now or default_now()
    params = {'seed': str(args.seed), 'n': args.flow_runs, 'days': args.days, 'now': now, 'flows': args.flows,
              'start': (datetime.datetime.fromisoformat(now) - datetime.timedelta(days=args.days)).isoformat()}
    main = Session(args, params, log)
    main.cur.execute("DROP SCHEMA IF EXISTS prefectdb_synth, prefectdb_synth_0, prefectdb_synth_1 CASCADE")
    main.cur.execute("CREATE SCHEMA prefectdb_synth")
    main.cur.execute("SELECT count(*) FROM (SELECT 1 FROM flow_run LIMIT 1) s")
    empty = main.cur.fetchone()[0] == 0
    dropped = droppable_indexes(main.cur, BULK_TABLES) if empty else []
    for dummy, drop, dummy2 in dropped:
        main.cur.execute(drop)
    try:
        main.step('plan flow runs', FLOW_RUNS_PLAN)
        main.step('plan task runs', TASK_RUNS_PLAN)
        main.step('plan states', STATES_PLAN)
        main.step('flows', FLOWS)
        main.step('artifacts', ARTIFACTS)
        for part in (0, 1):
            main.cur.execute(PART_VIEWS % {'part': part})
        halves = [Session(args, params, log, part) for part in (0, 1)]
        t0 = time.monotonic()
        in_parallel(*[half.fill for half in halves])
        log('  %-24s %6.1f s' % ('rows of both halves', time.monotonic() - t0))
        t0 = time.monotonic()
        # rebuild the dropped indexes, the two sessions taking turns from the biggest tables down
        order = [d[2] for d in sorted(dropped, key=lambda d: BULK_TABLES.index(d[0]), reverse=True)]
        in_parallel(lambda: run_all(halves[0].cur, order[0::2]), lambda: run_all(halves[1].cur, order[1::2]))
        log('  %-24s %6.1f s' % ('rebuild %d indexes/keys' % len(dropped), time.monotonic() - t0))
        main.cur.execute("DROP SCHEMA prefectdb_synth, prefectdb_synth_0, prefectdb_synth_1 CASCADE")
        t0 = time.monotonic()
        # a real server's autovacuum would have set hint bits and the visibility map by now
        in_parallel(lambda: run_all(halves[0].cur, ['VACUUM ANALYZE events', 'ANALYZE flow']),
                    lambda: run_all(halves[1].cur, ['VACUUM ANALYZE %s' % t for t in BULK_TABLES if t != 'events']))
        log('  %-24s %6.1f s' % ('vacuum analyze', time.monotonic() - t0))
        for half in halves:
            half.close()
    except Exception:
        # leave no half-built indexes missing: put back what was dropped
        for dummy, dummy2, create in dropped:
            try:
                main.cur.execute(create)
            except (psycopg2.errors.DuplicateTable, psycopg2.errors.InvalidTableDefinition):
                pass  # rebuilt before the failure
        raise
    finally:
        main.close()


def counts(conn):
    cur = conn.cursor()
    result = {}
    for table in COUNT_TABLES:
        cur.execute('SELECT count(*) FROM %s' % table)
        result[table] = cur.fetchone()[0]
    cur.execute('SELECT pg_database_size(current_database())')
    result['database_bytes'] = cur.fetchone()[0]
    return result


def main(argv=None):
    args = parse_args(argv)

    def log(msg):
        if not args.quiet:
            print(msg, flush=True)

    t0 = time.monotonic()
    log('synthetic history: %d flow runs over %g days, seed %d, into %s' % (args.flow_runs, args.days, args.seed, args.db))
    generate(args, log)
    elapsed = time.monotonic() - t0
    conn = psycopg2.connect(dbname=args.db, application_name='prefectdb synth_history')
    result = counts(conn)
    conn.close()
    log('generated in %.1f s:' % elapsed)
    for table in COUNT_TABLES:
        log('  %-20s %10d rows' % (table, result[table]))
    log('  %-20s %10.1f MB' % ('database size', result['database_bytes'] / 1e6))
    return 0


if __name__ == '__main__':
    sys.exit(main())
