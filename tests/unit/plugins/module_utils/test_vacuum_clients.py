"""Pieces the vacuum (pg_repack) and backup (pg_dump) modules share, without a database: sizes, the
environment handed to client programs, program versions and choice, and telling our server's data directory."""
import os

import pytest

from ansible_collections.prefectdb.maintenance.plugins.module_utils import client_programs as cp
from ansible_collections.prefectdb.maintenance.plugins.module_utils import host_storage as hs
from ansible_collections.prefectdb.maintenance.plugins.module_utils.sizes import SizeError, format_size, parse_size


@pytest.mark.parametrize('value,num', [
    (0, 0), (1048576, 1048576), ('1048576', 1048576), ('512kB', 512 * 1024), ('10MB', 10 * 1024 ** 2),
    ('1GiB', 1024 ** 3), ('1 GB', 1024 ** 3), ('1.5gb', int(1.5 * 1024 ** 3)), ('2TB', 2 * 1024 ** 4), ('3 bytes', 3),
])
def test_parse_size(value, num):
    assert parse_size(value) == num


@pytest.mark.parametrize('value', ['', 'big', '10 XB', '-5MB', -1, True, None, '1,5GB'])
def test_parse_size_rejects(value):
    with pytest.raises(SizeError) as err:
        parse_size(value, 'max_full_size')
    assert str(err.value).startswith('max_full_size: ')


@pytest.mark.parametrize('num,text', [(0, '0 bytes'), (1023, '1023 bytes'), (1024, '1 kB'), (1536, '1.5 kB'),
                                      (10 * 1024 ** 2, '10 MB'), (1024 ** 3, '1 GB'), (5 * 1024 ** 5, '5120 TB'),
                                      (None, 'unknown'), (-2048, '-2 kB')])
def test_format_size(num, text):
    assert format_size(num) == text


def test_libpq_environment_carries_the_password_in_pgpassword():
    env = cp.libpq_environment({'host': 'db', 'port': 5433, 'user': 'prefect', 'dbname': 'prefect', 'password': 's3cret',
                                'sslmode': 'require', 'connect_timeout': 10, 'application_name': 'prefectdb.maintenance',
                                'sslrootcert': None})
    assert env == {'PGHOST': 'db', 'PGPORT': '5433', 'PGUSER': 'prefect', 'PGDATABASE': 'prefect', 'PGPASSWORD': 's3cret',
                   'PGSSLMODE': 'require', 'PGCONNECT_TIMEOUT': '10', 'PGAPPNAME': 'prefectdb.maintenance'}


def test_libpq_environment_refuses_parameters_without_a_variable():
    with pytest.raises(cp.ClientProgramError) as err:
        cp.libpq_environment({'host': 'db', 'keepalives': 1, 'sslpassword': 'x'}, 'pg_dump')
    assert str(err.value).startswith('the connection parameter(s) keepalives, sslpassword cannot be handed to pg_dump')


@pytest.mark.parametrize('text,version', [
    ('pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)', (15, 18, 0)),
    ('pg_restore (PostgreSQL) 17.2', (17, 2, 0)),
    ('pg_repack 1.4.8', (1, 4, 8)),
    ('pg_repack 1.5.0\n', (1, 5, 0)),
    ('', None), (None, None), ('no version here', None),
])
def test_parse_version(text, version):
    assert cp.parse_version(text) == version


def test_candidate_paths_prefer_the_servers_major():
    paths = cp.candidate_paths('pg_dump', 15, environ={'PATH': '/usr/local/bin:/usr/bin'}, pg_config_bindir='/opt/pg/bin')
    assert paths[:4] == ['/usr/lib/postgresql/15/bin/pg_dump', '/opt/pg/bin/pg_dump', '/usr/local/bin/pg_dump',
                         '/usr/bin/pg_dump']
    assert len(paths) == len(set(paths))
    assert cp.candidate_paths('pg_repack', 15, override='/nonexistent/pg_repack') == ['/nonexistent/pg_repack']
    here = os.path.dirname(os.path.abspath(__file__))
    assert cp.candidate_paths('pg_dump', 15, override=here) == [os.path.join(here, 'pg_dump')]


def test_choose_pg_program():
    found = [('/usr/bin/pg_dump', (14, 9, 0)), ('/usr/lib/postgresql/16/bin/pg_dump', (16, 1, 0)),
             ('/usr/lib/postgresql/15/bin/pg_dump', (15, 18, 0))]
    assert cp.choose_pg_program(found, 15, 'pg_dump') == ('/usr/lib/postgresql/15/bin/pg_dump', (15, 18, 0), None)
    path, version, note = cp.choose_pg_program(found[:2], 15, 'pg_dump')
    assert path == '/usr/lib/postgresql/16/bin/pg_dump' and 'newer than the server (PostgreSQL 15)' in note
    with pytest.raises(cp.ClientProgramError) as err:
        cp.choose_pg_program(found[:1], 15, 'pg_dump')
    assert 'no pg_dump for PostgreSQL 15 or newer found; found only /usr/bin/pg_dump (14.9.0)' in str(err.value)
    with pytest.raises(cp.ClientProgramError) as err:
        cp.choose_pg_program([], 16, 'pg_restore')
    assert str(err.value).startswith('no pg_restore found; install postgresql-client-16')


PID_FILE = '4367\n/var/lib/postgresql/15/main\n1795816192\n5432\n/var/run/postgresql\n*\n  5391362        10\nready   \n'


def test_same_server_compares_start_time_and_port():
    pid_file = hs.parse_postmaster_pid(PID_FILE)
    assert pid_file == ('/var/lib/postgresql/15/main', 1795816192, 5432)
    assert hs.same_server(pid_file, 1795816192, 5432)
    # pg_postmaster_start_time() has a fraction; postmaster.pid truncates it (a rounded .5 or more was a mismatch)
    assert hs.same_server(pid_file, 1795816192.823206, 5432)
    # the server sets its start time after writing the file: a second later is the same server
    # (seen: file 1795876248, pg_postmaster_start_time() 1795876249.001150)
    assert hs.same_server(pid_file, 1795816193.00115, 5432)
    assert hs.same_server(pid_file, 1795816192 + hs.STARTUP_SECONDS, 5432)
    assert not hs.same_server(pid_file, 1795816192 + hs.STARTUP_SECONDS + 1, 5432)  # a later start
    assert not hs.same_server(pid_file, 1795816191.9, 5432)  # started before the file was written
    assert not hs.same_server(pid_file, 1795816192, 5433)
    assert not hs.same_server(pid_file, 1795816192, 5432, '/srv/other')
    assert hs.parse_postmaster_pid('4367\n') is None and not hs.same_server(None, 1795816192, 5432)
    assert hs.parse_postmaster_pid('') is None


def test_local_free_bytes(tmp_path):
    (tmp_path / 'postmaster.pid').write_text(PID_FILE)
    location = {'data_directory': str(tmp_path), 'directory': str(tmp_path), 'start_epoch': 1795816192, 'port': 5432}
    free, reason = hs.local_free_bytes(location)
    assert reason is None and free == hs.free_bytes(str(tmp_path)) and free > 0
    free, reason = hs.local_free_bytes(dict(location, port=6543))
    assert free is None and reason == '%s belongs to another server than the one connected to' % tmp_path
    free, reason = hs.local_free_bytes(dict(location, data_directory=str(tmp_path / 'missing')))
    assert free is None and 'is not readable here' in reason
    free, reason = hs.local_free_bytes(dict(location, data_directory=None))
    assert free is None and 'pg_read_all_settings' in reason
