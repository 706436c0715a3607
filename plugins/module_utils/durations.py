# -*- coding: utf-8 -*-
# Copyright: prefectdb.maintenance contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Durations as operators write them: 3600, '90d', '36h', '1h30m', '2w', 'P7D', 'PT1H30M'."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

UNIT_SECONDS = {
    'ms': 0.001,
    's': 1, 'sec': 1, 'secs': 1, 'second': 1, 'seconds': 1,
    'm': 60, 'min': 60, 'mins': 60, 'minute': 60, 'minutes': 60,
    'h': 3600, 'hr': 3600, 'hrs': 3600, 'hour': 3600, 'hours': 3600,
    'd': 86400, 'day': 86400, 'days': 86400,
    'w': 604800, 'week': 604800, 'weeks': 604800,
}

_PART = re.compile(r'\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*')
_ISO = re.compile(
    r'^P(?!$)(?:(?P<w>\d+(?:\.\d+)?)W)?(?:(?P<d>\d+(?:\.\d+)?)D)?'
    r'(?:T(?=\d)(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$')


class DurationError(ValueError):
    pass


def parse_duration(value, name='duration'):
    """Seconds (float) from an int/float or a duration string.

    Raises DurationError naming the option and the accepted forms.
    Years and months are refused: their length is ambiguous.
    """
    if isinstance(value, bool):
        raise DurationError('%s: %r is not a duration' % (name, value))
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        seconds = _parse_text(str(value).strip(), name)
    if seconds < 0:
        raise DurationError('%s: %r is negative' % (name, value))
    return seconds


def _parse_text(text, name):
    if not text:
        raise DurationError('%s: an empty string is not a duration' % name)
    try:
        return float(text)
    except ValueError:
        pass
    iso = _ISO.match(text.upper())
    if iso:
        return sum(float(iso.group(g) or 0) * UNIT_SECONDS[g] for g in ('w', 'd', 'h', 'm', 's'))
    lowered = text.lower()
    total, pos = 0.0, 0
    while pos < len(lowered):
        part = _PART.match(lowered, pos)
        if not part or part.group(2) not in UNIT_SECONDS:
            raise DurationError(
                "%s: %r is not a duration; use seconds (3600), a number with a unit "
                "(90d, 36h, 15m, 30s, 2w, 1h30m) or ISO-8601 (P7D, PT1H)" % (name, text))
        total += float(part.group(1)) * UNIT_SECONDS[part.group(2)]
        pos = part.end()
    return total


def format_duration(seconds):
    """Short human form: 90d, 36h, 1h30m, 45s, 0.25s."""
    seconds = float(seconds)
    if seconds < 60 and seconds != int(seconds):
        return '%gs' % seconds
    remaining = int(round(seconds))
    if remaining == 0:
        return '0s'
    parts = []
    for unit, size in (('d', 86400), ('h', 3600), ('m', 60), ('s', 1)):
        count, remaining = divmod(remaining, size)
        if count:
            parts.append('%d%s' % (count, unit))
    return ''.join(parts)
