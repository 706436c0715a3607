"""The connection layer's lock, timeout and standby helpers against a real server."""
import time

import pytest
from ansible_collections.prefectdb.maintenance.plugins.module_utils import connection as c


def test_advisory_lock_is_exclusive_per_module_and_database(cluster, prefect_db):
    first = cluster.connect(prefect_db)
    second = cluster.connect(prefect_db)
    other_db = cluster.connect('postgres')
    try:
        key = c.acquire_advisory_lock(first, 'retention')
        with pytest.raises(c.LockBusy) as busy:
            c.acquire_advisory_lock(second, 'retention')
        assert busy.value.holder['pid'] == first.get_backend_pid()
        assert 'another retention run holds the lock on database "%s" (pid %d' % (
            prefect_db, first.get_backend_pid()) in str(busy.value)
        # another module, or the same module on another database, is not blocked
        c.release_advisory_lock(second, c.acquire_advisory_lock(second, 'vacuum'))
        c.release_advisory_lock(other_db, c.acquire_advisory_lock(other_db, 'retention'))
        started = time.monotonic()
        with pytest.raises(c.LockBusy):
            c.acquire_advisory_lock(second, 'retention', wait=True, wait_timeout=1, poll_seconds=0.2)
        assert 0.9 <= time.monotonic() - started < 5
        c.release_advisory_lock(first, key)
        c.release_advisory_lock(second, c.acquire_advisory_lock(second, 'retention'))
    finally:
        for conn in (first, second, other_db):
            conn.close()


def test_session_timeouts_apply(cluster, prefect_db):
    conn = cluster.connect(prefect_db)
    try:
        c.set_session_timeouts(conn, lock_timeout=0.5, statement_timeout=2)
        assert c.fetch_value(conn, 'SHOW lock_timeout') == '500ms'
        assert c.fetch_value(conn, 'SHOW statement_timeout') == '2s'
        assert c.is_standby(conn) is False
    finally:
        conn.close()


def test_transaction_rolls_back_on_error(cluster, prefect_db):
    conn = cluster.connect(prefect_db)
    try:
        with pytest.raises(RuntimeError):
            with c.transaction(conn) as cur:
                cur.execute("INSERT INTO log (name, level, message, timestamp) VALUES ('t', 20, 'm', now())")
                raise RuntimeError('boom')
        assert c.fetch_value(conn, 'SELECT count(*) FROM log') == 0
        with c.transaction(conn) as cur:
            cur.execute("INSERT INTO log (name, level, message, timestamp) VALUES ('t', 20, 'm', now())")
        assert c.fetch_value(conn, 'SELECT count(*) FROM log') == 1
    finally:
        conn.close()
