"""No password in module results, in ansible-playbook -vvv output, in the reports the roles
write, or in the process list (pg_dump, pg_restore and pg_repack included).

One ansible-playbook -vvv run, as a login with a password made for this test: the daily
playbook (its role writes the JSON, Markdown, HTML and Prometheus reports), then every
module, backup with verify=restore (pg_dump and pg_restore) and vacuum with mode=repack
(pg_repack), a password handed through connect_params, and a wrong password. A thread reads
every process's command line meanwhile."""
import os
import shutil
import tempfile
import threading
import uuid

import pytest
import yaml

from testbed import BIN, REPO, run_playbook

SECRET = 'Pw-%s-secret' % uuid.uuid4().hex
WRONG = 'Wrong-%s-pw' % uuid.uuid4().hex


class CommandLines(threading.Thread):
    """Every command line seen in /proc while it runs."""

    def __init__(self):
        super(CommandLines, self).__init__(daemon=True)
        self.seen = set()
        self.done = threading.Event()

    def run(self):
        own = os.getpid()
        while not self.done.is_set():
            for pid in os.listdir('/proc'):
                if not pid.isdigit() or int(pid) == own:
                    continue
                try:
                    with open('/proc/%s/cmdline' % pid, 'rb') as f:
                        line = f.read().replace(b'\0', b' ').decode('utf-8', 'replace').strip()
                except OSError:
                    continue
                if line:
                    self.seen.add(line)
            self.done.wait(0.005)

    def stop(self):
        self.done.set()
        self.join()
        return self.seen


@pytest.fixture
def secret_login(cluster, history_db):
    """A superuser (pg_repack needs one) with SECRET as its password, dropped afterwards."""
    name = 'pfx_secret_%s' % uuid.uuid4().hex[:6]
    cluster.sql('postgres', "CREATE ROLE %s LOGIN SUPERUSER PASSWORD '%s'" % (name, SECRET))
    cluster.sql(history_db, 'CREATE EXTENSION IF NOT EXISTS pg_repack')
    yield name
    cluster.sql(history_db, 'DROP OWNED BY %s' % name)  # health's history schema
    cluster.sql('postgres', 'DROP ROLE IF EXISTS %s' % name)


@pytest.fixture
def tmp():
    path = tempfile.mkdtemp(prefix='prefectdb-secrets-')
    yield path
    shutil.rmtree(path, ignore_errors=True)


def files_holding(directory, text):
    found = []
    for root, dummy, names in os.walk(directory):
        for name in names:
            with open(os.path.join(root, name), 'rb') as f:
                if text.encode() in f.read():
                    found.append(os.path.join(root, name))
    return found


def test_no_password_in_results_verbose_output_reports_or_the_process_list(cluster, history_db, secret_login, tmp):
    connection = dict(cluster.connection_args(history_db), login_user=secret_login, login_password=SECRET)
    reports, prom, dumps = (os.path.join(tmp, d) for d in ('reports', 'prom', 'dumps'))
    os.makedirs(prom)  # the node exporter's textfile directory exists before anything writes there
    inventory = os.path.join(tmp, 'inventory.yml')
    with open(inventory, 'w') as f:
        yaml.safe_dump({'all': {'children': {'prefect_databases': {'hosts': {'secrets': {
            'ansible_connection': 'local', 'ansible_python_interpreter': os.path.join(BIN, 'python'),
            'prefectdb_connection': connection, 'prefectdb_report_dir': reports,
            'prefectdb_report_formats': ['markdown', 'html'], 'prefectdb_prometheus_textfile_dir': prom,
            'prefectdb_retention_now': '2026-01-01T00:00:00Z', 'prefectdb_db_vacuum_enabled': ['events', 'flow_runs'],
            # passwords live in the inventory (in real life a vault), never in the playbook's text,
            # which ansible-playbook quotes around a failed task
            'connect_password': SECRET, 'wrong_password': WRONG,
        }}}}}}, f)
    without_password = dict((k, v) for k, v in connection.items() if k != 'login_password')
    tasks = [
        {'name': 'info', 'prefectdb.maintenance.info': {}},
        {'name': 'autovacuum', 'prefectdb.maintenance.autovacuum': {'preset': 'prefect'}, 'diff': True},
        {'name': 'retention', 'prefectdb.maintenance.retention': {'enabled': ['events'], 'now': '2026-01-01T00:00:00Z'},
         'check_mode': True},
        {'name': 'reindex', 'prefectdb.maintenance.reindex': {'indexes': ['ix_log__flow_run_id_timestamp']}},
        {'name': 'backup', 'prefectdb.maintenance.backup': {'dest': dumps, 'verify': 'restore'}},
        {'name': 'repack', 'prefectdb.maintenance.vacuum': {'mode': 'repack', 'tables': ['log']}},
        {'name': 'password in connect_params', 'prefectdb.maintenance.info': dict(
            without_password, connect_params={'password': '{{ connect_password }}'}, login_password=None)},
        {'name': 'wrong password', 'prefectdb.maintenance.info': {'login_password': '{{ wrong_password }}'},
         'ignore_errors': True},
    ]
    plays = [{'import_playbook': os.path.join(REPO, 'playbooks', 'daily.yml')},
             {'hosts': 'prefect_databases', 'gather_facts': False,
              'module_defaults': {'group/prefectdb.maintenance.postgres': '{{ prefectdb_connection }}'},
              'tasks': tasks}]
    sampler = CommandLines()
    sampler.start()
    try:
        run = run_playbook(plays, inventory=inventory, extra_args=['-vvv'], cwd=tmp)
    finally:
        command_lines = sampler.stop()
    results = dict((r['task'], r) for r in run.results)
    assert 'backup' in results, run.stdout[-3000:]
    assert results['backup']['status'] == 'ok' and results['repack']['status'] == 'ok', run.stdout[-3000:]
    assert results['password in connect_params']['status'] == 'ok'
    wrong = results['wrong password']['result']
    assert wrong['failed'] and 'password authentication failed for user "%s"' % secret_login in wrong['msg']
    assert run.rc == 0, run.stdout[-3000:]
    # the daily role ran and wrote its reports
    assert results['Delete Prefect data past its retention']['result']['changed'] is True
    assert results['Write the JSON report']['status'] == 'ok'
    written = [os.path.join(root, n) for root, dummy, names in os.walk(tmp) for n in names]
    assert [w for w in written if w.endswith('.html')] and [w for w in written if w.endswith('.prom')], written
    # the client programs ran, and were seen
    for program in ('pg_dump', 'pg_restore', 'pg_repack'):
        assert [c for c in command_lines if '/%s ' % program in c], 'never saw %s running' % program
    for secret in (SECRET, WRONG):
        assert secret not in run.stdout and secret not in run.stderr, 'a password in the -vvv output'
        leaked = [r['task'] for r in run.results if secret in repr(r['result'])]
        assert not leaked, 'a password in the results of %s' % leaked
        written = [path for path in files_holding(tmp, secret) if path != inventory]
        assert not written, 'a password in %s' % written
        assert not [c for c in command_lines if secret in c], 'a password on a command line'
    assert '-vvv' in ' '.join(c for c in command_lines if 'ansible-playbook' in c)
    assert 'ESTABLISH LOCAL CONNECTION' in run.stdout  # it was verbose
