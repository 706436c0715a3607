# -*- coding: utf-8 -*-
# Copyright: prefectdb.maintenance contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Disk figures for the health module, never guessed:

1. disk_total_bytes stated by the operator (managed databases): used = every
   database plus WAL, from pg_database_size() and pg_ls_waldir();
2. else statvfs() of the data directory when the module runs on the database host,
   proven by postmaster.pid (same start time and port as the server we talk to) or,
   when that file is unreadable, by a local connection;
3. else `unknown`."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.prefectdb.maintenance.plugins.module_utils.connection import fetch_one
from ansible_collections.prefectdb.maintenance.plugins.module_utils.host_storage import (
    read_postmaster_pid, same_server)

try:
    import psycopg2
except ImportError:  # pragma: no cover - guarded by connection.prefect_module()
    psycopg2 = None

LOCAL_HOSTS = ('', 'localhost', '127.0.0.1', '::1')


def statvfs_figures(path, statvfs=os.statvfs):
    """total, available, used bytes and used percent as df computes them
    (used / (used + available), so blocks reserved for root count as unavailable)."""
    st = statvfs(path)
    total = st.f_blocks * st.f_frsize
    free = st.f_bfree * st.f_frsize
    available = st.f_bavail * st.f_frsize
    used = total - free
    pct = round(100.0 * used / (used + available), 2) if (used + available) else None
    return {'total_bytes': int(total), 'available_bytes': int(available), 'used_bytes': int(used),
            'used_percent': pct}


def is_local_host(host):
    host = host or ''
    return host in LOCAL_HOSTS or host.startswith('/') or host.startswith('127.')


def collect_disk(ctx):
    row = fetch_one(ctx.conn, """
        SELECT (SELECT setting FROM pg_settings WHERE name = 'data_directory') AS data_directory,
               current_setting('port')::int AS port,
               floor(EXTRACT(epoch FROM pg_postmaster_start_time()))::bigint AS start_epoch,
               pg_database_size(current_database()) AS database_bytes""")
    facts = {
        'data_directory': row['data_directory'],
        'method': 'unknown',
        'verified': False,
        'total_bytes': None,
        'available_bytes': None,
        'used_bytes': None,
        'used_percent': None,
        'database_bytes': int(row['database_bytes']),
        'cluster_bytes': None,
        'wal_bytes': None,
        'reason': None,
    }
    if ctx.disk_total_bytes:
        return _stated(ctx, facts)
    directory = row['data_directory']
    if not directory:
        facts['reason'] = ('data_directory is not visible to this login (needs pg_read_all_settings or pg_monitor); '
                           'set disk_total_bytes')
        return facts
    if not os.path.isdir(directory):
        facts['reason'] = ('the data directory %s is not on the host running the module; run the module on the '
                           'database host or set disk_total_bytes' % directory)
        return facts
    pid_file = read_postmaster_pid(directory)
    host = ctx.conn.get_dsn_parameters().get('host')
    if same_server(pid_file, row['start_epoch'], row['port'], directory):
        facts['verified'] = True
    elif pid_file is not None:
        facts['reason'] = ('%s belongs to another server (its postmaster.pid does not match this one); run the module '
                           'on the database host or set disk_total_bytes' % directory)
        return facts
    elif not is_local_host(host):
        facts['reason'] = ('cannot prove %s is this server\'s data directory (postmaster.pid unreadable and the '
                           'connection is not local); set disk_total_bytes' % directory)
        return facts
    facts.update(statvfs_figures(directory))
    facts['method'] = 'statvfs'
    return facts


def _stated(ctx, facts):
    """Used space from the server when the operator states the volume size."""
    total = int(ctx.disk_total_bytes)
    try:
        cluster = fetch_one(ctx.conn, """
            SELECT sum(pg_database_size(oid))::bigint AS bytes FROM pg_database""")['bytes']
    except psycopg2.Error:
        cluster = facts['database_bytes']
    try:
        wal = fetch_one(ctx.conn, 'SELECT COALESCE(sum(size), 0)::bigint AS bytes FROM pg_ls_waldir()')['bytes']
    except psycopg2.Error:
        wal = None  # pg_ls_waldir needs pg_monitor
    used = int(cluster) + int(wal or 0)
    facts.update({
        'method': 'disk_total_bytes',
        'total_bytes': total,
        'used_bytes': used,
        'available_bytes': max(total - used, 0),
        'used_percent': round(100.0 * used / total, 2),
        'cluster_bytes': int(cluster),
        'wal_bytes': None if wal is None else int(wal),
        'reason': 'used = all databases%s, against the stated disk_total_bytes' % (
            ' + WAL' if wal is not None else ' (WAL size not visible to this login)'),
    })
    return facts
