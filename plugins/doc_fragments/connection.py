# -*- coding: utf-8 -*-
# Copyright: prefectdb.maintenance contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    # The connection options every module of the collection takes. Names follow
    # community.postgresql so a play can reuse its variables.
    DOCUMENTATION = r'''
options:
  login_host:
    description:
      - Host running the Prefect database.
      - A value starting with C(/) is a directory holding the server's Unix socket.
      - When unset, C(PGHOST) is used; when that is unset too, libpq's default (the local Unix socket).
      - Put the connection in one inventory variable and hand it to C(module_defaults) for the
        C(group/prefectdb.maintenance.postgres) action group, as the collection's playbooks do.
    type: str
    aliases: [ host ]
  login_port:
    description:
      - Database port to connect to.
      - When unset, C(PGPORT) is used, else C(5432).
    type: int
    aliases: [ port ]
  login_user:
    description:
      - The role to log in as.
      - When unset, C(PGUSER) is used, then a C(PGSERVICE) definition, else C(postgres).
    type: str
    aliases: [ login ]
  login_password:
    description:
      - The password of O(login_user).
      - When unset, C(PGPASSWORD) is used, then libpq's password file (C(~/.pgpass) or C(PGPASSFILE)).
      - Never logged and never part of a result or an error message.
    type: str
  login_db:
    description:
      - Name of the Prefect database.
      - When unset, C(PGDATABASE) is used, then a C(PGSERVICE) definition, else C(prefect).
    type: str
    aliases: [ db ]
  login_unix_socket:
    description:
      - Directory of the server's Unix socket, for local connections. Takes precedence over O(login_host).
    type: str
    aliases: [ unix_socket ]
  ssl_mode:
    description:
      - Whether and how an SSL connection is negotiated, as libpq's C(sslmode).
      - When unset, C(PGSSLMODE) is used, else libpq's default C(prefer).
      - See U(https://www.postgresql.org/docs/current/libpq-ssl.html).
    type: str
    choices: [ allow, disable, prefer, require, verify-ca, verify-full ]
  ca_cert:
    description:
      - File of SSL certificate authority certificates. With O(ssl_mode=verify-ca) or O(ssl_mode=verify-full)
        the server certificate must be signed by one of them.
    type: str
    aliases: [ ssl_rootcert ]
  ssl_cert:
    description:
      - File of the client SSL certificate.
    type: path
  ssl_key:
    description:
      - File of the secret key of O(ssl_cert).
    type: path
  connect_params:
    description:
      - Further libpq connection parameters (for example C(connect_timeout), C(service), C(options)).
      - Keys already given by the options above are overridden by these.
      - C(PGSERVICE) and the other libpq environment variables apply as usual for what neither sets.
    type: dict
    default: {}
notes:
  - The module connects with C(application_name=prefectdb.maintenance), so its sessions are easy to find in C(pg_stat_activity).
  - Connections time out after 10 seconds unless C(PGCONNECT_TIMEOUT) or C(connect_timeout) in O(connect_params) says otherwise.
requirements:
  - psycopg2 (or psycopg2-binary) on the host that runs the module
'''
