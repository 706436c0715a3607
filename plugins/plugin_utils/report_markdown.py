# -*- coding: utf-8 -*-
# Copyright: prefectdb.maintenance contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Markdown summary of a report document: red flags first, then steps and tables."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.prefectdb.maintenance.plugins.plugin_utils.report_document import (
    attention, human_bytes, human_seconds, key_figures, top_tables,
)


def _cell(value):
    text = '' if value is None else str(value)
    return text.replace('|', '\\|').replace('\n', ' ')


def _table(headers, rows):
    lines = ['| ' + ' | '.join(headers) + ' |', '|' + '---|' * len(headers)]
    lines += ['| ' + ' | '.join(_cell(c) for c in row) + ' |' for row in rows]
    return lines


def render_markdown(document):
    db = document.get('database') or {}
    summary = document.get('summary') or {}
    title = '# Prefect database %s: %s maintenance on %s' % (
        db.get('name') or '?', document.get('playbook'), document.get('host'))
    lines = [title,
             '',
             '**Status: %s**: %d critical, %d warning, %d ok%s. Generated %s.' % (
                 str(document.get('status')).upper(), summary.get('critical', 0), summary.get('warning', 0),
                 summary.get('ok', 0),
                 '; failed steps: %s' % ', '.join(summary['failed_steps']) if summary.get('failed_steps') else '',
                 document.get('generated_at')),
             '']
    lines += _table(['', ''], key_figures(document)) + ['']

    flags = attention(document)
    lines += ['## Red flags', '']
    if flags:
        lines += _table(['severity', 'finding', 'subject', 'value', 'threshold', 'message', 'what to do'],
                        [(f.get('severity'), f.get('id'), f.get('subject'), f.get('value'), f.get('threshold'),
                          f.get('message'), f.get('remediation')) for f in flags])
    else:
        lines.append('None: every check is within its thresholds.')
    lines.append('')

    lines += ['## Steps', '']
    lines += _table(['step', 'result', 'message'], [(s['name'], s['status'], s['msg']) for s in document.get('steps') or []])
    lines.append('')

    tables = top_tables(document)
    if tables:
        lines += ['## Largest tables', '']
        lines += _table(['table', 'total', 'heap', 'indexes', 'TOAST', 'live rows', 'dead rows', 'dead %',
                         'since vacuum'],
                        [(t.get('qualified') or t.get('name'), human_bytes(t.get('total_bytes')),
                          human_bytes(t.get('heap_bytes')), human_bytes(t.get('index_bytes')),
                          human_bytes(t.get('toast_bytes')), t.get('live_rows'), t.get('dead_rows'),
                          '%.1f' % (t.get('dead_row_ratio_percent') or 0.0),
                          human_seconds(t.get('seconds_since_vacuum'))) for t in tables])
        lines.append('')

    indexes = (document.get('facts') or {}).get('indexes') or {}
    if indexes.get('invalid') or indexes.get('unused'):
        lines += ['## Indexes to review', '']
        rows = [('invalid', i.get('qualified'), i.get('table'), human_bytes(i.get('size_bytes')))
                for i in indexes.get('invalid') or []]
        rows += [('unused', i.get('qualified'), i.get('table'), human_bytes(i.get('size_bytes')))
                 for i in indexes.get('unused') or []]
        lines += _table(['kind', 'index', 'table', 'size'], rows)
        lines.append('')
    return '\n'.join(lines) + '\n'
