"""backup on the real Prefect schema with synthetic history, through ansible-playbook."""
import hashlib
import os
import re
import stat
import subprocess
import threading
import time

from ansible_collections.prefectdb.maintenance.plugins.module_utils import connection as c
from testbed import PASSWORD

DUMP = re.compile(r'^(?P<prefix>.+)_\d{8}T\d{6}Z(_\d+)?\.dump$')


def dumps(dest):
    return sorted(f for f in os.listdir(dest) if f.endswith('.dump'))


def counts(cluster, db):
    rows = cluster.sql(db, """
        SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind = 'r' AND n.nspname = 'public' ORDER BY 1""")
    return dict((name, cluster.sql(db, 'SELECT count(*) FROM %s' % name)[0][0]) for (name,) in rows)


def databases(cluster):
    return set(name for (name,) in cluster.sql('postgres', 'SELECT datname FROM pg_database'))


def test_a_backup_restores_into_a_scratch_database_with_identical_row_counts(
        cluster, history_db, module_runner, tmp_path):
    dest = tmp_path / 'backups'
    before_dbs = databases(cluster)
    run = module_runner('backup', {'dest': str(dest), 'verify': 'restore'}, dbname=history_db)
    r = run.result
    assert run.rc == 0 and not r['failed'], r.get('msg')
    assert r['changed'] is True
    path = r['dump']['path']
    assert os.path.dirname(path) == str(dest) and DUMP.match(os.path.basename(path)).group('prefix') == history_db
    assert dumps(str(dest)) == [os.path.basename(path)]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert r['dump']['bytes'] == os.path.getsize(path)
    # the checksum file is what sha256sum -c reads
    with open(path, 'rb') as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    assert r['dump']['sha256'] == digest
    with open(path + '.sha256') as f:
        assert f.read() == '%s  %s\n' % (digest, os.path.basename(path))
    subprocess.run(['sha256sum', '-c', os.path.basename(path) + '.sha256'], cwd=str(dest), check=True,
                   capture_output=True)
    source = counts(cluster, history_db)
    assert r['dump']['rows'] == sum(source.values()) and r['dump']['tables'] == len(source)
    assert 'with identical row counts' in r['msg']
    scratch = r['dump']['scratch_database']
    assert scratch.startswith(history_db + '_verify_') and scratch not in databases(cluster)
    assert not [name for name in databases(cluster) - before_dbs if name.startswith(history_db)]
    # and the dump restores for us too, independently of the module
    restored = cluster.clone('template0')
    try:
        subprocess.run([os.path.join(cluster.bindir, 'pg_restore'), '--no-owner', '--exit-on-error', '-d', restored,
                        path], env=cluster.libpq_env(), check=True, capture_output=True)
        assert counts(cluster, restored) == source
        assert cluster.fingerprint(restored)['rows'] == cluster.fingerprint(history_db)['rows']
    finally:
        cluster.drop(restored)
    # the server's own major: /usr/lib/postgresql/15/bin here, a package root's bindir in make test-matrix
    major = cluster.sql('postgres', "SELECT current_setting('server_version_num')::int / 10000")[0][0]
    assert r['programs']['pg_dump'] == os.path.join(cluster.bindir, 'pg_dump')
    assert r['programs']['pg_dump_version'].startswith('%d.' % major)


def test_rotation_keeps_exactly_keep_dumps_and_nothing_else_is_touched(cluster, history_db, module_runner, tmp_path):
    dest = tmp_path
    foreign = ['notes.txt', 'other_20250101T000000Z.dump', '%s_latest.dump' % history_db]
    for name in foreign:
        (dest / name).write_text('not ours')
    old = ['%s_20250101T000000Z.dump' % history_db, '%s_20250102T000000Z.dump' % history_db]
    for name in old:
        (dest / name).write_text('an old dump')
        (dest / (name + '.sha256')).write_text('x  %s\n' % name)
    written = []
    for dummy in range(3):
        r = module_runner('backup', {'dest': str(dest), 'keep': 2}, dbname=history_db).result
        assert not r['failed'], r.get('msg')
        written.append(os.path.basename(r['dump']['path']))
        time.sleep(1.1)  # a new second, a new name
    ours = [f for f in dumps(str(dest)) if DUMP.match(f) and DUMP.match(f).group('prefix') == history_db]
    assert ours == sorted(written[1:])
    assert sorted(os.listdir(str(dest))) == sorted(foreign + ours + [f + '.sha256' for f in ours])
    # the first run deleted both old dumps only after its own was verified; the third deleted the first run's
    assert r['rotation']['kept'] == [written[2], written[1]] and r['rotation']['deleted'] == [written[0]]


def test_check_mode_writes_nothing_and_changes_nothing(cluster, history_db, module_runner, tmp_path):
    dest = tmp_path / 'dumps'
    fingerprint = cluster.fingerprint(history_db)
    r = module_runner('backup', {'dest': str(dest), 'verify': 'restore'}, dbname=history_db, check=True).result
    assert not r['failed'], r.get('msg')
    assert r['changed'] is True and r['msg'].startswith('would dump %s to %s/%s_' % (history_db, dest, history_db))
    assert r['dump']['bytes'] is None and r['space']['estimated_dump_bytes'] > 0
    assert r['commands'][0].startswith('%s --format=custom --no-password --file=' % os.path.join(cluster.bindir, 'pg_dump'))
    assert not dest.exists()
    assert cluster.fingerprint(history_db) == fingerprint


def test_too_little_free_space_refuses_before_starting(cluster, history_db, module_runner, tmp_path):
    old = '%s_20250101T000000Z.dump' % history_db
    (tmp_path / old).write_text('the last good backup')
    r = module_runner('backup', {'dest': str(tmp_path), 'keep': 1, 'reserve': '1PB'}, dbname=history_db).result
    assert r['failed'] is True and r['changed'] is False
    assert r['msg'].startswith('backup refused before starting: free space at %s is ' % tmp_path)
    assert 'keeping reserve 1024 TB free, below the estimated dump size' in r['msg']
    assert 'no dump was deleted' in r['msg']
    assert os.listdir(str(tmp_path)) == [old]


def test_the_password_stays_off_command_lines_and_verbose_output(cluster, history_db, module_runner, tmp_path):
    seen, stop = [], threading.Event()

    def watch():
        while not stop.is_set():
            for pid in os.listdir('/proc'):
                if pid.isdigit():
                    try:
                        with open('/proc/%s/cmdline' % pid, 'rb') as f:
                            args = f.read().replace(b'\0', b' ').decode('utf-8', 'replace')
                    except OSError:
                        continue
                    if '/pg_dump ' in args or '/pg_restore ' in args:
                        seen.append(args)
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        run = module_runner('backup', {'dest': str(tmp_path), 'verify': 'restore'}, dbname=history_db,
                            extra_args=['-vvv'])
    finally:
        stop.set()
        watcher.join()
    assert not run.result['failed'], run.result.get('msg')
    assert any('pg_dump --format=custom' in args for args in seen), 'pg_dump was never seen running'
    assert not any(PASSWORD in args for args in seen)
    assert PASSWORD not in run.stdout + run.stderr
    assert not any(PASSWORD in command for command in run.result['commands'])


def test_missing_programs_and_bad_input_fail_clearly(cluster, history_db, module_runner, tmp_path):
    r = module_runner('backup', {'dest': str(tmp_path), 'bindir': '/nonexistent/bin'}, dbname=history_db).result
    assert r['failed'] is True and r['msg'] == 'no pg_dump in /nonexistent/bin (bindir); nothing was changed.'
    r = module_runner('backup', {'dest': str(tmp_path), 'keep': 0}, dbname=history_db).result
    assert r['failed'] is True and r['msg'] == 'keep must be at least 1, not 0; nothing was changed.'
    r = module_runner('backup', {'dest': str(tmp_path), 'prefix': '../escape'}, dbname=history_db).result
    assert r['failed'] is True and r['msg'].startswith("prefix '../escape' must start with a letter or digit")
    (tmp_path / 'file').write_text('x')
    r = module_runner('backup', {'dest': str(tmp_path / 'file')}, dbname=history_db).result
    assert r['failed'] is True and r['msg'] == 'dest %s exists and is not a directory; nothing was changed.' % (
        tmp_path / 'file')
    assert sorted(os.listdir(str(tmp_path))) == ['file']


def test_a_failing_dump_leaves_no_partial_file_and_keeps_older_dumps(cluster, history_db, module_runner, tmp_path):
    """A login that may not read one table: pg_dump fails on it, half way through."""
    role, password = 'backup_%s' % history_db, 'Backup-pw-%s' % history_db
    cluster.sql('postgres', "CREATE ROLE %s LOGIN PASSWORD '%s'" % (role, password))
    try:
        cluster.sql(history_db, 'GRANT USAGE ON SCHEMA public TO %s; GRANT SELECT ON ALL TABLES IN SCHEMA public TO %s; '
                                'GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO %s; REVOKE SELECT ON log FROM %s'
                    % (role, role, role, role))
        old = '%s_20250101T000000Z.dump' % history_db
        (tmp_path / old).write_text('the last good backup')
        r = module_runner('backup', {'dest': str(tmp_path), 'keep': 1},
                          connection=cluster.connection_args(history_db, user=role, password=password)).result
    finally:
        cluster.sql(history_db, 'DROP OWNED BY %s' % role)
        cluster.sql('postgres', 'DROP ROLE %s' % role)
    assert r['failed'] is True and r['changed'] is False
    assert r['msg'].startswith('backup of %s failed: pg_dump failed (exit 1): ' % history_db)
    assert 'permission denied for table log' in r['msg'] and 'older dumps are untouched' in r['msg']
    assert os.listdir(str(tmp_path)) == [old]
    assert password not in r['msg']


def test_a_table_locked_exclusively_fails_within_lock_timeout(cluster, history_db, module_runner, tmp_path):
    holder = cluster.connect(history_db)
    started = time.monotonic()
    try:
        holder.cursor().execute('BEGIN; LOCK TABLE log IN ACCESS EXCLUSIVE MODE')
        r = module_runner('backup', {'dest': str(tmp_path), 'lock_timeout': '1s'}, dbname=history_db).result
    finally:
        holder.close()
    assert time.monotonic() - started < 120
    assert r['failed'] is True and r['changed'] is False
    assert r['msg'] == ('backup: the server refused a statement while planning: canceling statement due to lock '
                        'timeout. Nothing was changed.')
    assert os.listdir(str(tmp_path)) == []


def test_a_second_run_is_skipped_while_one_holds_the_lock(cluster, history_db, module_runner, tmp_path):
    holder = cluster.connect(history_db)
    try:
        c.acquire_advisory_lock(holder, 'backup')
        run = module_runner('backup', {'dest': str(tmp_path)}, dbname=history_db)
    finally:
        holder.close()
    assert run.results[0]['status'] == 'skipped' and run.result['changed'] is False
    assert os.listdir(str(tmp_path)) == []


def test_min_interval_takes_no_second_dump_while_the_newest_is_young(cluster, history_db, module_runner, tmp_path):
    first = module_runner('backup', {'dest': str(tmp_path), 'min_interval': '1h'}, dbname=history_db).result
    assert not first['failed'] and first['changed'], first.get('msg')
    again = module_runner('backup', {'dest': str(tmp_path), 'min_interval': '1h'}, dbname=history_db).result
    assert not again['failed'] and again['changed'] is False
    assert again['msg'].startswith('no new dump: %s is ' % first['dump']['path'])
    assert again['msg'].endswith('younger than min_interval 1h')
    assert len([f for f in os.listdir(str(tmp_path)) if f.endswith('.dump')]) == 1
    time.sleep(1.1)
    always = module_runner('backup', {'dest': str(tmp_path), 'min_interval': 0}, dbname=history_db).result
    assert always['changed'] and len([f for f in os.listdir(str(tmp_path)) if f.endswith('.dump')]) == 2
    bad = module_runner('backup', {'dest': str(tmp_path), 'min_interval': 'soon'}, dbname=history_db).result
    assert bad['failed'] and 'min_interval' in bad['msg']
