"""health_disk: the pure parts (statvfs maths, proof that the data directory is the server's)."""
import collections
import os

from ansible_collections.prefectdb.maintenance.plugins.module_utils.health_disk import (
    is_local_host, read_postmaster_pid, same_server, statvfs_figures,
)

Statvfs = collections.namedtuple('Statvfs', 'f_blocks f_bfree f_bavail f_frsize')


def test_statvfs_figures_like_df():
    # 1000 blocks, 300 free of which 250 available to users
    figures = statvfs_figures('/x', statvfs=lambda path: Statvfs(1000, 300, 250, 4096))
    assert figures == {'total_bytes': 4096000, 'available_bytes': 1024000, 'used_bytes': 2867200,
                       'used_percent': round(100.0 * 700 / 950, 2)}


def test_postmaster_pid(tmp_path):
    (tmp_path / 'postmaster.pid').write_text('4367\n%s\n1795816192\n54330\n/run\n127.0.0.1\n' % tmp_path)
    pid = read_postmaster_pid(str(tmp_path))
    assert pid == (str(tmp_path), 1795816192, 54330)
    assert same_server(pid, 1795816192, 54330, str(tmp_path))
    assert not same_server(pid, 1795816191, 54330, str(tmp_path))    # an earlier start: another server
    assert not same_server(pid, 1795816192 + 3600, 54330, str(tmp_path))    # an hour later: another server
    assert not same_server(pid, 1795816192, 5432, str(tmp_path))
    assert not same_server(None, 1, 1, str(tmp_path))
    assert read_postmaster_pid(os.path.join(str(tmp_path), 'missing')) is None
    (tmp_path / 'postmaster.pid').write_text('garbage\n')
    assert read_postmaster_pid(str(tmp_path)) is None


def test_is_local_host():
    assert all(is_local_host(h) for h in (None, '', 'localhost', '127.0.0.1', '127.0.1.1', '::1', '/var/run/pg'))
    assert not any(is_local_host(h) for h in ('db.example.com', '10.0.0.5'))
