"""The connection layer without a server: argument handling, libpq fallbacks, messages, lock keys."""
import pytest

from ansible_collections.prefectdb.maintenance.plugins.module_utils import connection as c


def params(**overrides):
    base = dict((name, spec.get('default')) for name, spec in c.connection_argument_spec().items())
    base.update(overrides)
    return base


def test_spec_names_follow_community_postgresql():
    spec = c.connection_argument_spec()
    assert set(spec) == {'login_host', 'login_port', 'login_user', 'login_password', 'login_db',
                         'login_unix_socket', 'ssl_mode', 'ca_cert', 'ssl_cert', 'ssl_key', 'connect_params'}
    assert spec['login_password']['no_log'] is True
    assert spec['login_host']['aliases'] == ['host']
    assert spec['login_port']['aliases'] == ['port']


def test_defaults_apply_when_nothing_else_sets_them():
    kwargs = c.build_connect_kwargs(params(), environ={})
    assert kwargs['user'] == 'postgres'
    assert kwargs['dbname'] == 'prefect'
    assert kwargs['application_name'] == 'prefectdb.maintenance'
    assert kwargs['connect_timeout'] == 10
    assert 'host' not in kwargs and 'port' not in kwargs and 'password' not in kwargs


def test_libpq_environment_fills_what_the_play_leaves_unset():
    environ = {'PGUSER': 'monitor', 'PGDATABASE': 'prefect_prod', 'PGCONNECT_TIMEOUT': '3'}
    kwargs = c.build_connect_kwargs(params(), environ=environ)
    # libpq reads them itself: we must not override them with our defaults
    assert 'user' not in kwargs and 'dbname' not in kwargs and 'connect_timeout' not in kwargs


def test_a_service_definition_is_not_overridden():
    kwargs = c.build_connect_kwargs(params(), environ={'PGSERVICE': 'prefect'})
    assert 'user' not in kwargs and 'dbname' not in kwargs
    kwargs = c.build_connect_kwargs(params(connect_params={'service': 'prefect'}), environ={})
    assert kwargs['service'] == 'prefect' and 'dbname' not in kwargs


def test_play_values_win_over_environment():
    kwargs = c.build_connect_kwargs(
        params(login_host='db.example.com', login_port=6432, login_user='prefect', login_password='s3cret',
               login_db='prefect', ssl_mode='verify-full', ca_cert='/ca.pem', ssl_cert='/c.pem', ssl_key='/k.pem'),
        environ={'PGUSER': 'other', 'PGHOST': 'elsewhere'})
    assert kwargs['host'] == 'db.example.com' and kwargs['port'] == 6432
    assert kwargs['user'] == 'prefect' and kwargs['password'] == 's3cret' and kwargs['dbname'] == 'prefect'
    assert (kwargs['sslmode'], kwargs['sslrootcert'], kwargs['sslcert'], kwargs['sslkey']) == \
        ('verify-full', '/ca.pem', '/c.pem', '/k.pem')


def test_unix_socket_takes_precedence_over_host():
    kwargs = c.build_connect_kwargs(params(login_host='db', login_unix_socket='/run/postgresql'), environ={})
    assert kwargs['host'] == '/run/postgresql'


def test_connect_params_override_options():
    kwargs = c.build_connect_kwargs(params(login_db='a', connect_params={'dbname': 'b', 'application_name': 'x',
                                                                         'connect_timeout': 2}), environ={})
    assert kwargs['dbname'] == 'b' and kwargs['application_name'] == 'x' and kwargs['connect_timeout'] == 2


def test_describe_target_names_host_port_db_user_and_never_the_password():
    text = c.describe_target({'host': 'db', 'port': 6432, 'dbname': 'prefect', 'user': 'u', 'password': 'pw'},
                             environ={})
    assert text == 'database "prefect" on db port 6432 as "u"'
    assert 'pw' not in text
    assert 'local socket' in c.describe_target({}, environ={})
    assert 'envhost port 7' in c.describe_target({}, environ={'PGHOST': 'envhost', 'PGPORT': '7'})


def test_redact_removes_every_secret():
    assert c.redact('password hunter2 rejected; hunter2', ['hunter2', None, '']) == 'password ******** rejected; ********'


def test_connection_failure_message_is_safe(monkeypatch):
    class Boom(Exception):
        pass

    def fail(**kwargs):
        raise c.psycopg2.OperationalError('connection to server at "db" failed: FATAL:  password '
                                          'authentication failed for user "u" (tried s3cret)')

    monkeypatch.setattr(c.psycopg2, 'connect', fail)
    with pytest.raises(c.ConnectionFailure) as err:
        c.open_connection(params(login_host='db', login_port=5, login_user='u', login_password='s3cret'), environ={})
    message = str(err.value)
    assert 's3cret' not in message
    assert message.startswith('could not connect to database "prefect" on db port 5 as "u": ')
    assert 'password authentication failed' in message


@pytest.mark.parametrize('seconds,text', [(5, '5000ms'), (0.25, '250ms'), (0, '0ms'), ('2', '2000ms')])
def test_milliseconds(seconds, text):
    assert c.milliseconds(seconds) == text


def test_advisory_lock_key_is_stable_signed_64bit_and_distinct():
    key = c.advisory_lock_key('retention', 'prefect')
    assert key == c.advisory_lock_key('retention', 'prefect')
    assert -2 ** 63 <= key < 2 ** 63
    assert key != c.advisory_lock_key('vacuum', 'prefect')
    assert key != c.advisory_lock_key('retention', 'prefect2')
