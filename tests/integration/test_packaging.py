"""The collection as users get it: a tarball that installs offline, docs that render,
and an execution environment definition ansible-builder accepts."""
import os
import shutil
import subprocess

import pytest
import yaml

from testbed import BIN, REPO

MODULES = ['info', 'health', 'autovacuum', 'retention', 'vacuum', 'reindex', 'backup']
# Each filter and a phrase of its rendered description.
FILTERS = {'json_query': 'JMESPath', 'report_document': 'report', 'report_markdown': 'Markdown summary',
           'report_html': 'self-contained HTML', 'report_prometheus': 'textfile collector'}


@pytest.fixture(scope='module')
def tarball(tmp_path_factory):
    out = tmp_path_factory.mktemp('dist')
    subprocess.run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'build', '--output-path', str(out), REPO],
                   check=True, capture_output=True, text=True)
    built = [p for p in os.listdir(out) if p.endswith('.tar.gz')]
    assert built == ['prefectdb-maintenance-0.1.0.tar.gz']
    return os.path.join(str(out), built[0])


def test_tarball_leaves_out_generated_junk(tarball):
    listing = subprocess.run(['tar', '-tzf', tarball], check=True, capture_output=True, text=True).stdout.split()
    for junk in ('.venv/', '.venv-prefect/', '.pg/', '.build/', 'reports/', 'tests/output/', '.git/'):
        assert not any(name.startswith(junk) for name in listing), junk
    for needed in ['MANIFEST.json', 'meta/runtime.yml', 'plugins/filter/json_query.py', 'roles/daily/tasks/main.yml',
                   'playbooks/daily.yml'] + ['plugins/modules/%s.py' % m for m in MODULES]:
        assert needed in listing, needed


def test_tarball_installs_offline_and_every_module_renders(tarball, tmp_path):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(tmp_path), ANSIBLE_GALAXY_SERVER='http://127.0.0.1:9/',
               no_proxy='*')
    subprocess.run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'install', '--offline', '-p', str(tmp_path),
                    tarball], check=True, capture_output=True, text=True, env=env)
    assert os.path.isfile(os.path.join(str(tmp_path), 'ansible_collections', 'prefectdb', 'maintenance',
                                       'MANIFEST.json'))
    for module in MODULES:
        doc = subprocess.run([os.path.join(BIN, 'ansible-doc', ), 'prefectdb.maintenance.%s' % module],
                             check=True, capture_output=True, text=True, env=env).stdout
        assert 'login_host' in doc and 'EXAMPLES' in doc, module
    for name, words in FILTERS.items():
        doc = subprocess.run([os.path.join(BIN, 'ansible-doc'), '-t', 'filter', 'prefectdb.maintenance.%s' % name],
                             check=True, capture_output=True, text=True, env=env).stdout
        assert words in doc, name
    roles = subprocess.run([os.path.join(BIN, 'ansible-doc'), '-t', 'role', '-l', 'prefectdb.maintenance'],
                           check=True, capture_output=True, text=True, env=env).stdout
    for role in ('hourly', 'daily', 'weekly', 'monthly'):
        assert 'prefectdb.maintenance.%s' % role in roles


def test_execution_environment_definition_builds_a_context(tarball, tmp_path):
    shutil.copy(os.path.join(REPO, 'execution-environment.yml'), str(tmp_path))
    shutil.copy(tarball, str(tmp_path))
    subprocess.run([os.path.join(BIN, 'ansible-builder'), 'create', '-f', 'execution-environment.yml', '-c', 'ctx'],
                   cwd=str(tmp_path), check=True, capture_output=True, text=True)
    context = tmp_path / 'ctx'
    containerfile = (context / 'Dockerfile').read_text()
    assert 'ansible-galaxy collection install' in containerfile
    assert 'pg_repack_' in containerfile and 'postgresql${PG_MAJOR}' in containerfile
    requirements = (context / '_build' / 'requirements.txt').read_text()
    assert 'psycopg2-binary' in requirements and 'jmespath' in requirements
    galaxy = yaml.safe_load((context / '_build' / 'requirements.yml').read_text())
    assert galaxy['collections'] == [{'name': 'prefectdb-maintenance-0.1.0.tar.gz', 'type': 'file'}]
    assert (context / '_build' / 'collections' / 'prefectdb-maintenance-0.1.0.tar.gz').exists()


def _health_check_choices():
    with open(os.path.join(REPO, 'plugins', 'modules', 'health.py')) as source:
        text = source.read()
    documentation = text.split("DOCUMENTATION = r'''", 1)[1].split("'''", 1)[0]
    return yaml.safe_load(documentation)['options']['checks']['choices']


@pytest.mark.parametrize('role', ['hourly', 'weekly', 'monthly'])
def test_role_check_choices_follow_the_health_module(role):
    """A check added to health must be accepted by every role that lets operators choose checks."""
    with open(os.path.join(REPO, 'roles', role, 'meta', 'argument_specs.yml')) as spec_file:
        options = yaml.safe_load(spec_file)['argument_specs']['main']['options']
    assert options['prefectdb_%s_checks' % role]['choices'] == _health_check_choices()


@pytest.mark.parametrize('role', ['hourly', 'daily', 'weekly', 'monthly'])
def test_role_defaults_and_argument_specs_agree(role):
    """Every default has a spec with the same default, so a typo in an inventory fails before any task."""
    with open(os.path.join(REPO, 'roles', role, 'defaults', 'main.yml')) as defaults_file:
        defaults = yaml.safe_load(defaults_file)
    with open(os.path.join(REPO, 'roles', role, 'meta', 'argument_specs.yml')) as spec_file:
        options = yaml.safe_load(spec_file)['argument_specs']['main']['options']
    assert sorted(set(defaults) - set(options)) == []
    mismatched = dict((name, (value, options[name].get('default')))
                      for name, value in defaults.items() if options[name].get('default') != value)
    assert mismatched == {}
