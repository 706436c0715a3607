"""The vacuum module's decisions without a database: options per server version, auto selection, refusals,
pg_repack's space, version and output."""
import pytest

from ansible_collections.prefectdb.maintenance.plugins.module_utils import vacuum_plan as p

PG15 = 150018


def table(name='log', dead=0, live=1000, total=10 * 1024 ** 2, oid=1, mod=0, reltuples=None, **extra):
    row = {'oid': oid, 'schema': 'public', 'name': name, 'n_dead_tup': dead, 'n_live_tup': live,
           'n_mod_since_analyze': mod, 'reltuples': live if reltuples is None else reltuples, 'total_bytes': total,
           'extension_member': False}
    row.update(extra)
    return row


@pytest.mark.parametrize('mode,kwargs,command,options', [
    ('vacuum', {}, 'VACUUM', ['SKIP_LOCKED']),
    ('vacuum_analyze', {}, 'VACUUM', ['ANALYZE', 'SKIP_LOCKED']),
    ('analyze', {}, 'ANALYZE', ['SKIP_LOCKED']),
    ('full', {}, 'VACUUM', ['FULL', 'SKIP_LOCKED']),
    ('vacuum', {'skip_locked': False}, 'VACUUM', []),
    ('vacuum_analyze', {'parallel': 2, 'index_cleanup': 'off', 'process_toast': False}, 'VACUUM',
     ['ANALYZE', 'PARALLEL 2', 'INDEX_CLEANUP OFF', 'PROCESS_TOAST FALSE', 'SKIP_LOCKED']),
    ('vacuum', {'parallel': 0, 'index_cleanup': 'AUTO'}, 'VACUUM', ['PARALLEL 0', 'INDEX_CLEANUP AUTO', 'SKIP_LOCKED']),
    ('full', {'process_toast': True}, 'VACUUM', ['FULL', 'PROCESS_TOAST TRUE', 'SKIP_LOCKED']),
])
def test_vacuum_options(mode, kwargs, command, options):
    got = p.vacuum_options(mode, PG15, **kwargs)
    assert got == (command, options, [])


def test_statement_text():
    assert p.statement_text('VACUUM', ['ANALYZE', 'SKIP_LOCKED'], 'public.log') == 'VACUUM (ANALYZE, SKIP_LOCKED) public.log'
    assert p.statement_text('VACUUM', [], 'public.log') == 'VACUUM public.log'


@pytest.mark.parametrize('version,kwargs,message', [
    (120000, {'parallel': 2}, 'parallel needs PostgreSQL 13 or newer; the server is 12.0'),
    (130011, {'index_cleanup': 'auto'}, 'index_cleanup=auto needs PostgreSQL 14 or newer (the server 13.11 takes on or off)'),
    (110000, {'index_cleanup': 'on'}, 'index_cleanup needs PostgreSQL 12 or newer; the server is 11.0'),
    (130000, {'process_toast': True}, 'process_toast needs PostgreSQL 14 or newer; the server is 13.0'),
    (PG15, {'parallel': 5000}, 'parallel must be between 0 and 1024, not 5000'),
    (PG15, {'index_cleanup': 'sometimes'}, "index_cleanup must be one of auto, on, off, not 'sometimes'"),
])
def test_options_the_server_lacks_are_refused(version, kwargs, message):
    with pytest.raises(p.PlanError) as err:
        p.vacuum_options('vacuum', version, **kwargs)
    assert str(err.value) == message


@pytest.mark.parametrize('mode,kwargs,fragment', [
    ('full', {'parallel': 2}, 'parallel applies to mode vacuum and vacuum_analyze only'),
    ('analyze', {'parallel': 2}, 'parallel applies to mode vacuum and vacuum_analyze only'),
    ('full', {'index_cleanup': 'on'}, 'index_cleanup applies to mode vacuum and vacuum_analyze only'),
    ('analyze', {'process_toast': True}, 'process_toast applies to VACUUM modes only'),
    ('full', {'process_toast': False}, 'VACUUM FULL always processes the TOAST table'),
    ('repack', {}, "mode 'repack' has no VACUUM statement"),
])
def test_options_a_mode_does_not_take_are_refused(mode, kwargs, fragment):
    with pytest.raises(p.PlanError) as err:
        p.vacuum_options(mode, PG15, **kwargs)
    assert fragment in str(err.value)


def test_skip_locked_is_left_out_with_a_note_before_12():
    command, options, notes = p.vacuum_options('vacuum_analyze', 110005)
    assert options == ['ANALYZE']
    assert notes == ['SKIP_LOCKED needs PostgreSQL 12; on 11.5 a locked table waits up to lock_timeout']


def test_dead_ratio_follows_prefects_guide():
    assert p.dead_ratio(500, 1000) == 50.0
    assert p.dead_ratio(3000, 1000) == 300.0  # bloat above 100% is possible
    assert p.dead_ratio(10, 0) is None


def test_live_estimate_falls_back_to_reltuples_after_a_statistics_reset():
    assert p.live_estimate(table(live=0, reltuples=5000)) == 5000
    assert p.live_estimate(table(live=0, reltuples=-1)) == 0
    assert p.live_estimate(table(live=10, reltuples=5000)) == 10


@pytest.mark.parametrize('row,picked,fragment', [
    (table(dead=600, live=1000), False, '600 dead tuples (60% of 1000 live), 10 MB: fewer than 1000 dead tuples'),
    (table(dead=2000, live=10000), False, '2000 dead tuples (20% of 10000 live), 10 MB: below 50%'),
    (table(dead=5000, live=10000), True, '5000 dead tuples (50% of 10000 live), 10 MB: at least 1000 dead tuples and 50%'),
    (table(dead=80000, live=20000), True, '(400% of 20000 live)'),
    (table(dead=5000, live=0, reltuples=0), True, '5000 dead tuples (no live tuples)'),
    (table(dead=0, live=0, reltuples=0), False, 'empty'),
    (table(dead=5000, live=1000, total=1024), False, 'smaller than min_size 1 MB'),
])
def test_evaluate_table(row, picked, fragment):
    got, reason = p.evaluate_table(row, 'vacuum_analyze', min_dead_ratio=50, min_dead_tuples=1000, min_size=1024 ** 2)
    assert got is picked
    assert fragment in reason


def test_analyze_mode_looks_at_rows_modified_since_the_last_analyze():
    row = table(dead=0, live=1000, mod=5000)
    picked, reason = p.evaluate_table(row, 'analyze')
    assert picked and reason.startswith('5000 rows modified since the last analyze (500% of 1000 live)')
    assert not p.evaluate_table(row, 'vacuum')[0]


def test_select_tables_orders_by_dead_tuples_and_explains_the_rest():
    rows = [table('a', dead=2000, live=1000, oid=1), table('b', dead=90000, live=1000, oid=2),
            table('c', dead=10, live=1000, oid=3), table('d', dead=9000, live=10, oid=4, extension_member=True)]
    selected, rest = p.select_tables(rows, 'vacuum')
    assert [e['table']['name'] for e in selected] == ['b', 'a']
    assert dict((e['table']['name'], e['reason']) for e in rest)['d'] == 'belongs to an extension'
    assert 'fewer than 1000' in dict((e['table']['name'], e['reason']) for e in rest)['c']


def test_full_refuses_tables_above_max_full_size():
    big, small = table('big', dead=9000, live=10, total=2 * 1024 ** 3), table('small', dead=9000, live=10, oid=2)
    selected, rest = p.select_tables([big, small], 'full', max_full_size=1024 ** 3)
    assert [e['table']['name'] for e in selected] == ['small']
    assert 'VACUUM FULL refused: public.big is 2 GB with indexes and TOAST, above max_full_size 1 GB' in rest[0]['reason']
    assert p.explicit_refusals([big, small], 'full', 1024 ** 3) == [p.refusal_for(big, 'full', 1024 ** 3)]
    assert p.explicit_refusals([small], 'full', 1024 ** 3) == []
    # other modes do not care about the size
    assert p.refusal_for(big, 'vacuum', 1024 ** 3) is None


def test_repack_refuses_tables_without_a_key():
    keyed, bare = table('keyed', oid=1), table('bare', oid=2)
    assert p.explicit_refusals([keyed, bare], 'repack', repack_keys={1: 'pk_keyed'}) == [
        'pg_repack refused: public.bare has no primary key and no unique index on NOT NULL columns, which pg_repack needs']


def test_repack_space():
    row = table(total=100 * 1024 ** 2)
    assert p.repack_space_needed(row) == 200 * 1024 ** 2
    assert p.repack_space_refusal(row, 200 * 1024 ** 2) is None
    assert p.repack_space_refusal(row, 150 * 1024 ** 2) == (
        'pg_repack refused: public.log needs 200 MB free (twice its 100 MB with indexes), only 150 MB is free')


@pytest.mark.parametrize('client,extension,fragment', [
    ((1, 4, 8), '1.4.8', None),
    ((1, 4, 8), None, 'the pg_repack extension is not installed in this database'),
    ((1, 4, 7), '1.4.8', 'the pg_repack client is 1.4.7 but the extension in the database is 1.4.8'),
    (None, '1.4.8', 'the pg_repack client did not report its version'),
])
def test_repack_versions(client, extension, fragment):
    problem = p.repack_version_problem(client, extension)
    assert (problem is None) if fragment is None else (fragment in problem)


@pytest.mark.parametrize('rc,output,status,message', [
    (0, 'INFO: repacking table "public.log"\n', 'done', None),
    (0, 'INFO: repacking table "public.t"\nWARNING: timed out, do not cancel conflicting backends\n'
        'INFO: Skipping repack public.t due to timeout\n', 'skipped', 'INFO: Skipping repack public.t due to timeout'),
    (0, 'WARNING: relation "public.nokey" must have a primary key or not-null unique keys\n', 'failed',
     'WARNING: relation "public.nokey" must have a primary key or not-null unique keys'),
    (21, 'ERROR: pg_repack failed with error: pg_repack 1.4.8 is not installed in the database\n', 'failed',
     'ERROR: pg_repack failed with error: pg_repack 1.4.8 is not installed in the database'),
    (1, '', 'failed', 'pg_repack exited with 1'),
])
def test_repack_outcome(rc, output, status, message):
    assert p.repack_outcome(rc, output) == (status, message)


def test_skipped_notice():
    assert p.skipped_notice(['WARNING:  skipping vacuum of "log" --- lock not available\n']) == (
        'WARNING:  skipping vacuum of "log" --- lock not available')
    assert p.skipped_notice(['WARNING:  skipping analyze of "log" --- lock not available\n'])
    assert p.skipped_notice(['NOTICE:  something else\n']) is None
    assert p.skipped_notice([]) is None


def test_budget_left():
    assert p.budget_left(100.0, 100.0, None)
    assert p.budget_left(100.0, 159.0, 60)
    assert not p.budget_left(100.0, 160.0, 60)


@pytest.mark.parametrize('notice', [
    'WARNING:  skipping "log" --- only table or database owner can vacuum it\n',  # PostgreSQL 15
    'WARNING:  skipping "log" --- only table or database owner can analyze it\n',
    'WARNING:  skipping "pg_authid" --- only superuser can vacuum it\n',
    'WARNING:  permission denied to vacuum "log", skipping it\n',  # 16 and later
    'WARNING:  permission denied to analyze "log", skipping it\n',
])
def test_permission_notice_in_the_words_of_each_version(notice):
    assert p.permission_notice(['NOTICE:  other\n', notice]) == notice.strip()
    assert p.skipped_notice([notice]) is None


def test_permission_notice_ignores_lock_skips_and_other_notices():
    assert p.permission_notice(['WARNING:  skipping vacuum of "log" --- lock not available\n']) is None
    assert p.permission_notice([]) is None


def test_permission_failure_names_maintain_from_17_only():
    notice = 'WARNING:  permission denied to vacuum "log", skipping it'
    assert p.permission_failure(notice, 170012) == (
        'permission denied to vacuum "log", skipping it: VACUUM and ANALYZE need ownership of the table, the MAINTAIN '
        'privilege on it or membership in pg_maintain (or superuser); the table was left as it was')
    assert 'MAINTAIN' not in p.permission_failure(notice, 160004)
    assert p.permission_failure(notice, 150018).endswith('need ownership of the table (or superuser); the table was '
                                                         'left as it was')


@pytest.mark.parametrize('delay, limit, expected', [
    (20, 200, [('vacuum_cost_delay', '20ms'), ('vacuum_cost_limit', '200')]),
    (0, 200, [('vacuum_cost_delay', '0ms'), ('vacuum_cost_limit', '200')]),
    (2.5, 10000, [('vacuum_cost_delay', '2.5ms'), ('vacuum_cost_limit', '10000')]),
    ('100', 1, [('vacuum_cost_delay', '100ms'), ('vacuum_cost_limit', '1')]),
])
def test_cost_settings(delay, limit, expected):
    assert p.cost_settings(delay, limit) == expected


@pytest.mark.parametrize('delay, limit, message', [
    (-1, 200, 'cost_delay: -1 is out of range; use 0 (no delay) to 100 milliseconds'),
    (101, 200, 'cost_delay: 101 is out of range'),
    ('slow', 200, "cost_delay: 'slow' is not a number of milliseconds"),
    (20, 0, 'cost_limit: 0 is out of range; use 1 to 10000'),
    (20, 10001, 'cost_limit: 10001 is out of range'),
    (20, True, 'cost_limit: True is out of range'),
])
def test_cost_settings_refused(delay, limit, message):
    with pytest.raises(p.PlanError) as e:
        p.cost_settings(delay, limit)
    assert message in str(e.value)


def test_the_default_is_autovacuums_pace():
    assert p.cost_settings(p.DEFAULT_COST_DELAY_MS, p.DEFAULT_COST_LIMIT) == [
        ('vacuum_cost_delay', '2ms'), ('vacuum_cost_limit', '200')]
