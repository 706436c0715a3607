# -*- coding: utf-8 -*-
# Copyright: prefectdb.maintenance contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The report document: one JSON-able dict per playbook run and database, built
from the registered results of the roles' steps. Markdown, HTML and Prometheus
renderers read only this document."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

SCHEMA = 'prefectdb.maintenance/report/v1'
SEVERITY_ORDER = {'critical': 0, 'warning': 1, 'ok': 2}
# keys of a registered result that are Ansible's bookkeeping, not the module's answer
_BOOKKEEPING = ('invocation', '_ansible_no_log', '_ansible_verbose_always', 'ansible_facts', 'warnings_raw')


def step_status(result):
    """ok, changed, skipped, failed or not_run for one registered result."""
    if not result:
        return 'not_run'
    if result.get('failed'):
        return 'failed'
    if result.get('skipped'):
        return 'skipped'
    if result.get('changed'):
        return 'changed'
    return 'ok'


def clean_result(result):
    return dict((k, v) for k, v in (result or {}).items() if k not in _BOOKKEEPING)


def _step(name, result):
    result = result or {}
    msg = result.get('msg') or result.get('skip_reason') or ''
    if isinstance(msg, list):
        msg = '; '.join(str(m) for m in msg)
    return {'name': name, 'status': step_status(result), 'changed': bool(result.get('changed')),
            'msg': str(msg), 'warnings': list(result.get('warnings') or [])}


def worst(severities):
    ranked = sorted(severities, key=lambda s: SEVERITY_ORDER.get(s, 3))
    return ranked[0] if ranked else 'ok'


def build_document(playbook, host, steps, generated_at, order=None):
    """The report of one run.

    playbook: hourly|daily|weekly|monthly; host: inventory_hostname;
    steps: {step name: registered result}; generated_at: ISO-8601 UTC text;
    order: step names in the order they ran (default: sorted).
    """
    steps = dict(steps or {})
    names = [n for n in (order or sorted(steps)) if n in steps]
    health = clean_result(steps.get('health'))
    info = clean_result(steps.get('info'))
    findings = list(health.get('findings') or [])
    findings.sort(key=lambda f: (SEVERITY_ORDER.get(f.get('severity'), 3), f.get('check') or '', f.get('id') or ''))
    step_list = [_step(name, steps[name]) for name in names]
    failed = [s['name'] for s in step_list if s['status'] == 'failed']
    counts = dict((sev, sum(1 for f in findings if f.get('severity') == sev)) for sev in ('critical', 'warning', 'ok'))
    status = worst([f.get('severity') for f in findings] + (['critical'] if failed else []))
    facts = health.get('facts') or {}
    database = dict(facts.get('database') or {})
    if not database and info:
        database = {'name': (info.get('database') or {}).get('name'),
                    'size_bytes': (info.get('database') or {}).get('size_bytes'),
                    'server_version': info.get('server_version'),
                    'in_recovery': info.get('in_recovery')}
    return {
        'schema': SCHEMA,
        'playbook': playbook,
        'host': host,
        'generated_at': generated_at,
        'database': database,
        'status': status,
        'summary': {'critical': counts['critical'], 'warning': counts['warning'], 'ok': counts['ok'],
                    'failed_steps': failed, 'changed_steps': [s['name'] for s in step_list if s['changed']]},
        'findings': findings,
        'steps': step_list,
        'facts': facts,
        'results': dict((name, clean_result(steps[name])) for name in names),
    }


def attention(document):
    """The findings that are not ok, worst first."""
    return [f for f in document.get('findings') or [] if f.get('severity') in ('critical', 'warning')]


def human_bytes(value):
    if value is None:
        return 'n/a'
    value = float(value)
    for unit in ('B', 'kB', 'MB', 'GB', 'TB'):
        if abs(value) < 1024 or unit == 'TB':
            return ('%d %s' % (value, unit)) if unit == 'B' else ('%.1f %s' % (value, unit))
        value /= 1024.0
    return '%.1f TB' % value


def human_seconds(value):
    if value is None:
        return 'never'
    value = float(value)
    for unit, size in (('d', 86400), ('h', 3600), ('min', 60)):
        if value >= size:
            return '%.1f %s' % (value / size, unit)
    return '%d s' % value


def top_tables(document, limit=15):
    tables = ((document.get('facts') or {}).get('tables') or {}).get('tables') or []
    return sorted(tables, key=lambda t: -(t.get('total_bytes') or 0))[:limit]


def key_figures(document):
    """(label, value text) pairs for the head of the human reports."""
    facts = document.get('facts') or {}
    db = document.get('database') or {}
    disk = facts.get('disk') or {}
    conns = facts.get('connections') or {}
    prefect = facts.get('prefect') or {}
    events = prefect.get('events') or {}
    runs = prefect.get('flow_runs') or {}
    growth = facts.get('growth') or {}
    figures = [('Database', '%s, %s' % (db.get('name') or '?', human_bytes(db.get('size_bytes')))),
               ('PostgreSQL', str(db.get('server_version') or '?'))]
    if disk:
        used = disk.get('used_percent')
        figures.append(('Disk used', 'unknown' if used is None else '%.1f%% of %s (%s free)' % (
            used, human_bytes(disk.get('total_bytes')), human_bytes(disk.get('available_bytes')))))
    if conns:
        figures.append(('Connections', '%s of %s usable (%.1f%%)' % (conns.get('total'), conns.get('usable'),
                                                                     conns.get('used_percent') or 0.0)))
    checkpoints = facts.get('checkpoints') or {}
    if checkpoints:
        pct = checkpoints.get('requested_percent')
        total = (checkpoints.get('timed') or 0) + (checkpoints.get('requested') or 0)
        figures.append(('Checkpoints requested', 'no checkpoint since the statistics reset' if pct is None else
                        '%.0f%% of %d (max_wal_size %s)' % (pct, total, human_bytes(checkpoints.get('max_wal_size')))))
    if events:
        figures.append(('Oldest event', '%s (%s old)' % (events.get('oldest'), human_seconds(events.get('oldest_age_seconds')))))
    if runs:
        figures.append(('Flow runs per day (7 d)', '%.1f' % (runs.get('per_day_7d_average') or 0.0)))
    if growth.get('rate_bytes_per_day') is not None:
        figures.append(('Growth', '%s per day' % human_bytes(growth['rate_bytes_per_day'])))
    if growth.get('days_until_full') is not None:
        figures.append(('Disk full in', '%.0f days at this rate' % growth['days_until_full']))
    return figures
