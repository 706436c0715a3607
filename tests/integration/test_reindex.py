"""reindex on the real Prefect schema with synthetic history, through ansible-playbook."""
import threading
import time
import uuid

from ansible_collections.prefectdb.maintenance.plugins.module_utils import connection as c

LOG_INDEXES = ['pk_log', 'ix_log__flow_run_id', 'ix_log__flow_run_id_timestamp', 'ix_log__level',
               'ix_log__task_run_id', 'ix_log__timestamp', 'ix_log__updated']


def indexes(cluster, db, table='log'):
    """{name: (valid, bytes)} of a table's indexes."""
    rows = cluster.sql(db, """
        SELECT c.relname, i.indisvalid, pg_relation_size(c.oid)
          FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
         WHERE i.indrelid = %s::regclass""", (table,))
    return dict((name, (valid, size)) for name, valid, size in rows)


def interrupted_reindex(cluster, db, index, table='log', leave='ccnew'):
    """Plant what a failed REINDEX INDEX CONCURRENTLY leaves: cancel one while it waits
    for another session - before the build (an invalid *_ccnew) or after the swap (an invalid *_ccold)."""
    holder, builder, watcher = cluster.connect(db), cluster.connect(db), cluster.connect(db)
    # a writer blocks the build phase; a reader only the phase that marks the old index dead
    mode = 'ROW EXCLUSIVE' if leave == 'ccnew' else 'ACCESS SHARE'
    errors = []
    try:
        holder.cursor().execute('BEGIN; LOCK TABLE %s IN %s MODE' % (table, mode))
        pid = builder.get_backend_pid()

        def run():
            try:
                builder.cursor().execute('REINDEX INDEX CONCURRENTLY %s' % index)
            except Exception as e:  # the cancel we send
                errors.append(e)

        thread = threading.Thread(target=run)
        thread.start()
        cur = watcher.cursor()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            cur.execute("SELECT count(*) FROM pg_class WHERE relname LIKE %s", (index + '_' + leave + '%',))
            planted = cur.fetchone()[0]
            cur.execute('SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s', (pid,))
            if planted and cur.fetchone()[0] == 'Lock':
                break
            time.sleep(0.05)
        cur.execute('SELECT pg_cancel_backend(%s)', (pid,))
        thread.join()
        holder.cursor().execute('ROLLBACK')
    finally:
        for conn in (holder, builder, watcher):
            conn.close()
    assert errors and 'canceling statement due to user request' in str(errors[0])
    leftovers = [name for name, (valid, dummy) in indexes(cluster, db, table).items()
                 if name.startswith(index + '_' + leave) and not valid]
    assert len(leftovers) == 1, indexes(cluster, db, table)
    return leftovers[0]


def bloat_log(cluster, db):
    """Delete 90% of the log and VACUUM: the indexes keep their size, hold a tenth of the tuples."""
    cluster.sql(db, 'ALTER TABLE log SET (autovacuum_enabled = false)')
    xid = cluster.sql(db, 'WITH d AS (DELETE FROM log WHERE abs(hashtext(id::text)) % 10 > 0 RETURNING 1) '
                          'SELECT txid_current() % 4294967296')[0][0]
    # VACUUM removes the index entries only once no session (an auto-analyze, say) sees the rows
    deadline = time.monotonic() + 60
    while cluster.sql('postgres', """
            SELECT count(*) FROM pg_stat_activity
             WHERE (datname = %s OR backend_type = 'walsender') AND backend_xmin IS NOT NULL
               AND backend_xmin::text::bigint <= %s AND pid <> pg_backend_pid()""", (db, xid))[0][0]:
        assert time.monotonic() < deadline, 'sessions still see the deleted rows'
        time.sleep(0.2)
    cluster.sql(db, 'VACUUM ANALYZE log')


def by_index(result, name, key='indexes'):
    return next(r for r in result[key] if r['index'] == 'public.' + name)


def test_planted_ccnew_and_ccold_leftovers_are_cleaned(cluster, history_db, module_runner):
    ccnew = interrupted_reindex(cluster, history_db, 'ix_log__timestamp', leave='ccnew')
    ccold = interrupted_reindex(cluster, history_db, 'ix_log__level', leave='ccold')
    assert ccnew == 'ix_log__timestamp_ccnew' and ccold == 'ix_log__level_ccold'
    run = module_runner('reindex', {'indexes': ['ix_log__timestamp']}, dbname=history_db)
    r = run.result
    assert run.rc == 0 and not r['failed'], r
    assert r['changed'] is True
    new = by_index(r, ccnew, 'leftovers')
    assert new['kind'] == 'ccnew' and new['base'] == 'public.ix_log__timestamp' and new['phase'] == 'before'
    assert new['action'] == 'dropped' and 'which is rebuilt now' in new['reason']
    old = by_index(r, ccold, 'leftovers')
    assert old['kind'] == 'ccold' and old['action'] == 'dropped' and old['base'] == 'public.ix_log__level'
    rebuilt = by_index(r, 'ix_log__timestamp')
    assert rebuilt['status'] == 'done' and rebuilt['attempts'] == 1 and rebuilt['bytes_after'] > 0
    assert rebuilt['statement'] == 'REINDEX INDEX CONCURRENTLY "public"."ix_log__timestamp"'
    after = indexes(cluster, history_db)
    assert sorted(after) == sorted(LOG_INDEXES) and all(valid for valid, dummy in after.values())
    assert 'dropped 2 leftover(s)' in r['msg']


def test_a_ccnew_whose_index_is_not_rebuilt_is_kept_until_its_retry(cluster, history_db, module_runner):
    ccnew = interrupted_reindex(cluster, history_db, 'ix_log__timestamp', leave='ccnew')
    r = module_runner('reindex', {'indexes': ['ix_log__level']}, dbname=history_db).result
    assert not r['failed'], (r['msg'], r['indexes'], r['leftovers'])
    kept = by_index(r, ccnew, 'leftovers')
    assert kept['action'] == 'kept' and kept['phase'] == 'before'
    assert 'list public.ix_log__timestamp in indexes to retry its rebuild' in kept['reason']
    assert ccnew in indexes(cluster, history_db)
    # auto retries that rebuild whatever the index's bloat, dropping the leftover first
    r = module_runner('reindex', {'indexes': 'auto', 'min_index_size': '1TB'}, dbname=history_db).result
    assert not r['failed'], (r['msg'], r['indexes'], r['leftovers'])
    assert [i['index'] for i in r['indexes']] == ['public.ix_log__timestamp']
    assert r['indexes'][0]['reason'] == 'retry: a failed REINDEX CONCURRENTLY left public.%s' % ccnew
    assert by_index(r, ccnew, 'leftovers')['action'] == 'dropped'
    assert ccnew not in indexes(cluster, history_db)


def test_auto_picks_bloated_indexes_by_estimate_and_they_shrink(cluster, history_db, module_runner):
    bloat_log(cluster, history_db)
    before = indexes(cluster, history_db)
    r = module_runner('reindex', {'indexes': 'auto', 'min_index_size': '100kB', 'min_bloat_ratio': 60},
                      dbname=history_db).result
    assert not r['failed'], (r['msg'], r['indexes'], r['leftovers'])
    picked = dict((i['index'], i) for i in r['indexes'])
    # the log's B-tree indexes of random keys lost 90% of their entries; the level's 5 values deduplicate
    for name in ('pk_log', 'ix_log__flow_run_id_timestamp', 'ix_log__timestamp', 'ix_log__updated'):
        entry = picked['public.' + name]
        assert entry['status'] == 'done' and entry['estimated_bloat_ratio'] >= 60
        assert entry['bytes_before'] == before[name][1]
        assert entry['bytes_after'] < entry['bytes_before'] * 0.4, entry
        assert 'at least 60% and 100 kB' in entry['reason']
    assert all(i['table'] == 'public.log' for i in r['indexes'])
    reasons = dict((i['index'], i['reason']) for i in r['not_selected'])
    assert 'below min_bloat_ratio 60%' in reasons['public.pk_flow_run']
    assert 'no bloat estimate for gin indexes' in reasons['public.ix_events__related_gin']
    assert r['bytes_reclaimed'] == sum(i['bytes_before'] - i['bytes_after'] for i in r['indexes'])
    after = indexes(cluster, history_db)
    assert all(valid for valid, dummy in after.values()) and sorted(after) == sorted(LOG_INDEXES)


def test_reindex_concurrently_completes_while_another_session_keeps_inserting(cluster, history_db, module_runner):
    cluster.sql(history_db, 'CREATE EXTENSION amcheck')
    writer = cluster.connect(history_db)
    stop, errors, inserted = threading.Event(), [], []

    def insert():
        cur = writer.cursor()
        while not stop.is_set():
            try:
                cur.execute("INSERT INTO log (id, name, level, message, timestamp, flow_run_id) "
                            "VALUES (%s, 'prefect.flow_runs', 20, 'still writing', now(), %s)",
                            (str(uuid.uuid4()), str(uuid.uuid4())))
                inserted.append(time.monotonic())
            except Exception as e:
                errors.append(e)
                return
            time.sleep(0.002)

    thread = threading.Thread(target=insert)
    thread.start()
    try:
        time.sleep(0.5)
        started = time.monotonic()
        r = module_runner('reindex', {'indexes': LOG_INDEXES}, dbname=history_db).result
        finished = time.monotonic()
        time.sleep(0.2)
    finally:
        stop.set()
        thread.join()
        writer.close()
    assert errors == []
    assert not r['failed'], (r['msg'], r['indexes'], r['leftovers'])
    assert [i['status'] for i in r['indexes']] == ['done'] * len(LOG_INDEXES)
    assert len([t for t in inserted if started < t < finished]) > 100
    # every row, old and new, is in every rebuilt index
    for name in LOG_INDEXES:
        cluster.sql(history_db, "SELECT bt_index_check(%s::regclass, true)", (name,))
    after = indexes(cluster, history_db)
    assert sorted(after) == sorted(LOG_INDEXES) and all(valid for valid, dummy in after.values())


def test_a_rebuild_that_times_out_is_cleaned_up_and_retried(cluster, history_db, module_runner):
    """A writer holds its transaction open until the first attempt has timed out waiting for it."""
    holder, watcher = cluster.connect(history_db), cluster.connect(history_db)
    released = []

    def release_after_first_timeout():
        cur = watcher.cursor()
        deadline = time.monotonic() + 120
        seen_waiting = None
        while time.monotonic() < deadline:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'REINDEX INDEX CONCURRENTLY%%' "
                        "AND wait_event_type = 'Lock'")
            if cur.fetchone()[0]:
                seen_waiting = seen_waiting or time.monotonic()
            if seen_waiting and time.monotonic() - seen_waiting > 2.5:
                holder.cursor().execute('ROLLBACK')
                released.append(True)
                return
            time.sleep(0.05)

    holder.cursor().execute('BEGIN; LOCK TABLE log IN ROW EXCLUSIVE MODE')
    thread = threading.Thread(target=release_after_first_timeout)
    thread.start()
    try:
        r = module_runner('reindex', {'indexes': ['ix_log__timestamp'], 'lock_timeout': '1s', 'retries': 3},
                          dbname=history_db).result
    finally:
        thread.join()
        holder.close()
        watcher.close()
    assert released
    assert not r['failed'], (r['msg'], r['indexes'], r['leftovers'])
    entry = by_index(r, 'ix_log__timestamp')
    assert entry['status'] == 'done' and entry['attempts'] >= 2
    assert 'attempt 1: canceling statement due to lock timeout' in entry['message']
    retried = [left for left in r['leftovers'] if left['phase'] == 'retry']
    assert len(retried) == entry['attempts'] - 1
    assert all(left['kind'] == 'ccnew' and left['action'] == 'dropped' for left in retried)
    assert 'dropped before the retry' in retried[0]['reason']
    after = indexes(cluster, history_db)
    assert sorted(after) == sorted(LOG_INDEXES) and all(valid for valid, dummy in after.values())


def test_a_rebuild_that_keeps_failing_is_reported_and_the_next_run_cleans_up(cluster, history_db, module_runner):
    holder = cluster.connect(history_db)
    try:
        holder.cursor().execute('BEGIN; LOCK TABLE log IN ROW EXCLUSIVE MODE')
        r = module_runner('reindex', {'indexes': ['ix_log__timestamp'], 'lock_timeout': '300ms', 'retries': 1},
                          dbname=history_db).result
    finally:
        holder.close()
    assert r['failed'] is True and r['changed'] is False
    entry = by_index(r, 'ix_log__timestamp')
    assert entry['status'] == 'failed' and entry['attempts'] == 2
    assert 'failed: public.ix_log__timestamp (attempt 1: canceling statement due to lock timeout' in r['msg']
    # each attempt left a *_ccnew; dropping them waits for the same writer, so they are reported, not hidden
    assert sorted(left['index'] for left in r['leftovers']) == ['public.ix_log__timestamp_ccnew',
                                                                'public.ix_log__timestamp_ccnew1']
    assert set(left['action'] for left in r['leftovers']) == {'failed'}
    assert 'could not drop: public.ix_log__timestamp_ccnew (drop attempt in phase retry: canceling statement' in r['msg']
    assert sorted(indexes(cluster, history_db)) == sorted(LOG_INDEXES + ['ix_log__timestamp_ccnew',
                                                                         'ix_log__timestamp_ccnew1'])
    # the writer is gone: the next run drops both before it retries the rebuild
    r = module_runner('reindex', {'indexes': ['ix_log__timestamp']}, dbname=history_db).result
    assert not r['failed'], r['msg']
    assert [(left['phase'], left['action']) for left in r['leftovers']] == [('before', 'dropped')] * 2
    after = indexes(cluster, history_db)
    assert sorted(after) == sorted(LOG_INDEXES) and all(valid for valid, dummy in after.values())


def test_check_mode_returns_the_plan_and_changes_nothing(cluster, history_db, module_runner):
    bloat_log(cluster, history_db)
    interrupted_reindex(cluster, history_db, 'ix_log__timestamp', leave='ccnew')
    interrupted_reindex(cluster, history_db, 'ix_log__level', leave='ccold')
    fingerprint = cluster.fingerprint(history_db)
    filenodes = cluster.sql(history_db, "SELECT relname, relfilenode FROM pg_class WHERE relkind = 'i' ORDER BY 1")
    r = module_runner('reindex', {'indexes': 'auto', 'min_index_size': '100kB', 'min_bloat_ratio': 60},
                      dbname=history_db, check=True).result
    assert not r['failed'], (r['msg'], r['indexes'], r['leftovers'])
    assert r['changed'] is True
    assert set(i['status'] for i in r['indexes']) == {'planned'}
    assert 'public.ix_log__timestamp' in [i['index'] for i in r['indexes']]
    assert sorted(left['action'] for left in r['leftovers']) == ['would_drop', 'would_drop']
    assert r['msg'].startswith('would rebuild %d index(es)' % len(r['indexes']))
    assert cluster.fingerprint(history_db) == fingerprint
    assert cluster.sql(history_db, "SELECT relname, relfilenode FROM pg_class WHERE relkind = 'i' ORDER BY 1") == filenodes


def test_bad_input_fails_clearly_and_changes_nothing(cluster, history_db, module_runner):
    ccnew = interrupted_reindex(cluster, history_db, 'ix_log__timestamp', leave='ccnew')
    fingerprint = cluster.fingerprint(history_db)
    r = module_runner('reindex', {'indexes': ['pk_log', 'no_such_index']}, dbname=history_db).result
    assert r['failed'] is True and r['msg'] == 'indexes not found: public.no_such_index; nothing was changed.'
    r = module_runner('reindex', {'indexes': [ccnew]}, dbname=history_db).result
    assert r['failed'] is True
    assert r['msg'] == ('public.%s is an invalid leftover of a failed concurrent build; it is dropped, not rebuilt. '
                        'Nothing was changed.' % ccnew)
    r = module_runner('reindex', {'indexes': 'pk_log'}, dbname=history_db).result
    assert r['failed'] is True and r['msg'].startswith('indexes must be auto or a non-empty list of index names')
    r = module_runner('reindex', {'min_index_size': 'huge'}, dbname=history_db).result
    assert r['failed'] is True and r['msg'].startswith("min_index_size: 'huge' is not a size")
    assert cluster.fingerprint(history_db) == fingerprint


def test_a_second_run_is_skipped_while_one_holds_the_lock(cluster, history_db, module_runner):
    holder = cluster.connect(history_db)
    try:
        c.acquire_advisory_lock(holder, 'reindex')
        run = module_runner('reindex', {'indexes': ['pk_log']}, dbname=history_db)
    finally:
        holder.close()
    assert run.results[0]['status'] == 'skipped' and run.result['changed'] is False
    assert 'another reindex run holds the lock' in run.result['msg']


def test_max_runtime_starts_no_new_rebuild_and_reports_what_was_left(cluster, history_db, module_runner):
    query = "SELECT relname, relfilenode FROM pg_class WHERE relname IN ('pk_log', 'ix_log__level', 'ix_log__updated')"
    before = dict(cluster.sql(history_db, query))
    r = module_runner('reindex', {'indexes': ['pk_log', 'ix_log__level', 'ix_log__updated'], 'max_runtime': '1ms'},
                      dbname=history_db).result
    assert not r['failed'], r['msg']
    assert [i['status'] for i in r['indexes']] == ['done', 'not_started', 'not_started']
    assert r['left'] == ['public.ix_log__level', 'public.ix_log__updated']
    assert r['msg'].endswith('not started after max_runtime: public.ix_log__level, public.ix_log__updated')
    after = dict(cluster.sql(history_db, query))
    assert after['pk_log'] != before['pk_log']
    assert after['ix_log__level'] == before['ix_log__level'] and after['ix_log__updated'] == before['ix_log__updated']
