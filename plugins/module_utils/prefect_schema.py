# -*- coding: utf-8 -*-
# Copyright: prefectdb.maintenance contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What this collection knows of Prefect's schema."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

# The tables the collection reads or cleans; created by Prefect's migrations.
PREFECT_TABLES = (
    'flow_run', 'task_run', 'flow_run_state', 'task_run_state', 'log',
    'artifact', 'artifact_collection', 'events', 'event_resources',
)

TERMINAL_STATE_TYPES = ('COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED')

# Extensions the maintenance can use when present.
USEFUL_EXTENSIONS = ('pgstattuple', 'pg_repack', 'pg_stat_statements')
