# -*- coding: utf-8 -*-
# Copyright: prefectdb.maintenance contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PostgreSQL client programs (pg_dump, pg_restore, pg_repack): finding the
right version, and handing them the connection through the environment so the
password never appears on a command line."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import glob
import os
import re

# libpq connection keywords and the environment variable each one has.
# https://www.postgresql.org/docs/current/libpq-envars.html
LIBPQ_ENV = {
    'host': 'PGHOST',
    'hostaddr': 'PGHOSTADDR',
    'port': 'PGPORT',
    'dbname': 'PGDATABASE',
    'user': 'PGUSER',
    'password': 'PGPASSWORD',
    'passfile': 'PGPASSFILE',
    'service': 'PGSERVICE',
    'options': 'PGOPTIONS',
    'application_name': 'PGAPPNAME',
    'sslmode': 'PGSSLMODE',
    'sslcert': 'PGSSLCERT',
    'sslkey': 'PGSSLKEY',
    'sslrootcert': 'PGSSLROOTCERT',
    'sslcrl': 'PGSSLCRL',
    'sslcrldir': 'PGSSLCRLDIR',
    'sslsni': 'PGSSLSNI',
    'sslcompression': 'PGSSLCOMPRESSION',
    'ssl_min_protocol_version': 'PGSSLMINPROTOCOLVERSION',
    'ssl_max_protocol_version': 'PGSSLMAXPROTOCOLVERSION',
    'requirepeer': 'PGREQUIREPEER',
    'gssencmode': 'PGGSSENCMODE',
    'krbsrvname': 'PGKRBSRVNAME',
    'gsslib': 'PGGSSLIB',
    'channel_binding': 'PGCHANNELBINDING',
    'connect_timeout': 'PGCONNECT_TIMEOUT',
    'client_encoding': 'PGCLIENTENCODING',
    'target_session_attrs': 'PGTARGETSESSIONATTRS',
    'load_balance_hosts': 'PGLOADBALANCEHOSTS',
    'require_auth': 'PGREQUIREAUTH',
}

_VERSION = re.compile(r'(\d+)(?:\.(\d+))?(?:\.(\d+))?')


class ClientProgramError(Exception):
    """A client program is missing, of the wrong version, or cannot be given the connection."""


def libpq_environment(connect_kwargs, program='client program'):
    """Environment variables that give a libpq program the connection psycopg2 uses.

    `connect_kwargs` is what connection.build_connect_kwargs() returns. The
    password goes into PGPASSWORD, never onto a command line (where any local
    user could read it from the process list). Raises ClientProgramError for a
    connection parameter that has no environment variable.
    """
    env = {}
    unknown = []
    for key, value in connect_kwargs.items():
        if value is None:
            continue
        if key not in LIBPQ_ENV:
            unknown.append(key)
            continue
        env[LIBPQ_ENV[key]] = str(value)
    if unknown:
        raise ClientProgramError(
            'the connection parameter(s) %s cannot be handed to %s through the environment; '
            'remove them from connect_params or use a service file (PGSERVICE)' % (', '.join(sorted(unknown)), program))
    return env


def parse_version(text):
    """(major, minor, patch) from `pg_dump (PostgreSQL) 15.18 (Debian ...)` or `pg_repack 1.4.8`.

    Returns None when no version number is found.
    """
    if not text:
        return None
    # skip the program name; take the first number after it
    match = _VERSION.search(text.split(')', 1)[-1] if '(PostgreSQL)' in text else text)
    if not match:
        return None
    return tuple(int(part) if part is not None else 0 for part in match.groups())


def version_text(version):
    return '.'.join(str(part) for part in version) if version else 'unknown'


def postgres_major(version):
    """The major version of a PostgreSQL (10+) version tuple."""
    return version[0] if version else None


def candidate_paths(program, server_major, override=None, environ=None, pg_config_bindir=None):
    """Paths to try for a PostgreSQL client program, best first.

    An explicit `override` (a file, or a directory holding the program) is the
    only candidate. Otherwise: Debian's /usr/lib/postgresql/<server major>/bin,
    then pg_config's bindir, then every directory of PATH, then the other
    /usr/lib/postgresql/*/bin directories, newest first.
    """
    if override:
        if os.path.isdir(override):
            return [os.path.join(override, program)]
        return [override]
    environ = os.environ if environ is None else environ
    paths = ['/usr/lib/postgresql/%s/bin/%s' % (server_major, program)]
    if pg_config_bindir:
        paths.append(os.path.join(pg_config_bindir, program))
    for directory in (environ.get('PATH') or '').split(os.pathsep):
        if directory:
            paths.append(os.path.join(directory, program))

    def major_of(path):
        found = re.search(r'/usr/lib/postgresql/(\d+)/bin/', path)
        return int(found.group(1)) if found else 0

    others = sorted(glob.glob('/usr/lib/postgresql/*/bin/%s' % program), key=major_of, reverse=True)
    paths.extend(others)
    seen, unique = set(), []
    for path in paths:
        if path not in seen:
            seen.add(path)
            unique.append(path)
    return unique


def choose_pg_program(found, server_major, program):
    """Pick the pg_dump/pg_restore for a server from [(path, version tuple)].

    The server's own major version is preferred; a newer one can read an older
    server; an older one cannot dump a newer server and is refused.
    Returns (path, version, note); raises ClientProgramError naming what was found.
    """
    usable = [(path, version) for path, version in found if version]
    same = [item for item in usable if postgres_major(item[1]) == server_major]
    if same:
        return same[0][0], same[0][1], None
    newer = sorted((item for item in usable if postgres_major(item[1]) > server_major),
                   key=lambda item: item[1])
    if newer:
        path, version = newer[0]
        return path, version, '%s %s is newer than the server (PostgreSQL %d); its dumps need a pg_restore of %d or newer' % (
            program, version_text(version), server_major, postgres_major(version))
    if usable:
        listing = ', '.join('%s (%s)' % (path, version_text(version)) for path, version in usable)
        raise ClientProgramError(
            'no %s for PostgreSQL %d or newer found; found only %s. Install postgresql-client-%d '
            'or set the option naming the program\'s directory' % (program, server_major, listing, server_major))
    raise ClientProgramError(
        'no %s found; install postgresql-client-%d (Debian/Ubuntu) or set the option naming the program\'s directory'
        % (program, server_major))
