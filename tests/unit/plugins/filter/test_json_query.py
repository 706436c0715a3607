import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.prefectdb.maintenance.plugins.filter.json_query import FilterModule, json_query, plain

RESULT = {'findings': [{'id': 'disk_used', 'severity': 'critical', 'value': 91.5},
                       {'id': 'dead_rows', 'severity': 'warning', 'value': 30.0}],
          'facts': {'tables': [{'name': 'log', 'total_bytes': 2 * 1024 ** 3}, {'name': 'flow', 'total_bytes': 8192}]}}


def test_selects_findings_by_severity():
    assert json_query(RESULT, "findings[?severity=='critical'].id") == ['disk_used']
    assert json_query(RESULT, 'facts.tables[?total_bytes > `1073741824`].name') == ['log']
    assert json_query(RESULT, 'nothing.here') is None


def test_plain_turns_subclasses_into_builtins():
    class TaggedStr(str):
        pass

    class TaggedDict(dict):
        pass

    value = plain(TaggedDict(a=[TaggedStr('x'), (1, 2.5, True, None)]))
    assert value == {'a': ['x', [1, 2.5, True, None]]}
    assert value['a'][0].__class__ is str   # the tag's subclass is gone, not merely a str
    assert json_query(TaggedDict(k=TaggedStr('v')), 'k') == 'v'


def test_bad_expression_is_a_clear_error():
    with pytest.raises(AnsibleFilterError, match='invalid expression'):
        json_query(RESULT, 'findings[?')
    with pytest.raises(AnsibleFilterError, match='must be a string'):
        json_query(RESULT, 5)


def test_registered_name():
    assert FilterModule().filters() == {'json_query': json_query}
