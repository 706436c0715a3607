"""Light touch: does maintenance hurt a live Prefect server? Measured under load.

On a fresh clone of a benchmark dataset (default bench_200k: 200,000 flow runs of
synthetic history), the Prefect load generator (benchmarks/load/prefect_load.py)
runs from start to end. The harness measures it idle, then while each maintenance
runs, each phase preceded by an idle window of its own:

  health      the health module (every check) started every 10 s
  autovacuum  autovacuum tuning of every Prefect table (prefect_high_volume plus the
              artifact tables), applied and reset in turn, so every run changes 9 tables
  reindex     REINDEX CONCURRENTLY of the largest index (event_resources resource_id/occurred)
  retention   retention of events and flow runs, default settings, as of the dataset's end
  vacuum      VACUUM (ANALYZE) of the four largest tables, after retention left them full of dead rows

Modules run for real through ansible-playbook (niced: the controller is not the
database server in a real deployment; the database sessions it opens are not).
A sampler reads pg_stat_activity every 100 ms: every workload session waiting on a
heavyweight lock, who blocks it (pg_blocking_pids, followed transitively), and the
wait events of workload and maintenance sessions. The clone's autovacuum is turned
off table by table (autovacuum_enabled = false) so that every vacuum seen during a
phase is the maintenance's own.

    flock /tmp/prefectdb-bench.lock .venv/bin/python benchmarks/light_touch.py \
        --dataset bench_200k --out /tmp/light_touch.json

Targets, per phase: no workload errors; p99 at most 1.5x the idle p99 (all idle
windows of the run pooled) for every statement kind and API call kind with at
least 1000 samples in both, and for all statements together; no workload
statement waits on a lock held by a maintenance session longer than the
maintenance lock_timeout (5 s). Prints a report and writes every figure as JSON.
"""
import argparse
import collections
import datetime
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time

import psycopg2
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, 'load'))

# pylint: disable=wrong-import-position
from benchdb import REPO, connect as connect_to, dsn, module_play, sql  # noqa: E402
from prefect_load import (  # noqa: E402
    STATEMENT_KINDS, LoadRun, add_load_arguments, load_config, read_errors, read_samples, summarize)

COLLECTIONS = os.path.join(REPO, '.build', 'collections')
CALLBACKS = os.path.join(REPO, 'tests', 'integration', 'callback_plugins')
BIN = os.path.dirname(os.path.abspath(sys.executable))
MAINTENANCE_APP = 'prefectdb.maintenance'
WORKLOAD_APP = 'prefect-load'
PREFECT_TABLES = ('flow_run', 'task_run', 'flow_run_state', 'task_run_state', 'log', 'artifact',
                  'artifact_collection', 'events', 'event_resources')
LOCK_TIMEOUT_SECONDS = 5.0      # the modules' default lock_timeout
P99_FACTOR = 1.5
MIN_SAMPLES = 1000   # p99 of fewer samples rests on a handful of values: shown, not judged
DATASET_NOW = '2026-11-27T00:00:00Z'   # the benchmark datasets' history ends here


def connect(port, dbname, app='light-touch harness'):
    return connect_to(port, dbname, application_name=app)


# --- maintenance through ansible-playbook -------------------------------------------

def run_module(module, args, port, dbname, nice=10, timeout=7200):
    """Run one module of the collection through ansible-playbook; the result dict and timings."""
    with tempfile.TemporaryDirectory(prefix='light-touch-play-') as tmp:
        play = [module_play(port, dbname, [{'name': module, 'prefectdb.maintenance.%s' % module: args}])]
        playbook = os.path.join(tmp, 'play.yml')
        with open(playbook, 'w') as f:
            yaml.safe_dump(play, f, sort_keys=False)
        result_file = os.path.join(tmp, 'results.json')
        env = dict(os.environ)
        env.update({'ANSIBLE_COLLECTIONS_PATH': COLLECTIONS, 'ANSIBLE_CALLBACK_PLUGINS': CALLBACKS,
                    'ANSIBLE_CALLBACKS_ENABLED': 'result_file', 'ANSIBLE_NOCOLOR': '1',
                    'ANSIBLE_PYTHON_INTERPRETER': os.path.join(BIN, 'python'),
                    'ANSIBLE_LOCALHOST_WARNING': 'false', 'ANSIBLE_INVENTORY_UNPARSED_WARNING': 'false',
                    'PREFECTDB_RESULT_FILE': result_file})
        for key in ('PGHOST', 'PGPORT', 'PGUSER', 'PGPASSWORD', 'PGDATABASE', 'PGSERVICE'):
            env.pop(key, None)
        cmd = ['nice', '-n', str(nice), os.path.join(BIN, 'ansible-playbook'), playbook, '-i', 'localhost,',
               '-c', 'local']
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.time()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tmp, timeout=timeout, check=False)
        ended = time.time()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        result = {}
        if os.path.exists(result_file):
            with open(result_file) as f:
                results = json.load(f).get('results', [])
            result = results[0]['result'] if results else {}
        if proc.returncode != 0 or result.get('failed'):
            raise RuntimeError('%s failed (rc %d): %s\n%s' % (
                module, proc.returncode, result.get('msg'), proc.stdout[-3000:]))
        return {'result': result, 'began': began, 'ended': ended, 'seconds': round(ended - began, 2),
                'controller_cpu_seconds': round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime,
                                                2)}


# --- the sampler ----------------------------------------------------------------------

SAMPLE_SQL = """
SELECT a.pid, a.leader_pid, coalesce(a.application_name, '') AS app, a.backend_type, a.state,
       a.wait_event_type, a.wait_event, a.query_start, clock_timestamp() AS ts,
       pg_blocking_pids(a.pid) AS blockers, left(a.query, 160) AS query
  FROM pg_stat_activity a
 WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
"""


class Sampler(threading.Thread):
    """pg_stat_activity every `interval` seconds: lock waits of workload sessions and who
    blocks them, wait events of workload and maintenance sessions, per phase."""

    def __init__(self, port, dbname, interval=0.1):
        super(Sampler, self).__init__(daemon=True)
        self.conn = connect(port, dbname, app='light-touch sampler')
        self.interval = interval
        self.phase = 'warmup'
        self.halt = threading.Event()
        self.episodes = {}          # (pid, query_start) -> wait episode
        self.waits = collections.defaultdict(collections.Counter)       # phase -> workload wait events
        self.maintenance = collections.defaultdict(collections.Counter)  # phase -> maintenance wait events
        self.autovacuum = collections.defaultdict(set)
        self.samples = collections.Counter()
        self.late = 0
        self.error = None

    def run(self):
        next_at = time.monotonic()
        try:
            with self.conn.cursor() as cur:
                while not self.halt.is_set():
                    cur.execute(SAMPLE_SQL)
                    self.take(cur.fetchall())
                    next_at += self.interval
                    delay = next_at - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    else:
                        self.late += 1
                        next_at = time.monotonic()
        except psycopg2.Error as e:  # the database went away: say so in the report
            self.error = str(e)

    def take(self, rows):
        phase = self.phase
        self.samples[phase] += 1
        by_pid = dict((r[0], r) for r in rows)

        def role(pid):
            row = by_pid.get(pid)
            if row is None:
                return 'other'
            app = row[2]
            if row[1] and row[1] in by_pid:  # a parallel worker: its leader's role
                app = by_pid[row[1]][2] or app
            if app == MAINTENANCE_APP:
                return 'maintenance'
            if app.startswith(WORKLOAD_APP):
                return 'workload'
            if row[3] == 'autovacuum worker':
                return 'autovacuum'
            return 'other'

        for pid, leader, app, backend_type, state, wtype, wevent, query_start, ts, blockers, query in rows:
            who = role(pid)
            event = '%s:%s' % (wtype, wevent) if wtype else 'CPU (no wait)'
            if who == 'autovacuum':
                self.autovacuum[phase].add(query)
            if state != 'active':
                continue
            if who == 'maintenance':
                self.maintenance[phase][event] += 1
            if who != 'workload':
                continue
            self.waits[phase][event] += 1
            if wtype != 'Lock' or not blockers:
                continue
            # everyone it waits for, directly or through other waiters
            seen, todo = set(), list(blockers)
            while todo:
                b = todo.pop()
                if b in seen:
                    continue
                seen.add(b)
                row = by_pid.get(b)
                if row is not None and row[9]:
                    todo.extend(row[9])
            roles = sorted(set(role(b) for b in seen))
            key = (pid, query_start)
            ep = self.episodes.get(key)
            if ep is None:
                ep = self.episodes[key] = {'phase': phase, 'first': ts, 'last': ts, 'event': event,
                                           'blocked_by': set(), 'query': query, 'session': app}
            ep['last'] = ts
            ep['blocked_by'].update(roles)

    def stop(self):
        self.halt.set()
        self.join(10)
        self.conn.close()

    def lock_waits(self, phase):
        """Lock wait episodes of workload statements in a phase, longest first."""
        out = []
        for ep in self.episodes.values():
            if ep['phase'] != phase:
                continue
            seen = (ep['last'] - ep['first']).total_seconds()
            out.append({'blocked_by': sorted(ep['blocked_by']), 'event': ep['event'], 'session': ep['session'],
                        'query': ep['query'], 'seen_seconds': round(seen, 3),
                        # the wait began after the sample before its first and ended before the one after its last
                        'at_most_seconds': round(seen + 2 * self.interval, 3)})
        out.sort(key=lambda e: -e['seen_seconds'])
        return out


# --- phases ---------------------------------------------------------------------------------

class Harness(object):
    def __init__(self, args):
        self.args = args
        self.db = args.db_name
        self.port = args.port
        self.phases = []
        self.sampler = None
        self.load = None

    def log(self, message):
        print('[%s] %s' % (datetime.datetime.now().strftime('%H:%M:%S'), message), file=sys.stderr, flush=True)

    def server_figures(self):
        row = sql(self.port, self.db, "SELECT pg_current_wal_lsn()::text, checkpoints_timed + checkpoints_req,"
                                      " buffers_checkpoint + buffers_clean + buffers_backend FROM pg_stat_bgwriter")[0]
        return {'lsn': row[0], 'checkpoints': row[1], 'buffers_written': row[2], 'loadavg': os.getloadavg()[0]}

    def phase(self, name, kind, body):
        self.sampler.phase = name
        before = self.server_figures()
        began = time.time()
        self.log('phase %s (%s)' % (name, kind))
        info = body() or {}
        ended = time.time()
        after = self.server_figures()
        wal = sql(self.port, self.db, 'SELECT pg_wal_lsn_diff(%s, %s)', (after['lsn'], before['lsn']))[0][0]
        self.phases.append({'name': name, 'kind': kind, 't0': began, 't1': ended, 'seconds': round(ended - began, 1),
                            'wal_mb': round(float(wal) / 1e6, 1),
                            'checkpoints': after['checkpoints'] - before['checkpoints'],
                            'loadavg': [round(before['loadavg'], 2), round(after['loadavg'], 2)],
                            'info': info})
        self.sampler.phase = 'between'
        if not self.load.alive():
            raise RuntimeError('a load process died during %s' % name)

    def idle(self, name):
        self.phase(name, 'idle', lambda: time.sleep(self.args.idle_seconds))

    def health(self):
        runs = []
        end = time.time() + self.args.health_seconds
        while time.time() < end:
            began = time.time()
            r = run_module('health', {}, self.port, self.db, nice=self.args.nice)
            runs.append({'seconds': r['seconds'], 'controller_cpu_seconds': r['controller_cpu_seconds'],
                         'findings': len(r['result'].get('findings', []))})
            time.sleep(max(0.0, began + self.args.health_every - time.time()))
        return {'runs': len(runs), 'run_seconds': [r['seconds'] for r in runs],
                'controller_cpu_seconds': round(sum(r['controller_cpu_seconds'] for r in runs), 1)}

    def autovacuum(self):
        runs = []
        state = 'present'
        end = time.time() + self.args.autovacuum_seconds
        args = {'preset': 'prefect_high_volume',
                'tables': {'artifact': {'autovacuum_vacuum_scale_factor': 0.05},
                           'artifact_collection': {'autovacuum_vacuum_scale_factor': 0.1}}}
        while time.time() < end:
            r = run_module('autovacuum', dict(args, state=state), self.port, self.db, nice=self.args.nice)
            runs.append({'state': state, 'seconds': r['seconds'], 'changed': r['result'].get('changed'),
                         'tables_changed': len(r['result'].get('changed_tables', [])),
                         'failed_tables': r['result'].get('failed_tables', [])})
            state = 'absent' if state == 'present' else 'present'
        return {'runs': len(runs), 'changed_runs': sum(1 for r in runs if r['changed']), 'detail': runs}

    def reindex(self):
        args = dict({'indexes': [self.args.reindex_index]}, **json.loads(self.args.reindex_args))
        before = sql(self.port, self.db, 'SELECT pg_relation_size(%s::regclass)', (self.args.reindex_index,))[0][0]
        r = run_module('reindex', args, self.port, self.db, nice=self.args.nice)
        after = sql(self.port, self.db, 'SELECT pg_relation_size(%s::regclass)', (self.args.reindex_index,))[0][0]
        return {'module_seconds': r['seconds'], 'index': self.args.reindex_index, 'size_before': before,
                'size_after': after, 'changed': r['result'].get('changed'), 'args': args,
                'result': _trim(r['result'])}

    def retention(self):
        args = dict({'enabled': ['events', 'flow_runs'], 'now': DATASET_NOW}, **json.loads(self.args.retention_args))
        r = run_module('retention', args, self.port, self.db, nice=self.args.nice)
        res = r['result']
        cleanups = {}
        for name, c in res.get('cleanups', {}).items():
            keys = ('status', 'seconds', 'batches', 'retries', 'skipped_batches', 'batch_seconds',
                    'rows_per_second', 'strategy')
            cleanups[name] = dict((k, c.get(k)) for k in keys)
        return {'module_seconds': r['seconds'], 'engine_seconds': res.get('seconds'), 'deleted': res.get('deleted'),
                'cleanups': cleanups, 'args': args, 'warnings': res.get('warnings', [])}

    def vacuum(self):
        args = dict({'mode': 'vacuum_analyze', 'tables': self.args.vacuum_tables.split(',')},
                    **json.loads(self.args.vacuum_args))
        r = run_module('vacuum', args, self.port, self.db, nice=self.args.nice)
        return {'module_seconds': r['seconds'], 'args': args, 'result': _trim(r['result'])}

    # -- the whole run --
    def run(self):
        a = self.args
        if a.dataset:
            self.log('cloning %s into %s' % (a.dataset, self.db))
            sql(self.port, 'postgres', 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % self.db)
            began = time.time()
            sql(self.port, 'postgres', 'CREATE DATABASE "%s" TEMPLATE "%s" STRATEGY = FILE_COPY' % (self.db, a.dataset))
            self.clone_seconds = round(time.time() - began, 1)
        for table in PREFECT_TABLES:
            sql(self.port, self.db, 'ALTER TABLE %s SET (autovacuum_enabled = false, toast.autovacuum_enabled = false)'
                % table)
        for name, value in json.loads(a.database_settings).items():
            # for experiments: settings every new session of the clone starts with, the modules' included
            sql(self.port, 'postgres', 'ALTER DATABASE "%s" SET %s = %%s' % (self.db, name), (str(value),))
        if a.prepare_retention:
            # for experiments on the vacuum phase alone: delete what retention deletes, at full speed, before the load
            self.log('preparing: retention at full speed, no load')
            self.prepared = run_module('retention', {'enabled': ['events', 'flow_runs'], 'now': DATASET_NOW,
                                                     'max_wal_rate': 0}, self.port, self.db, nice=0)['seconds']
        sql(self.port, self.db, 'CHECKPOINT')
        sizes = dict(sql(self.port, self.db, 'SELECT relname, pg_total_relation_size(oid) FROM pg_class WHERE'
                                             ' relname = ANY(%s)', (list(PREFECT_TABLES),)))
        self.sampler = Sampler(self.port, self.db)
        self.sampler.start()
        self.load = LoadRun(dsn(self.port, self.db), outdir=tempfile.mkdtemp(prefix='light-touch-load-'), **load_config(a)).start()
        self.log('load started (%s); warm-up %ds' % (self.load.outdir, a.warmup))
        time.sleep(a.warmup)
        try:
            for name in a.phases.split(','):
                self.idle('idle before %s' % name if name != 'idle' else 'idle')
                if name == 'idle':
                    continue
                self.phase(name, 'maintenance', getattr(self, name))
            if a.phases:
                self.idle('idle at the end')
        finally:
            codes = self.load.stop()
            self.sampler.stop()
        samples = read_samples(self.load.outdir)
        errors = read_errors(self.load.outdir)
        return self.report(samples, errors, codes, sizes)

    def report(self, samples, errors, codes, sizes):
        out = {'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
               'database_settings': json.loads(self.args.database_settings),
               'prepared_retention_seconds': getattr(self, 'prepared', None),
               'dataset': self.args.dataset, 'database': self.db, 'clone_seconds': getattr(self, 'clone_seconds', None),
               'sizes_at_start': sizes, 'load_config': dict((k, str(v)) for k, v in self.load.config.items()),
               'load_exit_codes': codes, 'sampler_error': self.sampler.error, 'sampler_late': self.sampler.late,
               'nice': self.args.nice, 'phases': []}
        total = summarize(samples, errors, self.load.started, self.load.stopped)
        out['whole_run'] = {'errors': total['errors'], 'statements': total['statements'],
                            'error_samples': total['error_samples']}
        idle_windows = [(p['t0'], p['t1']) for p in self.phases if p['kind'] == 'idle']
        pooled = summarize(samples, errors, windows=idle_windows)
        out['idle_pooled'] = pooled
        previous = None
        for p in self.phases:
            s = summarize(samples, errors, p['t0'], p['t1'])
            entry = dict((k, v) for k, v in p.items() if k not in ('t0', 't1'))
            entry['workload'] = s
            entry['wait_events'] = self.sampler.waits[p['name']].most_common(8)
            entry['maintenance_wait_events'] = self.sampler.maintenance[p['name']].most_common(6)
            entry['autovacuum_workers_seen'] = sorted(self.sampler.autovacuum[p['name']])
            entry['sampler_samples'] = self.sampler.samples[p['name']]
            waits = self.sampler.lock_waits(p['name'])
            entry['lock_waits'] = {'episodes': len(waits), 'longest': waits[:5]}
            maint = [w for w in waits if 'maintenance' in w['blocked_by']]
            entry['lock_waits']['on_maintenance'] = len(maint)
            entry['lock_waits']['worst_on_maintenance_seconds'] = maint[0]['at_most_seconds'] if maint else 0.0
            if p['kind'] == 'idle':
                if previous is not None:
                    # the same measure between two idle windows: how much p99 moves with no maintenance at all
                    entry['noise_versus_previous_idle'] = ratios(s, previous)
                previous = s
            else:
                entry['verdict'] = verdict(s, pooled, maint)
                entry['versus_idle_just_before'] = ratios(s, previous)
            out['phases'].append(entry)
        return out


def _trim(result):
    drop = ('invocation', 'changed', 'failed', '_ansible_no_log')
    return dict((k, v) for k, v in result.items() if k not in drop)


def ratios(phase, idle):
    """p99 of the phase over p99 of the idle window, for kinds with enough samples in both."""
    out = {}
    for kind, f in phase['kinds'].items():
        base = idle['kinds'].get(kind)
        if kind == 'schedule_lag' or base is None or f['n'] < MIN_SAMPLES or base['n'] < MIN_SAMPLES:
            continue
        out[kind] = round(f['p99'] / base['p99'], 2) if base['p99'] else None
    if idle['statements']['p99']:
        out['all statements'] = round(phase['statements']['p99'] / idle['statements']['p99'], 2)
    return out


def verdict(phase, idle, maintenance_waits):
    r = ratios(phase, idle)
    over = dict((k, v) for k, v in r.items() if v is not None and v > P99_FACTOR)
    worst = maintenance_waits[0]['at_most_seconds'] if maintenance_waits else 0.0
    return {
        'errors': {'held': phase['errors'] == 0, 'errors': phase['errors']},
        'p99': {'held': not over, 'ratios': r, 'over': over},
        'lock_wait': {'held': worst <= LOCK_TIMEOUT_SECONDS, 'worst_seconds': worst,
                      'waits_on_maintenance': len(maintenance_waits)},
    }


def _worst(r):
    r = dict((k, v) for k, v in (r or {}).items() if v is not None)
    if not r:
        return '-'
    kind = max(r, key=r.get)
    return '%s x%.2f' % (kind, r[kind])


def print_report(out):
    lines = []
    pooled = out['idle_pooled']['statements']
    lines.append('idle, all windows pooled: %d statements, p50 %s p95 %s p99 %s max %s ms' % (
        pooled['n'], pooled['p50'], pooled['p95'], pooled['p99'], pooled['max']))
    for p in out['phases']:
        w = p['workload']
        s = w['statements']
        lines.append('== %s (%ss, cluster WAL %s MB, checkpoints %s, load %s)' % (
            p['name'], p['seconds'], p['wal_mb'], p['checkpoints'], p['loadavg']))
        lines.append('   statements %d (%.0f/s) p50 %s p95 %s p99 %s max %s ms; errors %d' % (
            s['n'], s['per_second'] or 0, s['p50'], s['p95'], s['p99'], s['max'], w['errors']))
        for kind in ('commit', 'tx:task_run_recorder', 'tx:write_events', 'tx:set_flow_run_state',
                     'tx:read_flow_runs_by_state', 'tx:read_events_range', 'schedule_lag'):
            f = w['kinds'].get(kind)
            if f:
                lines.append('   %-28s n %5d p50 %8.2f p95 %8.2f p99 %8.2f max %8.2f' % (
                    kind, f['n'], f['p50'], f['p95'], f['p99'], f['max']))
        lines.append('   waits: %s' % ', '.join('%s %d' % (e, n) for e, n in p['wait_events'][:5]))
        lw = p['lock_waits']
        lines.append('   lock waits: %d, on maintenance %d, worst on maintenance <= %.2fs' % (
            lw['episodes'], lw['on_maintenance'], lw['worst_on_maintenance_seconds']))
        if 'noise_versus_previous_idle' in p:
            lines.append('   noise: largest p99 ratio to the previous idle window: %s' % _worst(
                p['noise_versus_previous_idle']))
        if 'verdict' in p:
            v = p['verdict']
            lines.append('   TARGETS errors %s | p99 %s (largest ratio %s; to the idle window just before: %s) | '
                         'lock wait %s' % (
                             'held' if v['errors']['held'] else 'MISSED', 'held' if v['p99']['held'] else 'MISSED',
                             _worst(v['p99']['ratios']), _worst(p['versus_idle_just_before']),
                             'held' if v['lock_wait']['held'] else 'MISSED'))
            info = dict((k, v) for k, v in p['info'].items() if k in ('module_seconds', 'runs', 'deleted'))
            lines.append('   %s' % json.dumps(info))
    lines.append('whole run: %d statements, %d errors' % (
        out['whole_run']['statements']['n'], out['whole_run']['errors']))
    print('\n'.join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--port', type=int, default=54331)
    parser.add_argument('--dataset', default='bench_200k', help='template to clone; empty: use --db-name as is')
    parser.add_argument('--db-name', default='light_touch', help='the clone (dropped at the end unless --keep)')
    parser.add_argument('--keep', action='store_true')
    parser.add_argument('--phases', default='health,autovacuum,reindex,retention,vacuum')
    parser.add_argument('--warmup', type=float, default=30)
    parser.add_argument('--idle-seconds', type=float, default=120)
    parser.add_argument('--health-seconds', type=float, default=120)
    parser.add_argument('--health-every', type=float, default=10)
    parser.add_argument('--autovacuum-seconds', type=float, default=60)
    parser.add_argument('--reindex-index', default='ix_event_resources__resource_id__occurred')
    parser.add_argument('--vacuum-tables', default='events,event_resources,task_run_state,log')
    parser.add_argument('--retention-args', default='{}', help='extra retention options, JSON')
    parser.add_argument('--vacuum-args', default='{}', help='extra vacuum options, JSON')
    parser.add_argument('--reindex-args', default='{}', help='extra reindex options, JSON')
    parser.add_argument('--database-settings', default='{}',
                        help='settings for every session of the clone (ALTER DATABASE ... SET), JSON; for experiments')
    parser.add_argument('--prepare-retention', action='store_true',
                        help='run retention at full speed before the load starts (to study the vacuum phase alone)')
    parser.add_argument('--nice', type=int, default=10, help='niceness of ansible-playbook (0: none)')
    parser.add_argument('--out', help='write the full JSON report here')
    add_load_arguments(parser)
    args = parser.parse_args()
    harness = Harness(args)
    try:
        out = harness.run()
    finally:
        if args.dataset and not args.keep:
            sql(args.port, 'postgres', 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % args.db_name)
    out['command'] = ' '.join(sys.argv)
    out['statement_kinds'] = STATEMENT_KINDS
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(out, f, indent=1, default=str)
    print_report(out)
    missed = [p['name'] for p in out['phases'] if 'verdict' in p and
              not all(v['held'] for v in p['verdict'].values())]
    print('targets missed in: %s' % (', '.join(missed) or 'none'))
    return 1 if missed else 0


if __name__ == '__main__':
    sys.exit(main())
