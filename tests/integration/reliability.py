"""Helpers of the reliability tests (faults, concurrency, standby, privileges, secrets):
modules run as plain processes (to kill them), orphan bookkeeping, waiting on backends."""
import json
import os
import subprocess
import tempfile
import time

from testbed import BIN, COLLECTIONS

APPLICATION_NAME = 'prefectdb.maintenance'

# Rows that point at a parent retention deletes: logs and artifacts at flow runs,
# event_resources at events. None of them has a foreign key, so an interrupted
# batch that deleted the parent but not the children would leave them behind.
ORPHANS_SQL = {
    'log': 'SELECT id::text FROM log x WHERE x.flow_run_id IS NOT NULL'
           ' AND NOT EXISTS (SELECT 1 FROM flow_run f WHERE f.id = x.flow_run_id)',
    'artifact': 'SELECT id::text FROM artifact x WHERE x.flow_run_id IS NOT NULL'
                ' AND NOT EXISTS (SELECT 1 FROM flow_run f WHERE f.id = x.flow_run_id)',
    'event_resources': 'SELECT id::text FROM event_resources r'
                       ' WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = r.event_id)',
}


def orphans(cluster, dbname):
    """{table: set of ids} of the rows whose parent is gone."""
    conn = cluster.connect(dbname)
    try:
        with conn.cursor() as cur:
            found = {}
            for table, statement in ORPHANS_SQL.items():
                cur.execute(statement)
                found[table] = set(r[0] for r in cur.fetchall())
            return found
    finally:
        conn.close()


def new_orphans(cluster, dbname, planted):
    """Orphans that were not there before the runs (planted: orphans() taken before)."""
    now = orphans(cluster, dbname)
    return dict((table, sorted(ids - planted[table])[:5]) for table, ids in now.items() if ids - planted[table])


def invalid_indexes(cluster, dbname):
    return cluster.sql(dbname, 'SELECT indexrelid::regclass::text FROM pg_index WHERE NOT indisvalid ORDER BY 1')


def module_backends(cluster, dbname):
    """pid, state, xact_start is not null, query of the modules' sessions on dbname."""
    return cluster.sql('postgres', 'SELECT pid, state, xact_start IS NOT NULL, query FROM pg_stat_activity'
                                   ' WHERE application_name = %s AND datname = %s', (APPLICATION_NAME, dbname))


def wait_until(predicate, timeout=30, interval=0.05, what='the condition'):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError('timed out after %ss waiting for %s' % (timeout, what))
        time.sleep(interval)


def wait_for_no_backend(cluster, dbname, timeout=30):
    """Until the sessions of killed modules are gone (their transactions rolled back)."""
    wait_until(lambda: not module_backends(cluster, dbname), timeout=timeout,
               what='the module sessions on %s to end' % dbname)


class ModuleProcess(object):
    """One module of the collection run as its own process, as AnsiballZ runs it on the
    target (python -m the module with an args file), so a test can SIGKILL it."""

    def __init__(self, module, args, env=None):
        self.tmp = tempfile.mkdtemp(prefix='prefectdb-module-')
        path = os.path.join(self.tmp, 'args.json')
        with open(path, 'w') as f:
            json.dump({'ANSIBLE_MODULE_ARGS': args}, f)
        run_env = dict(os.environ, PYTHONPATH=COLLECTIONS)
        for key in ('PGHOST', 'PGPORT', 'PGUSER', 'PGPASSWORD', 'PGDATABASE', 'PGSERVICE'):
            run_env.pop(key, None)
        run_env.update(env or {})
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [os.path.join(BIN, 'python'), '-m', 'ansible_collections.prefectdb.maintenance.plugins.modules.%s' % module,
             path], env=run_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=self.tmp)

    @property
    def pid(self):
        return self.proc.pid

    def kill(self):
        self.proc.kill()  # SIGKILL
        return self.finish()

    def finish(self, timeout=120):
        out, err = self.proc.communicate(timeout=timeout)
        subprocess.run(['rm', '-rf', self.tmp], check=False)
        self.stdout, self.stderr = out, err
        try:
            self.result = json.loads(out)
        except ValueError:
            self.result = None
        return self.proc.returncode

    def running(self):
        return self.proc.poll() is None


def run_module_process(module, args, timeout=120):
    """Run a module process to its end; its result dict."""
    proc = ModuleProcess(module, args)
    proc.finish(timeout=timeout)
    assert proc.result is not None, 'no JSON from %s: rc %s, %s %s' % (
        module, proc.proc.returncode, proc.stdout, proc.stderr)
    return proc.result
