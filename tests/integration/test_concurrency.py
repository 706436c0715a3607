"""Two runs of one write module on one database at once: the second reports that another run
holds the lock (skipped, not failed); with wait: true it waits, up to wait_timeout, and
runs once the first is done.

The first runs (one per write module, as their own processes) are held mid-run by table
locks of a test session, so they keep their advisory lock as long as the test wants. The
second runs all go through one ansible-playbook run: without wait, with a 1-second
wait_timeout, and asynchronously with a long one while a task releases the first runs."""
import os
import shutil
import tempfile
import textwrap

import pytest

from ansible_collections.prefectdb.maintenance.plugins.module_utils.connection import advisory_lock_key
from reliability import APPLICATION_NAME, ModuleProcess, wait_until
from testbed import BIN, run_playbook

BLOCKER = 'prefectdb concurrency blocker'
# module: (its arguments, the lock of the test session that holds its first run mid-run)
WRITES = {
    'retention': ({'enabled': ['orphans'], 'statement_timeout': '120s'}, 'log IN ACCESS EXCLUSIVE MODE'),
    'autovacuum': ({'tables': {'flow_run': {'autovacuum_vacuum_scale_factor': 0.05}}},
                   'flow_run IN SHARE UPDATE EXCLUSIVE MODE'),
    'vacuum': ({'tables': ['artifact'], 'skip_locked': False}, 'artifact IN SHARE UPDATE EXCLUSIVE MODE'),
    'reindex': ({'indexes': ['pk_task_run']}, 'task_run IN SHARE UPDATE EXCLUSIVE MODE'),
    'backup': ({'dest': '{dest}'}, 'flow_run_input IN ACCESS EXCLUSIVE MODE'),
}
WAIT_TIMEOUT = 1

RELEASE = textwrap.dedent('''\
    import sys, time, psycopg2
    conn = psycopg2.connect(sys.argv[1])
    conn.autocommit = True
    cur = conn.cursor()
    deadline = time.time() + 60
    while True:  # the second runs are connected and waiting for the lock
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND application_name = %s", (sys.argv[2],))
        sessions = cur.fetchone()[0]
        if sessions >= 2 * int(sys.argv[3]) or time.time() > deadline:
            break
        time.sleep(0.1)
    cur.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")
    held = cur.fetchone()[0]
    cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", (sys.argv[4],))
    print('sessions=%d held=%d' % (sessions, held))
''')


def fill(args, dest):
    return dict((k, v.replace('{dest}', dest) if isinstance(v, str) else v) for k, v in args.items())


@pytest.fixture
def tmp():
    path = tempfile.mkdtemp(prefix='prefectdb-concurrency-')
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_a_second_run_is_skipped_or_waits(cluster, prefect_db, tmp):
    db = prefect_db
    dest = os.path.join(tmp, 'dumps')
    blocker = cluster.connect(db, autocommit=False)
    first = {}
    try:
        with blocker.cursor() as cur:
            cur.execute('SET application_name = %s', (BLOCKER,))
            for dummy, lock in WRITES.values():
                cur.execute('LOCK TABLE %s' % lock)
        for module, (args, dummy) in WRITES.items():
            first[module] = ModuleProcess(module, dict(cluster.connection_args(db), lock_timeout='120s',
                                                       **fill(args, dest)))
        holders = wait_until(lambda: lock_holders(cluster, db), timeout=30,
                             what='every first run to hold its lock')
        assert all(p.running() for p in first.values()), 'a first run ended before the second ones'
        tasks = []
        for module, (args, dummy) in WRITES.items():
            tasks.append(task('%s now' % module, module, fill(args, dest)))
        tasks.append({'name': 'mark 0', 'ansible.builtin.set_fact': {'mark': '{{ now().timestamp() }}'}})
        for i, (module, (args, dummy)) in enumerate(WRITES.items()):
            tasks.append(task('%s wait briefly' % module, module, dict(fill(args, dest), wait=True,
                                                                       wait_timeout='%ds' % WAIT_TIMEOUT)))
            tasks.append({'name': 'mark %d' % (i + 1), 'ansible.builtin.set_fact': {'mark': '{{ now().timestamp() }}'}})
        for module, (args, dummy) in WRITES.items():
            tasks.append(dict(task('%s wait' % module, module, dict(fill(args, dest), wait=True, wait_timeout='120s')),
                              register='job_%s' % module, **{'async': 180, 'poll': 0}))
        script = os.path.join(tmp, 'release.py')
        with open(script, 'w') as f:
            f.write(RELEASE)
        dsn = 'host=%s port=%d user=postgres dbname=%s' % (cluster.host, cluster.port, db)
        tasks.append({'name': 'release', 'ansible.builtin.command': {'argv': [
            os.path.join(BIN, 'python'), script, dsn, APPLICATION_NAME, str(len(WRITES)), BLOCKER]},
            'environment': {'PGPASSWORD': cluster.env['PGPASSWORD']}})
        for module in WRITES:
            tasks.append({'name': '%s waited' % module, 'ansible.builtin.async_status': {
                'jid': '{{ job_%s.ansible_job_id }}' % module}, 'register': 'done', 'until': 'done.finished',
                'retries': 240, 'delay': 0.5})
        run = run_playbook([{'hosts': 'all', 'gather_facts': False,
                             'module_defaults': {'group/prefectdb.maintenance.postgres': cluster.connection_args(db)},
                             'tasks': tasks}])
    finally:
        blocker.close()
        for proc in first.values():
            if proc.running():
                proc.proc.kill()
    firsts = dict((module, proc.finish()) for module, proc in first.items())
    assert run.rc == 0, run.stdout[-3000:]
    for module in WRITES:
        # 1. at once: skipped, not failed, naming the run that holds the lock
        now = run.task('%s now' % module)
        assert status(run, '%s now' % module) == 'skipped' and now['changed'] is False and not now['failed'], now
        assert now['msg'].startswith('%s skipped: another %s run holds the lock on database "%s" (pid %d, %s, since '
                                     % (module, module, db, holders[module], APPLICATION_NAME)), now['msg']
        assert now['msg'].endswith('nothing was changed. Set wait=true to wait for it.')
        assert now['lock_holder']['pid'] == holders[module]
        # 2. wait with a short wait_timeout: skipped after waiting it
        brief = run.task('%s wait briefly' % module)
        assert status(run, '%s wait briefly' % module) == 'skipped' and not brief['failed'] and 'another %s run holds the lock' % module in brief['msg']
    marks = [float(run.task('mark %d' % i)['ansible_facts']['mark']) for i in range(len(WRITES) + 1)]
    waited = [round(b - a, 2) for a, b in zip(marks, marks[1:])]
    assert all(w >= WAIT_TIMEOUT for w in waited), waited
    # 3. waiting long enough: the second run runs once the first has finished
    assert 'sessions=%d held=%d' % (2 * len(WRITES), len(WRITES)) in run.task('release')['stdout']
    for module in WRITES:
        assert firsts[module] == 0 and not first[module].result.get('failed'), (module, first[module].result)
        waited = run.task('%s waited' % module)
        assert status(run, '%s waited' % module) == 'ok' and waited['finished'] and not waited['failed'], (module, waited)
        assert waited.get('skipped') is not True and waited['msg'] and 'skipped' not in waited['msg'], waited['msg']
    assert len(os.listdir(dest)) >= 2  # the first backup and the second, each with its sha256 file


def status(run, name):
    """ok, skipped or failed, as ansible-playbook showed the task."""
    return [r['status'] for r in run.results if r['task'] == name][0]


def task(name, module, args):
    return {'name': name, 'prefectdb.maintenance.%s' % module: args, 'ignore_errors': True}


def lock_holders(cluster, db):
    """{module: pid of the session holding its advisory lock on db}, once every module's is held."""
    holders = {}
    for module in WRITES:
        key = advisory_lock_key(module, db) & 0xFFFFFFFFFFFFFFFF
        pid = cluster.sql(db, "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                              " AND classid = %s::bigint::oid AND objid = %s::bigint::oid AND objsubid = 1"
                              " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                          (key >> 32, key & 0xFFFFFFFF))
        holders[module] = pid[0][0] if pid else None
    return holders if all(holders.values()) else None
