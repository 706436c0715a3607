"""Light touch with a real Prefect server: API errors and flow failures during retention.

On a fresh clone of a benchmark dataset, starts `prefect server start` (Prefect 3.9.1,
.venv-prefect) against it, then several processes that run real flows back to back
(benchmarks/load/prefect_flow.py: each flow run submits many short tasks). The flows
run alone for a while (baseline), then while the retention module deletes events
and flow runs with default settings, then alone again. Reported per window: flow
runs started, their final states, their durations, HTTP responses of the API by
status (uvicorn's access log), error lines of the server, and lock waits of the
server's sessions on maintenance sessions (sampled every 100 ms as in light_touch.py).

Prefect's own db vacuum service is made a no-op (events retention 10 years, no
per-type overrides) so that the only retention running is the module's.

    flock /tmp/prefectdb-bench.lock .venv/bin/python benchmarks/light_touch_prefect.py \
        --dataset bench_200k --out /tmp/light_touch_prefect.json
"""
import argparse
import collections
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

# pylint: disable=wrong-import-position
from benchdb import prefect_database_url, sql  # noqa: E402
from light_touch import DATASET_NOW, LOCK_TIMEOUT_SECONDS, PREFECT_TABLES, Sampler, run_module  # noqa: E402

PREFECT_PYTHON = os.path.join(REPO, '.venv-prefect', 'bin', 'python')
PREFECT_CLI = os.path.join(REPO, '.venv-prefect', 'bin', 'prefect')
FLOW = os.path.join(HERE, 'load', 'prefect_flow.py')
ACCESS = re.compile(r'"(GET|POST|PATCH|PUT|DELETE) (\S+) HTTP/[\d.]+" (\d{3})')
ERROR_WORDS = ('Traceback', 'ERROR', 'Exception', 'exception', 'CRITICAL')


class LineLog(threading.Thread):
    """Reads a process's output line by line, stamping each line with the time it arrived."""

    def __init__(self, stream, path):
        super(LineLog, self).__init__(daemon=True)
        self.stream = stream
        self.lines = []
        self.file = open(path, 'w')

    def run(self):
        for line in iter(self.stream.readline, ''):
            self.lines.append((time.time(), line.rstrip('\n')))
            self.file.write(line)
        self.file.close()


def wait_for_api(url, timeout=180):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with urllib.request.urlopen(url + '/health', timeout=5) as r:
                if r.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(1)
    return False


def window_figures(runs, lines, t0, t1):
    started = [r for r in runs if t0 <= r['start'] < t1]
    states = collections.Counter(r['state'] for r in started)
    durations = sorted(r['end'] - r['start'] for r in started if r['state'] == 'COMPLETED')
    statuses = collections.Counter()
    errors = []
    for t, line in lines:
        if not t0 <= t < t1:
            continue
        m = ACCESS.search(line)
        if m:
            statuses['%sxx' % m.group(3)[0]] += 1
            if m.group(3)[0] == '5':
                errors.append(line[:300])
        elif any(w in line for w in ERROR_WORDS):
            errors.append(line[:300])

    def pct(f):
        return round(durations[min(len(durations) - 1, int(f * len(durations)))], 2) if durations else None
    return {'seconds': round(t1 - t0, 1), 'flow_runs_started': len(started), 'final_states': dict(states),
            'failed_or_crashed': sum(n for s, n in states.items() if s != 'COMPLETED'),
            'flow_run_seconds': {'p50': pct(0.5), 'p95': pct(0.95), 'max': round(durations[-1], 2) if durations else None},
            'api_responses': dict(statuses), 'api_5xx': statuses.get('5xx', 0), 'server_error_lines': len(errors),
            'server_error_samples': errors[:10]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--port', type=int, default=54331)
    parser.add_argument('--dataset', default='bench_200k')
    parser.add_argument('--db-name', default='light_touch_prefect')
    parser.add_argument('--api-port', type=int, default=4300)
    parser.add_argument('--runners', type=int, default=3, help='processes running flows in parallel')
    parser.add_argument('--tasks', type=int, default=50, help='tasks per flow run')
    parser.add_argument('--baseline', type=float, default=120, help='seconds of flows before retention')
    parser.add_argument('--tail', type=float, default=120, help='seconds of flows after retention')
    parser.add_argument('--retention-args', default='{}', help='extra retention options, JSON')
    parser.add_argument('--nice', type=int, default=10)
    parser.add_argument('--keep', action='store_true')
    parser.add_argument('--out')
    args = parser.parse_args()

    home = tempfile.mkdtemp(prefix='light-touch-prefect-home-')
    logs = tempfile.mkdtemp(prefix='light-touch-prefect-logs-')
    env = dict(os.environ)
    for key in list(env):
        if key.startswith('PREFECT_') or key.startswith('PG'):
            env.pop(key)
    api = 'http://127.0.0.1:%d/api' % args.api_port
    env.update({
        'PREFECT_HOME': home,
        'PREFECT_API_DATABASE_CONNECTION_URL': prefect_database_url(args.port, args.db_name),
        'PREFECT_SERVER_DATABASE_SQLALCHEMY_CONNECT_ARGS_APPLICATION_NAME': 'prefect-load server',
        'PREFECT_SERVER_ANALYTICS_ENABLED': 'false',
        'PREFECT_UI_ENABLED': 'false',
        # Prefect's own db vacuum service deletes nothing: the module is the only retention running
        'PREFECT_SERVER_EVENTS_RETENTION_PERIOD': 'P3650D',
        'PREFECT_SERVER_SERVICES_DB_VACUUM_EVENT_RETENTION_OVERRIDES': '{}',
    })
    report = {'dataset': args.dataset, 'runners': args.runners, 'tasks_per_flow_run': args.tasks}
    server = None
    runners = []
    sampler = None
    try:
        sql(args.port, 'postgres', 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % args.db_name)
        sql(args.port, 'postgres', 'CREATE DATABASE "%s" TEMPLATE "%s" STRATEGY = FILE_COPY' % (
            args.db_name, args.dataset))
        for table in PREFECT_TABLES:
            sql(args.port, args.db_name, 'ALTER TABLE %s SET (autovacuum_enabled = false, '
                                         'toast.autovacuum_enabled = false)' % table)
        server = subprocess.Popen([PREFECT_CLI, 'server', 'start', '--host', '127.0.0.1', '--port',
                                   str(args.api_port), '--log-level', 'INFO'], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, start_new_session=True)
        server_log = LineLog(server.stdout, os.path.join(logs, 'server.log'))
        server_log.start()
        if not wait_for_api(api):
            raise RuntimeError('the Prefect server did not answer; see %s' % os.path.join(logs, 'server.log'))
        sampler = Sampler(args.port, args.db_name)
        sampler.start()
        flow_env = dict(env, PREFECT_API_URL=api)
        t_start = time.time()
        stop_file = os.path.join(logs, 'stop')
        for i in range(args.runners):
            out = os.path.join(logs, 'runner%d.jsonl' % i)
            runners.append((subprocess.Popen(
                [PREFECT_PYTHON, FLOW, '--stop-file', stop_file, '--tasks', str(args.tasks), '--out', out],
                env=flow_env, stdout=open(os.path.join(logs, 'runner%d.out' % i), 'w'), stderr=subprocess.STDOUT,
                start_new_session=True), out))
        sampler.phase = 'baseline'
        time.sleep(args.baseline)
        t_retention = time.time()
        sampler.phase = 'retention'
        retention_args = dict({'enabled': ['events', 'flow_runs'], 'now': DATASET_NOW},
                              **json.loads(args.retention_args))
        r = run_module('retention', retention_args, args.port, args.db_name, nice=args.nice)
        t_tail = time.time()
        sampler.phase = 'tail'
        time.sleep(args.tail)
        t_end = time.time()
        # each runner finishes the flow run it is in, then stops
        with open(stop_file, 'w'):
            pass
        for proc, dummy in runners:
            try:
                proc.wait(300)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        time.sleep(15)  # the server's task run recorder and event persister catch up
        runs = []
        for dummy, out in runners:
            if os.path.exists(out):
                with open(out) as f:
                    runs.extend(json.loads(line) for line in f if line.strip())
        rows = sql(args.port, args.db_name,
                   "SELECT 'flow_run', fr.state_type::text, count(*) FROM flow_run fr JOIN flow f ON f.id = fr.flow_id"
                   " WHERE f.name = 'light-touch-many-short-tasks' GROUP BY 2"
                   " UNION ALL SELECT 'task_run', tr.state_type::text, count(*) FROM task_run tr"
                   " JOIN flow_run fr ON fr.id = tr.flow_run_id JOIN flow f ON f.id = fr.flow_id"
                   " WHERE f.name = 'light-touch-many-short-tasks' GROUP BY 2")
        report['states_in_database'] = dict(('%s %s' % (a, b), c) for a, b, c in rows)
        sampler.phase = 'done'
        res = r['result']
        report['retention'] = {'module_seconds': r['seconds'], 'deleted': res.get('deleted'), 'args': retention_args,
                               'warnings': res.get('warnings', [])}
        lines = server_log.lines
        report['windows'] = {}
        for name, t0, t1 in (('baseline', t_start, t_retention), ('retention', t_retention, t_tail),
                             ('tail', t_tail, t_end)):
            fig = window_figures(runs, lines, t0, t1)
            waits = sampler.lock_waits(name)
            maint = [w for w in waits if 'maintenance' in w['blocked_by']]
            fig['lock_waits'] = {'episodes': len(waits), 'on_maintenance': len(maint),
                                 'worst_on_maintenance_seconds': maint[0]['at_most_seconds'] if maint else 0.0,
                                 'longest': waits[:3]}
            fig['wait_events'] = sampler.waits[name].most_common(6)
            report['windows'][name] = fig
        late = [r for r in runs if r['start'] >= t_end]
        report['flow_runs_started_after_tail'] = len(late)
        report['api_4xx'] = collections.Counter(
            '%s %s %s' % (m.group(1), m.group(2).split('?')[0], m.group(3)) for m in
            (ACCESS.search(line) for dummy, line in lines) if m and m.group(3)[0] == '4').most_common(5)
        report['runner_exceptions'] = [r for r in runs if r['state'] == 'EXCEPTION'][:5]
        ret = report['windows']['retention']
        report['target_held'] = (ret['failed_or_crashed'] == 0 and ret['api_5xx'] == 0 and
                                 ret['server_error_lines'] == 0 and
                                 ret['lock_waits']['worst_on_maintenance_seconds'] <= LOCK_TIMEOUT_SECONDS)
        report['logs'] = logs
    finally:
        for proc, dummy in runners:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        if sampler is not None:
            sampler.stop()
        if server is not None and server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
        if not args.keep:
            sql(args.port, 'postgres', 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % args.db_name)
        shutil.rmtree(home, ignore_errors=True)
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(report, f, indent=1, default=str)
    print(json.dumps(report, indent=1, default=str))
    return 0 if report.get('target_held') else 1


if __name__ == '__main__':
    sys.exit(main())
