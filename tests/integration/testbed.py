"""The integration test bed: a private PostgreSQL cluster, the real Prefect schema,
per-test databases cloned from templates, and modules run through ansible-playbook."""
import hashlib
import json
import os
import sys
import subprocess
import tempfile
import threading
import time
import uuid

import psycopg2
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPTS = os.path.join(REPO, 'scripts')
COLLECTIONS = os.path.join(REPO, '.build', 'collections')
BIN = os.path.dirname(os.path.abspath(sys.executable))
PASSWORD = os.environ.get('PREFECTDB_PG_PASSWORD', 'prefectdb-local')


def root_major(root):
    """The PostgreSQL major of a package root built by scripts/pg_roots.sh."""
    with open(os.path.join(root, '.prefectdb-root')) as f:
        return int(dict(line.strip().partition('=')[::2] for line in f)['major'])


def cluster_env():
    """Where the test cluster lives; `make integration` sets these, the defaults match.
    With PREFECTDB_PG_ROOT (another major, scripts/pg_roots.sh; `make test-matrix`) the
    defaults are that major's own port and directory, never the 15 cluster's."""
    env = dict(os.environ)
    if env.get('PREFECTDB_PG_ROOT'):
        major = root_major(env['PREFECTDB_PG_ROOT'])
        env.setdefault('PREFECTDB_PG_PORT', str(54400 + major))
        env.setdefault('PREFECTDB_PG_DIR', os.path.join(REPO, '.pg', 'test-pg%d' % major))
    env.setdefault('PREFECTDB_PG_PORT', '54330')
    env.setdefault('PREFECTDB_PG_DIR', os.path.join(REPO, '.pg', 'test'))
    env.setdefault('PREFECTDB_PG_FAST', '1')
    return env


def run_once(conn, statement, params=None):
    """Run one statement on conn, then close it; rows for a query, else None."""
    try:
        with conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall() if cur.description else None
    finally:
        conn.close()


class Cluster(object):
    """The running test cluster: superuser connections by TCP with a password."""

    def __init__(self):
        env = cluster_env()
        subprocess.run([os.path.join(SCRIPTS, 'pgcluster.sh'), 'start'], env=env, check=True)
        exports = subprocess.run([os.path.join(SCRIPTS, 'pgcluster.sh'), 'env'], env=env, check=True,
                                 capture_output=True, text=True).stdout
        self.env = {}
        for line in exports.splitlines():
            key, dummy, value = line.replace('export ', '', 1).partition('=')
            self.env[key] = value
        self.host = self.env['PGHOST']
        self.port = int(self.env['PGPORT'])
        self.socket_dir = self.env['PREFECTDB_PG_SOCKET']
        self.bindir = subprocess.run([os.path.join(SCRIPTS, 'pgcluster.sh'), 'bindir'], env=env, check=True,
                                     capture_output=True, text=True).stdout.strip()
        if env.get('PREFECTDB_PG_ROOT') and not os.environ.get('PATH', '').startswith(self.bindir + os.pathsep):
            # modules and scripts then find the root's pg_dump, pg_restore, pg_repack and psql first
            os.environ['PATH'] = self.bindir + os.pathsep + os.environ.get('PATH', '')

    def libpq_env(self):
        env = dict(os.environ)
        env.update(self.env)
        return env

    def connect(self, dbname='postgres', user='postgres', password=PASSWORD, autocommit=True, **kwargs):
        conn = psycopg2.connect(host=self.host, port=self.port, user=user, password=password, dbname=dbname,
                                application_name='prefectdb tests', **kwargs)
        conn.autocommit = autocommit
        return conn

    def sql(self, dbname, statement, params=None):
        """Run one statement as superuser; rows for a query, else None."""
        return run_once(self.connect(dbname), statement, params)

    def database_exists(self, name):
        return bool(self.sql('postgres', 'SELECT 1 FROM pg_database WHERE datname = %s', (name,)))

    def clone(self, template, name=None):
        name = name or 'test_%s' % uuid.uuid4().hex[:12]
        self.sql('postgres', 'CREATE DATABASE "%s" TEMPLATE "%s"' % (name, template))
        return name

    def drop(self, name):
        self.sql('postgres', 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)

    def prefect_template(self):
        """The template built by Prefect's own migrations (rebuilt only when missing)."""
        subprocess.run([os.path.join(SCRIPTS, 'prefect_schema.sh'), 'prefect_template'],
                       env=self.libpq_env(), check=True)
        return 'prefect_template'

    def history_template(self, flow_runs=2000, days=180, seed=7, now='2026-01-01T00:00:00+00:00'):
        """A template holding synthetic history; its name changes with the generator's code."""
        base = self.prefect_template()
        with open(os.path.join(SCRIPTS, 'synth_history.py'), 'rb') as f:
            digest = hashlib.sha256(f.read() + ('%s/%s/%s/%s' % (flow_runs, days, seed, now)).encode()).hexdigest()[:10]
        name = 'history_%d_%s' % (flow_runs, digest)
        if not self.database_exists(name):
            building = name + '_building'
            self.drop(building)
            self.clone(base, building)
            subprocess.run([os.path.join(BIN, 'python'), os.path.join(SCRIPTS, 'synth_history.py'), '--db', building,
                            '--flow-runs', str(flow_runs), '--days', str(days), '--seed', str(seed), '--now', now,
                            '--quiet'], env=self.libpq_env(), check=True)
            self.sql('postgres', 'ALTER DATABASE "%s" RENAME TO "%s"' % (building, name))
            self.sql('postgres', "UPDATE pg_database SET datistemplate = true WHERE datname = %s", (name,))
        return name

    def fingerprint(self, dbname, schema='public'):
        """What a test compares before and after to prove nothing changed: every table's
        rows (count and md5 of their text), reloptions (TOAST's too), and indexes with validity."""
        conn = self.connect(dbname)
        try:
            with conn.cursor() as cur:
                cur.execute("""
                    SELECT c.relname, c.reloptions, t.reloptions
                      FROM pg_class c LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
                     WHERE c.relnamespace = %s::regnamespace AND c.relkind = 'r'
                     ORDER BY 1""", (schema,))
                tables = cur.fetchall()
                result = {'reloptions': dict((name, (opts, toast)) for name, opts, toast in tables)}
                cur.execute("""
                    SELECT i.indexrelid::regclass::text, i.indisvalid, pg_get_indexdef(i.indexrelid)
                      FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
                     WHERE c.relnamespace = %s::regnamespace ORDER BY 1""", (schema,))
                result['indexes'] = cur.fetchall()
                rows = {}
                for name, dummy, dummy2 in tables:
                    cur.execute('SELECT count(*), md5(string_agg(md5(t::text), \'\' ORDER BY md5(t::text))) '
                                'FROM "%s"."%s" t' % (schema, name))
                    rows[name] = cur.fetchone()
                result['rows'] = rows
                return result
        finally:
            conn.close()

    def connection_args(self, dbname, user='postgres', password=PASSWORD):
        return {'login_host': self.host, 'login_port': self.port, 'login_user': user,
                'login_password': password, 'login_db': dbname}


class PlaybookRun(object):
    """What one ansible-playbook run printed and returned."""

    def __init__(self, proc, recorded):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.results = recorded.get('results', [])
        self.stats = recorded.get('stats', {})

    @property
    def result(self):
        """The result of the first task (the module under test)."""
        return self.results[0]['result'] if self.results else {}

    def task(self, name):
        for r in self.results:
            if r['task'] == name:
                return r['result']
        raise KeyError(name)


def run_playbook(plays, env=None, extra_args=(), inventory=None, cwd=None, timeout=600):
    """Run plays (a list of dicts, or a playbook path) through ansible-playbook."""
    with tempfile.TemporaryDirectory(prefix='prefectdb-play-') as tmp:
        if isinstance(plays, str):
            playbook = plays
        else:
            playbook = os.path.join(tmp, 'play.yml')
            with open(playbook, 'w') as f:
                yaml.safe_dump(plays, f, sort_keys=False)
        result_file = os.path.join(tmp, 'results.json')
        run_env = dict(os.environ)
        run_env.update({
            'ANSIBLE_COLLECTIONS_PATH': COLLECTIONS,
            'ANSIBLE_CALLBACK_PLUGINS': os.path.join(REPO, 'tests', 'integration', 'callback_plugins'),
            'ANSIBLE_CALLBACKS_ENABLED': 'result_file',
            'ANSIBLE_NOCOLOR': '1',
            'ANSIBLE_PYTHON_INTERPRETER': os.path.join(BIN, 'python'),
            'ANSIBLE_LOCALHOST_WARNING': 'false',
            'ANSIBLE_INVENTORY_UNPARSED_WARNING': 'false',
            'PREFECTDB_RESULT_FILE': result_file,
        })
        # the module must not see the test cluster's libpq variables unless a test says so
        for key in ('PGHOST', 'PGPORT', 'PGUSER', 'PGPASSWORD', 'PGDATABASE', 'PGSERVICE'):
            run_env.pop(key, None)
        run_env.update(env or {})
        cmd = [os.path.join(BIN, 'ansible-playbook'), playbook]
        cmd += ['-i', inventory] if inventory else ['-i', 'localhost,', '-c', 'local']
        cmd += list(extra_args)
        proc = subprocess.run(cmd, env=run_env, capture_output=True, text=True, cwd=cwd or tmp, timeout=timeout,
                              check=False)
        recorded = {}
        if os.path.exists(result_file):
            with open(result_file) as f:
                recorded = json.load(f)
        return PlaybookRun(proc, recorded)


def run_module(cluster, module, args=None, dbname=None, check=False, diff=False, connection=None,
               extra_args=(), env=None):
    """Run one module of the collection through ansible-playbook; the connection
    goes through module_defaults of the `postgres` action group, as the playbooks do."""
    task = {'name': 'module under test', 'prefectdb.maintenance.%s' % module: args or {}, 'ignore_errors': True}
    if check:
        task['check_mode'] = True
    if diff:
        task['diff'] = True
    play = {
        'hosts': 'all',
        'gather_facts': False,
        'module_defaults': {'group/prefectdb.maintenance.postgres': connection or cluster.connection_args(dbname)},
        'tasks': [task],
    }
    return run_playbook([play], env=env, extra_args=extra_args)


def vacuum_wait_events(cluster, db, action):
    """Run action(); the wait events the collection's VACUUM sessions were seen in meanwhile,
    polled every 20 ms ('VacuumDelay' is the cost-based delay at work)."""
    seen = set()
    stop = threading.Event()

    def watch():
        conn = cluster.connect(db)
        try:
            with conn.cursor() as cur:
                while not stop.is_set():
                    cur.execute("SELECT coalesce(wait_event, 'none') FROM pg_stat_activity"
                                " WHERE application_name = 'prefectdb.maintenance' AND query LIKE 'VACUUM%%'"
                                " AND state = 'active'")
                    seen.update(row[0] for row in cur.fetchall())
                    time.sleep(0.02)
        finally:
            conn.close()
    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result = action()
    finally:
        stop.set()
        watcher.join()
    return result, seen


# --- throwaway clusters: for tests that restart, crash or replicate a server ----------

def _as_postgres(cmd):
    """As root the server files belong to the postgres OS user (as scripts/pgcluster.sh does it)."""
    return ['runuser', '-u', 'postgres', '--'] + cmd if os.getuid() == 0 else cmd


def free_port(start, tries=200):
    """The first port from `start` on that nothing listens on (127.0.0.1): two test sessions
    on one machine then get throwaway clusters of their own."""
    import socket
    for port in range(start, start + tries):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind(('127.0.0.1', port))
        except OSError:
            continue
        finally:
            sock.close()
        return port
    raise RuntimeError('no free port in %d..%d' % (start, start + tries))


class ThrowawayCluster(Cluster):
    """A cluster of the test's own, on its own port and in its own directory, made by
    scripts/pgcluster.sh: never the shared test cluster, so a test may restart it,
    crash it or stream it to a standby. `destroy()` removes it."""

    def __init__(self, port, pgdir, fast=True):  # pylint: disable=super-init-not-called
        if os.getuid() == 0:
            os.makedirs(pgdir, exist_ok=True)
            os.chmod(pgdir, 0o755)
            parent = os.path.dirname(pgdir)
            if os.stat(parent).st_mode & 0o005 != 0o005:
                os.chmod(parent, 0o755)  # a mkdtemp() parent: let the postgres OS user through
        self.pgdir = pgdir
        self.script_env = dict(os.environ, PREFECTDB_PG_PORT=str(port), PREFECTDB_PG_DIR=pgdir,
                               PREFECTDB_PG_FAST='1' if fast else '0')
        self._script('start')
        exports = self._script('env')
        self.env = {}
        for line in exports.splitlines():
            key, dummy, value = line.replace('export ', '', 1).partition('=')
            self.env[key] = value
        self.host = self.env['PGHOST']
        self.port = int(self.env['PGPORT'])
        self.socket_dir = self.env['PREFECTDB_PG_SOCKET']
        self.data_dir = os.path.join(os.path.dirname(self.socket_dir), 'data')
        self.bindir = self._script('bindir').strip()

    @classmethod
    def start_free(cls, first_port, pgdir, attempts=3, fast=True):
        """Start one on the first free port from first_port; another port if that one is
        taken meanwhile (a second test session on the machine). fast=False keeps fsync and
        synchronous_commit on, so a commit survives a crash (restart -m immediate)."""
        for attempt in range(attempts):
            port = free_port(first_port)
            try:
                return cls(port, pgdir, fast=fast)
            except subprocess.CalledProcessError:
                if attempt == attempts - 1:
                    raise
                subprocess.run([os.path.join(SCRIPTS, 'pgcluster.sh'), 'destroy'], check=False, capture_output=True,
                               env=dict(os.environ, PREFECTDB_PG_PORT=str(port), PREFECTDB_PG_DIR=pgdir))
                first_port = port + 1
        return None

    def _script(self, command):
        proc = subprocess.run([os.path.join(SCRIPTS, 'pgcluster.sh'), command], env=self.script_env,
                              capture_output=True, text=True, check=False)
        if proc.returncode:
            raise subprocess.CalledProcessError(proc.returncode, proc.args, proc.stdout, proc.stderr)
        return proc.stdout

    def pg_ctl(self, *args):
        return subprocess.run(_as_postgres([os.path.join(self.bindir, 'pg_ctl'), '-D', self.data_dir] + list(args)),
                              check=True, capture_output=True, text=True, timeout=120)

    def restart(self, mode='fast'):
        """pg_ctl restart: `fast` rolls back every session; `immediate` kills the server
        without a checkpoint, so the restart goes through crash recovery."""
        self.pg_ctl('-m', mode, '-w', '-t', '60', '-l', os.path.join(os.path.dirname(self.data_dir), 'server.log'),
                    'restart')

    def stop(self):
        self._script('stop')

    def destroy(self):
        self._script('destroy')

    def synthetic_history(self, template, flow_runs, name, seed=7, days=180, now='2026-01-01T00:00:00+00:00'):
        """A database `name` cloned from `template` and filled by scripts/synth_history.py
        (without history_template()'s check of the Prefect version, which imports Prefect)."""
        self.clone(template, name)
        subprocess.run([os.path.join(BIN, 'python'), os.path.join(SCRIPTS, 'synth_history.py'), '--db', name,
                        '--flow-runs', str(flow_runs), '--days', str(days), '--seed', str(seed), '--now', now,
                        '--quiet'], env=self.libpq_env(), check=True)
        return name

    def standby(self, port, pgdir):
        """A streaming replica of this cluster (pg_basebackup -R), started on `port`."""
        return Standby(self, port, pgdir)


class Standby(Cluster):
    """A hot standby made by pg_basebackup -R from a ThrowawayCluster, streaming from it."""

    def __init__(self, primary, port, pgdir):  # pylint: disable=super-init-not-called
        self.primary = primary
        self.pgdir = pgdir
        self.host, self.port, self.bindir = primary.host, port, primary.bindir
        self.socket_dir = os.path.join(pgdir, 'run')
        self.data_dir = os.path.join(pgdir, 'data')
        self.env = dict(primary.env, PGPORT=str(port), PREFECTDB_PG_SOCKET=self.socket_dir)
        os.makedirs(self.socket_dir, exist_ok=True)
        if os.getuid() == 0:
            os.chmod(pgdir, 0o755)
            subprocess.run(['chown', '-R', 'postgres:', pgdir], check=True)
        env = dict(os.environ, PGPASSWORD=primary.env['PGPASSWORD'])
        subprocess.run(_as_postgres([os.path.join(self.bindir, 'pg_basebackup'), '-h', primary.host,
                                     '-p', str(primary.port), '-U', 'postgres', '-D', self.data_dir, '-R',
                                     '-X', 'stream', '--checkpoint=fast', '--no-password']),
                       env=env, check=True, capture_output=True, text=True, timeout=300)
        conf = "\n# standby of the test\nport = %d\nunix_socket_directories = '%s'\nhot_standby = on\n" % (
            port, self.socket_dir)
        subprocess.run(_as_postgres(['tee', '-a', os.path.join(self.data_dir, 'postgresql.auto.conf')]), input=conf,
                       check=True, capture_output=True, text=True)
        subprocess.run(_as_postgres([os.path.join(self.bindir, 'pg_ctl'), '-D', self.data_dir, '-w', '-t', '60',
                                     '-l', os.path.join(pgdir, 'server.log'), 'start']),
                       check=True, capture_output=True, text=True, timeout=120)

    def wait_for(self, dbname, statement, expected, timeout=30):
        """Poll the standby until the statement returns `expected` (replay caught up)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = self.sql(dbname, statement)
            except psycopg2.OperationalError:
                value = None  # the database is not there yet
            if value == expected or time.monotonic() > deadline:
                return value
            time.sleep(0.1)

    def destroy(self):
        subprocess.run(_as_postgres([os.path.join(self.bindir, 'pg_ctl'), '-D', self.data_dir, '-m', 'immediate',
                                     '-w', 'stop']), check=False, capture_output=True)
        subprocess.run(['rm', '-rf', self.pgdir], check=False)


def copy_database(source, target, dbname, as_template=True):
    """Copy database `dbname` of cluster `source` into cluster `target` (pg_dump | pg_restore),
    with its comment (scripts/prefect_schema.sh stamps the Prefect template with the Prefect
    version that built it), e.g. the Prefect template for a throwaway cluster."""
    if target.database_exists(dbname):
        return dbname
    target.sql('postgres', 'CREATE DATABASE "%s"' % dbname)
    env = dict(os.environ, PGPASSWORD=source.env['PGPASSWORD'])
    dump = subprocess.Popen([os.path.join(target.bindir, 'pg_dump'), '-Fc', '-h', source.host, '-p', str(source.port),
                             '-U', 'postgres', '--no-password', dbname], env=env, stdout=subprocess.PIPE)
    subprocess.run([os.path.join(target.bindir, 'pg_restore'), '--exit-on-error', '-h', target.host,
                    '-p', str(target.port), '-U', 'postgres', '--no-password', '-d', dbname],
                   env=dict(env, PGPASSWORD=target.env['PGPASSWORD']), stdin=dump.stdout, check=True,
                   capture_output=True)
    dump.stdout.close()
    if dump.wait() != 0:
        raise RuntimeError('pg_dump of %s failed' % dbname)
    comment = source.sql('postgres', "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                         (dbname,))[0][0]
    if comment:
        target.sql('postgres', 'COMMENT ON DATABASE "%s" IS %%s' % dbname, (comment,))
    if as_template:
        target.sql('postgres', 'UPDATE pg_database SET datistemplate = true WHERE datname = %s', (dbname,))
    return dbname
