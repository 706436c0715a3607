# -*- coding: utf-8 -*-
# Copyright: prefectdb.maintenance contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One self-contained HTML page per report: inline CSS and SVG charts, no scripts,
no fonts or images fetched, so it opens anywhere, offline. Red flags first."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from html import escape

from ansible_collections.prefectdb.maintenance.plugins.plugin_utils.report_document import (
    attention, human_bytes, human_seconds, key_figures, top_tables,
)

COLORS = {'critical': '#b42318', 'warning': '#b54708', 'ok': '#067647', 'heap': '#2e90fa', 'index': '#7a5af8',
          'toast': '#98a2b3', 'line': '#2e90fa'}

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#101828;background:#f9fafb}
header{padding:20px 32px;color:#fff}
header h1{margin:0 0 4px 0;font-size:22px} header p{margin:0;opacity:.9}
main{padding:8px 32px 40px 32px;max-width:1200px}
section{background:#fff;border:1px solid #eaecf0;border-radius:8px;margin:16px 0;padding:16px 20px}
h2{font-size:17px;margin:0 0 12px 0}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #eaecf0;vertical-align:top}
th{background:#f2f4f7;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:12px;font-weight:600}
.figures{display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));gap:8px}
.figure{border:1px solid #eaecf0;border-radius:6px;padding:8px 10px}
.figure .label{font-size:12px;color:#475467} .figure .value{font-size:14px;font-weight:600}
.empty{color:#475467;font-style:italic}
svg text{font-family:system-ui,sans-serif;font-size:11px;fill:#344054}
"""


def _badge(severity):
    return '<span class="badge" style="background:%s">%s</span>' % (
        COLORS.get(severity, '#475467'), escape(str(severity)))


def _status_badge(status):
    """A step's status, colored by what it means for the operator."""
    color = {'failed': 'critical', 'changed': 'warning', 'not_run': 'skipped'}.get(status, 'ok')
    return '<span class="badge" style="background:%s">%s</span>' % (COLORS.get(color, '#475467'), escape(status))


def _rows(headers, rows, numeric=()):
    out = ['<table><thead><tr>%s</tr></thead><tbody>' % ''.join('<th>%s</th>' % escape(h) for h in headers)]
    for row in rows:
        cells = []
        for index, cell in enumerate(row):
            raw = cell if isinstance(cell, RawHtml) else escape('' if cell is None else str(cell))
            cells.append('<td%s>%s</td>' % (' class="num"' if index in numeric else '', raw))
        out.append('<tr>%s</tr>' % ''.join(cells))
    out.append('</tbody></table>')
    return ''.join(out)


class RawHtml(str):
    """Markup built here, not to be escaped again."""


def bar_chart(title, bars, unit_format, thresholds=(), width=760):
    """Horizontal bars: bars is [(label, [(value, color, legend)])], stacked per label."""
    if not bars:
        return '<p class="empty">No data for %s.</p>' % escape(title)
    label_w, row_h, top = 190, 22, 24
    plot_w = width - label_w - 90
    peak = max([sum(v for v, dummy, dummy2 in parts) for dummy3, parts in bars] + [t for t, dummy4 in thresholds] + [1e-9])
    height = top + row_h * len(bars) + 24
    out = ['<svg role="img" aria-label="%s" width="%d" height="%d" viewBox="0 0 %d %d">' % (
        escape(title), width, height, width, height)]
    legends = []
    for dummy, parts in bars:
        for dummy2, color, legend in parts:
            if legend and (legend, color) not in legends:
                legends.append((legend, color))
    x = label_w
    for legend, color in legends:
        out.append('<rect x="%d" y="4" width="10" height="10" fill="%s"/><text x="%d" y="13">%s</text>' % (
            x, color, x + 14, escape(legend)))
        x += 14 + 8 * len(legend) + 16
    for i, (label, parts) in enumerate(bars):
        y = top + i * row_h
        out.append('<text x="%d" y="%d" text-anchor="end">%s</text>' % (label_w - 6, y + 14, escape(label[:30])))
        x = float(label_w)
        for value, color, dummy in parts:
            w = plot_w * (value or 0) / peak
            out.append('<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"/>' % (x, y + 3, w, row_h - 6, color))
            x += w
        total = sum(v or 0 for v, dummy, dummy2 in parts)
        out.append('<text x="%.1f" y="%d">%s</text>' % (x + 4, y + 14, escape(unit_format(total))))
    for value, color in thresholds:
        tx = label_w + plot_w * value / peak
        out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-dasharray="4 3"/>' % (
            tx, top - 2, tx, height - 20, color))
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (tx, height - 6, escape(unit_format(value))))
    out.append('</svg>')
    return ''.join(out)


def line_chart(title, points, unit_format, width=760, height=220):
    """points: [(label, value)] in time order."""
    points = [(label, value) for label, value in points if value is not None]
    if len(points) < 2:
        return '<p class="empty">Not enough history yet for %s (the health check records one snapshot per run).</p>' % (
            escape(title))
    left, right, top, bottom = 80, 20, 16, 36
    low = min(v for dummy, v in points)
    high = max(v for dummy, v in points)
    span = (high - low) or max(high, 1.0)
    low = max(0.0, low - span * 0.1)
    high = high + span * 0.1

    def xy(i, v):
        x = left + (width - left - right) * i / float(len(points) - 1)
        y = top + (height - top - bottom) * (1 - (v - low) / (high - low))
        return x, y

    coords = [xy(i, v) for i, (dummy, v) in enumerate(points)]
    out = ['<svg role="img" aria-label="%s" width="%d" height="%d" viewBox="0 0 %d %d">' % (
        escape(title), width, height, width, height)]
    for frac in (0.0, 0.5, 1.0):
        v = low + (high - low) * frac
        dummy, y = xy(0, v)
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eaecf0"/><text x="%d" y="%.1f" '
                   'text-anchor="end">%s</text>' % (left, y, width - right, y, left - 6, y + 4, escape(unit_format(v))))
    out.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>' % (
        COLORS['line'], ' '.join('%.1f,%.1f' % c for c in coords)))
    last = len(points) - 1
    for index in sorted({0, last // 2, last}):
        x, dummy = coords[index]
        anchor = 'start' if index == 0 else 'end' if index == last else 'middle'
        out.append('<text x="%.1f" y="%d" text-anchor="%s">%s</text>' % (
            x, height - 12, anchor, escape(points[index][0][:10])))
    out.append('</svg>')
    return ''.join(out)


def render_html(document, dead_row_thresholds=(20.0, 50.0, 100.0)):
    db = document.get('database') or {}
    summary = document.get('summary') or {}
    status = document.get('status') or 'ok'
    title = 'Prefect database %s: %s maintenance on %s' % (db.get('name') or '?', document.get('playbook'),
                                                           document.get('host'))
    parts = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             '<title>%s</title><style>%s</style></head><body>' % (escape(title), CSS),
             '<header style="background:%s"><h1>%s</h1><p>Status %s: %d critical, %d warning, %d ok%s. Generated %s.'
             '</p></header><main>' % (
                 COLORS.get(status, '#475467'), escape(title), escape(status.upper()), summary.get('critical', 0),
                 summary.get('warning', 0), summary.get('ok', 0),
                 escape('; failed steps: %s' % ', '.join(summary['failed_steps'])) if summary.get('failed_steps') else '',
                 escape(str(document.get('generated_at'))))]

    flags = attention(document)
    parts.append('<section id="red-flags"><h2>Red flags</h2>')
    if flags:
        parts.append(_rows(['severity', 'finding', 'subject', 'value', 'threshold', 'message', 'what to do'],
                           [(RawHtml(_badge(f.get('severity'))), f.get('id'), f.get('subject'), f.get('value'),
                             f.get('threshold'), f.get('message'), f.get('remediation')) for f in flags]))
    else:
        parts.append('<p>None: every check is within its thresholds.</p>')
    parts.append('</section>')

    parts.append('<section id="figures"><h2>Key figures</h2><div class="figures">%s</div></section>' % ''.join(
        '<div class="figure"><div class="label">%s</div><div class="value">%s</div></div>' % (escape(k), escape(v))
        for k, v in key_figures(document)))

    parts.append('<section id="steps"><h2>Steps</h2>%s</section>' % _rows(
        ['step', 'result', 'message'],
        [(s['name'], RawHtml(_status_badge(s['status'])), s['msg']) for s in document.get('steps') or []]))

    tables = top_tables(document, limit=12)
    parts.append('<section id="table-sizes"><h2>Table sizes</h2>%s</section>' % bar_chart(
        'table sizes', [(t.get('name') or t.get('qualified'), [(t.get('heap_bytes') or 0, COLORS['heap'], 'heap'),
                                                               (t.get('index_bytes') or 0, COLORS['index'], 'indexes'),
                                                               (t.get('toast_bytes') or 0, COLORS['toast'], 'TOAST')])
                        for t in tables], human_bytes))
    ratio_tables = sorted(tables, key=lambda t: -(t.get('dead_row_ratio_percent') or 0))
    parts.append('<section id="dead-rows"><h2>Dead-row ratio (dead / live rows)</h2>%s</section>' % bar_chart(
        'dead-row ratio', [(t.get('name') or t.get('qualified'),
                            [(t.get('dead_row_ratio_percent') or 0.0,
                              COLORS['critical'] if (t.get('dead_row_ratio_percent') or 0) > dead_row_thresholds[2]
                              else COLORS['warning'] if (t.get('dead_row_ratio_percent') or 0) > dead_row_thresholds[0]
                              else COLORS['ok'], None)]) for t in ratio_tables],
        lambda v: '%.0f%%' % v, thresholds=[(dead_row_thresholds[1], COLORS['warning']),
                                            (dead_row_thresholds[2], COLORS['critical'])]))
    series = ((document.get('facts') or {}).get('growth') or {}).get('series') or []
    parts.append('<section id="growth"><h2>Database size, last 30 days</h2>%s</section>' % line_chart(
        'database size over time', [(p.get('at') or '', p.get('database_bytes')) for p in series], human_bytes))

    if tables:
        parts.append('<section id="tables"><h2>Largest tables</h2>%s</section>' % _rows(
            ['table', 'total', 'heap', 'indexes', 'TOAST', 'live rows', 'dead rows', 'dead %', 'since vacuum'],
            [(t.get('qualified'), human_bytes(t.get('total_bytes')), human_bytes(t.get('heap_bytes')),
              human_bytes(t.get('index_bytes')), human_bytes(t.get('toast_bytes')), t.get('live_rows'),
              t.get('dead_rows'), '%.1f' % (t.get('dead_row_ratio_percent') or 0.0),
              human_seconds(t.get('seconds_since_vacuum'))) for t in top_tables(document)],
            numeric=(1, 2, 3, 4, 5, 6, 7)))
    ok = [f for f in document.get('findings') or [] if f.get('severity') == 'ok']
    if ok:
        parts.append('<section id="passed"><h2>Checks that passed</h2>%s</section>' % _rows(
            ['finding', 'message'], [(f.get('id'), f.get('message')) for f in ok]))
    parts.append('</main></body></html>\n')
    return ''.join(parts)
