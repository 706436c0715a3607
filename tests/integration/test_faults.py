"""Faults: the retention module SIGKILLed at seeded random points, its connection cut, the
server restarted under it; REINDEX CONCURRENTLY and pg_repack interrupted. After every
fault the database holds no log, artifact or event_resources row orphaned by one of our
own batches (every batch is atomic), and the next run completes."""
import os
import random
import shutil
import tempfile
import time

import pytest

from reliability import (ModuleProcess, invalid_indexes, module_backends, new_orphans, orphans, run_module_process,
                         wait_for_no_backend, wait_until)
from testbed import ThrowawayCluster, copy_database

SEED = 20260101
KILLS = 20
NOW = '2026-01-01T00:00:00Z'
# small batches, so a run of the 2,000-run history takes a few seconds and a kill lands mid-run
RETENTION = {'enabled': ['events', 'flow_runs'], 'now': NOW, 'retention_period': '30d', 'batch_size': 20,
             'max_batch_size': 50, 'target_batch_seconds': 0.02}
# the throwaway cluster's first port to try, from the test cluster's (54330: 54350)
THROWAWAY_PORT_OFFSET = 20


def retention_args(cluster, dbname, **extra):
    args = dict(cluster.connection_args(dbname), **RETENTION)
    args.update(extra)
    return args


def state_after_clean_run(cluster, template):
    """The fingerprint an uninterrupted run leaves."""
    db = cluster.clone(template)
    try:
        result = run_module_process('retention', retention_args(cluster, db))
        assert result['status'] == 'finished' and result['changed'], result.get('msg')
        assert result['deleted']['flow_run'] > 1000 and result['deleted']['event_resources'] > 10000
        return cluster.fingerprint(db)
    finally:
        cluster.drop(db)


def in_transaction(cluster, dbname):
    return [b for b in module_backends(cluster, dbname) if b[2]]


# what the statements of a batch look like, per cleanup phase
PHASES = {
    'orphans': ('x.flow_run_id = ANY',),
    'flow_runs': ('state_type IN', 'DELETE FROM log WHERE', 'DELETE FROM artifact WHERE', 'DELETE FROM flow_run',
                  'pg_stat_get_xact_tuples_deleted'),
    'collections': ('artifact_collection',),
    'events': ('DELETE FROM events', 'DELETE FROM event_resources'),
}


def phase_of(query):
    for phase, markers in PHASES.items():
        if any(marker in (query or '') for marker in markers):
            return phase
    return 'other'


def connection_lost(msg):
    # libpq says either, depending on whether it read the server's last words
    return 'terminating connection' in msg or 'server closed the connection unexpectedly' in msg


def start_and_wait_for_batch(cluster, dbname, args, phase=None, timeout=30):
    """Start the module and return once its session is inside a transaction (of `phase`:
    a word of the statement, e.g. flow_run or events)."""
    proc = ModuleProcess('retention', args)

    def busy():
        if not proc.running():
            raise AssertionError('the module ended before the fault: %s %s' % (proc.finish(), proc.stdout))
        return [b for b in in_transaction(cluster, dbname) if phase is None or phase_of(b[3]) == phase]
    wait_until(busy, timeout=timeout, interval=0.01, what='a retention batch%s' % (' on %s' % phase if phase else ''))
    return proc


def test_retention_killed_at_random_points_leaves_no_orphans_and_the_rerun_completes(cluster, history_template):
    """SIGKILL runs at seeded random moments after they connect, one after the other on the same database
    (each resumes what the killed ones left), half of them at the first moment after the
    delay when a batch transaction is open. A fresh database comes when a run got to the
    end before its kill; each database is finished by a rerun and must then hold exactly
    what an uninterrupted run leaves."""
    rng = random.Random(SEED)
    expected = state_after_clean_run(cluster, history_template)
    kills, mid_transaction, phases, databases, attempts = 0, 0, set(), 0, 0
    while kills < KILLS:
        databases += 1
        runs_on_database = 0
        db = cluster.clone(history_template)
        try:
            planted = orphans(cluster, db)
            assert planted['log'] and planted['artifact'], 'the synthetic history plants orphans to find'
            while kills < KILLS:
                attempts += 1
                assert attempts < 3 * KILLS, 'too few runs could be interrupted (%d kills)' % kills
                first_on_database = runs_on_database == 0
                runs_on_database += 1
                proc = ModuleProcess('retention', retention_args(cluster, db))
                # the delay counts from the module's connection, not its start (slow on a busy machine)
                wait_until(lambda: module_backends(cluster, db) or not proc.running(), timeout=60, interval=0.01)
                delay = rng.uniform(0.0, 1.4)
                inside_batch = rng.random() < 0.5
                if first_on_database:
                    # the flow-run batches are a short part of a run: the first kill lands as soon as
                    # one is seen (a second look can already find the next batch's first statement)
                    delay = 0.0
                    sessions = wait_until(lambda: [b for b in in_transaction(cluster, db)
                                                   if phase_of(b[3]) == 'flow_runs'] or not proc.running(),
                                          timeout=30, interval=0.005)
                    if sessions is True:
                        sessions = []  # the run ended before a flow-run batch was seen
                else:
                    time.sleep(delay)
                    if inside_batch:
                        # half of the later kills wait for the first moment the run is inside a batch
                        wait_until(lambda: in_transaction(cluster, db) or not proc.running(), timeout=10,
                                   interval=0.005)
                    sessions = module_backends(cluster, db)
                if proc.kill() != -9:
                    break  # the run got to the end: nothing was interrupted, on to a new database
                if not sessions:
                    continue  # killed before it connected
                kills += 1
                busy = [s for s in sessions if s[2]]
                if busy:
                    mid_transaction += 1
                    phases.add(phase_of(busy[0][3]))
                wait_for_no_backend(cluster, db)
                made = new_orphans(cluster, db, planted)
                assert not made, 'kill %d (database %d, %.2fs in, %s): rows orphaned by our own batch: %s' % (
                    kills, databases, delay, busy and busy[0][3][:120], made)
                assert not invalid_indexes(cluster, db)
            rerun = run_module_process('retention', retention_args(cluster, db))
            assert not rerun.get('failed') and rerun['status'] == 'finished', rerun.get('msg')
            assert not new_orphans(cluster, db, planted)
            assert cluster.fingerprint(db) == expected, 'after kills and a rerun the data differs from a clean run'
        finally:
            cluster.drop(db)
    print('kills %d, mid-batch %d, phases %s, databases %d, attempts %d' % (kills, mid_transaction, sorted(phases), databases, attempts))
    assert mid_transaction >= KILLS // 4, 'only %d kills landed inside a batch' % mid_transaction
    assert {'flow_runs', 'events'} <= phases, 'kills landed in %s only' % sorted(phases)


def test_retention_connection_cut_fails_clearly_and_the_rerun_completes(cluster, history_db, module_runner):
    """pg_terminate_backend of the module's session (found by application_name) in the
    flow-run batches, then in the event batches: a clear failure each time, then a rerun
    (through ansible-playbook) that finishes and a last one that finds nothing."""
    planted = orphans(cluster, history_db)
    for phase in ('flow_runs', 'events'):
        proc = start_and_wait_for_batch(cluster, history_db, retention_args(cluster, history_db), phase=phase)
        cluster.sql('postgres', 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity'
                                ' WHERE application_name = %s AND datname = %s', ('prefectdb.maintenance', history_db))
        assert proc.finish() == 1
        result = proc.result
        assert result['failed'] and connection_lost(result['msg']), result['msg']
        assert 'the batches committed before it stay deleted' in result['msg']
        wait_for_no_backend(cluster, history_db)
        assert not new_orphans(cluster, history_db, planted)
    rerun = module_runner('retention', RETENTION, dbname=history_db)
    assert rerun.result['status'] == 'finished' and rerun.result['changed'], rerun.result.get('msg')
    assert not new_orphans(cluster, history_db, planted)
    assert run_module_process('retention', retention_args(cluster, history_db))['changed'] is False


# --- a throwaway cluster of this module's own, to restart and crash --------------------

@pytest.fixture(scope='module')
def throwaway(cluster, prefect_template):
    tmp = tempfile.mkdtemp(prefix='prefectdb-faults-')
    server = None
    try:
        server = ThrowawayCluster.start_free(cluster.port + THROWAWAY_PORT_OFFSET, os.path.join(tmp, 'pg'))
        # a commit reaches the WAL file before it is acknowledged, so a server crash (restart -m
        # immediate) keeps it; fsync stays off (the operating system does not crash here)
        server.sql('postgres', 'ALTER SYSTEM SET synchronous_commit = on')
        server.sql('postgres', 'SELECT pg_reload_conf()')
        copy_database(cluster, server, prefect_template)
        yield server
    finally:
        if server is not None:
            server.destroy()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope='module')
def throwaway_template(throwaway, prefect_template):
    name = throwaway.synthetic_history(prefect_template, 500, 'history_500')
    throwaway.sql('postgres', "UPDATE pg_database SET datistemplate = true WHERE datname = %s", (name,))
    return name


@pytest.fixture
def throwaway_history(throwaway, throwaway_template):
    name = throwaway.clone(throwaway_template)
    yield name
    throwaway.drop(name)


@pytest.mark.parametrize('mode', ['fast', 'immediate'])
def test_retention_survives_a_server_restart_mid_run(throwaway, throwaway_history, mode):
    db = throwaway_history
    planted = orphans(throwaway, db)
    proc = start_and_wait_for_batch(throwaway, db, retention_args(throwaway, db),
                                    phase='flow_runs' if mode == 'fast' else 'events')
    throwaway.restart(mode)
    assert proc.finish() == 1
    assert proc.result['failed'], proc.result
    assert connection_lost(proc.result['msg']), proc.result['msg']
    assert not new_orphans(throwaway, db, planted)
    rerun = run_module_process('retention', retention_args(throwaway, db))
    assert rerun.get('failed') is not True and rerun['status'] == 'finished', rerun.get('msg')
    assert not new_orphans(throwaway, db, planted)
    assert run_module_process('retention', retention_args(throwaway, db))['changed'] is False


# --- REINDEX CONCURRENTLY and pg_repack interrupted -------------------------------------

INDEX = 'ix_events__occurred'


def reindex_args(cluster, dbname, **extra):
    args = dict(cluster.connection_args(dbname), indexes=[INDEX], lock_timeout='60s', retries=0)
    args.update(extra)
    return args


def start_blocked_reindex(cluster, dbname):
    """Start REINDEX CONCURRENTLY and return once it waits on an old snapshot (held by
    `blocker`), that is after it built the invalid _ccnew index."""
    blocker = cluster.connect(dbname, autocommit=False)
    with blocker.cursor() as cur:
        cur.execute('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ')
        cur.execute('SELECT count(*) FROM flow_run')  # holds a snapshot until rollback
    proc = ModuleProcess('reindex', reindex_args(cluster, dbname))
    wait_until(lambda: cluster.sql(dbname, "SELECT 1 FROM pg_class WHERE relname = %s", (INDEX + '_ccnew',)),
               timeout=30, interval=0.02, what='the _ccnew index')
    return proc, blocker


def test_reindex_interrupted_leaves_no_invalid_index_after_the_next_run(cluster, history_db):
    # 1. the connection cut while REINDEX CONCURRENTLY waits: the _ccnew index stays, invalid
    proc, blocker = start_blocked_reindex(cluster, history_db)
    cluster.sql('postgres', 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s'
                            ' AND datname = %s', ('prefectdb.maintenance', history_db))
    assert proc.finish() == 1 and proc.result['failed']
    assert connection_lost(proc.result['msg']), proc.result['msg']
    blocker.rollback()
    blocker.close()
    assert invalid_indexes(cluster, history_db) == [(INDEX + '_ccnew',)]
    # 2. the module SIGKILLed while it waits: the server finishes the statement on its own
    proc, blocker = start_blocked_reindex(cluster, history_db)
    assert proc.kill() == -9
    blocker.rollback()
    blocker.close()
    wait_for_no_backend(cluster, history_db)
    # 3. the next run drops what the interrupted ones left and rebuilds the index
    result = run_module_process('reindex', reindex_args(cluster, history_db))
    assert not result.get('failed'), result['msg']
    assert [r['index'] for r in result['leftovers'] if r['action'] == 'dropped'] == ['public.%s_ccnew' % INDEX]
    assert invalid_indexes(cluster, history_db) == []
    assert cluster.sql(history_db, "SELECT relname::text FROM pg_class WHERE relname LIKE %s ORDER BY 1",
                       (INDEX + '%',)) == [(INDEX,), (INDEX + '_id',)]


def test_reindex_server_crash_mid_rebuild_then_next_run_cleans_up(throwaway, throwaway_history):
    db = throwaway_history
    proc, blocker = start_blocked_reindex(throwaway, db)
    throwaway.restart('immediate')
    assert proc.finish() == 1 and proc.result['failed']
    assert connection_lost(proc.result['msg']), proc.result['msg']
    blocker.close()
    assert invalid_indexes(throwaway, db) == [(INDEX + '_ccnew',)]
    result = run_module_process('reindex', reindex_args(throwaway, db))
    assert not result.get('failed'), result['msg']
    assert invalid_indexes(throwaway, db) == []


def repack_leftovers(cluster, dbname):
    return cluster.sql(dbname, "SELECT tgrelid::regclass::text FROM pg_trigger WHERE tgname = 'repack_trigger'"
                               " UNION ALL SELECT relname::text FROM pg_class WHERE relnamespace = 'repack'::regnamespace"
                               " AND relkind = 'r'")


def test_vacuum_repack_interrupted_then_next_run_cleans_up_and_completes(cluster, history_db):
    cluster.sql(history_db, 'CREATE EXTENSION IF NOT EXISTS pg_repack')
    args = dict(cluster.connection_args(history_db), mode='repack', tables=['flow_run'])
    before = cluster.fingerprint(history_db)['rows']['flow_run']
    proc = ModuleProcess('vacuum', args)
    # SIGKILL pg_repack itself (as a job runner's timeout kills the whole process group) once
    # it has installed its trigger, so its own cleanup never runs
    wait_until(lambda: repack_leftovers(cluster, history_db), timeout=30, interval=0.01, what="pg_repack's trigger")
    for pid in child_pids(proc.pid):
        os.kill(pid, 9)
    proc.kill()
    wait_until(lambda: not cluster.sql('postgres', "SELECT 1 FROM pg_stat_activity WHERE datname = %s"
                                                   " AND application_name = 'pg_repack'", (history_db,)),
               what='the pg_repack sessions to end')
    assert repack_leftovers(cluster, history_db), 'the interrupted pg_repack left its trigger and log table'
    result = run_module_process('vacuum', args)
    assert not result.get('failed'), result['msg']
    assert result['tables'][0]['status'] == 'done'
    assert result['tables'][0]['message'].startswith('dropped what an interrupted pg_repack left (trigger repack_trigger')
    assert repack_leftovers(cluster, history_db) == []
    assert invalid_indexes(cluster, history_db) == []
    assert cluster.fingerprint(history_db)['rows']['flow_run'] == before


def child_pids(pid):
    children = []
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open('/proc/%s/stat' % entry) as f:
                    fields = f.read().rsplit(')', 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                children.append(int(entry))
    return children


def test_vacuum_full_cut_mid_rewrite_changes_nothing_and_the_next_run_completes(cluster, history_db):
    args = dict(cluster.connection_args(history_db), mode='full', allow_full=True, tables=['events', 'event_resources'])
    before = cluster.fingerprint(history_db)
    proc = ModuleProcess('vacuum', args)
    wait_until(lambda: cluster.sql(history_db, "SELECT 1 FROM pg_stat_progress_cluster WHERE command = 'VACUUM FULL'"
                                               " AND phase <> 'initializing'") or not proc.running(),
               timeout=30, interval=0.005, what='VACUUM FULL to rewrite')
    assert proc.running(), 'VACUUM FULL finished before the cut'
    cluster.sql('postgres', 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s'
                            ' AND datname = %s', ('prefectdb.maintenance', history_db))
    assert proc.finish() == 1 and proc.result['failed']
    assert connection_lost(proc.result['msg']), proc.result['msg']
    wait_for_no_backend(cluster, history_db)
    after = cluster.fingerprint(history_db)
    assert after['rows'] == before['rows'] and after['indexes'] == before['indexes']
    result = run_module_process('vacuum', args)
    assert not result.get('failed') and [t['status'] for t in result['tables']] == ['done', 'done'], result['msg']
    assert cluster.fingerprint(history_db)['rows'] == before['rows']
