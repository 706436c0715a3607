#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: prefectdb.maintenance contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: backup
short_description: Verified, rotated pg_dump backups of a Prefect database
version_added: 0.1.0
description:
  - Dumps the Prefect database with C(pg_dump) in custom format (C(-Fc)) into O(dest), named
    C(<prefix>_<UTC timestamp>.dump), with a C(.sha256) file beside it that C(sha256sum -c) checks.
  - Verifies the dump before it counts as a backup. O(verify=list) reads its table of contents with C(pg_restore --list)
    and checks that the data of every table is in it. O(verify=restore) restores it into a scratch database on the same
    server and compares the row count of every table with the counts in the snapshot the dump was taken from (so a
    live Prefect server writing meanwhile does not make them differ); the scratch database is dropped afterwards.
  - Keeps the newest O(keep) dumps of this O(prefix) in O(dest) and deletes the older ones (and their C(.sha256)
    files) only after the new dump is verified. Other files in O(dest) are never touched.
  - Before it starts, refuses when the free space at O(dest) is below an estimate of the dump size, so a full disk
    does not cost the last good backup.
  - Uses the C(pg_dump) and C(pg_restore) of the server's major version (Debian's C(/usr/lib/postgresql/<major>/bin),
    then C(pg_config --bindir), then C(PATH)), a newer one when that is missing, and refuses an older one.
  - The password reaches C(pg_dump) and C(pg_restore) through the environment (C(PGPASSWORD)) or libpq's password
    file, never their command line.
author:
  - prefectdb.maintenance developers (@prefectdb)
extends_documentation_fragment:
  - prefectdb.maintenance.connection
  - prefectdb.maintenance.write_safety
attributes:
  check_mode:
    support: full
    description: Returns the plan (file name, size estimate, free space, the dumps rotation would delete) and writes
      nothing.
  diff_mode:
    support: none
    description: Nothing in the database changes.
options:
  dest:
    description:
      - Directory for the dumps, on the host running the module. Created (mode 0700) when missing.
    type: path
    required: true
  prefix:
    description:
      - File names start with this and C(_). Unset, the database name.
      - Rotation considers only the files C(<prefix>_<YYYYmmddTHHMMSSZ>.dump) (and C(_<n>) when two dumps share a
        second).
    type: str
  keep:
    description:
      - How many dumps of this O(prefix) to keep in O(dest), the new one included.
    type: int
    default: 7
  min_interval:
    description:
      - Take no new dump when the newest verified dump of this O(prefix) in O(dest) is younger than this; the module
        then reports C(changed=false) and names that dump. A scheduled job that is re-run (or a second playbook run)
        does not take a second backup.
      - Seconds or a duration such as C(20h), C(1d), C(P1D). C(0) always dumps.
    type: raw
    default: 0
  verify:
    description:
      - C(list) reads the dump's table of contents with C(pg_restore --list) and checks every table's data is in it.
      - C(restore) also restores the dump into a scratch database on the same server (the login needs C(CREATEDB)),
        compares the row count of every table, and drops the scratch database. It takes about as long as the dump
        again and needs room for a second copy of the database on the server.
    type: str
    choices: [list, restore]
    default: list
  compress:
    description:
      - Compression level handed to C(pg_dump -Z) (0-9). Unset, pg_dump's default.
    type: int
  bindir:
    description:
      - Directory holding C(pg_dump) and C(pg_restore). Unset, they are looked up as described above.
    type: path
  estimate_ratio:
    description:
      - The dump size estimate is this fraction of the bytes of the tables (heap and TOAST, no indexes). Synthetic
        Prefect history dumps to about 0.13 of it with the default compression; the default leaves room for less
        compressible data. With O(compress=0) the estimate is at least the table bytes.
    type: float
    default: 0.5
  reserve:
    description:
      - Free space to leave at O(dest) beyond the estimated dump, as bytes or with a unit (C(10GB)).
    type: raw
    default: 0
notes:
  - O(lock_timeout) becomes C(pg_dump --lock-wait-timeout), so the dump fails instead of queueing behind a session
    holding an exclusive lock on a table.
  - The dump reads a consistent snapshot; the snapshot is held open for the whole dump (and the row counts of
    O(verify=restore)), which holds back VACUUM's cleanup meanwhile, as any pg_dump does.
  - The module refuses to run on a standby like every module of the collection that writes, and takes its own
    advisory lock, so two backups of one database never run at once.
seealso:
  - name: pg_dump
    description: The PostgreSQL documentation of pg_dump.
    link: https://www.postgresql.org/docs/current/app-pgdump.html
'''

EXAMPLES = r'''
- name: Nightly dump, verified by a full restore, keeping a week
  prefectdb.maintenance.backup:
    dest: /var/backups/prefect
    verify: restore
    keep: 7
  register: backup

- name: Show where the dump would go and what rotation would delete
  prefectdb.maintenance.backup:
    dest: /var/backups/prefect
    keep: 3
  check_mode: true
'''

RETURN = r'''
skipped_dump:
  description: True when no dump was taken because the newest verified one is younger than O(min_interval).
  returned: when O(min_interval) skipped the dump
  type: bool
  sample: true
dump:
  description: The dump written (or planned); null when O(min_interval) skipped it.
  returned: always
  type: dict
  contains:
    path:
      description: Its path.
      type: str
      sample: /var/backups/prefect/prefect_20260101T020000Z.dump
    bytes:
      description: Its size, null in check mode.
      type: int
      sample: 9309712
    sha256:
      description: Its SHA-256, also in the file RV(dump.sha256_path).
      type: str
      sample: 3f0c...e1
    sha256_path:
      description: The checksum file beside it.
      type: str
      sample: /var/backups/prefect/prefect_20260101T020000Z.dump.sha256
    verify:
      description: C(list) or C(restore).
      type: str
      sample: restore
    tables:
      description: How many tables' data the dump holds.
      type: int
      sample: 52
    rows:
      description: With O(verify=restore), the rows restored and compared, over all tables.
      type: int
      sample: 181224
    scratch_database:
      description: With O(verify=restore), the database restored into (dropped afterwards).
      type: str
      sample: prefect_verify_20260101t020000z
    duration_seconds:
      description: Dump and verification time.
      type: float
      sample: 12.4
    created:
      description: The UTC time in its name.
      type: str
      sample: "2026-01-01T02:00:00Z"
space:
  description: The check made before starting.
  returned: always
  type: dict
  sample: {"table_bytes": 69836800, "estimated_dump_bytes": 34918400, "free_bytes": 72057594037, "reserve_bytes": 0}
rotation:
  description: The dumps of this prefix kept and deleted (planned in check mode), newest first.
  returned: always
  type: dict
  sample: {"keep": 7, "kept": ["prefect_20260101T020000Z.dump"], "deleted": ["prefect_20251225T020000Z.dump"]}
programs:
  description: The pg_dump and pg_restore used.
  returned: always
  type: dict
  sample: {"pg_dump": "/usr/lib/postgresql/15/bin/pg_dump", "pg_dump_version": "15.18.0"}
notes:
  description: Checks that could not be made, such as the server's free disk for the scratch restore when the module
    does not run on the database host.
  returned: always
  type: list
  elements: str
  sample: []
commands:
  description: The command lines run (or planned); the password is never on them.
  returned: always
  type: list
  elements: str
  sample: ["/usr/lib/postgresql/15/bin/pg_dump --format=custom --no-password ..."]
'''

import datetime
import hashlib
import os
import time

from ansible_collections.prefectdb.maintenance.plugins.module_utils import backup_files as bf
from ansible_collections.prefectdb.maintenance.plugins.module_utils.client_programs import (
    ClientProgramError, candidate_paths, choose_pg_program, libpq_environment, parse_version, version_text,
)
from ansible_collections.prefectdb.maintenance.plugins.module_utils.connection import (
    ConnectionFailure, build_connect_kwargs, connect, execute, exclusive_run, fetch_all, fetch_one, fetch_value,
    open_connection, prefect_module, psycopg2, server_error, set_session_timeouts, write_argument_spec,
)
from ansible_collections.prefectdb.maintenance.plugins.module_utils.durations import (
    DurationError, format_duration, parse_duration,
)
from ansible_collections.prefectdb.maintenance.plugins.module_utils.host_storage import free_bytes, local_free_bytes
from ansible_collections.prefectdb.maintenance.plugins.module_utils.results import iso_utc, jsonable
from ansible_collections.prefectdb.maintenance.plugins.module_utils.sizes import SizeError, format_size, parse_size
from ansible_collections.prefectdb.maintenance.plugins.module_utils import table_stats

if psycopg2 is not None:
    from psycopg2 import sql as pgsql

MODULE_NAME = 'backup'


# the tables whose data pg_dump writes: ordinary tables outside the system schemas, not owned by an extension
TABLES_SQL = """
    SELECT n.nspname AS schema, c.relname AS name
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind = 'r' AND c.relpersistence <> 't'
       AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'
       AND NOT EXISTS (SELECT 1 FROM pg_depend d
                        WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
     ORDER BY 1, 2"""


class Failure(Exception):
    """A step failed; the message says which and what was left as it was."""


def existing_ancestor(path):
    path = os.path.abspath(path)
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def qualified_sql(schema, name):
    return pgsql.SQL('{}.{}').format(pgsql.Identifier(schema), pgsql.Identifier(name))


def row_counts(conn, tables):
    counts = {}
    for table in tables:
        counts['%s.%s' % (table['schema'], table['name'])] = int(fetch_value(
            conn, pgsql.SQL('SELECT count(*) FROM {}').format(qualified_sql(table['schema'], table['name']))))
    return counts


def fsync_path(path, directory=False):
    fd = os.open(path, os.O_RDONLY | (getattr(os, 'O_DIRECTORY', 0) if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1024 * 1024), b''):
            digest.update(chunk)
    return digest.hexdigest()


class Backup(object):
    def __init__(self, module, conn):
        self.module = module
        self.conn = conn
        self.params = module.params
        self.commands = []
        self.programs = {}

    def fail(self, msg, **extra):
        self.module.fail_json(msg=msg, changed=False, **jsonable(extra))

    # --- programs -------------------------------------------------------------------

    def pg_config_bindir(self):
        pg_config = self.module.get_bin_path('pg_config')
        if not pg_config:
            return None
        rc, out, dummy = self.module.run_command([pg_config, '--bindir'])
        return out.strip() if rc == 0 else None

    def find(self, program, server_major, override):
        found = []
        for path in candidate_paths(program, server_major, override=override, pg_config_bindir=self.pg_config_bindir()):
            if not (os.path.isfile(path) and os.access(path, os.X_OK)):
                continue
            rc, out, err = self.module.run_command([path, '--version'])
            version = parse_version(out or err) if rc == 0 else None
            found.append((path, version))
            if version and version[0] == server_major:
                break
        if override and not found:
            self.fail('no %s in %s (bindir); nothing was changed.' % (program, override))
        try:
            path, version, note = choose_pg_program(found, server_major, program)
        except ClientProgramError as e:
            self.fail('%s; nothing was changed.' % e)
        self.programs[program] = path
        self.programs[program + '_version'] = version_text(version)
        if note:
            self.module.warn(note)
        return path

    def run(self, args, env, what):
        self.commands.append(' '.join(args))
        rc, out, err = self.module.run_command(args, environ_update=env)
        if rc != 0:
            raise Failure('%s failed (exit %s): %s' % (what, rc, ' '.join((err or out or '').split())[:2000]))
        return out


def main():
    argument_spec = dict(
        dest=dict(type='path', required=True),
        prefix=dict(type='str'),
        keep=dict(type='int', default=7),
        verify=dict(type='str', default='list', choices=['list', 'restore']),
        compress=dict(type='int'),
        bindir=dict(type='path'),
        estimate_ratio=dict(type='float', default=0.5),
        reserve=dict(type='raw', default=0),
        min_interval=dict(type='raw', default=0),
    )
    argument_spec.update(write_argument_spec())
    module = prefect_module(argument_spec, supports_check_mode=True)
    p = module.params
    try:
        lock_timeout = parse_duration(p['lock_timeout'], 'lock_timeout')
        parse_duration(p['min_interval'], 'min_interval')
        reserve = parse_size(p['reserve'], 'reserve')
        if p['prefix'] is not None:
            bf.check_prefix(p['prefix'])
        if p['keep'] < 1:
            raise bf.BackupError('keep must be at least 1, not %d' % p['keep'])
        if p['compress'] is not None and not 0 <= p['compress'] <= 9:
            raise bf.BackupError('compress must be between 0 and 9, not %d' % p['compress'])
        bf.estimate_dump_bytes(0, ratio=p['estimate_ratio'])
    except (DurationError, SizeError, bf.BackupError) as e:
        module.fail_json(msg='%s; nothing was changed.' % e, changed=False)
    dest = os.path.abspath(p['dest'])
    if os.path.exists(dest) and not os.path.isdir(dest):
        module.fail_json(msg='dest %s exists and is not a directory; nothing was changed.' % dest, changed=False)

    conn = connect(module)
    try:
        with exclusive_run(module, conn, MODULE_NAME):
            run_backup(module, conn, dest, lock_timeout, reserve)
    except psycopg2.Error as e:
        module.fail_json(changed=False, msg='backup: the server refused a statement while planning: %s. '
                                            'Nothing was changed.' % server_error(e))
    finally:
        conn.close()


def recent_dump(dest, prefix, min_interval):
    """Why no new dump is due (the newest verified one is younger than min_interval), or None."""
    if not min_interval or not os.path.isdir(dest):
        return None
    newest = bf.newest_verified(prefix, os.listdir(dest))
    if not newest:
        return None
    name, when = newest
    age = (datetime.datetime.now(datetime.timezone.utc) - when).total_seconds()
    if age >= min_interval:
        return None
    return 'no new dump: %s is %s old, younger than min_interval %s' % (
        os.path.join(dest, name), format_duration(age), format_duration(min_interval))


def run_backup(module, conn, dest, lock_timeout, reserve):
    p = module.params
    backup = Backup(module, conn)
    set_session_timeouts(conn, lock_timeout=lock_timeout)
    info = table_stats.server_info(conn)
    dbname = info['database']
    prefix = p['prefix'] or dbname
    try:
        bf.check_prefix(prefix)
    except bf.BackupError as e:
        backup.fail('%s (the database name is the default prefix: set prefix); nothing was changed.' % e)
    try:
        env = libpq_environment(build_connect_kwargs(p), 'pg_dump')
    except ClientProgramError as e:
        backup.fail('%s; nothing was changed.' % e)
    env['PGDATABASE'] = dbname
    recent = recent_dump(dest, prefix, parse_duration(p['min_interval'], 'min_interval'))
    if recent:
        module.exit_json(changed=False, msg=recent, dump=None, skipped_dump=True)
    pg_dump = backup.find('pg_dump', info['server_major'], p['bindir'])
    pg_restore = backup.find('pg_restore', info['server_major'], p['bindir'] or os.path.dirname(pg_dump))

    # the space check, before anything starts
    sizes = table_stats.database_table_bytes(conn)
    estimate = bf.estimate_dump_bytes(int(sizes['table_bytes']), p['compress'], p['estimate_ratio'])
    free = free_bytes(existing_ancestor(dest))
    space = dict(table_bytes=int(sizes['table_bytes']), database_bytes=int(sizes['database_bytes']),
                 estimated_dump_bytes=estimate, free_bytes=free, reserve_bytes=reserve)
    refusal = bf.space_refusal(free, estimate, reserve, where=dest)
    if refusal:
        backup.fail('backup refused before starting: %s. Nothing was written and no dump was deleted.' % refusal,
                    space=space)
    notes = []
    if p['verify'] == 'restore':
        role = fetch_one(conn, 'SELECT rolsuper OR rolcreatedb AS can_create FROM pg_roles WHERE rolname = current_user')
        if not role['can_create']:
            backup.fail('verify=restore needs a login that may create the scratch database (CREATEDB); "%s" may not. '
                        'Nothing was changed.' % info['user'])
        server_free, why = local_free_bytes(table_stats.storage_location(conn))
        space['server_free_bytes'] = server_free
        if server_free is not None and server_free < int(sizes['database_bytes']):
            backup.fail('verify=restore refused before starting: the server\'s disk has %s free, less than the %s the '
                        'scratch copy of the database needs. Nothing was written.' % (
                            format_size(server_free), format_size(sizes['database_bytes'])), space=space)
        if server_free is None:
            notes.append('the server\'s free disk for the scratch restore was not checked: %s' % why)

    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    existing = os.listdir(dest) if os.path.isdir(dest) else []
    name = bf.dump_name(prefix, now, existing)
    path = os.path.join(dest, name)
    partial = os.path.join(dest, bf.partial_name(name))
    kept, deleted = bf.rotation(prefix, existing + [name], p['keep'])
    scratch = bf.scratch_database_name(dbname, now) if p['verify'] == 'restore' else None
    dump_args = [pg_dump, '--format=custom', '--no-password', '--file=%s' % partial]
    if p['compress'] is not None:
        dump_args.append('--compress=%d' % p['compress'])
    if lock_timeout:
        dump_args.append('--lock-wait-timeout=%d' % max(1, int(lock_timeout * 1000)))
    result = dict(
        dump=dict(path=path, bytes=None, sha256=None, sha256_path=os.path.join(dest, bf.checksum_name(name)),
                  verify=p['verify'], tables=None, rows=None, scratch_database=scratch, duration_seconds=None,
                  created=iso_utc(now)),
        space=space, rotation=dict(keep=p['keep'], kept=kept, deleted=deleted), programs=backup.programs,
        notes=notes,
    )
    if module.check_mode:
        result['commands'] = [' '.join(dump_args + ['--snapshot=<exported snapshot>'])]
        module.exit_json(changed=True, msg='would dump %s to %s (estimated %s, %s free) and %s' % (
            dbname, path, format_size(estimate), format_size(free),
            'delete %d older dump(s): %s' % (len(deleted), ', '.join(deleted)) if deleted else 'delete no older dump'),
            **jsonable(result))

    if not os.path.isdir(dest):
        os.makedirs(dest, 0o700)
    started = time.monotonic()
    snapshot_conn, digest, tables = None, None, []
    try:
        try:
            snapshot_conn = open_connection(p)
        except ConnectionFailure as e:
            raise Failure(str(e))
        # one snapshot for pg_dump and for the row counts the restore is compared with
        set_session_timeouts(snapshot_conn, lock_timeout=lock_timeout)
        execute(snapshot_conn, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
        snapshot = fetch_value(snapshot_conn, 'SELECT pg_export_snapshot()')
        tables = fetch_all(snapshot_conn, TABLES_SQL)
        # the file exists, private, before pg_dump writes into it
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        backup.run(dump_args + ['--snapshot=%s' % snapshot], env, 'pg_dump')
        source_counts = row_counts(snapshot_conn, tables) if p['verify'] == 'restore' else None
        execute(snapshot_conn, 'COMMIT')
        snapshot_conn.close()
        snapshot_conn = None

        listing = backup.run([pg_restore, '--list', partial], env, 'pg_restore --list')
        missing = bf.missing_from_listing([(t['schema'], t['name']) for t in tables], listing)
        if missing:
            raise Failure('the dump lacks the data of %s' % ', '.join('%s.%s' % t for t in missing))
        result['dump']['tables'] = len(tables)
        if scratch:
            result['dump']['rows'] = verify_by_restore(module, conn, backup, env, pg_restore, partial, scratch,
                                                       source_counts, info)

        digest = sha256_of(partial)
        fsync_path(partial)
        checksum = os.path.join(dest, bf.checksum_name(name))
        with open(checksum, 'w') as f:
            f.write(bf.checksum_line(digest, name))
            f.flush()
            os.fsync(f.fileno())
        os.rename(partial, path)
        fsync_path(dest, directory=True)
    except (Failure, psycopg2.Error, OSError, IOError) as e:
        if snapshot_conn is not None:
            snapshot_conn.close()
        if os.path.exists(partial):
            os.remove(partial)
        result['commands'] = backup.commands
        reason = server_error(e)
        module.fail_json(changed=False, msg='backup of %s failed: %s. The unverified dump was removed; older dumps are '
                                            'untouched.' % (dbname, reason), **jsonable(result))

    # only now, with the new dump verified, older ones go
    removed = []
    for old in deleted:
        for victim in (old, bf.checksum_name(old)):
            victim_path = os.path.join(dest, victim)
            if os.path.exists(victim_path):
                os.remove(victim_path)
        removed.append(old)
    result['rotation']['deleted'] = removed
    result['dump'].update(bytes=os.path.getsize(path), sha256=digest,
                          duration_seconds=round(time.monotonic() - started, 3))
    result['commands'] = backup.commands
    if scratch:
        verified = 'restored into %s with identical row counts (%s rows in %d tables)' % (
            scratch, result['dump']['rows'], len(tables))
    else:
        verified = 'listed %d tables' % len(tables)
    module.exit_json(changed=True, msg='dumped %s to %s (%s), %s; kept %d, deleted %d older dump(s)' % (
        dbname, path, format_size(result['dump']['bytes']), verified, len(kept), len(removed)), **jsonable(result))


def verify_by_restore(module, conn, backup, env, pg_restore, dump, scratch, source_counts, info):
    """Restore into a scratch database, compare row counts, drop it. Returns the rows compared."""
    source_db = fetch_one(conn, """
        SELECT pg_encoding_to_char(encoding) AS encoding, datcollate, datctype
          FROM pg_database WHERE datname = current_database()""")
    execute(conn, pgsql.SQL('CREATE DATABASE {} TEMPLATE template0 ENCODING {} LC_COLLATE {} LC_CTYPE {}').format(
        pgsql.Identifier(scratch), pgsql.Literal(source_db['encoding']), pgsql.Literal(source_db['datcollate']),
        pgsql.Literal(source_db['datctype'])))
    try:
        backup.run([pg_restore, '--no-password', '--exit-on-error', '--no-owner', '--no-privileges',
                    '--dbname=%s' % scratch, dump], dict(env, PGDATABASE=scratch), 'pg_restore into %s' % scratch)
        try:
            restored = open_connection(dict(module.params, login_db=scratch))
        except ConnectionFailure as e:
            raise Failure(str(e))
        try:
            restored_counts = row_counts(restored, fetch_all(restored, TABLES_SQL))
        finally:
            restored.close()
    finally:
        force = ' WITH (FORCE)' if info['server_version_num'] >= 130000 else ''
        execute(conn, pgsql.SQL('DROP DATABASE IF EXISTS {}' + force).format(pgsql.Identifier(scratch)))
    differences = bf.compare_counts(source_counts, restored_counts)
    if differences:
        raise Failure('the restore into %s differs: %s' % (scratch, '; '.join(differences[:20])))
    return sum(source_counts.values())


if __name__ == '__main__':
    main()
