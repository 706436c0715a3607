"""What the benchmark scripts share: superuser connections to the benchmark cluster and
the play that runs one of the collection's modules against a database of it.

Importing it also puts tests/integration (testbed, prefect_reference) and the built
collection (.build/collections, made by `make venv`) on sys.path.
"""
import os
import sys

import psycopg2

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
for _path in (os.path.join(REPO, 'tests', 'integration'), os.path.join(REPO, '.build', 'collections')):
    if _path not in sys.path:
        sys.path.insert(0, _path)

# The clusters of scripts/pgcluster.sh: superuser postgres with this password over TCP.
PASSWORD = os.environ.get('PREFECTDB_PG_PASSWORD') or os.environ.get('PGPASSWORD') or 'prefectdb-local'
MODULE_GROUP = 'group/prefectdb.maintenance.postgres'

from testbed import run_once  # noqa: E402  pylint: disable=wrong-import-position


def connect(port, dbname, host='127.0.0.1', application_name='prefectdb bench'):
    """An autocommit superuser connection; application_name tells the harness's sessions apart."""
    conn = psycopg2.connect(host=host, port=port, user='postgres', password=PASSWORD, dbname=dbname,
                            application_name=application_name)
    conn.autocommit = True
    return conn


def sql(port, dbname, statement, params=None, host='127.0.0.1'):
    """Run one statement on a connection of its own; rows for a query, else None."""
    return run_once(connect(port, dbname, host=host), statement, params)


def login(port, dbname, host='127.0.0.1'):
    """The modules' connection options for a database of the cluster."""
    return {'login_host': host, 'login_port': port, 'login_user': 'postgres', 'login_password': PASSWORD,
            'login_db': dbname}


def dsn(port, dbname, host='127.0.0.1'):
    """A libpq connection string for a database of the cluster (the load generator's, the floor's)."""
    return 'host=%s port=%d dbname=%s user=postgres password=%s' % (host, port, dbname, PASSWORD)


def prefect_database_url(port, dbname, host='127.0.0.1'):
    """PREFECT_API_DATABASE_CONNECTION_URL for Prefect's server and its vacuum functions."""
    return 'postgresql+asyncpg://postgres:%s@%s:%d/%s' % (PASSWORD, host, port, dbname)


def module_play(port, dbname, tasks, host='127.0.0.1'):
    """One play on localhost running tasks with the connection set for the postgres action group."""
    return {'hosts': 'all', 'gather_facts': False, 'module_defaults': {MODULE_GROUP: login(port, dbname, host)},
            'tasks': tasks}
