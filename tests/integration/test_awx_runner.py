"""daily.yml run through ansible-runner, as AWX runs job templates: the runner's
artifacts say successful, carry the play stats and the set_stats data, and the report exists."""
import json
import os

import ansible_runner
import yaml

from testbed import BIN, COLLECTIONS, PASSWORD, REPO


def test_daily_playbook_through_ansible_runner(cluster, history_db, tmp_path):
    private = tmp_path / 'runner'
    (private / 'inventory').mkdir(parents=True)
    (private / 'env').mkdir()
    reports = tmp_path / 'reports'
    inventory = {'all': {'children': {'prefect_databases': {'hosts': {'prefect-test': {
        'ansible_connection': 'local',
        'ansible_python_interpreter': os.path.join(BIN, 'python'),
        'prefectdb_connection': cluster.connection_args(history_db),
        'prefectdb_report_dir': str(reports),
        'prefectdb_retention_now': '2026-01-01T00:00:00Z',
    }}}}}}
    (private / 'inventory' / 'hosts.yml').write_text(yaml.safe_dump(inventory))
    runner = ansible_runner.run(
        private_data_dir=str(private), playbook=os.path.join(REPO, 'playbooks', 'daily.yml'),
        envvars={'ANSIBLE_COLLECTIONS_PATH': COLLECTIONS, 'ANSIBLE_NOCOLOR': '1',
                 'PATH': BIN + os.pathsep + os.environ['PATH']},
        quiet=True, timeout=600)
    stdout = runner.stdout.read()
    assert runner.status == 'successful', stdout[-4000:]
    assert runner.rc == 0
    assert runner.stats['failures'] == {} and runner.stats['dark'] == {}
    assert runner.stats['ok']['prefect-test'] >= 10
    artifacts = private / 'artifacts' / runner.config.ident
    assert (artifacts / 'status').read_text() == 'successful'
    assert (artifacts / 'rc').read_text() == '0'
    stats_events = [e for e in runner.events if e.get('event') == 'playbook_on_stats']
    reported = stats_events[0]['event_data']['artifact_data']['prefectdb_reports']['prefect-test']
    assert reported['playbook'] == 'daily'
    assert reported['report'] == str(reports / 'daily.json')
    assert reported['failed_steps'] == []
    report = json.loads((reports / 'daily.json').read_text())
    assert report['status'] == reported['status']
    assert (reports / 'daily.html').stat().st_size > 5000
    # the password never reaches the job output AWX stores
    assert PASSWORD not in stdout
    event_files = list((artifacts / 'job_events').glob('*.json'))
    assert len(event_files) > 10
    assert not [f.name for f in event_files if PASSWORD in f.read_text()]
