"""A password handed through connect_params is kept out of the module's output and log, as
no_log keeps login_password out (prefect_module returns a PrefectModule)."""
import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.prefectdb.maintenance.plugins.module_utils import connection

SECRET = 'connect-params-secret-7f3a'


def run(args, exit_with, capsys, logged=None):
    with patch_module_args(args):
        module = connection.prefect_module({'name': {'type': 'str'}})
        if logged is not None:
            logged.extend(module.no_log_values)
        with pytest.raises(SystemExit):
            exit_with(module)
    return capsys.readouterr().out


@pytest.mark.parametrize('key', ['password', 'sslpassword'])
def test_a_secret_of_connect_params_is_masked_in_results(capsys, key):
    out = run({'connect_params': {key: SECRET, 'connect_timeout': 3}, 'name': 'x'},
              lambda m: m.exit_json(changed=False, msg='connected with %s' % SECRET), capsys)
    assert SECRET not in out
    result = json.loads(out)
    assert result['invocation']['module_args']['connect_params'][key] == 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'
    assert result['invocation']['module_args']['connect_params']['connect_timeout'] == 3  # the rest is shown


def test_masked_in_a_failure_too(capsys):
    out = run({'connect_params': {'password': SECRET}}, lambda m: m.fail_json(msg='failed'), capsys)
    assert SECRET not in out and json.loads(out)['failed'] is True


def test_masked_when_the_arguments_are_refused(capsys):
    with patch_module_args({'connect_params': {'password': SECRET}, 'no_such_option': 1}):
        with pytest.raises(SystemExit):
            connection.prefect_module({})
    out = capsys.readouterr().out
    assert 'no_such_option' in json.loads(out)['msg'] and SECRET not in out


def test_other_values_are_not_masked(capsys):
    out = run({'connect_params': {'application_name': 'x', 'sslmode': 'require'}, 'name': 'require'},
              lambda m: m.exit_json(changed=False, msg='sslmode require'), capsys)
    assert json.loads(out)['msg'] == 'sslmode require'
