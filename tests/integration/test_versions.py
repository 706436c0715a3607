"""What differs between PostgreSQL majors, checked on whichever major the test cluster runs
(`make test-matrix` runs this file on 15, 17 and 18; docs/compatibility.md): the reloption
catalogue against the server's own, the VACUUM options the vacuum module sends, the privilege
warnings VACUUM words differently from 16 on, MAINTAIN and pg_maintain from 17, and the Prefect
schema built by Prefect's own migrations on this major."""
import os
import re
import subprocess
import time
import uuid

import psycopg2
import pytest
from psycopg2 import sql

from ansible_collections.prefectdb.maintenance.plugins.module_utils.prefect_schema import PREFECT_TABLES
from ansible_collections.prefectdb.maintenance.plugins.module_utils.reloptions import (
    RELOPTIONS, TOAST_PREFIX, catalogue,
)
from testbed import REPO, root_major


def server_version_num(cluster):
    return int(cluster.sql('postgres', 'SHOW server_version_num')[0][0])


def major_of(cluster):
    return server_version_num(cluster) // 10000


def test_the_server_is_the_major_under_test_and_new_enough_for_prefect(cluster):
    """A cluster of another major left running on the port would otherwise pass for this one."""
    version = subprocess.run([os.path.join(cluster.bindir, 'postgres'), '--version'], check=True,
                             capture_output=True, text=True).stdout
    binaries_major = int(re.search(r'\(PostgreSQL\) (\d+)', version).group(1))
    assert major_of(cluster) == binaries_major, version
    if os.environ.get('PREFECTDB_PG_ROOT'):
        assert major_of(cluster) == root_major(os.environ['PREFECTDB_PG_ROOT'])
    assert server_version_num(cluster) >= 140009  # Prefect 3 needs 14.9 or later


# --- Prefect's migrations on this major ---------------------------------------------------

def prefect_migration_heads():
    """The head revision(s) of Prefect's PostgreSQL migrations, from the pinned Prefect's own scripts."""
    python = os.path.join(REPO, '.venv-prefect', 'bin', 'python')
    code = ("import os, prefect\n"
            "from alembic.script import ScriptDirectory\n"
            "base = os.path.join(os.path.dirname(prefect.__file__), 'server', 'database', '_migrations')\n"
            "print(' '.join(ScriptDirectory(base, version_locations=[os.path.join(base, 'versions', 'postgresql')])"
            ".get_heads()))\n")
    return subprocess.run([python, '-c', code], check=True, capture_output=True, text=True).stdout.split()


def test_prefect_migrations_build_the_whole_schema_on_this_major(cluster, prefect_db, module_runner):
    heads = prefect_migration_heads()
    assert len(heads) == 1, heads
    r = module_runner('info', dbname=prefect_db).result
    assert r['failed'] is False, r.get('msg')
    assert r['server_major'] == major_of(cluster)
    assert r['prefect']['schema_revision'] == heads[0]
    assert r['prefect']['is_prefect_database'] is True
    invalid = cluster.sql(prefect_db, """
        SELECT i.indexrelid::regclass::text FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
         WHERE c.relnamespace = 'public'::regnamespace AND NOT (i.indisvalid AND i.indisready)""")
    assert invalid == []
    unvalidated = cluster.sql(prefect_db, """
        SELECT conname FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND NOT convalidated""")
    assert unvalidated == []
    tables = set(name for (name,) in cluster.sql(prefect_db, """
        SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p')"""))
    assert set(PREFECT_TABLES) <= tables


# --- reloptions: the autovacuum module's catalogue against the server's --------------------

def refusal(cur, key, value):
    """None when the server takes `key = value` on the scratch table, else its message (rolled back)."""
    cur.execute('SAVEPOINT probe')
    try:
        cur.execute(sql.SQL('ALTER TABLE reloption_probe SET ({} = {})').format(sql.SQL(key), sql.Literal(str(value))))
        return None
    except psycopg2.Error as e:
        return e.diag.message_primary
    finally:
        cur.execute('ROLLBACK TO SAVEPOINT probe')


@pytest.fixture
def probe(cluster, prefect_db):
    """A cursor in an open transaction with a scratch table that has a TOAST table."""
    conn = cluster.connect(prefect_db, autocommit=False)
    cur = conn.cursor()
    cur.execute('CREATE TABLE reloption_probe (id int PRIMARY KEY, body text)')
    yield cur
    conn.rollback()
    conn.close()


def values_around(option):
    """([values the server must take], [values it must refuse]) for one storage parameter."""
    if option.kind == 'bool':
        return ['true', 'false'], ['maybe']
    if option.kind == 'enum':
        return sorted(option.choices), ['sometimes']
    step = 1 if option.kind == 'int' else 0.001
    if option.maximum is None:  # toast_tuple_target outside catalogue(): its bound depends on the block size
        return [option.minimum], [option.minimum - step]
    return [option.minimum, option.maximum], [option.minimum - step, option.maximum + step]


def test_every_reloption_the_catalogue_knows_for_this_major_takes_exactly_its_range(cluster, probe):
    version = server_version_num(cluster)
    block_size = int(cluster.sql('postgres', 'SHOW block_size')[0][0])
    known = catalogue(version, block_size)
    assert 'autovacuum_vacuum_scale_factor' in known and 'toast.autovacuum_enabled' in known
    problems = []
    for key, option in known.items():
        good, bad = values_around(option)
        for value in good:
            message = refusal(probe, key, value)
            if message:
                problems.append('%s = %s refused: %s' % (key, value, message))
        for value in bad:
            if refusal(probe, key, value) is None:
                problems.append('%s = %s taken, outside the catalogue\'s range' % (key, value))
    assert problems == []


def test_reloptions_of_other_majors_and_on_the_wrong_table_are_refused_by_this_server(cluster, probe):
    known = catalogue(server_version_num(cluster), int(cluster.sql('postgres', 'SHOW block_size')[0][0]))
    problems = []
    for option in RELOPTIONS:
        for key in (option.name, TOAST_PREFIX + option.name):
            if key in known:
                continue
            heap_only = key.startswith(TOAST_PREFIX) and option.name in known
            message = refusal(probe, key, values_around(option)[0][0])
            if message is None or not message.startswith('unrecognized parameter'):
                problems.append('%s (%s): %s' % (key, 'heap only' if heap_only else 'other majors', message))
    assert problems == []


def test_every_vacuum_setting_this_server_also_takes_per_table_is_in_the_catalogue(cluster, probe):
    """A new major adding a storage parameter named like its setting (18: autovacuum_vacuum_max_threshold,
    vacuum_max_eager_freeze_failure_rate, vacuum_truncate) fails here until the catalogue knows it."""
    known = catalogue(server_version_num(cluster), int(cluster.sql('postgres', 'SHOW block_size')[0][0]))
    settings = cluster.sql('postgres', """
        SELECT name, setting FROM pg_settings
         WHERE name LIKE 'autovacuum%' OR name LIKE 'vacuum%' OR name = 'log_autovacuum_min_duration'
         ORDER BY name""")
    taken = []
    for name, setting in settings:
        message = refusal(probe, name, setting)
        if message is None or not message.startswith('unrecognized parameter'):
            taken.append(name)
    assert 'autovacuum_vacuum_scale_factor' in taken and 'log_autovacuum_min_duration' in taken
    assert [name for name in taken if name not in known] == []


PG18_OPTIONS = {'autovacuum_vacuum_max_threshold': 50000, 'vacuum_max_eager_freeze_failure_rate': 0.05}


def test_the_autovacuum_module_sets_postgresql_18_parameters_only_where_the_server_has_them(
        cluster, prefect_db, module_runner):
    version = server_version_num(cluster)
    before = cluster.fingerprint(prefect_db)
    r = module_runner('autovacuum', {'tables': {'log': dict(PG18_OPTIONS)}}, dbname=prefect_db).result
    if version >= 180000:
        assert r['failed'] is False, r['msg']
        assert r['changed'] is True
        heap = dict(o.split('=', 1) for o in cluster.sql(prefect_db, "SELECT reloptions FROM pg_class "
                                                                     "WHERE oid = 'log'::regclass")[0][0])
        assert heap == {'autovacuum_vacuum_max_threshold': '50000', 'vacuum_max_eager_freeze_failure_rate': '0.05'}
        again = module_runner('autovacuum', {'tables': {'log': dict(PG18_OPTIONS)}}, dbname=prefect_db).result
        assert again['failed'] is False and again['changed'] is False
    else:
        assert r['failed'] is True and r['changed'] is False
        server = '%d.%d' % (version // 10000, version % 10000)
        for key in PG18_OPTIONS:
            assert '%s: needs PostgreSQL 18 or later; the server is %s' % (key, server) in r['msg'], r['msg']
        assert cluster.fingerprint(prefect_db) == before


# --- VACUUM: the options the vacuum module sends, and who may vacuum ---------------------

def table_stat(cluster, db, table='log'):
    return cluster.sql(db, 'SELECT vacuum_count, analyze_count FROM pg_stat_user_tables WHERE relname = %s',
                       (table,))[0]


def wait_for_counts(cluster, db, wanted, table='log', timeout=10):
    """The module's backend flushes its statistics as its session ends, a moment after the run."""
    deadline = time.monotonic() + timeout
    while True:
        got = table_stat(cluster, db, table)
        if got == wanted or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def test_every_vacuum_option_the_module_offers_runs_on_this_major(cluster, history_db, module_runner):
    vacuums, analyzes = table_stat(cluster, history_db)
    args = {'tables': ['log'], 'mode': 'vacuum_analyze', 'parallel': 1, 'index_cleanup': 'auto',
            'process_toast': True}
    r = module_runner('vacuum', args, dbname=history_db).result
    assert r['failed'] is False, r['msg']
    entry = r['tables'][0]
    assert entry['status'] == 'done', entry
    assert entry['statement'] == ('VACUUM (ANALYZE, PARALLEL 1, INDEX_CLEANUP AUTO, PROCESS_TOAST TRUE, SKIP_LOCKED) '
                                  '"public"."log"')
    assert wait_for_counts(cluster, history_db, (vacuums + 1, analyzes + 1)) == (vacuums + 1, analyzes + 1)

    r = module_runner('vacuum', {'tables': ['log'], 'mode': 'full', 'allow_full': True, 'process_toast': True},
                      dbname=history_db).result
    assert r['failed'] is False, r['msg']
    assert r['tables'][0]['statement'] == 'VACUUM (FULL, PROCESS_TOAST TRUE, SKIP_LOCKED) "public"."log"'


@pytest.fixture
def login(cluster, history_db):
    """A login that owns nothing, may connect and read Prefect's tables; dropped afterwards."""
    name = 'versions_%s' % uuid.uuid4().hex[:8]
    password = uuid.uuid4().hex
    cluster.sql('postgres', 'CREATE ROLE %s LOGIN PASSWORD %%s' % name, (password,))
    cluster.sql(history_db, 'GRANT SELECT ON ALL TABLES IN SCHEMA public TO %s' % name)
    yield name, cluster.connection_args(history_db, user=name, password=password)
    cluster.sql(history_db, 'DROP OWNED BY %s' % name)
    cluster.sql('postgres', 'DROP ROLE %s' % name)


def test_a_table_vacuum_skips_for_lack_of_privilege_fails_in_the_words_of_this_major(
        cluster, history_db, module_runner, login):
    name, connection = login
    before = table_stat(cluster, history_db)
    r = module_runner('vacuum', {'tables': ['log'], 'mode': 'vacuum_analyze'}, connection=connection).result
    assert r['failed'] is True and r['changed'] is False, r
    entry = r['tables'][0]
    assert entry['status'] == 'failed'
    if major_of(cluster) >= 16:
        assert entry['message'].startswith('permission denied to vacuum "log", skipping it: ')
    else:
        assert entry['message'].startswith('skipping "log" --- only table or database owner can vacuum it: ')
    assert ('MAINTAIN privilege' in entry['message']) == (major_of(cluster) >= 17)
    assert 'the failed ones are as before' in r['msg']
    time.sleep(0.5)
    assert table_stat(cluster, history_db) == before


def require_maintain(cluster):
    if major_of(cluster) < 17:
        pytest.skip('MAINTAIN and pg_maintain exist from PostgreSQL 17 on; the server is %d' % major_of(cluster))


def test_maintain_on_a_table_lets_a_login_vacuum_it_from_17(cluster, history_db, module_runner, login):
    require_maintain(cluster)
    name, connection = login
    cluster.sql(history_db, 'GRANT MAINTAIN ON TABLE log TO %s' % name)
    vacuums, analyzes = table_stat(cluster, history_db)
    r = module_runner('vacuum', {'tables': ['log'], 'mode': 'vacuum_analyze'}, connection=connection).result
    assert r['failed'] is False, r['msg']
    assert r['tables'][0]['status'] == 'done'
    assert wait_for_counts(cluster, history_db, (vacuums + 1, analyzes + 1)) == (vacuums + 1, analyzes + 1)
    # MAINTAIN is not ownership: storage parameters still need the owner
    r = module_runner('autovacuum', {'tables': {'log': {'autovacuum_vacuum_scale_factor': 0.05}}},
                      connection=connection).result
    assert r['failed'] is True and 'may not alter public.log' in r['msg'], r['msg']


def test_pg_maintain_lets_a_login_rebuild_an_index_concurrently_from_17(cluster, history_db, module_runner, login):
    require_maintain(cluster)
    name, connection = login
    cluster.sql('postgres', 'GRANT pg_maintain TO %s' % name)
    info = module_runner('info', connection=connection).result
    assert 'pg_maintain' in info['connection']['roles']
    oid = cluster.sql(history_db, "SELECT pg_relation_filenode('ix_log__level')")[0][0]
    r = module_runner('reindex', {'indexes': ['ix_log__level']}, connection=connection).result
    assert r['failed'] is False, r['msg']
    assert cluster.sql(history_db, "SELECT pg_relation_filenode('ix_log__level')")[0][0] != oid
    assert cluster.sql(history_db, "SELECT indisvalid FROM pg_index WHERE indexrelid = 'ix_log__level'::regclass") == [
        (True,)]


# --- health: autovacuum's trigger as this major computes it ----------------------------

def test_health_reports_the_dead_rows_trigger_autovacuum_uses_on_this_major(cluster, history_db, module_runner):
    """PostgreSQL 18 caps threshold + scale_factor * reltuples at autovacuum_vacuum_max_threshold."""
    version = server_version_num(cluster)
    options = 'autovacuum_vacuum_threshold = 50, autovacuum_vacuum_scale_factor = 0.2'
    if version >= 180000:
        options += ', autovacuum_vacuum_max_threshold = 100'
    cluster.sql(history_db, 'ALTER TABLE log SET (%s)' % options)
    cluster.sql(history_db, 'ANALYZE log')
    reltuples = cluster.sql(history_db, "SELECT reltuples FROM pg_class WHERE oid = 'log'::regclass")[0][0]
    assert 50 + 0.2 * reltuples > 100  # the cap matters for this table
    r = module_runner('health', {'checks': ['autovacuum']}, dbname=history_db).result
    assert r['failed'] is False, r['msg']
    facts = r['facts']['autovacuum']
    log = next(t for t in facts['tables'] if t['qualified'] == 'public.log')
    expected = int(min(50 + 0.2 * reltuples, 100) if version >= 180000 else 50 + 0.2 * reltuples)
    assert log['vacuum_dead_rows_trigger'] == expected
    assert ('autovacuum_vacuum_max_threshold' in facts['settings']) == (version >= 180000)


# --- health: checkpoint statistics from the view of this major ---------------------------------

def checkpoint_counts(cluster, version):
    """(timed, requested) as the server counts them, from the view of its major."""
    if version >= 170000:
        return tuple(cluster.sql('postgres', 'SELECT num_timed, num_requested FROM pg_stat_checkpointer')[0])
    return tuple(cluster.sql('postgres', 'SELECT checkpoints_timed, checkpoints_req FROM pg_stat_bgwriter')[0])


def test_health_reads_checkpoint_statistics_from_the_view_of_this_major(cluster, history_db, module_runner):
    """pg_stat_checkpointer from 17 (num_timed, num_requested), pg_stat_bgwriter before
    (checkpoints_timed, checkpoints_req); a CHECKPOINT command counts as requested."""
    version = server_version_num(cluster)
    r = module_runner('health', {'checks': ['checkpoints']}, dbname=history_db).result
    assert r['failed'] is False, r['msg']
    assert r['checks'] == ['checkpoints']
    facts = r['facts']['checkpoints']
    assert facts['source'] == ('pg_stat_checkpointer' if version >= 170000 else 'pg_stat_bgwriter')
    for key in ('timed', 'requested', 'write_ms', 'sync_ms', 'buffers_written', 'max_wal_size', 'checkpoint_timeout'):
        assert isinstance(facts[key], int) and not isinstance(facts[key], bool) and facts[key] >= 0, (key, facts)
    total = facts['timed'] + facts['requested']
    assert facts['requested_percent'] == (round(100.0 * facts['requested'] / total, 2) if total else None)
    assert facts['stats_reset'] is None or facts['stats_reset'].endswith('Z')
    assert facts['max_wal_size'] == cluster.sql(
        'postgres', "SELECT pg_size_bytes(current_setting('max_wal_size'))")[0][0]
    assert facts['checkpoint_timeout'] == int(cluster.sql(
        'postgres', "SELECT setting FROM pg_settings WHERE name = 'checkpoint_timeout'")[0][0])
    assert isinstance(facts['checkpoint_completion_target'], float)
    assert [f['id'] for f in r['findings']] == ['checkpoints_requested']

    for dummy in range(2):
        cluster.sql('postgres', 'CHECKPOINT')
    # the checkpointer reports its counters after the command has returned
    deadline = time.time() + 15
    while checkpoint_counts(cluster, version)[1] < facts['requested'] + 2 and time.time() < deadline:
        time.sleep(0.2)
    after = module_runner('health', {'checks': ['checkpoints']}, dbname=history_db).result
    assert after['failed'] is False, after['msg']
    assert after['facts']['checkpoints']['requested'] >= facts['requested'] + 2, (facts, after['facts'])
    assert after['facts']['checkpoints']['timed'] >= facts['timed']
