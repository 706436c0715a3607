"""The HTML report of a real run, opened in a real headless Chromium: it renders,
logs no console error and fetches nothing; its screenshot is kept in tests/output/."""
import os

import pytest

from browser import Page, chromium_path
from testbed import REPO, run_playbook

OUTPUT = os.path.join(REPO, 'tests', 'output')


@pytest.fixture(autouse=True)
def need_chromium():
    assert chromium_path(), 'chromium is not installed: scripts/ensure_packages.sh installs it (make integration runs it)'


def test_the_harness_catches_console_errors(tmp_path):
    page_path = tmp_path / 'bad.html'
    page_path.write_text('<!DOCTYPE html><html><body><script>console.error("boom"); undefinedCall();</script>'
                         '<img src="missing.png"></body></html>')
    with Page() as page:
        page.open(str(page_path))
        problems = page.problems()
    assert any('console.error: boom' in p for p in problems), problems
    assert any(p.startswith('exception:') for p in problems), problems
    assert any(p.startswith('load failed') or 'missing.png' in p for p in problems), problems


def test_html_report_of_a_real_run_renders_cleanly(cluster, history_db, tmp_path):
    play = {
        'hosts': 'all', 'gather_facts': False,
        'module_defaults': {'group/prefectdb.maintenance.postgres': cluster.connection_args(history_db)},
        'tasks': [
            {'name': 'health', 'prefectdb.maintenance.health': {}, 'register': 'health'},
            {'name': 'report', 'ansible.builtin.include_role': {'name': 'prefectdb.maintenance.report'},
             'vars': {'prefectdb_report_playbook': 'daily', 'prefectdb_steps': {'health': '{{ health }}'},
                      'prefectdb_step_order': ['health'], 'prefectdb_report_dir': str(tmp_path)}},
        ],
    }
    run = run_playbook([play])
    assert run.rc == 0, run.stdout[-3000:]
    html = tmp_path / 'daily.html'
    assert html.exists()
    os.makedirs(OUTPUT, exist_ok=True)
    with Page() as page:
        page.open(str(html))
        assert page.problems() == []
        assert page.evaluate('document.title').startswith('Prefect database %s: daily maintenance' % history_db)
        sections = page.evaluate('[...document.querySelectorAll("section")].map(s => s.id)')
        assert sections[0] == 'red-flags'
        assert {'figures', 'steps', 'table-sizes', 'dead-rows', 'growth', 'tables'} <= set(sections)
        # the charts are drawn, with a bar per table
        assert page.evaluate('document.querySelectorAll("#table-sizes svg rect").length') > 10
        assert page.evaluate('document.querySelector("#red-flags").innerText').count('retention_drift') >= 1
        assert page.evaluate('document.body.scrollHeight') > 1000
        shot = page.screenshot(os.path.join(OUTPUT, 'report-daily.png'))
    assert os.path.getsize(shot) > 20000
