#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: prefectdb.maintenance contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
---
module: info
short_description: Facts about a Prefect server's PostgreSQL database
version_added: 0.1.0
description:
  - Reads the server version, whether the server is a standby, the size of the Prefect database,
    the Prefect schema revision Prefect's migrations recorded in C(alembic_version), which of the
    Prefect tables this collection relies on exist, and which useful extensions are installed or
    available.
  - Read-only; it never changes anything and reports C(changed=false).
  - Any login that can connect can run it; no extra privilege is needed.
author:
  - prefectdb.maintenance developers (@prefectdb)
extends_documentation_fragment:
  - prefectdb.maintenance.connection
attributes:
  check_mode:
    support: full
    description: Nothing is ever changed, so check mode returns the same facts.
  diff_mode:
    support: none
    description: Nothing is ever changed.
options: {}
seealso:
  - module: prefectdb.maintenance.health
'''

EXAMPLES = r'''
- name: Describe the Prefect database
  prefectdb.maintenance.info:
    login_host: db.example.com
    login_user: prefect
    login_password: "{{ vault_prefect_db_password }}"
    login_db: prefect
  register: prefect_db

- name: Stop when this is not a Prefect database
  ansible.builtin.assert:
    that: prefect_db.prefect.is_prefect_database
    fail_msg: "Missing Prefect tables: {{ prefect_db.prefect.missing_tables }}"

- name: Set the connection once for every module of the collection
  module_defaults:
    group/prefectdb.maintenance.postgres: "{{ prefectdb_connection }}"
  block:
    - name: Describe the Prefect database
      prefectdb.maintenance.info:
'''

RETURN = r'''
server_version:
  description: The server's version string (C(server_version) setting).
  returned: always
  type: str
  sample: "15.18 (Debian 15.18-0+deb12u1)"
server_version_num:
  description: The server's version as a number (C(server_version_num)).
  returned: always
  type: int
  sample: 150018
server_major:
  description: The server's major version.
  returned: always
  type: int
  sample: 15
in_recovery:
  description: Whether the server is a standby (C(pg_is_in_recovery())); write modules refuse to run there.
  returned: always
  type: bool
  sample: false
database:
  description: The database connected to.
  returned: always
  type: dict
  contains:
    name:
      description: Database name.
      type: str
      sample: prefect
    size_bytes:
      description: Size on disk, from C(pg_database_size()).
      type: int
      sample: 1288490188
    encoding:
      description: Server encoding of the database.
      type: str
      sample: UTF8
connection:
  description: Who the module connected as.
  returned: always
  type: dict
  contains:
    user:
      description: The login role (C(current_user)).
      type: str
      sample: prefect
    is_superuser:
      description: Whether that role is a superuser.
      type: bool
      sample: false
    roles:
      description: Predefined monitoring and maintenance roles the login is a member of.
      type: list
      elements: str
      sample: [pg_monitor]
prefect:
  description: What of Prefect's schema is present.
  returned: always
  type: dict
  contains:
    schema_revision:
      description: Alembic revision of Prefect's migrations (C(alembic_version.version_num)), or null without that table
        or without SELECT on it.
      type: str
      sample: 91e2b8f3d6a4
    is_prefect_database:
      description: True when every table in RV(prefect.tables) exists.
      type: bool
      sample: true
    tables:
      description: Each Prefect table the collection relies on, and whether it exists on the search_path.
      type: dict
      sample: {"flow_run": true, "log": true, "events": true}
    missing_tables:
      description: The tables of RV(prefect.tables) that do not exist.
      type: list
      elements: str
      sample: []
    schema:
      description: The schema the C(flow_run) table was found in, or null.
      type: str
      sample: public
extensions:
  description: For pgstattuple, pg_repack and pg_stat_statements, whether each is installed in this database or available to install.
  returned: always
  type: dict
  sample:
    pgstattuple: {"installed": false, "installed_version": null, "available": true, "default_version": "1.5"}
    pg_repack: {"installed": false, "installed_version": null, "available": false, "default_version": null}
'''

from ansible_collections.prefectdb.maintenance.plugins.module_utils.connection import (
    connect, fetch_all, fetch_one, fetch_value, prefect_module,
)
from ansible_collections.prefectdb.maintenance.plugins.module_utils.prefect_schema import (
    PREFECT_TABLES, USEFUL_EXTENSIONS,
)


def server_facts(conn):
    row = fetch_one(conn, """
        SELECT current_setting('server_version') AS server_version,
               current_setting('server_version_num')::int AS server_version_num,
               pg_is_in_recovery() AS in_recovery,
               current_database() AS name,
               pg_database_size(current_database()) AS size_bytes,
               pg_encoding_to_char(d.encoding) AS encoding,
               current_user AS user,
               r.rolsuper AS is_superuser
          FROM pg_database d, pg_roles r
         WHERE d.datname = current_database() AND r.rolname = current_user""")
    roles = [r['rolname'] for r in fetch_all(conn, """
        SELECT rolname FROM pg_roles
         WHERE rolname IN ('pg_monitor', 'pg_read_all_stats', 'pg_read_all_settings', 'pg_stat_scan_tables',
                           'pg_read_all_data', 'pg_maintain', 'pg_signal_backend')
           AND pg_has_role(current_user, oid, 'USAGE')
         ORDER BY rolname""")]
    return {
        'server_version': row['server_version'],
        'server_version_num': row['server_version_num'],
        'server_major': row['server_version_num'] // 10000,
        'in_recovery': row['in_recovery'],
        'database': {'name': row['name'], 'size_bytes': int(row['size_bytes']), 'encoding': row['encoding']},
        'connection': {'user': row['user'], 'is_superuser': bool(row['is_superuser']), 'roles': roles},
    }


def prefect_facts(conn):
    found = dict((r['name'], r['schema']) for r in fetch_all(conn, """
        SELECT t.name, n.nspname AS schema
          FROM unnest(%s::text[]) AS t(name)
          JOIN pg_class c ON c.oid = to_regclass(quote_ident(t.name))
          JOIN pg_namespace n ON n.oid = c.relnamespace""", (list(PREFECT_TABLES) + ['alembic_version'],)))
    revision = None
    # any login may run this module: without SELECT on alembic_version the revision is unknown, not an error
    if 'alembic_version' in found and fetch_value(conn, "SELECT has_table_privilege('alembic_version', 'SELECT')"):
        revision = fetch_value(conn, 'SELECT version_num FROM alembic_version LIMIT 1')
    tables = dict((name, name in found) for name in PREFECT_TABLES)
    missing = [name for name in PREFECT_TABLES if not tables[name]]
    return {
        'schema_revision': revision,
        'is_prefect_database': not missing,
        'tables': tables,
        'missing_tables': missing,
        'schema': found.get('flow_run'),
    }


def extension_facts(conn):
    rows = dict((r['name'], r) for r in fetch_all(conn, """
        SELECT a.name, a.default_version, e.extversion AS installed_version
          FROM pg_available_extensions a
          LEFT JOIN pg_extension e ON e.extname = a.name
         WHERE a.name = ANY(%s)""", (list(USEFUL_EXTENSIONS),)))
    facts = {}
    for name in USEFUL_EXTENSIONS:
        row = rows.get(name) or {}
        facts[name] = {
            'installed': row.get('installed_version') is not None,
            'installed_version': row.get('installed_version'),
            'available': name in rows,
            'default_version': row.get('default_version'),
        }
    return facts


def main():
    module = prefect_module(argument_spec={}, supports_check_mode=True)
    conn = connect(module)
    try:
        result = server_facts(conn)
        result['prefect'] = prefect_facts(conn)
        result['extensions'] = extension_facts(conn)
    finally:
        conn.close()
    prefect = result['prefect']
    if prefect['is_prefect_database']:
        msg = 'Prefect database %s (%d bytes), schema revision %s, PostgreSQL %s%s' % (
            result['database']['name'], result['database']['size_bytes'],
            prefect['schema_revision'] or 'unknown (no SELECT on alembic_version)',
            result['server_version'], ', standby' if result['in_recovery'] else '')
    else:
        msg = 'database %s lacks Prefect tables: %s' % (result['database']['name'], ', '.join(prefect['missing_tables']))
    module.exit_json(changed=False, msg=msg, **result)


if __name__ == '__main__':
    main()
