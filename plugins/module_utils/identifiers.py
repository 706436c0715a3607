# -*- coding: utf-8 -*-
# Copyright: prefectdb.maintenance contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Table and index names as operators write them, checked before any SQL is built."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

# PostgreSQL truncates identifiers at 63 bytes; longer ones are almost surely a mistake.
MAX_IDENTIFIER_BYTES = 63
_PLAIN = re.compile(r'^[A-Za-z_][A-Za-z0-9_$]*$')


class IdentifierError(ValueError):
    pass


def _split(name):
    """[(part, was_quoted)] of name split on dots outside double quotes, quotes removed."""
    parts, current, quoted, was_quoted, i = [], '', False, False, 0
    while i < len(name):
        ch = name[i]
        if ch == '"':
            if quoted and i + 1 < len(name) and name[i + 1] == '"':
                current += '"'  # a doubled quote inside quotes is a literal quote
                i += 1
            else:
                quoted = not quoted
                was_quoted = True
        elif ch == '.' and not quoted:
            parts.append((current, was_quoted))
            current, was_quoted = '', False
        else:
            current += ch
        i += 1
    if quoted:
        raise IdentifierError('%r has an unbalanced double quote' % name)
    parts.append((current, was_quoted))
    return parts


def parse_qualified_name(name, default_schema='public'):
    """(schema, name) from 'name', 'schema.name' or '"Quoted"."Name"'.

    Unquoted parts must be plain identifiers (letters, digits, _ and $) and are
    folded to lower case as PostgreSQL does; anything else must be double-quoted.
    Raises IdentifierError with a message naming the input.
    """
    if not isinstance(name, str) or not name.strip():
        raise IdentifierError('%r is not a table or index name' % (name,))
    parts = _split(name)
    if len(parts) > 2:
        raise IdentifierError('%r has more than schema.name' % name)
    checked = []
    for part, was_quoted in parts:
        if not part:
            raise IdentifierError('%r has an empty part' % name)
        if len(part.encode('utf-8')) > MAX_IDENTIFIER_BYTES:
            raise IdentifierError('%r is longer than %d bytes' % (part, MAX_IDENTIFIER_BYTES))
        if not was_quoted:
            if not _PLAIN.match(part):
                raise IdentifierError(
                    '%r is not a plain identifier: use letters, digits and _, or double-quote it' % name)
            part = part.lower()
        checked.append(part)
    if len(checked) == 1:
        return default_schema, checked[0]
    return checked[0], checked[1]


def display_name(schema, name):
    """schema.name as people read it (public is left out)."""
    return name if schema == 'public' else '%s.%s' % (schema, name)
