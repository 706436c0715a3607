"""Report rendering from a real health result (captured from the module on synthetic history)."""
import copy
import json
import os
import re
from html.parser import HTMLParser

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.prefectdb.maintenance.plugins.filter.report import (
    report_document, report_html, report_markdown, report_prometheus,
)

FIXTURE = os.path.join(os.path.dirname(__file__), '..', '..', 'fixtures', 'health_result.json')


@pytest.fixture
def health():
    with open(FIXTURE) as f:
        return json.load(f)


@pytest.fixture
def steps(health):
    disk = {'failed': True, 'msg': 'vacuum failed: lock timeout on public.log'}
    return {'health': health, 'retention': {'changed': True, 'msg': 'deleted 10 events'}, 'vacuum': disk,
            'backup': {'skipped': True, 'skip_reason': 'backups are opt-in'}}


def doc(steps, **kw):
    return report_document(steps, 'daily', 'prefect-prod', '2026-11-27T03:00:00Z',
                           kw.get('order', ['health', 'retention', 'vacuum', 'backup']))


def test_document_status_counts_and_steps(steps, health):
    d = doc(steps)
    assert d['schema'] == 'prefectdb.maintenance/report/v1'
    assert d['status'] == 'critical'  # a failed step makes the run critical
    assert d['summary']['warning'] == health['summary']['warning']
    assert d['summary']['failed_steps'] == ['vacuum']
    assert d['summary']['changed_steps'] == ['retention']
    assert [s['status'] for s in d['steps']] == ['ok', 'changed', 'failed', 'skipped']
    assert d['steps'][3]['msg'] == 'backups are opt-in'
    severities = [f['severity'] for f in d['findings']]
    assert severities == sorted(severities, key={'critical': 0, 'warning': 1, 'ok': 2}.get)
    assert d['database']['name'] == 'prefect'
    assert 'invocation' not in d['results']['health']
    json.dumps(d)  # plain JSON all the way down


def test_status_follows_worst_finding_without_failures(steps):
    del steps['vacuum']
    assert doc(steps)['status'] == 'warning'
    for f in steps['health']['findings']:
        f['severity'] = 'ok'
    assert doc(steps)['status'] == 'ok'


def test_markdown_has_red_flags_first(steps):
    text = report_markdown(doc(steps))
    assert text.startswith('# Prefect database prefect: daily maintenance on prefect-prod')
    assert '**Status: CRITICAL**' in text
    assert text.index('## Red flags') < text.index('## Steps') < text.index('## Largest tables')
    assert 'retention_drift' in text
    assert '| vacuum | failed | vacuum failed: lock timeout on public.log |' in text


class Checker(HTMLParser):
    VOID = {'meta', 'br', 'img', 'input', 'link', 'rect', 'line', 'polyline', 'hr'}

    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.tags = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append('unexpected </%s> with open %s' % (tag, self.stack[-3:]))
        else:
            self.stack.pop()


def test_html_is_self_contained_and_balanced(steps):
    page = report_html(doc(steps))
    checker = Checker()
    checker.feed(page)
    assert checker.errors == [] and checker.stack == []
    tags = [t for t, dummy in checker.tags]
    assert 'script' not in tags and 'img' not in tags and 'link' not in tags
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert page.index('id="red-flags"') < page.index('id="table-sizes"') < page.index('id="dead-rows"')
    assert tags.count('svg') >= 2


def test_html_escapes_what_it_shows(steps):
    steps['vacuum']['msg'] = '<script>alert(1)</script>'
    page = report_html(doc(steps))
    assert '<script>' not in page and '&lt;script&gt;' in page


def test_growth_chart_uses_series_when_present(steps):
    d = doc(steps)
    assert 'Not enough history yet' in report_html(d)
    d = copy.deepcopy(d)
    d['facts']['growth']['series'] = [{'at': '2026-11-%02dT00:00:00Z' % day, 'database_bytes': 1e9 + day * 1e7}
                                      for day in range(1, 28)]
    assert '<polyline' in report_html(d)


def test_prometheus_text_format(steps):
    text = report_prometheus(doc(steps))
    sample = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*\{([a-z_]+="([^"\\]|\\.)*",?)*\} -?[0-9.e+-]+$')
    names = set()
    for line in text.splitlines():
        if line.startswith('# '):
            assert re.match(r'^# (HELP|TYPE) prefectdb_[a-z_]+ .+$', line), line
            continue
        assert sample.match(line), line
        names.add(line.split('{')[0])
    for name in ('prefectdb_status', 'prefectdb_findings', 'prefectdb_step_success', 'prefectdb_database_size_bytes',
                 'prefectdb_disk_used_percent', 'prefectdb_connections_used_percent', 'prefectdb_table_total_bytes',
                 'prefectdb_events_oldest_age_seconds'):
        assert name in names
    assert 'prefectdb_status{database="prefect",host="prefect-prod",playbook="daily"} 2' in text
    assert 'prefectdb_step_success{database="prefect",host="prefect-prod",playbook="daily",step="vacuum"} 0' in text


def test_bad_input_is_a_clear_error():
    with pytest.raises(AnsibleFilterError, match='expects a dict of step results'):
        report_document(['x'], 'daily', 'h', 't')
    with pytest.raises(AnsibleFilterError, match='expects a document made by report_document'):
        report_html({'status': 'ok'})


def test_checkpoints_key_figure_only_when_the_check_ran(steps):
    assert 'Checkpoints requested' not in report_markdown(doc(steps))
    steps['health']['facts']['checkpoints'] = {'timed': 30, 'requested': 10, 'requested_percent': 25.0,
                                               'max_wal_size': 1073741824}
    assert '| Checkpoints requested | 25% of 40 (max_wal_size 1.0 GB) |' in report_markdown(doc(steps))
    assert 'Checkpoints requested' in report_html(doc(steps))
    steps['health']['facts']['checkpoints'] = {'timed': 0, 'requested': 0, 'requested_percent': None,
                                               'max_wal_size': 1073741824}
    assert 'no checkpoint since the statistics reset' in report_markdown(doc(steps))
