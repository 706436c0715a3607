import pytest

from ansible_collections.prefectdb.maintenance.plugins.module_utils.durations import (
    DurationError, format_duration, parse_duration,
)


@pytest.mark.parametrize('value,seconds', [
    (3600, 3600), (0.25, 0.25), ('3600', 3600), ('90d', 90 * 86400), ('36h', 36 * 3600), ('15m', 900),
    ('30s', 30), ('2w', 14 * 86400), ('1h30m', 5400), ('1d 12h', 129600), ('250ms', 0.25), ('7 days', 7 * 86400),
    ('P7D', 7 * 86400), ('PT1H', 3600), ('P1DT2H30M', 95400), ('PT0.5S', 0.5), ('p2w', 14 * 86400), ('PT90M', 5400),
])
def test_parse(value, seconds):
    assert parse_duration(value) == pytest.approx(seconds)


@pytest.mark.parametrize('value', ['', 'abc', '10x', '1y', 'P', 'PT', 'P1M2', '-5m', -1, True, '5m garbage', 'P1Y'])
def test_rejects(value):
    with pytest.raises(DurationError) as err:
        parse_duration(value, name='retention_period')
    assert 'retention_period' in str(err.value)


@pytest.mark.parametrize('seconds,text', [(90 * 86400, '90d'), (5400, '1h30m'), (45, '45s'), (0.25, '0.25s'),
                                          (0, '0s'), (129600, '1d12h')])
def test_format(seconds, text):
    assert format_duration(seconds) == text
