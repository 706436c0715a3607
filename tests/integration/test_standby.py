"""A streaming replica (pg_basebackup -R) of a throwaway primary: the read-only modules work
there; every module that writes, backup included, refuses with a clear message and changes
nothing. Both servers are this module's own, never the shared test cluster."""
import os
import shutil
import tempfile

import pytest

from testbed import ThrowawayCluster, copy_database, free_port, run_playbook

PRIMARY_PORT_OFFSET = 22   # the first port tried, from the test cluster's: 54352 (the standby: the next free one)
NOW = '2026-01-01T00:00:00Z'
REFUSAL = 'is a standby server (in recovery) and read-only; nothing was changed. Run this module against the primary.'


@pytest.fixture(scope='module')
def replica(cluster, prefect_template):
    tmp = tempfile.mkdtemp(prefix='prefectdb-standby-')
    primary = standby = None
    try:
        primary = ThrowawayCluster.start_free(cluster.port + PRIMARY_PORT_OFFSET, os.path.join(tmp, 'primary'))
        copy_database(cluster, primary, prefect_template)
        db = primary.synthetic_history(prefect_template, 200, 'prefect')
        primary.sql(db, 'CREATE EXTENSION IF NOT EXISTS pg_repack')
        standby = primary.standby(free_port(primary.port + 1), os.path.join(tmp, 'standby'))
        yield primary, standby, db, tmp
    finally:
        if standby is not None:
            standby.destroy()
        if primary is not None:
            primary.destroy()
        shutil.rmtree(tmp, ignore_errors=True)


def play(server, db, tasks):
    return [{'hosts': 'all', 'gather_facts': False,
             'module_defaults': {'group/prefectdb.maintenance.postgres': server.connection_args(db)},
             'tasks': tasks}]


def task(name, module, args, **extra):
    entry = {'name': name, 'prefectdb.maintenance.%s' % module: args, 'ignore_errors': True}
    entry.update(extra)
    return entry


def test_the_standby_is_a_live_replica(replica):
    primary, standby, db, dummy = replica
    assert standby.sql('postgres', 'SELECT pg_is_in_recovery()') == [(True,)]
    assert primary.sql('postgres', "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") == [(1,)]
    count = primary.sql(db, 'SELECT count(*) FROM flow_run')
    assert count[0][0] > 100 and standby.wait_for(db, 'SELECT count(*) FROM flow_run', count) == count


def test_read_only_modules_work_on_the_standby(replica):
    primary, standby, db, dummy = replica
    before = standby.fingerprint(db)
    run = run_playbook(play(standby, db, [
        task('info', 'info', {}),
        task('health', 'health', {}),
    ]))
    info, health = run.task('info'), run.task('health')
    assert not info['failed'] and info['in_recovery'] is True, info.get('msg')
    assert not health['failed'], health.get('msg')
    assert health['facts']['database']['in_recovery'] is True
    # the growth history is not recorded on a standby: said, not failed
    assert 'standby' in str(health['facts'].get('growth', health['findings'])).lower()
    assert standby.fingerprint(db) == before


def test_every_write_module_refuses_on_the_standby_and_changes_nothing(replica):
    primary, standby, db, tmp = replica
    dest = os.path.join(tmp, 'dumps')
    before = standby.fingerprint(db), primary.fingerprint(db)
    writes = [
        ('autovacuum', {'preset': 'prefect_high_volume'}),
        ('retention', {'enabled': ['events', 'flow_runs'], 'now': NOW, 'retention_period': '30d'}),
        ('vacuum', {'mode': 'vacuum_analyze', 'tables': ['log', 'events']}),
        ('vacuum', {'mode': 'repack', 'tables': ['log']}),
        ('reindex', {'indexes': ['ix_events__occurred']}),
        ('backup', {'dest': dest, 'verify': 'restore'}),
    ]
    tasks = [task('%s %d' % (module, i), module, args) for i, (module, args) in enumerate(writes)]
    tasks += [task('%s %d in check mode' % (module, i), module, args, check_mode=True)
              for i, (module, args) in enumerate(writes) if module in ('retention', 'autovacuum')]
    run = run_playbook(play(standby, db, tasks))
    assert len(run.results) == len(tasks), run.stdout[-2000:]
    for entry in run.results:
        result = entry['result']
        module = entry['task'].split()[0]
        assert result['failed'] and result['changed'] is False, (entry['task'], result.get('msg'))
        assert result['msg'].startswith('%s: database "%s" on %s port %d' % (module, db, standby.host, standby.port))
        assert result['msg'].endswith(REFUSAL), result['msg']
    assert (standby.fingerprint(db), primary.fingerprint(db)) == before
    assert not os.path.exists(dest), 'backup wrote on a standby'


def test_the_same_write_on_the_primary_reaches_the_standby(replica):
    primary, standby, db, dummy = replica
    run = run_playbook(play(primary, db, [task('autovacuum', 'autovacuum', {'tables': {'log': {
        'autovacuum_vacuum_scale_factor': 0.02}}})]))
    assert run.result['changed'] is True and not run.result['failed'], run.result.get('msg')
    wanted = [(['autovacuum_vacuum_scale_factor=0.02'],)]
    assert standby.wait_for(db, "SELECT reloptions FROM pg_class WHERE relname = 'log'", wanted) == wanted
