"""Least privilege (docs/security.md): each module runs as the least login it needs, and a login
that lacks a privilege gets one clear error naming it. The Prefect tables of the test database
belong to a NOLOGIN owner role, as they belong to Prefect's own login on a real server; the
logins are made with exactly the GRANTs docs/security.md gives (its SQL blocks are run here)."""
import os
import shutil
import re
import tempfile
import uuid

import pytest

from testbed import REPO, run_playbook

NOW = '2026-01-01T00:00:00Z'
PASSWORD = 'least-privilege-%s' % uuid.uuid4().hex[:8]


def security_sql(major):
    """The ```sql blocks of docs/security.md for this major ('-- PostgreSQL 17+' blocks only from 17)."""
    with open(os.path.join(REPO, 'docs', 'security.md')) as f:
        blocks = re.findall(r'```sql\n(.*?)```', f.read(), re.S)
    return [b for b in blocks if major >= 17 or '-- PostgreSQL 17+' not in b]


@pytest.fixture(scope='module')
def logins(cluster, history_template):
    """A database whose Prefect tables belong to role `prefect`-like owner, and the logins of
    docs/security.md (names suffixed, so parallel runs on the shared cluster do not meet)."""
    suffix = uuid.uuid4().hex[:6]
    db = cluster.clone(history_template)
    roles = ('prefect', 'monitor', 'maintainer', 'backup', 'retention', 'maintain', 'nobody')
    names = dict((role, 'pfx_%s_%s' % (role, suffix)) for role in roles)
    major = cluster.sql('postgres', "SELECT current_setting('server_version_num')::int / 10000")[0][0]
    try:
        cluster.sql('postgres', 'CREATE ROLE %s NOLOGIN' % names['prefect'])
        cluster.sql(db, "DO $$ DECLARE t record; BEGIN FOR t IN SELECT tablename FROM pg_tables"
                        " WHERE schemaname = 'public' LOOP EXECUTE format('ALTER TABLE public.%%I OWNER TO %s',"
                        " t.tablename); END LOOP; END $$" % names['prefect'])
        for block in security_sql(major):
            statement = block.replace('DATABASE prefect ', 'DATABASE "%s" ' % db)
            statement = statement.replace("PASSWORD '...'", "PASSWORD '%s'" % PASSWORD)
            if '-- PostgreSQL 17+' in block:  # the 17+ maintainer, a login of its own here
                statement = re.sub(r'\bprefect_maintainer\b', names['maintain'], statement)
            for role in ('monitor', 'maintainer', 'backup'):
                statement = re.sub(r'\bprefect_%s\b' % role, names[role], statement)
            statement = re.sub(r'\bprefect\b', names['prefect'], statement)  # the owner of the tables
            cluster.sql(db, statement)
        # a login with nothing granted, and one with only what retention needs (the maintainer without ownership)
        cluster.sql(db, "CREATE ROLE %s LOGIN PASSWORD '%s'" % (names['nobody'], PASSWORD))
        cluster.sql(db, "CREATE ROLE %s LOGIN PASSWORD '%s'" % (names['retention'], PASSWORD))
        cluster.sql(db, 'GRANT SELECT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %s' % names['retention'])
        yield db, names, major
    finally:
        cluster.drop(db)
        for name in names.values():
            cluster.sql('postgres', 'DROP ROLE IF EXISTS %s' % name)


def as_login(cluster, db, name):
    return dict(cluster.connection_args(db), login_user=name, login_password=PASSWORD)


def run_as(cluster, db, cases, tmp):
    """One playbook: each case (label, login, module, args) a task with its own login."""
    tasks = []
    for label, login, module, args in cases:
        merged = dict(as_login(cluster, db, login), **args)
        tasks.append({'name': label, 'prefectdb.maintenance.%s' % module: merged, 'ignore_errors': True})
    run = run_playbook([{'hosts': 'all', 'gather_facts': False, 'tasks': tasks}], cwd=tmp)
    assert len(run.results) == len(tasks), run.stdout[-3000:]
    return run


@pytest.fixture
def tmp():
    path = tempfile.mkdtemp(prefix='prefectdb-privileges-')
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_each_module_runs_as_its_least_login(cluster, logins, tmp):
    db, n, major = logins
    dest = os.path.join(tmp, 'dumps')
    cases = [
        ('info as monitor', n['monitor'], 'info', {}),
        ('health as monitor', n['monitor'], 'health', {'history_schema': 'prefectdb_maintenance'}),
        ('retention as retention-only', n['retention'], 'retention',
         {'enabled': ['events', 'flow_runs'], 'now': NOW, 'retention_period': '30d'}),
        ('retention with vacuum_after as maintainer', n['maintainer'], 'retention',
         {'enabled': ['events', 'flow_runs'], 'now': NOW, 'retention_period': '20d', 'vacuum_after': True}),
        ('autovacuum as maintainer', n['maintainer'], 'autovacuum', {'preset': 'prefect'}),
        ('vacuum as maintainer', n['maintainer'], 'vacuum', {'tables': ['log', 'events']}),
        ('reindex as maintainer', n['maintainer'], 'reindex', {'indexes': ['ix_log__flow_run_id_timestamp']}),
        ('backup as backup', n['backup'], 'backup', {'dest': dest}),
    ]
    if major >= 17:
        cases += [
            ('vacuum as maintain', n['maintain'], 'vacuum', {'tables': ['log']}),
            ('reindex as maintain', n['maintain'], 'reindex', {'indexes': ['ix_events__occurred']}),
        ]
    run = run_as(cluster, db, cases, tmp)
    for label, dummy, dummy2, dummy3 in cases:
        result = run.task(label)
        assert not result['failed'], (label, result.get('msg'))
    health = run.task('health as monitor')
    problems = [f for f in health['findings'] if f['id'] in ('prefect_access', 'history_not_recorded', 'check_failed')
                and f['severity'] != 'ok']
    assert problems == [], problems
    assert run.task('info as monitor')['prefect']['schema_revision']
    assert run.task('retention as retention-only')['deleted']['flow_run'] > 0
    assert run.task('retention with vacuum_after as maintainer')['vacuumed']
    assert run.task('autovacuum as maintainer')['changed'] is True
    assert [t['status'] for t in run.task('vacuum as maintainer')['tables']] == ['done', 'done']
    assert [i['status'] for i in run.task('reindex as maintainer')['indexes']] == ['done']
    assert run.task('backup as backup')['dump']['bytes'] > 0


def test_a_missing_privilege_is_one_clear_error(cluster, logins, tmp):
    db, n, major = logins
    dest = os.path.join(tmp, 'dumps')
    before = cluster.fingerprint(db)
    cases = [
        # (label, login, module, args, what the message must say)
        ('retention as monitor', n['monitor'], 'retention', {'enabled': ['events'], 'now': NOW},
         'permission denied for table event'),  # events or event_resources, whichever goes first
        ('retention as backup', n['backup'], 'retention', {'enabled': ['flow_runs'], 'now': NOW},
         'permission denied for table log'),
        ('autovacuum without ownership', n['retention'], 'autovacuum', {'preset': 'prefect'},
         'may not alter public.flow_run: only its owner'),
        ('vacuum without ownership', n['retention'], 'vacuum', {'tables': ['log']},
         'VACUUM and ANALYZE need ownership of the table'),
        ('reindex without ownership', n['retention'], 'reindex', {'indexes': ['ix_log__flow_run_id_timestamp']},
         ('must be owner of index', 'permission denied for index')),  # the words of 15-16, of 17+
        ('backup without read access', n['nobody'], 'backup', {'dest': dest}, 'permission denied for table'),
        ('repack without superuser', n['maintainer'], 'vacuum', {'mode': 'repack', 'tables': ['log']},
         'pg_repack needs a superuser login'),
    ]
    if major >= 17:
        cases.append(('autovacuum with MAINTAIN only', n['maintain'], 'autovacuum', {'preset': 'prefect'},
                      'may not alter public.flow_run: only its owner'))
    run = run_as(cluster, db, [c[:4] for c in cases], tmp)
    for label, dummy, dummy2, dummy3, expected in cases:
        result = run.task(label)
        assert result['failed'] and result['changed'] is False, (label, result.get('msg'))
        assert [e for e in ((expected,) if isinstance(expected, str) else expected) if e in result['msg']], \
            (label, result['msg'])
        assert 'Traceback' not in result['msg'] and 'MODULE FAILURE' not in result['msg']
    # health and info without any grant still work, and say what they could not read
    run = run_as(cluster, db, [('health as nobody', n['nobody'], 'health', {'checks': ['prefect', 'tables']}),
                               ('info as nobody', n['nobody'], 'info', {})], tmp)
    health = run.task('health as nobody')
    assert not health['failed'], health['msg']
    access = [f for f in health['findings'] if f['id'] == 'prefect_access' and f['severity'] != 'ok']
    assert access and 'GRANT SELECT ON events, flow_run' in access[0]['remediation'], health['findings']
    info = run.task('info as nobody')
    assert not info['failed'], info['msg']
    assert info['prefect']['schema_revision'] is None and 'unknown (no SELECT on alembic_version)' in info['msg']
    assert cluster.fingerprint(db) == before
    assert not os.path.exists(dest) or not [f for f in os.listdir(dest) if f.endswith('.dump')]
