import pytest

from ansible_collections.prefectdb.maintenance.plugins.module_utils.identifiers import (
    IdentifierError, display_name, parse_qualified_name,
)


@pytest.mark.parametrize('text,expected', [
    ('flow_run', ('public', 'flow_run')),
    ('Flow_Run', ('public', 'flow_run')),
    ('public.log', ('public', 'log')),
    ('prefect.events', ('prefect', 'events')),
    ('"Odd Name"', ('public', 'Odd Name')),
    ('"my.schema"."t;x"', ('my.schema', 't;x')),
    ('"a""b"', ('public', 'a"b')),
    ('"naïve"', ('public', 'naïve')),
])
def test_parse(text, expected):
    assert parse_qualified_name(text) == expected


@pytest.mark.parametrize('text', ['', ' ', 'a.b.c', 'flow_run; DROP TABLE log', 'flow run', '"open', 'a.',
                                  '.a', 'naïve', "x'y", '1abc', 'x' * 64, None, 5])
def test_rejects(text):
    with pytest.raises(IdentifierError):
        parse_qualified_name(text)


def test_display_name():
    assert display_name('public', 'log') == 'log'
    assert display_name('prefect', 'log') == 'prefect.log'
