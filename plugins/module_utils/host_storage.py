# -*- coding: utf-8 -*-
# Copyright: prefectdb.maintenance contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Free disk space where the database keeps its files, when the module runs on
the database host, and free space of a local directory."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import math
import os


def free_bytes(path):
    """Bytes an unprivileged writer can still use on the file system holding path."""
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def parse_postmaster_pid(text):
    """(data directory, start epoch, port) from the text of a postmaster.pid, or None."""
    lines = (text or '').splitlines()
    if len(lines) < 4:
        return None
    try:
        return lines[1], int(lines[2].strip()), int(lines[3].strip())
    except ValueError:
        return None


def read_postmaster_pid(data_directory):
    """parse_postmaster_pid() of the data directory's postmaster.pid, or None when unreadable."""
    try:
        with open(os.path.join(data_directory, 'postmaster.pid')) as f:
            return parse_postmaster_pid(f.read())
    except (IOError, OSError):
        return None


# The postmaster writes postmaster.pid early in its start and sets pg_postmaster_start_time()
# only after shared memory and its sockets are up: the server's time is the file's or later,
# by that setup time (milliseconds here; seconds with much shared memory).
STARTUP_SECONDS = 30


def same_server(pid_file, start_epoch, port, data_directory=None):
    """Whether a parsed postmaster.pid describes the server we are connected to.

    Line 3 of postmaster.pid is the postmaster's start time in whole seconds and
    line 4 its port. The port must be the port setting, and pg_postmaster_start_time()
    (its seconds, truncated) must be that time or up to STARTUP_SECONDS later, so a
    data directory of another server on this host is not mistaken for ours. With
    data_directory, the directory named in the file must be that one too.
    """
    if not pid_file:
        return False
    directory, started, pid_port = pid_file
    setup_seconds = int(math.floor(float(start_epoch))) - started
    if not 0 <= setup_seconds <= STARTUP_SECONDS or pid_port != int(port):
        return False
    return data_directory is None or os.path.realpath(directory) == os.path.realpath(data_directory)


def local_free_bytes(location):
    """(free bytes, None) when the server's files are on this host, else (None, reason).

    `location` is table_stats.storage_location(): the data directory is
    confirmed to belong to the connected server through its postmaster.pid.
    """
    data_directory = location.get('data_directory')
    if not data_directory:
        return None, ('the login may not read the data_directory setting (needs superuser or '
                      'pg_read_all_settings)')
    pid_file = os.path.join(data_directory, 'postmaster.pid')
    try:
        with open(pid_file) as f:
            text = f.read()
    except (IOError, OSError) as e:
        return None, 'the server\'s data directory %s is not readable here (%s)' % (data_directory, e.strerror or e)
    if not same_server(parse_postmaster_pid(text), location.get('start_epoch'), location.get('port')):
        return None, '%s belongs to another server than the one connected to' % data_directory
    directory = location.get('directory') or data_directory
    try:
        return free_bytes(directory), None
    except (IOError, OSError) as e:
        return None, 'cannot measure free space of %s (%s)' % (directory, e.strerror or e)
