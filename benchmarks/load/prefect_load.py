"""A load generator that replays Prefect 3.9.1's own database traffic.

Writers play flow runs end to end as a Prefect server records them: register the
flow, create the run (PENDING), set it RUNNING, read it back, record each task
run's PENDING/RUNNING/COMPLETED states as the task run recorder does, write logs
in batches, persist events with their event_resources as the event persister does,
set the run COMPLETED. Readers send the API's common reads: recent flow runs by
state (with their states), the logs of a run, events of a time range (a count and
a page), plus two of the server's background services that read flow_run (late
runs every 5 s, cancellation cleanup every 20 s). The statement texts are the
server's own (prefect_sql.py), prepared and executed with parameters as asyncpg does.

Open-loop pacing: each API call has a scheduled start; when a call is late, the
lateness is recorded (kind `schedule_lag`) rather than hidden. Every statement and
every API call (transaction, kind `tx:*`) is timed; errors are recorded with their
SQLSTATE and the session goes on. Sessions carry application_name
`prefect-load <role>` and statement_timeout 10 s (Prefect's default
PREFECT_SERVER_DATABASE_TIMEOUT), so a statement that Prefect would give up on
counts as an error.

    .venv/bin/python benchmarks/load/prefect_load.py --port 54331 --db light_touch \
        --duration 60 --flow-runs-per-minute 30 --tasks 10 --reads-per-second 2

prints p50/p95/p99/max latency (ms) per statement kind and per API call, and the
errors. As a library: LoadRun(...).start(); ... .stop(); summarize(...).
"""
import argparse
import datetime
import functools
import glob
import json
import math
import multiprocessing
import os
import random
import struct
import sys
import tempfile
import time
import uuid

import psycopg2
import psycopg2.extensions

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from prefect_sql import STATEMENTS, insert_events_sql, insert_logs_sql  # noqa: E402  pylint: disable=wrong-import-position

STATEMENT_KINDS = sorted(set(kind for kind, dummy in STATEMENTS.values()) |
                         {'insert_events', 'insert_logs', 'select_flow_run_states', 'commit'})
TX_KINDS = ['tx:upsert_flow', 'tx:create_flow_run', 'tx:set_flow_run_state', 'tx:read_flow_run',
            'tx:task_run_recorder', 'tx:write_events', 'tx:write_logs', 'tx:read_flow_runs_by_state',
            'tx:read_logs_of_run', 'tx:read_events_range', 'tx:service_late_runs', 'tx:service_cancellation_cleanup']
KINDS = STATEMENT_KINDS + TX_KINDS + ['schedule_lag']
KIND_ID = dict((k, i) for i, k in enumerate(KINDS))
RECORD = struct.Struct('<dfH')  # wall-clock start, seconds, kind
APPLICATION = 'prefect-load'
# Prefect's default statement timeout (PREFECT_SERVER_DATABASE_TIMEOUT, seconds)
STATEMENT_TIMEOUT_MS = 10000
# the benchmark datasets' history ends here (benchmarks/datasets.sh); reads of "the last day" start from it
DATASET_END = '2026-11-27T00:00:00+00:00'

EMPIRICAL_POLICY = ('{"retries": 0, "resuming": false, "pause_keys": [], "retry_type": null, "max_retries": 0, '
                    '"retry_delay": 0, "retry_delay_seconds": 0.0}')
TASK_POLICY = ('{"retries": 0, "max_retries": 0, "retry_delay": 0, "retry_delay_seconds": 0.0, '
               '"retry_jitter_factor": null}')
ADJECTIVES = ('unyielding', 'brave', 'calm', 'eager', 'gentle', 'jolly', 'keen', 'lively', 'nimble', 'proud')
ANIMALS = ('warthog', 'otter', 'heron', 'lynx', 'marmot', 'ibis', 'gecko', 'bison', 'koala', 'tapir')


def uuid7():
    """A version 7 UUID (time-ordered), as Prefect 3.9.1 makes for states, task runs, events and logs."""
    ms = int(time.time() * 1000)
    rand = int.from_bytes(os.urandom(10), 'big')
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= (rand >> 68 & 0xFFF) << 64
    value |= 0x2 << 62
    value |= rand & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def state_details(flow_run_id, task_run_id=None, transition_id=None):
    return json.dumps({
        'deferred': None, 'cache_key': None, 'pause_key': None, 'retriable': None, 'flow_run_id': flow_run_id,
        'task_run_id': task_run_id, 'traceparent': None, 'pause_timeout': None, 'refresh_cache': None,
        'transition_id': transition_id, 'scheduled_time': None, 'cache_expiration': None, 'pause_reschedule': False,
        'run_input_keyset': None, 'child_flow_run_id': None, 'task_parameters_id': None, 'untrackable_result': False,
        'deployment_concurrency_lease_id': None})


class Recorder(object):
    """Samples and errors of one process, appended to files in `outdir`."""

    def __init__(self, outdir, name):
        self.samples = open(os.path.join(outdir, 'samples-%s.bin' % name), 'ab')
        self.errors = open(os.path.join(outdir, 'errors-%s.jsonl' % name), 'a')
        self.buffer = bytearray()
        self.last_flush = time.monotonic()

    def add(self, kind, started, seconds):
        self.buffer += RECORD.pack(started, seconds, KIND_ID[kind])
        if time.monotonic() - self.last_flush > 2:
            self.flush()

    def error(self, kind, statement, exc):
        self.errors.write(json.dumps({
            't': time.time(), 'kind': kind, 'statement': statement, 'sqlstate': getattr(exc, 'pgcode', None),
            'error': ' '.join(str(exc).split())[:300]}) + '\n')
        self.errors.flush()

    def flush(self):
        self.samples.write(self.buffer)
        self.samples.flush()
        self.buffer = bytearray()
        self.last_flush = time.monotonic()

    def close(self):
        self.flush()
        self.samples.close()
        self.errors.close()


class CallFailed(Exception):
    pass


class Session(object):
    """One connection, as one of the server's pooled connections: prepared statements, timed."""

    def __init__(self, dsn, role, recorder):
        self.dsn = dsn
        self.role = role
        self.rec = recorder
        self.conn = None
        self.prepared = set()
        self.statement = None
        self.connect()

    def connect(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except psycopg2.Error:
                pass
        self.conn = psycopg2.connect(self.dsn, application_name='%s %s' % (APPLICATION, self.role))
        self.conn.autocommit = True
        with self.conn.cursor() as cur:
            cur.execute('SET statement_timeout = %d' % STATEMENT_TIMEOUT_MS)
        self.conn.autocommit = False
        self.prepared = set()

    def run(self, name, params, kind=None, sql=None):
        """EXECUTE a prepared statement; returns the rows (or None)."""
        if sql is None:
            kind, sql = STATEMENTS[name]
        cur = self.conn.cursor()
        if name not in self.prepared:
            cur.execute('PREPARE %s AS %s' % (name, sql))
            self.prepared.add(name)
        self.statement = kind
        started = time.time()
        began = time.perf_counter()
        cur.execute('EXECUTE %s (%s)' % (name, ', '.join(['%s'] * len(params))), params)
        rows = cur.fetchall() if cur.description else None
        self.rec.add(kind, started, time.perf_counter() - began)
        cur.close()
        return rows

    def call(self, tx_kind, body, write=True):
        """One API call: its statements in one transaction, committed (writes) or rolled back (reads)."""
        started = time.time()
        began = time.perf_counter()
        self.statement = None
        try:
            body()
            if write:
                self.statement = 'commit'
                t0 = time.time()
                b0 = time.perf_counter()
                self.conn.commit()
                self.rec.add('commit', t0, time.perf_counter() - b0)
            else:
                self.conn.rollback()
        except psycopg2.Error as e:
            self.rec.error(tx_kind, self.statement, e)
            try:
                self.conn.rollback()
            except psycopg2.Error:
                self.connect()
            if self.conn.closed:
                self.connect()
            raise CallFailed(str(e))
        finally:
            self.rec.add(tx_kind, started, time.perf_counter() - began)

    def close(self):
        try:
            self.conn.close()
        except psycopg2.Error:
            pass


class Pacer(object):
    """Open-loop schedule: call k at start + k * interval; lateness recorded as schedule_lag."""

    def __init__(self, rec, interval, stop):
        self.rec = rec
        self.interval = interval
        self.stop = stop
        self.next_at = time.time()
        self.resyncs = 0

    def wait(self):
        """Sleep until the next slot; False when asked to stop."""
        while True:
            if self.stop.is_set():
                return False
            delay = self.next_at - time.time()
            if delay <= 0:
                break
            time.sleep(min(delay, 0.2))
        late = time.time() - self.next_at
        self.rec.add('schedule_lag', self.next_at, late)
        self.next_at += self.interval
        if late > 5:  # far behind: start afresh rather than burst to catch up
            self.next_at = time.time() + self.interval
            self.resyncs += 1
        return True


class FlowRunPlayer(object):
    """Plays flow runs of `tasks` short tasks, as Prefect records them."""

    def __init__(self, session, tasks, event_batch, rng):
        self.s = session
        self.tasks = tasks
        self.event_batch = event_batch
        self.rng = rng
        self.events = []
        self.logs = []
        self.flow_name = 'light-touch-flow-%d' % rng.randrange(5)
        self.flow_id = None

    # -- the API calls, each a closure the pacer runs in turn --
    def lifecycle(self):
        """The calls of one flow run, in order (closures of no argument)."""
        run = {'id': str(uuid.uuid4()), 'name': '%s-%s' % (self.rng.choice(ADJECTIVES), self.rng.choice(ANIMALS))}
        calls = [self.upsert_flow, functools.partial(self.create_flow_run, run),
                 functools.partial(self.set_state, run, 'RUNNING', 'Running'),
                 functools.partial(self.read_flow_run, run)]
        tasks = [{'id': uuid7(), 'key': 'work-%08x' % self.rng.getrandbits(32), 'dynamic': str(uuid.uuid4()),
                  'name': 'work-%03x' % self.rng.getrandbits(12)} for dummy in range(self.tasks)]
        for index, task in enumerate(tasks):
            for state_type in ('PENDING', 'RUNNING', 'COMPLETED'):
                calls.append(functools.partial(self.task_run_state, run, task, state_type))
            calls.append(functools.partial(self.write_events, only_if_full=True))
            if index == len(tasks) // 2:
                calls.append(self.write_logs)
        calls.append(functools.partial(self.set_state, run, 'COMPLETED', 'Completed'))
        calls.append(self.write_events)
        calls.append(self.write_logs)
        return calls

    def upsert_flow(self):
        now = utcnow()
        holder = {}

        def body():
            self.s.run('insert_flow', [self.flow_name, '[]', '{}', str(uuid.uuid4()), now, now])
            holder['rows'] = self.s.run('select_flow_by_name', [self.flow_name, 1])
        self.s.call('tx:upsert_flow', body)
        self.flow_id = str(holder['rows'][0][3])

    def _event(self, event, resource_id, resource, related, payload):
        now = utcnow()
        self.events.append({'occurred': now, 'event': event, 'resource_id': resource_id, 'resource': resource,
                            'related': related, 'payload': payload, 'id': uuid7()})

    def _log(self, run, task_id, message):
        self.logs.append(('prefect.task_runs' if task_id else 'prefect.flow_runs', 20, run['id'], task_id, message,
                          utcnow(), uuid7()))

    def create_flow_run(self, run):
        now = utcnow()
        state_id = uuid7()
        run['state_id'] = state_id
        run['created'] = now

        def body():
            self.s.run('select_flow_labels', [self.flow_id])
            self.s.run('insert_flow_run', [
                self.flow_id, None, None, '8f6227ed8f0a1c1d02871679412d0126', None, '{"n": %d}' % self.tasks, None,
                '{}', EMPIRICAL_POLICY, '[]', json.dumps({'prefect.flow.id': self.flow_id}), None, None, '{}', None,
                None, False, None, None, run['name'], None, None, None, 0, None, None, None, None, '00:00:00',
                run['id'], now, now])
            self._write_state(run, 'PENDING', 'Pending', now, state_id)
            self.s.run('update_flow_run_pending', [state_id, 'PENDING', 'Pending', now, now, run['id']])
            self.s.run('select_flow_by_id', [self.flow_id])
        self.s.call('tx:create_flow_run', body)
        self._flow_run_event(run, 'Pending', 'PENDING', now)
        self._log(run, None, "Beginning flow run '%s' for flow '%s'" % (run['name'], self.flow_name))

    def _write_state(self, run, state_type, name, now, state_id, transition_id=None):
        self.s.run('lock_flow_run', [run['id']])
        self.s.run('select_state_timestamp', [run['id'], now, 1])
        self.s.run('insert_flow_run_state', [run['id'], state_type, now, name, None,
                                             state_details(run['id'], transition_id=transition_id), None, None,
                                             state_id, now, now])

    def set_state(self, run, state_type, name):
        now = utcnow()
        state_id = uuid7()
        previous = run['state_id']

        def body():
            self.s.run('lock_flow_run', [run['id']])
            self.s.run('select_flow_run_state_by_id', [previous])
            self.s.run('select_state_timestamp', [run['id'], now, 1])
            self.s.run('insert_flow_run_state', [run['id'], state_type, now, name, None,
                                                 state_details(run['id'], transition_id=str(uuid.uuid4())), None,
                                                 None, state_id, now, now])
            if state_type == 'RUNNING':
                run['start'] = now
                self.s.run('update_flow_run_running', [state_id, state_type, name, now, 1, now, run['id']])
            else:
                total = now - run.get('start', now)
                self.s.run('update_flow_run_final', [state_id, state_type, name, now, now, total, run['id']])
        self.s.call('tx:set_flow_run_state', body)
        run['state_id'] = state_id
        self._flow_run_event(run, name, state_type, now)
        if state_type == 'RUNNING':
            self._event('prefect.flow-run.heartbeat', 'prefect.flow-run.%s' % run['id'],
                        {'prefect.version': '3.9.1', 'prefect.resource.name': run['name']},
                        self._flow_related(), {})
        else:
            self._log(run, None, "Finished in state %s()" % name)

    def _flow_related(self):
        return [{'prefect.resource.id': 'prefect.flow.%s' % self.flow_id, 'prefect.resource.name': self.flow_name,
                 'prefect.resource.role': 'flow'}]

    def _flow_run_event(self, run, name, state_type, now):
        resource = {'prefect.run-count': '1', 'prefect.state-name': name, 'prefect.state-type': state_type,
                    'prefect.resource.name': run['name'], 'prefect.state-message': '',
                    'prefect.state-timestamp': now.isoformat()}
        self._event('prefect.flow-run.%s' % name, 'prefect.flow-run.%s' % run['id'], resource, self._flow_related(),
                    {'intended': {'to': state_type}, 'validated_state': {'name': name, 'type': state_type}})

    def read_flow_run(self, run):
        def body():
            self.s.run('read_flow_run', [run['id']])
            self.s.run('select_flow_run_state_by_id', [run['state_id']])
        self.s.call('tx:read_flow_run', body, write=False)

    def task_run_state(self, run, task, state_type):
        now = utcnow()
        state_id = uuid7()
        name = state_type.capitalize()
        if state_type == 'RUNNING':
            task['start'] = now
        start = task.get('start')
        end = now if state_type == 'COMPLETED' else None
        run_count = 0 if state_type == 'PENDING' else 1

        def body():
            self.s.run('select_task_run_by_id_or_key', [task['id'], run['id'], task['key'], task['dynamic']])
            self.s.run('upsert_task_run', [
                run['id'], task['key'], task['dynamic'], run_count, TASK_POLICY, '{"i": []}', '[]', '{}', state_id,
                task['name'], state_type, name, now, run_count, task.get('expected', now), start, end,
                (end - start) if end and start else '00:00:00', task['id'], now, now])
            self.s.run('select_task_run_by_key', [run['id'], task['key'], task['dynamic']])
            self.s.run('insert_task_run_state', [task['id'], state_type, now, name, '',
                                                 state_details(run['id'], task['id']), None, state_id, now, now])
        task.setdefault('expected', now)
        self.s.call('tx:task_run_recorder', body)
        resource = {'prefect.run-count': str(run_count), 'prefect.state-name': name, 'prefect.state-type': state_type,
                    'prefect.resource.name': task['name'], 'prefect.orchestration': 'client',
                    'prefect.state-message': '', 'prefect.state-timestamp': now.isoformat()}
        related = [{'prefect.resource.id': 'prefect.flow-run.%s' % run['id'], 'prefect.resource.name': run['name'],
                    'prefect.resource.role': 'flow-run'}] + self._flow_related()
        self._event('prefect.task-run.%s' % name, 'prefect.task-run.%s' % task['id'], resource, related,
                    {'intended': {'to': state_type}, 'task_run': {'name': task['name'], 'task_key': task['key']},
                     'validated_state': {'name': name, 'type': state_type}})
        if state_type == 'RUNNING':
            self._log(run, task['id'], 'task %s working' % task['name'])
        elif state_type == 'COMPLETED':
            self._log(run, task['id'], 'Finished in state Completed()')

    def write_events(self, only_if_full=False):
        if only_if_full and len(self.events) < self.event_batch:
            return
        batch, self.events = self.events, []
        if not batch:
            return
        received = utcnow()
        params = []
        for e in batch:
            resource = dict(e['resource'])
            resource['prefect.resource.id'] = e['resource_id']
            params += [e['occurred'], e['event'], e['resource_id'], json.dumps(resource),
                       json.dumps([r['prefect.resource.id'] for r in e['related']]), json.dumps(e['related']),
                       json.dumps(e['payload']), received, received, None, e['id'], received, received]

        def body():
            name = 'insert_events_%d' % len(batch)
            inserted = set(str(r[0]) for r in self.s.run(name, params, 'insert_events', insert_events_sql(len(batch))))
            for e in batch:
                if e['id'] not in inserted:
                    continue
                rows = [(e['resource_id'], '', e['resource'])]
                rows += [(r['prefect.resource.id'], r['prefect.resource.role'],
                          {'prefect.resource.name': r['prefect.resource.name']}) for r in e['related']]
                for resource_id, role, resource in rows:
                    self.s.run('insert_event_resource', [e['occurred'], resource_id, role, json.dumps(resource),
                                                         e['id'], str(uuid.uuid4()), received, received])
        self.s.call('tx:write_events', body)

    def write_logs(self):
        batch, self.logs = self.logs, []
        if not batch:
            return
        now = utcnow()
        params = []
        for row in batch:
            params += list(row) + [now, now]

        def body():
            self.s.run('insert_logs_%d' % len(batch), params, 'insert_logs', insert_logs_sql(len(batch)))
        self.s.call('tx:write_logs', body)


class Reader(object):
    """The API's common reads and two background services of the server."""

    def __init__(self, session, rng, dataset_end):
        self.s = session
        self.rng = rng
        self.dataset_end = dataset_end
        self.run_ids = []
        self.refreshed = 0

    def _refresh(self):
        if time.monotonic() - self.refreshed < 30 and self.run_ids:
            return
        with self.s.conn.cursor() as cur:
            cur.execute('SELECT id::text FROM flow_run ORDER BY expected_start_time DESC NULLS LAST LIMIT 500')
            self.run_ids = [r[0] for r in cur.fetchall()]
        self.s.conn.rollback()
        self.refreshed = time.monotonic()

    def flow_runs_by_state(self):
        states = self.rng.choice((('COMPLETED', 'FAILED'), ('RUNNING', 'PENDING'), ('FAILED', 'CRASHED'),
                                  ('COMPLETED', 'CANCELLED')))

        def body():
            rows = self.s.run('read_flow_runs_by_state', [50, 0, states[0], states[1]])
            state_ids = sorted(set(str(r[17]) for r in rows if r[17] is not None))
            if state_ids:
                sql = STATEMENTS['select_flow_run_state_by_id'][1].replace(
                    'IN ($1::UUID)', 'IN (%s)' % ', '.join('$%d::UUID' % (i + 1) for i in range(len(state_ids))))
                self.s.run('select_flow_run_states_%d' % len(state_ids), state_ids, 'select_flow_run_states', sql)
        self.s.call('tx:read_flow_runs_by_state', body, write=False)

    def logs_of_run(self):
        self._refresh()
        if not self.run_ids:
            return
        run_id = self.rng.choice(self.run_ids)
        self.s.call('tx:read_logs_of_run', lambda: self.s.run('read_logs_of_run', [200, 0, run_id]), write=False)

    def events_range(self):
        until = utcnow()
        since = min(until, self.dataset_end) - datetime.timedelta(days=1)

        def body():
            self.s.run('count_events_range', [since, until])
            self.s.run('read_events_range', [since, until, 50, 0])
        self.s.call('tx:read_events_range', body, write=False)

    def late_runs(self):
        self.s.call('tx:service_late_runs',
                    lambda: self.s.run('late_runs', [utcnow() - datetime.timedelta(seconds=15), 'SCHEDULED',
                                                     'Scheduled', 400]), write=False)

    def cancellation_cleanup(self):
        self.s.call('tx:service_cancellation_cleanup',
                    lambda: self.s.run('cancelled_runs', [
                        'CANCELLED', utcnow() - datetime.timedelta(days=1), '00000000-0000-0000-0000-000000000000',
                        200]), write=False)


def writer_main(dsn, index, config, outdir, stop, ready):
    """One writer process: flow runs back to back, its calls spread evenly over each run's slot."""
    rng = random.Random(config['seed'] * 1000 + index)
    rec = Recorder(outdir, 'writer%d' % index)
    session = Session(dsn, 'writer%d' % index, rec)
    player = FlowRunPlayer(session, config['tasks'], config['event_batch'], rng)
    # each writer starts one flow run every `slot` seconds
    slot = 60.0 * config['writers'] / config['flow_runs_per_minute']
    calls_per_run = len(player.lifecycle())
    pacer = Pacer(rec, slot / calls_per_run, stop)
    pacer.next_at = time.time() + rng.uniform(0, slot)
    ready.set()
    try:
        while not stop.is_set():
            for call in player.lifecycle():
                if not pacer.wait():
                    break
                try:
                    call()
                except CallFailed:
                    # the run cannot go on (its row or state may be missing): start the next one
                    player.events, player.logs = [], []
                    break
    finally:
        rec.close()
        session.close()


def reader_main(dsn, index, config, outdir, stop, ready):
    rng = random.Random(config['seed'] * 1000 + 500 + index)
    rec = Recorder(outdir, 'reader%d' % index)
    session = Session(dsn, 'reader%d' % index, rec)
    reader = Reader(session, rng, config['dataset_end'])
    interval = config['readers'] / float(config['reads_per_second'])
    pacer = Pacer(rec, interval, stop)
    pacer.next_at = time.time() + rng.uniform(0, interval)
    services = {'late_runs': (5.0, 0.0), 'cancellation_cleanup': (20.0, 0.0)}
    ready.set()
    try:
        while pacer.wait():
            try:
                now = time.monotonic()
                if index == 0:
                    for name, (every, last) in list(services.items()):
                        if now - last >= every:
                            services[name] = (every, now)
                            getattr(reader, name)()
                pick = rng.random()
                if pick < 0.4:
                    reader.flow_runs_by_state()
                elif pick < 0.7:
                    reader.logs_of_run()
                else:
                    reader.events_range()
            except CallFailed:
                pass
    finally:
        rec.close()
        session.close()


DEFAULTS = {'writers': 2, 'readers': 1, 'flow_runs_per_minute': 30.0, 'tasks': 10, 'event_batch': 20,
            'reads_per_second': 2.0, 'seed': 1, 'dataset_end': DATASET_END}


class LoadRun(object):
    """The workload as a set of processes writing their samples to `outdir`."""

    def __init__(self, dsn, outdir=None, **config):
        self.dsn = dsn
        self.config = dict(DEFAULTS)
        self.config.update(dict((k, v) for k, v in config.items() if v is not None))
        end = self.config['dataset_end']
        if isinstance(end, str):
            end = datetime.datetime.fromisoformat(end.replace('Z', '+00:00'))
        self.config['dataset_end'] = end
        self.outdir = outdir or tempfile.mkdtemp(prefix='prefect-load-')
        self.ctx = multiprocessing.get_context('fork')
        self.stop_event = self.ctx.Event()
        self.procs = []
        self.started = None
        self.stopped = None

    def start(self):
        readies = []
        for kind, count, target in (('writer', self.config['writers'], writer_main),
                                    ('reader', self.config['readers'], reader_main)):
            for index in range(count):
                ready = self.ctx.Event()
                proc = self.ctx.Process(target=target, name='%s%d' % (kind, index),
                                        args=(self.dsn, index, self.config, self.outdir, self.stop_event, ready))
                proc.start()
                self.procs.append(proc)
                readies.append(ready)
        for ready in readies:
            if not ready.wait(60):
                self.stop()
                raise RuntimeError('a load process did not start; see its output')
        self.started = time.time()
        return self

    def alive(self):
        return all(p.is_alive() for p in self.procs)

    def stop(self):
        self.stop_event.set()
        for proc in self.procs:
            proc.join(60)
            if proc.is_alive():
                proc.terminate()
                proc.join(10)
        self.stopped = time.time()
        return [p.exitcode for p in self.procs]

    def samples(self):
        return read_samples(self.outdir)

    def errors(self):
        return read_errors(self.outdir)


def read_samples(outdir):
    """[(t, seconds, kind)] of every process, by start time."""
    rows = []
    for path in glob.glob(os.path.join(outdir, 'samples-*.bin')):
        with open(path, 'rb') as f:
            data = f.read()
        usable = len(data) - len(data) % RECORD.size
        rows.extend((t, d, KINDS[k]) for t, d, k in RECORD.iter_unpack(data[:usable]))
    rows.sort()
    return rows


def read_errors(outdir):
    errors = []
    for path in glob.glob(os.path.join(outdir, 'errors-*.jsonl')):
        with open(path) as f:
            errors.extend(json.loads(line) for line in f if line.strip())
    errors.sort(key=lambda e: e['t'])
    return errors


def percentile(ordered, fraction):
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return None
    rank = max(1, int(math.ceil(round(fraction * len(ordered), 6))))
    return ordered[min(rank, len(ordered)) - 1]


def summarize(samples, errors, t0=None, t1=None, windows=None):
    """Latency figures (ms) per kind and the errors, for samples started in [t0, t1)
    (or in any of `windows`, a list of (t0, t1))."""
    if windows is None:
        windows = [(t0 if t0 is not None else float('-inf'), t1 if t1 is not None else float('inf'))]

    def inside(t):
        return any(lo <= t < hi for lo, hi in windows)
    by_kind = {}
    statements = []
    for t, d, kind in samples:
        if inside(t):
            by_kind.setdefault(kind, []).append(d)
            if kind in STATEMENT_KINDS:
                statements.append(d)
    statements.sort()
    kinds = {}
    for kind in KINDS:
        values = sorted(by_kind.get(kind, []))
        if not values:
            continue
        kinds[kind] = {'n': len(values)}
        for label, fraction in (('p50', 0.50), ('p95', 0.95), ('p99', 0.99)):
            kinds[kind][label] = round(percentile(values, fraction) * 1000, 2)
        kinds[kind]['max'] = round(values[-1] * 1000, 2)
    picked = [e for e in errors if inside(e['t'])]
    span = 0.0
    for lo, hi in windows:
        lo = lo if lo != float('-inf') else (samples[0][0] if samples else 0)
        hi = hi if hi != float('inf') else (samples[-1][0] if samples else 0)
        span += max(0.0, hi - lo)
    return {'seconds': round(span, 1), 'kinds': kinds, 'errors': len(picked), 'error_samples': picked[:10],
            'statements': {'n': len(statements), 'per_second': round(len(statements) / span, 1) if span > 0 else None,
                           'p50': _ms(percentile(statements, 0.5)), 'p95': _ms(percentile(statements, 0.95)),
                           'p99': _ms(percentile(statements, 0.99)),
                           'max': _ms(statements[-1] if statements else None)}}


def _ms(value):
    return None if value is None else round(value * 1000, 2)


def format_table(summary):
    lines = ['%-34s %7s %9s %9s %9s %9s' % ('kind', 'n', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms')]
    for kind, f in summary['kinds'].items():
        lines.append('%-34s %7d %9.2f %9.2f %9.2f %9.2f' % (kind, f['n'], f['p50'], f['p95'], f['p99'], f['max']))
    s = summary['statements']
    lines.append('%-34s %7d %9s %9s %9s %9s' % ('all statements', s['n'], s['p50'], s['p95'], s['p99'], s['max']))
    lines.append('errors: %d' % summary['errors'])
    for e in summary['error_samples']:
        lines.append('  %s %s %s: %s' % (e['kind'], e['statement'], e['sqlstate'], e['error']))
    return '\n'.join(lines)


def dsn_from(args):
    return 'host=%s port=%d dbname=%s user=%s password=%s' % (
        args.host, args.port, args.db, args.user, os.environ.get('PGPASSWORD', 'prefectdb-local'))


def add_load_arguments(parser):
    parser.add_argument('--writers', type=int, default=DEFAULTS['writers'], help='flow-run writer processes')
    parser.add_argument('--readers', type=int, default=DEFAULTS['readers'], help='reader processes')
    parser.add_argument('--flow-runs-per-minute', type=float, default=DEFAULTS['flow_runs_per_minute'])
    parser.add_argument('--tasks', type=int, default=DEFAULTS['tasks'], help='task runs per flow run')
    parser.add_argument('--event-batch', type=int, default=DEFAULTS['event_batch'],
                        help='events per write of the event persister')
    parser.add_argument('--reads-per-second', type=float, default=DEFAULTS['reads_per_second'])
    parser.add_argument('--seed', type=int, default=DEFAULTS['seed'])
    parser.add_argument('--dataset-end', default=DATASET_END,
                        help='events reads cover the day before this (or before now, if earlier)')


def load_config(args):
    return {'writers': args.writers, 'readers': args.readers, 'flow_runs_per_minute': args.flow_runs_per_minute,
            'tasks': args.tasks, 'event_batch': args.event_batch, 'reads_per_second': args.reads_per_second,
            'seed': args.seed, 'dataset_end': args.dataset_end}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=54331)
    parser.add_argument('--db', required=True)
    parser.add_argument('--user', default='postgres')
    parser.add_argument('--duration', type=float, default=60, help='seconds')
    parser.add_argument('--json', action='store_true', help='print the summary as JSON')
    add_load_arguments(parser)
    args = parser.parse_args()
    load = LoadRun(dsn_from(args), **load_config(args)).start()
    try:
        end = time.time() + args.duration
        while time.time() < end and load.alive():
            time.sleep(0.5)
    finally:
        codes = load.stop()
    summary = summarize(load.samples(), load.errors(), load.started, load.stopped)
    summary['exit_codes'] = codes
    summary['config'] = dict((k, str(v) if k == 'dataset_end' else v) for k, v in load.config.items())
    summary['outdir'] = load.outdir
    print(json.dumps(summary, indent=1) if args.json else format_table(summary))
    return 0 if summary['errors'] == 0 and all(c == 0 for c in codes) else 1


if __name__ == '__main__':
    sys.exit(main())
