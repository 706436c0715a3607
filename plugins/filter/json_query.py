# -*- coding: utf-8 -*-
# Copyright: prefectdb.maintenance contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""json_query: JMESPath over module results, without needing community.general."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

try:
    import jmespath
    HAS_JMESPATH = True
except ImportError:
    HAS_JMESPATH = False


def plain(value):
    """Plain dicts, lists, str, int, float, bool and None: jmespath's type checks
    do not know ansible-core's tagged and lazy container types."""
    if isinstance(value, Mapping):
        return dict((str(k), plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple, set)):
        return [plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value


def json_query(data, expression):
    if not HAS_JMESPATH:
        raise AnsibleFilterError('prefectdb.maintenance.json_query needs the Python library jmespath on the controller')
    if not isinstance(expression, str):
        raise AnsibleFilterError('prefectdb.maintenance.json_query: the expression must be a string, not %s'
                                 % type(expression).__name__)
    try:
        return jmespath.search(str(expression), plain(data))
    except jmespath.exceptions.JMESPathError as e:
        raise AnsibleFilterError('prefectdb.maintenance.json_query: invalid expression %r: %s' % (str(expression), e))


class FilterModule(object):
    def filters(self):
        return {'json_query': json_query}
