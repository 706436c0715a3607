# -*- coding: utf-8 -*-
# Copyright: prefectdb.maintenance contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sizes as operators write them: 1048576, '512kB', '10MB', '1GiB', '2 TB'."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

# PostgreSQL's own size units (kB, MB, GB, TB) are powers of 1024, as in
# pg_size_pretty() and postgresql.conf; the IEC spellings say the same.
UNIT_BYTES = {
    'b': 1, 'byte': 1, 'bytes': 1,
    'k': 1024, 'kb': 1024, 'kib': 1024,
    'm': 1024 ** 2, 'mb': 1024 ** 2, 'mib': 1024 ** 2,
    'g': 1024 ** 3, 'gb': 1024 ** 3, 'gib': 1024 ** 3,
    't': 1024 ** 4, 'tb': 1024 ** 4, 'tib': 1024 ** 4,
    'p': 1024 ** 5, 'pb': 1024 ** 5, 'pib': 1024 ** 5,
}

_SIZE = re.compile(r'^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$')


class SizeError(ValueError):
    pass


def parse_size(value, name='size'):
    """Bytes (int) from an int or a string such as '10MB' or '1GiB'.

    Units are powers of 1024 as in PostgreSQL (kB, MB, GB, TB; KiB... too).
    Raises SizeError naming the option.
    """
    if isinstance(value, bool) or value is None:
        raise SizeError('%s: %r is not a size' % (name, value))
    if isinstance(value, (int, float)):
        if value < 0:
            raise SizeError('%s: %r is negative' % (name, value))
        return int(value)
    match = _SIZE.match(str(value).lower())
    if not match or match.group(2) not in UNIT_BYTES and match.group(2) != '':
        raise SizeError('%s: %r is not a size; use bytes (1048576) or a number with a unit '
                        '(512kB, 10MB, 1GB, 1GiB, 2TB)' % (name, value))
    return int(float(match.group(1)) * UNIT_BYTES.get(match.group(2) or 'b'))


def format_size(num):
    """Short human form as pg_size_pretty() writes it: 512 bytes, 10 MB, 1.5 GB."""
    if num is None:
        return 'unknown'
    num = int(num)
    sign = '-' if num < 0 else ''
    num = abs(num)
    if num < 1024:
        return '%s%d bytes' % (sign, num)
    for unit in ('kB', 'MB', 'GB', 'TB'):
        num = num / 1024.0
        if num < 1024 or unit == 'TB':
            text = ('%.1f' % num).rstrip('0').rstrip('.')
            return '%s%s %s' % (sign, text, unit)
    return '%s%d bytes' % (sign, num)  # pragma: no cover - the loop always returns
