"""info on the real Prefect schema, through ansible-playbook."""
from testbed import PASSWORD


def test_info_describes_a_prefect_database(cluster, prefect_db, module_runner):
    run = module_runner('info', dbname=prefect_db)
    r = run.result
    assert run.rc == 0, run.stdout
    assert r['changed'] is False
    assert r['database']['name'] == prefect_db
    assert r['database']['size_bytes'] > 1000000
    assert r['server_version_num'] >= 140009
    assert r['server_major'] == r['server_version_num'] // 10000
    assert r['in_recovery'] is False
    revision = cluster.sql(prefect_db, 'SELECT version_num FROM alembic_version')[0][0]
    assert r['prefect']['schema_revision'] == revision
    assert r['prefect']['is_prefect_database'] is True
    assert r['prefect']['missing_tables'] == []
    assert set(r['prefect']['tables']) == {'flow_run', 'task_run', 'flow_run_state', 'task_run_state', 'log',
                                           'artifact', 'artifact_collection', 'events', 'event_resources'}
    assert r['prefect']['schema'] == 'public'
    assert r['extensions']['pgstattuple']['available'] is True
    assert r['extensions']['pgstattuple']['installed'] is False
    assert set(r['extensions']) == {'pgstattuple', 'pg_repack', 'pg_stat_statements'}
    assert r['connection'] == {'user': 'postgres', 'is_superuser': True, 'roles': r['connection']['roles']}
    assert 'schema revision %s' % revision in r['msg']


def test_info_sees_installed_extensions_and_missing_tables(cluster, prefect_db, module_runner):
    cluster.sql(prefect_db, 'CREATE EXTENSION pgstattuple')
    cluster.sql(prefect_db, 'DROP TABLE event_resources')
    r = module_runner('info', dbname=prefect_db).result
    assert r['extensions']['pgstattuple']['installed'] is True
    assert r['extensions']['pgstattuple']['installed_version']
    assert r['prefect']['is_prefect_database'] is False
    assert r['prefect']['missing_tables'] == ['event_resources']
    assert 'lacks Prefect tables: event_resources' in r['msg']


def test_info_on_a_database_without_prefect(module_runner):
    r = module_runner('info', dbname='postgres').result
    assert r['prefect']['schema_revision'] is None
    assert r['prefect']['is_prefect_database'] is False
    assert len(r['prefect']['missing_tables']) == 9


def test_check_mode_reports_the_same(prefect_db, module_runner):
    r = module_runner('info', dbname=prefect_db, check=True).result
    assert r['prefect']['is_prefect_database'] is True and r['changed'] is False


def test_wrong_password_fails_clearly_without_leaking_it(cluster, prefect_db, module_runner):
    secret = 'Wr0ng-pa55word-xyzzy'
    conn = cluster.connection_args(prefect_db, password=secret)
    run = module_runner('info', connection=conn, extra_args=['-vvv'])
    r = run.result
    assert r['failed'] is True
    assert r['msg'] == ('could not connect to database "%s" on %s port %d as "postgres": ' % (
        prefect_db, cluster.host, cluster.port)) + r['msg'].split(': ', 1)[1]
    assert 'password authentication failed for user "postgres"' in r['msg']
    assert secret not in run.stdout + run.stderr
    assert secret not in str(run.results)


def test_unreachable_port_fails_fast_and_clearly(cluster, module_runner):
    conn = cluster.connection_args('prefect')
    conn['login_port'] = 1
    r = module_runner('info', connection=conn).result
    assert r['failed'] is True
    assert r['msg'].startswith('could not connect to database "prefect" on %s port 1 as "postgres": ' % cluster.host)
    assert 'refused' in r['msg']
    assert PASSWORD not in r['msg']


def test_libpq_environment_fills_unset_options(cluster, prefect_db, module_runner):
    env = {'PGHOST': cluster.host, 'PGPORT': str(cluster.port), 'PGUSER': 'postgres', 'PGPASSWORD': PASSWORD,
           'PGDATABASE': prefect_db}
    r = module_runner('info', connection={}, env=env).result
    assert r.get('failed') is not True, r
    assert r['database']['name'] == prefect_db


def test_unix_socket_connection(cluster, prefect_db, module_runner):
    r = module_runner('info', connection={'login_unix_socket': cluster.socket_dir, 'login_port': cluster.port,
                                          'login_db': prefect_db}).result
    assert r.get('failed') is not True, r
    assert r['database']['name'] == prefect_db
