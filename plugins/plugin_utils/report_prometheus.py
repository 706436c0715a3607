# -*- coding: utf-8 -*-
# Copyright: prefectdb.maintenance contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The key gauges of a report in Prometheus' text exposition format, for
node_exporter's textfile collector (write to <dir>/prefectdb_<host>.prom)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime

SEVERITY_VALUE = {'ok': 0, 'warning': 1, 'critical': 2}
STEP_VALUE = {'ok': 1, 'changed': 1, 'skipped': 1, 'failed': 0, 'not_run': 0}


def _label_value(value):
    return str(value).replace('\\', '\\\\').replace('\n', '\\n').replace('"', '\\"')


def _labels(labels):
    return '{%s}' % ','.join('%s="%s"' % (k, _label_value(v)) for k, v in sorted(labels.items()))


def _number(value):
    if isinstance(value, bool):
        return '1' if value else '0'
    return repr(float(value)) if isinstance(value, float) else str(int(value))


class Metrics(object):
    def __init__(self, base_labels):
        self.base = base_labels
        self.families = {}

    def add(self, name, help_text, value, **labels):
        if value is None:
            return
        family = self.families.setdefault(name, (help_text, []))
        merged = dict(self.base)
        merged.update(labels)
        family[1].append((merged, value))

    def render(self):
        lines = []
        for name in sorted(self.families):
            help_text, samples = self.families[name]
            lines.append('# HELP %s %s' % (name, help_text))
            lines.append('# TYPE %s gauge' % name)
            for labels, value in samples:
                lines.append('%s%s %s' % (name, _labels(labels), _number(value)))
        return '\n'.join(lines) + '\n'


def _epoch(iso_text):
    try:
        parsed = datetime.datetime.strptime(iso_text.rstrip('Z')[:19], '%Y-%m-%dT%H:%M:%S')
    except (AttributeError, ValueError):
        return None
    return (parsed - datetime.datetime(1970, 1, 1)).total_seconds()


def render_prometheus(document):
    db = document.get('database') or {}
    facts = document.get('facts') or {}
    m = Metrics({'host': document.get('host'), 'database': db.get('name') or ''})
    playbook = document.get('playbook')
    m.add('prefectdb_report_timestamp_seconds', 'When the maintenance report was generated.',
          _epoch(document.get('generated_at')), playbook=playbook)
    m.add('prefectdb_status', 'Worst severity of the run: 0 ok, 1 warning, 2 critical.',
          SEVERITY_VALUE.get(document.get('status'), 2), playbook=playbook)
    summary = document.get('summary') or {}
    for severity in ('critical', 'warning', 'ok'):
        m.add('prefectdb_findings', 'Findings of the health check by severity.', summary.get(severity, 0),
              severity=severity)
    for finding in document.get('findings') or []:
        if finding.get('severity') in ('warning', 'critical'):
            m.add('prefectdb_finding', 'A finding that needs attention: 1 warning, 2 critical.',
                  SEVERITY_VALUE[finding['severity']], id=finding.get('id'), subject=finding.get('subject'))
    for step in document.get('steps') or []:
        m.add('prefectdb_step_success', 'Whether a maintenance step succeeded (1) or failed (0).',
              STEP_VALUE.get(step['status'], 0), playbook=playbook, step=step['name'])
        m.add('prefectdb_step_changed', 'Whether a maintenance step changed the database.', step['changed'],
              playbook=playbook, step=step['name'])
    m.add('prefectdb_database_size_bytes', 'Size of the Prefect database.', db.get('size_bytes'))
    disk = facts.get('disk') or {}
    m.add('prefectdb_disk_used_percent', 'Used space of the filesystem holding the data directory.',
          disk.get('used_percent'))
    m.add('prefectdb_disk_available_bytes', 'Free space of the filesystem holding the data directory.',
          disk.get('available_bytes'))
    conns = facts.get('connections') or {}
    m.add('prefectdb_connections', 'Server connections open.', conns.get('total'))
    m.add('prefectdb_connections_used_percent', 'Connections open out of those usable by normal roles.',
          conns.get('used_percent'))
    m.add('prefectdb_connections_idle_in_transaction', 'Sessions idle in a transaction.',
          conns.get('idle_in_transaction'))
    horizon = (facts.get('xmin') or {}).get('horizon') or {}
    m.add('prefectdb_xmin_horizon_age_xids', 'Age in transactions of the oldest xmin holding back vacuum.',
          horizon.get('oldest_xmin_age'))
    for row in (facts.get('wraparound') or {}).get('databases') or []:
        if row.get('datname') == db.get('name'):
            m.add('prefectdb_xid_age_percent', 'age(datfrozenxid) against autovacuum_freeze_max_age.',
                  row.get('xid_percent'))
            m.add('prefectdb_mxid_age_percent', 'Multixact age against autovacuum_multixact_freeze_max_age.',
                  row.get('mxid_percent'))
    for table in ((facts.get('tables') or {}).get('tables') or []):
        name = table.get('qualified') or table.get('name')
        m.add('prefectdb_table_total_bytes', 'Heap, index and TOAST bytes of a table.', table.get('total_bytes'),
              table=name)
        m.add('prefectdb_table_dead_rows', 'Dead rows of a table (statistics).', table.get('dead_rows'), table=name)
        m.add('prefectdb_table_dead_row_ratio_percent', 'Dead rows per live row x 100, as the Prefect guide computes it.',
              table.get('dead_row_ratio_percent'), table=name)
        m.add('prefectdb_table_seconds_since_vacuum', 'Seconds since the last manual or automatic VACUUM.',
              table.get('seconds_since_vacuum'), table=name)
    prefect = facts.get('prefect') or {}
    events = prefect.get('events') or {}
    m.add('prefectdb_events_oldest_age_seconds', 'Age of the oldest row in events.', events.get('oldest_age_seconds'))
    runs = prefect.get('flow_runs') or {}
    m.add('prefectdb_flow_runs_per_day', 'Flow runs per day over the last 7 days.', runs.get('per_day_7d_average'))
    growth = facts.get('growth') or {}
    m.add('prefectdb_growth_bytes_per_day', 'Database growth per day from the health history.',
          growth.get('rate_bytes_per_day'))
    m.add('prefectdb_disk_days_until_full', 'Days until the disk is full at the current growth rate.',
          growth.get('days_until_full'))
    retention = (document.get('results') or {}).get('retention') or {}
    for table, rows in sorted((retention.get('deleted') or {}).items()):
        m.add('prefectdb_retention_deleted_rows', 'Rows deleted by the last retention run, per table.', rows,
              table=table)
    return m.render()
