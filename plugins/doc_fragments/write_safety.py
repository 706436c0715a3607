# -*- coding: utf-8 -*-
# Copyright: prefectdb.maintenance contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    # The options every module that changes the database takes.
    DOCUMENTATION = r'''
options:
  lock_timeout:
    description:
      - How long one statement may wait for a table or row lock before it gives up (PostgreSQL's C(lock_timeout)),
        so maintenance never queues long behind Prefect's own traffic, and Prefect's traffic never queues behind it.
      - Seconds, or a duration such as C(5s), C(500ms), C(1m), or ISO-8601 C(PT5S).
    type: raw
    default: 5s
  wait:
    description:
      - When another run of this module holds its lock on the same database, wait for it (up to O(wait_timeout))
        instead of skipping.
    type: bool
    default: false
  wait_timeout:
    description:
      - How long O(wait=true) waits for another run to finish, as a duration.
    type: raw
    default: 15m
notes:
  - One run per module and database at a time. The module takes a session-level advisory lock
    (C(pg_try_advisory_lock)) on a key derived from its name and the database name; a second run
    reports who holds it and exits skipped, changing nothing.
  - The module refuses to run on a standby (a server in recovery) with a clear message, changing nothing.
'''
