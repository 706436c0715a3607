# -*- coding: utf-8 -*-
# Copyright: prefectdb.maintenance contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection layer shared by every module: argument spec, connect(), session
settings, advisory lock and standby check."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import os
import time
import traceback
from contextlib import contextmanager

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.prefectdb.maintenance.plugins.module_utils.durations import DurationError, parse_duration
from ansible_collections.prefectdb.maintenance.plugins.module_utils.results import jsonable

try:
    import psycopg2
    import psycopg2.extras
    HAS_PSYCOPG2 = True
    PSYCOPG2_IMPORT_ERROR = None
except ImportError:  # pragma: no cover - exercised by ansible-test's import test
    psycopg2 = None
    HAS_PSYCOPG2 = False
    PSYCOPG2_IMPORT_ERROR = traceback.format_exc()

APPLICATION_NAME = 'prefectdb.maintenance'
SSL_MODES = ['allow', 'disable', 'prefer', 'require', 'verify-ca', 'verify-full']

# Our defaults, applied only when neither the play, a libpq environment
# variable nor a service definition says otherwise.
DEFAULT_USER = 'postgres'
DEFAULT_DB = 'prefect'
DEFAULT_CONNECT_TIMEOUT = 10


class ConnectionFailure(Exception):
    """A connection could not be opened; the message is safe to show."""


def connection_argument_spec():
    """The login_* options of DESIGN.md, as community.postgresql names them.

    No defaults live here: libpq reads PGHOST, PGPORT, ... itself, and our own
    defaults are applied by build_connect_kwargs() only where nothing else
    applies, so a PGSERVICE definition is not overridden.
    """
    return dict(
        login_host=dict(type='str', aliases=['host']),
        login_port=dict(type='int', aliases=['port']),
        login_user=dict(type='str', aliases=['login']),
        login_password=dict(type='str', no_log=True),
        login_db=dict(type='str', aliases=['db']),
        login_unix_socket=dict(type='str', aliases=['unix_socket']),
        ssl_mode=dict(type='str', choices=SSL_MODES),
        ca_cert=dict(type='str', aliases=['ssl_rootcert']),
        ssl_cert=dict(type='path'),
        ssl_key=dict(type='path', no_log=False),
        connect_params=dict(type='dict', default={}),
    )


def build_connect_kwargs(params, environ=None):
    """Turn module parameters into psycopg2.connect() keyword arguments.

    Pure: `environ` stands in for os.environ so the fallbacks are testable.
    """
    environ = os.environ if environ is None else environ
    extra = dict(params.get('connect_params') or {})
    service = extra.get('service') or environ.get('PGSERVICE')

    def unset_everywhere(env_name, extra_name):
        return not environ.get(env_name) and extra_name not in extra and not service

    kwargs = {}
    host = params.get('login_unix_socket') or params.get('login_host')
    if host:
        kwargs['host'] = host
    if params.get('login_port') is not None:
        kwargs['port'] = int(params['login_port'])
    if params.get('login_user'):
        kwargs['user'] = params['login_user']
    elif unset_everywhere('PGUSER', 'user'):
        kwargs['user'] = DEFAULT_USER
    if params.get('login_db'):
        kwargs['dbname'] = params['login_db']
    elif unset_everywhere('PGDATABASE', 'dbname'):
        kwargs['dbname'] = DEFAULT_DB
    if params.get('login_password') is not None:
        kwargs['password'] = params['login_password']
    for option, keyword in (('ssl_mode', 'sslmode'), ('ca_cert', 'sslrootcert'),
                            ('ssl_cert', 'sslcert'), ('ssl_key', 'sslkey')):
        if params.get(option):
            kwargs[keyword] = params[option]
    if not environ.get('PGCONNECT_TIMEOUT'):
        # an unreachable host must fail in seconds, not hang the play
        kwargs['connect_timeout'] = DEFAULT_CONNECT_TIMEOUT
    kwargs['application_name'] = APPLICATION_NAME
    kwargs.update(extra)
    return kwargs


def describe_target(kwargs, environ=None):
    """host:port/db as libpq will resolve it, for messages. Never the password."""
    environ = os.environ if environ is None else environ
    host = kwargs.get('host') or environ.get('PGHOST') or 'local socket'
    port = kwargs.get('port') or environ.get('PGPORT') or 5432
    dbname = kwargs.get('dbname') or environ.get('PGDATABASE') or '(libpq default)'
    user = kwargs.get('user') or environ.get('PGUSER') or '(OS user)'
    return 'database "%s" on %s port %s as "%s"' % (dbname, host, port, user)


def redact(text, secrets):
    """Remove every secret from a message before it is shown or logged."""
    text = str(text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, '********')
    return text


def open_connection(params, environ=None):
    """Connect in autocommit mode; raise ConnectionFailure with a safe message."""
    kwargs = build_connect_kwargs(params, environ)
    secrets = [kwargs.get('password'), params.get('login_password'), (environ or os.environ).get('PGPASSWORD')]
    try:
        conn = psycopg2.connect(**kwargs)
    except psycopg2.Error as e:
        reason = ' '.join(str(e).split())
        raise ConnectionFailure(redact('could not connect to %s: %s' % (describe_target(kwargs, environ), reason), secrets))
    conn.autocommit = True
    return conn


# libpq keywords of connect_params that are as secret as login_password
SECRET_CONNECT_PARAMS = ('password', 'sslpassword')


class PrefectModule(AnsibleModule):
    """An AnsibleModule that keeps the secrets of connect_params (a password handed there
    instead of login_password) out of results, the logged invocation and the target's log,
    as no_log keeps login_password out."""

    def _hide_connect_secrets(self):
        params = getattr(self, 'params', None)
        extra = params.get('connect_params') if isinstance(params, dict) else None
        if isinstance(extra, dict):
            for key in SECRET_CONNECT_PARAMS:
                if extra.get(key) not in (None, ''):
                    self.no_log_values.add(str(extra[key]))

    def log(self, msg, log_args=None):
        self._hide_connect_secrets()
        return super(PrefectModule, self).log(msg, log_args=log_args)

    def exit_json(self, **kwargs):
        self._hide_connect_secrets()
        super(PrefectModule, self).exit_json(**kwargs)

    def fail_json(self, msg, **kwargs):  # pylint: disable=arguments-differ
        self._hide_connect_secrets()
        super(PrefectModule, self).fail_json(msg, **kwargs)


def prefect_module(argument_spec, **kwargs):
    """An AnsibleModule with the connection options merged in and psycopg2 checked."""
    spec = connection_argument_spec()
    spec.update(argument_spec)
    module = PrefectModule(argument_spec=spec, **kwargs)
    if not HAS_PSYCOPG2:
        module.fail_json(msg=missing_required_lib('psycopg2'), exception=PSYCOPG2_IMPORT_ERROR)
    return module


def connect(module):
    """Open the module's connection or fail the module with host, port,
    database and the server's reason (never the password)."""
    try:
        return open_connection(module.params)
    except ConnectionFailure as e:
        module.fail_json(msg=str(e), changed=False)


# --- queries ---------------------------------------------------------------

def server_error(e):
    """The server's message of a psycopg2 error, on one line."""
    return ' '.join(str(getattr(getattr(e, 'diag', None), 'message_primary', None) or e).split())


def fetch_all(conn, sql, params=None):
    """Rows as a list of dicts."""
    with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute(sql, params)
        return [dict(row) for row in cur.fetchall()]


def fetch_one(conn, sql, params=None):
    rows = fetch_all(conn, sql, params)
    return rows[0] if rows else None


def fetch_value(conn, sql, params=None):
    with conn.cursor() as cur:
        cur.execute(sql, params)
        row = cur.fetchone()
        return row[0] if row else None


def execute(conn, sql, params=None):
    """Run one statement; return its rowcount."""
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.rowcount


@contextmanager
def transaction(conn):
    """BEGIN ... COMMIT on an autocommit connection; ROLLBACK on any error."""
    with conn.cursor() as cur:
        cur.execute('BEGIN')
        try:
            yield cur
        except BaseException:
            try:
                cur.execute('ROLLBACK')
            except psycopg2.Error:
                pass  # the connection is gone: the server rolled back already
            raise
        cur.execute('COMMIT')


# --- session settings ------------------------------------------------------

def milliseconds(seconds):
    """A timeout in seconds as the text PostgreSQL settings take; 0 disables."""
    return '%dms' % int(round(float(seconds) * 1000))


def set_session_timeouts(conn, lock_timeout=None, statement_timeout=None):
    """Set lock_timeout / statement_timeout (seconds) for this session."""
    for name, value in (('lock_timeout', lock_timeout), ('statement_timeout', statement_timeout)):
        if value is not None:
            execute(conn, 'SELECT set_config(%s, %s, false)', (name, milliseconds(value)))


# --- standby ---------------------------------------------------------------

def is_standby(conn):
    return bool(fetch_value(conn, 'SELECT pg_is_in_recovery()'))


def refuse_on_standby(module, conn, module_name):
    """Fail a write module on a hot standby, having changed nothing."""
    if is_standby(conn):
        module.fail_json(
            changed=False,
            msg='%s: %s is a standby server (in recovery) and read-only; nothing was changed. '
                'Run this module against the primary.' % (module_name, describe_target(conn.get_dsn_parameters())))


# --- advisory lock ---------------------------------------------------------

def advisory_lock_key(module_name, dbname):
    """A stable signed 64-bit key from the module name and the database name,
    so one run per module and database holds it, whatever the host."""
    digest = hashlib.sha256(('%s/%s/%s' % (APPLICATION_NAME, module_name, dbname)).encode('utf-8')).digest()
    return int.from_bytes(digest[:8], 'big', signed=True)


def _lock_holder(conn, key):
    """pid, application_name and backend_start of the session holding key, if any."""
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    return fetch_one(conn, """
        SELECT a.pid, a.application_name, a.client_addr::text AS client_addr,
               a.backend_start, a.usename
          FROM pg_locks l
          LEFT JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.granted
           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
           AND l.classid = %s::bigint::oid AND l.objid = %s::bigint::oid AND l.objsubid = 1
         LIMIT 1""", (unsigned >> 32, unsigned & 0xFFFFFFFF))


class LockBusy(Exception):
    """Another session holds the advisory lock."""

    def __init__(self, message, holder):
        super(LockBusy, self).__init__(message)
        self.holder = holder


def acquire_advisory_lock(conn, module_name, wait=False, wait_timeout=None, poll_seconds=0.5):
    """Take the session-level advisory lock for module_name on this database.

    Without wait, raise LockBusy at once if another session holds it; with
    wait, poll until wait_timeout seconds (None: forever) have passed.
    Returns the key, for release_advisory_lock().
    """
    dbname = fetch_value(conn, 'SELECT current_database()')
    key = advisory_lock_key(module_name, dbname)
    deadline = None if wait_timeout is None else time.monotonic() + float(wait_timeout)
    while True:
        if fetch_value(conn, 'SELECT pg_try_advisory_lock(%s)', (key,)):
            return key
        if not wait or (deadline is not None and time.monotonic() >= deadline):
            holder = _lock_holder(conn, key)
            who = ''
            if holder:
                who = ' (pid %s, %s, since %s)' % (
                    holder['pid'], holder['application_name'] or 'no application_name', holder['backend_start'])
            raise LockBusy('another %s run holds the lock on database "%s"%s' % (module_name, dbname, who), holder)
        time.sleep(poll_seconds)


def release_advisory_lock(conn, key):
    try:
        fetch_value(conn, 'SELECT pg_advisory_unlock(%s)', (key,))
    except psycopg2.Error:
        pass  # the session is gone and with it the lock


# --- what every write module shares -------------------------------------------

def write_argument_spec():
    """Options documented by the write_safety doc fragment."""
    return dict(
        lock_timeout=dict(type='raw', default='5s'),
        wait=dict(type='bool', default=False),
        wait_timeout=dict(type='raw', default='15m'),
    )


@contextmanager
def exclusive_run(module, conn, module_name):
    """Refuse on a standby, then hold this module's advisory lock for the block.

    When another run holds the lock the module exits skipped (not failed) and
    says who holds it; with wait=true it waits up to wait_timeout first.
    """
    refuse_on_standby(module, conn, module_name)
    try:
        wait_timeout = parse_duration(module.params.get('wait_timeout'), 'wait_timeout')
    except DurationError as e:
        module.fail_json(msg=str(e), changed=False)
    try:
        key = acquire_advisory_lock(conn, module_name, wait=module.params.get('wait'), wait_timeout=wait_timeout)
    except LockBusy as e:
        conn.close()
        module.exit_json(changed=False, skipped=True, lock_holder=jsonable(e.holder),
                         msg='%s skipped: %s; nothing was changed. Set wait=true to wait for it.' % (module_name, e))
    try:
        yield key
    finally:
        release_advisory_lock(conn, key)
