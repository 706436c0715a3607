# -*- coding: utf-8 -*-
# Copyright: prefectdb.maintenance contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-table storage parameters (reloptions): what the server knows, how values
compare, what the autovacuum presets set, and the ALTER TABLE that gets a table
from what it has to what is wanted.

Pure: no database access here. The module reads pg_class and hands the arrays in.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import difflib
import math
import re
from collections import OrderedDict

from ansible_collections.prefectdb.maintenance.plugins.module_utils.identifiers import (
    IdentifierError, display_name, parse_qualified_name,
)

try:
    from psycopg2 import sql
    HAS_PSYCOPG2 = True
except ImportError:  # pragma: no cover - the module fails earlier through prefect_module()
    sql = None
    HAS_PSYCOPG2 = False

INT_MAX = 2147483647
TOAST_PREFIX = 'toast.'
# What PostgreSQL accepts as a boolean (parse_bool), in full.
BOOL_WORDS = {'true': True, 'false': False, 'yes': True, 'no': False, 'on': True, 'off': False,
              't': True, 'f': False, 'y': True, 'n': False, '1': True, '0': False}
INDEX_CLEANUP_WORDS = {'auto': 'auto', 'on': 'on', 'off': 'off', 'true': 'on', 'false': 'off',
                       'yes': 'on', 'no': 'off', '1': 'on', '0': 'off'}
_INT_TEXT = re.compile(r'^[+-]?[0-9]+$')
_REAL_TEXT = re.compile(r'^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$')


class ReloptionError(ValueError):
    """A value that cannot be a storage parameter's value; the message says why."""


class Reloption(object):
    """One storage parameter of a table as PostgreSQL defines it (reloptions.c).

    kind: bool, int, real or enum. since/until: server_version_num range that
    knows it (until exclusive). heap: may be set on the table itself; toast: may
    be set on its TOAST table as toast.<name>.
    """

    def __init__(self, name, kind, minimum=None, maximum=None, since=0, until=None, heap=True, toast=True,
                 choices=None, summary=''):
        self.name = name
        self.kind = kind
        self.minimum = minimum
        self.maximum = maximum
        self.since = since
        self.until = until
        self.heap = heap
        self.toast = toast
        self.choices = choices
        self.summary = summary

    def known_by(self, server_version_num):
        if server_version_num is None:
            return self.until is None
        return self.since <= server_version_num and (self.until is None or server_version_num < self.until)

    def describe_range(self):
        if self.kind == 'bool':
            return 'a boolean'
        if self.kind == 'enum':
            return 'one of %s' % ', '.join(sorted(set(self.choices.values())))
        return '%s from %s to %s' % ('an integer' if self.kind == 'int' else 'a number',
                                     _number_text(self.minimum), _number_text(self.maximum))


def _number_text(value):
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# Built from the CREATE TABLE "Storage Parameters" section of the PostgreSQL 14-18
# documentation and the bounds in src/backend/access/common/reloptions.c. Only
# the parameters this module manages: every autovacuum/vacuum one, fillfactor
# and toast_tuple_target (parallel_workers, user_catalog_table, ... are left alone).
RELOPTIONS = [
    Reloption('autovacuum_enabled', 'bool', summary='autovacuum runs on this table'),
    Reloption('autovacuum_vacuum_threshold', 'int', 0, INT_MAX,
              summary='updated or deleted tuples before vacuum'),
    Reloption('autovacuum_vacuum_scale_factor', 'real', 0.0, 100.0,
              summary='fraction of reltuples added to the vacuum threshold'),
    Reloption('autovacuum_vacuum_max_threshold', 'int', -1, INT_MAX, since=180000,
              summary='cap on the computed vacuum threshold (-1: no cap)'),
    Reloption('autovacuum_vacuum_insert_threshold', 'int', -1, INT_MAX, since=130000,
              summary='inserted tuples before vacuum (-1: no insert-triggered vacuum)'),
    Reloption('autovacuum_vacuum_insert_scale_factor', 'real', 0.0, 100.0, since=130000,
              summary='fraction of reltuples added to the insert threshold'),
    Reloption('autovacuum_analyze_threshold', 'int', 0, INT_MAX, toast=False,
              summary='changed tuples before analyze'),
    Reloption('autovacuum_analyze_scale_factor', 'real', 0.0, 100.0, toast=False,
              summary='fraction of reltuples added to the analyze threshold'),
    Reloption('autovacuum_vacuum_cost_delay', 'real', 0.0, 100.0,
              summary='milliseconds autovacuum sleeps when the cost limit is reached'),
    Reloption('autovacuum_vacuum_cost_limit', 'int', 1, 10000,
              summary='cost autovacuum accumulates before sleeping'),
    Reloption('autovacuum_freeze_min_age', 'int', 0, 1000000000, summary='see vacuum_freeze_min_age'),
    Reloption('autovacuum_freeze_max_age', 'int', 100000, 2000000000, summary='see autovacuum_freeze_max_age'),
    Reloption('autovacuum_freeze_table_age', 'int', 0, 2000000000, summary='see vacuum_freeze_table_age'),
    Reloption('autovacuum_multixact_freeze_min_age', 'int', 0, 1000000000,
              summary='see vacuum_multixact_freeze_min_age'),
    Reloption('autovacuum_multixact_freeze_max_age', 'int', 10000, 2000000000,
              summary='see autovacuum_multixact_freeze_max_age'),
    Reloption('autovacuum_multixact_freeze_table_age', 'int', 0, 2000000000,
              summary='see vacuum_multixact_freeze_table_age'),
    Reloption('log_autovacuum_min_duration', 'int', -1, INT_MAX,
              summary='milliseconds above which autovacuum actions are logged'),
    Reloption('vacuum_truncate', 'bool', since=120000, summary='vacuum may truncate empty pages at the end'),
    # a boolean in PostgreSQL 12 and 13, auto/on/off since 14
    Reloption('vacuum_index_cleanup', 'bool', since=120000, until=140000,
              summary='vacuum removes index entries of dead tuples'),
    Reloption('vacuum_index_cleanup', 'enum', since=140000, choices=INDEX_CLEANUP_WORDS,
              summary='vacuum removes index entries of dead tuples'),
    Reloption('vacuum_max_eager_freeze_failure_rate', 'real', 0.0, 1.0, since=180000,
              summary='fraction of pages eager freezing may fail on before it stops'),
    Reloption('fillfactor', 'int', 10, 100, toast=False, summary='percent of each heap page filled by inserts'),
    Reloption('toast_tuple_target', 'int', 128, None, toast=False,
              summary='row length above which columns are moved to TOAST'),
]


def is_vacuum_key(key):
    """Keys `exclusive` manages: every autovacuum/vacuum parameter, on the table or its TOAST table.
    fillfactor, toast_tuple_target and parameters this module does not know are never touched by it."""
    name = key[len(TOAST_PREFIX):] if key.startswith(TOAST_PREFIX) else key
    return name.startswith('autovacuum_') or name.startswith('vacuum_') or name == 'log_autovacuum_min_duration'


def toast_tuple_target_max(block_size):
    """TOAST_TUPLE_TARGET_MAIN: the largest tuple one heap page holds (8160 with 8 kB pages)."""
    return int(block_size) - 32


def catalogue(server_version_num=None, block_size=8192):
    """{key: Reloption} of what this server knows; toast.<name> keys included.

    server_version_num None means the newest PostgreSQL this module knows.
    """
    result = OrderedDict()
    for option in RELOPTIONS:
        if not option.known_by(server_version_num):
            continue
        if option.name == 'toast_tuple_target':
            option = Reloption(option.name, option.kind, option.minimum, toast_tuple_target_max(block_size),
                               since=option.since, until=option.until, heap=option.heap, toast=option.toast,
                               summary=option.summary)
        result[option.name] = option
    for name, option in list(result.items()):
        if option.toast:
            result[TOAST_PREFIX + name] = option
    for name in list(result):
        if not name.startswith(TOAST_PREFIX) and not result[name].heap:
            del result[name]
    return result


def newest_option(key):
    """The Reloption for key in any version this module knows, or None."""
    name = key[len(TOAST_PREFIX):] if key.startswith(TOAST_PREFIX) else key
    found = [o for o in RELOPTIONS if o.name == name]
    if not found:
        return None
    if key.startswith(TOAST_PREFIX) and not found[-1].toast:
        return None
    return found[-1]


def version_text(server_version_num):
    """150018 -> '15.18'."""
    return '%d.%d' % (server_version_num // 10000, server_version_num % 10000)


# --- values -------------------------------------------------------------------

def parse_input(option, value):
    """A value as a playbook gives it -> the typed value. Strict: what a person
    would write (0.05, '5e-2', true, 'on', 1000, '1000'); raises ReloptionError."""
    kind = option.kind
    if kind == 'bool':
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in BOOL_WORDS:
            return BOOL_WORDS[value.strip().lower()]
        raise ReloptionError('%r is not a boolean (use true or false)' % (value,))
    if kind == 'enum':
        if isinstance(value, bool):  # YAML reads on/off as booleans
            return 'on' if value else 'off'
        if isinstance(value, int) and value in (0, 1):
            return 'on' if value else 'off'
        if isinstance(value, str) and value.strip().lower() in option.choices:
            return option.choices[value.strip().lower()]
        raise ReloptionError('%r is not %s' % (value, option.describe_range()))
    if isinstance(value, bool):
        raise ReloptionError('%r is not %s' % (value, option.describe_range()))
    if kind == 'int':
        if isinstance(value, int):
            number = value
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, str) and _INT_TEXT.match(value.strip()):
            number = int(value.strip())
        elif isinstance(value, str) and _REAL_TEXT.match(value.strip()) and float(value).is_integer():
            number = int(float(value))
        else:
            raise ReloptionError('%r is not an integer' % (value,))
    else:
        if isinstance(value, (int, float)):
            number = float(value)
        elif isinstance(value, str) and _REAL_TEXT.match(value.strip()):
            number = float(value.strip())
        else:
            raise ReloptionError('%r is not a number' % (value,))
        if math.isnan(number) or math.isinf(number):
            raise ReloptionError('%r is not a finite number' % (value,))
    if (option.minimum is not None and number < option.minimum) or \
            (option.maximum is not None and number > option.maximum):
        raise ReloptionError('%s is out of range: %s' % (_number_text(number), option.describe_range()))
    return number


def _pg_parse_bool(text):
    """PostgreSQL's parse_bool: full words and unique prefixes, any case."""
    value = text.lower()
    if not value:
        return None
    for word, result in (('true', True), ('false', False), ('yes', True), ('no', False)):
        if word.startswith(value):
            return result
    if len(value) >= 2:
        if 'on'.startswith(value):
            return True
        if 'off'.startswith(value):
            return False
    if value in ('1', '0'):
        return value == '1'
    return None


def _pg_parse_number(text, integer):
    """PostgreSQL's parse_int / parse_real without units: strtol base 0 (hex, octal)
    falling back to strtod, integers rounded half to even like rint()."""
    s = text.lstrip()
    if integer:
        m = re.match(r'^([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)\s*$', s)
        if m:
            digits = m.group(2)
            if digits[:2].lower() == '0x':
                number = int(digits, 16)
            elif len(digits) > 1 and digits.startswith('0'):
                number = int(digits, 8)
            else:
                number = int(digits)
            return -number if m.group(1) == '-' else number
    s = s.rstrip()
    if _REAL_TEXT.match(s):
        number = float(s)
    else:
        try:
            number = float.fromhex(s)
        except (ValueError, OverflowError):
            return None
    if math.isnan(number):
        return None
    return int(round(number)) if integer and not math.isinf(number) else number


def parse_stored(option, text):
    """A value as pg_class.reloptions holds it (whatever text the ALTER TABLE was given,
    e.g. '5e-2', 'ON', '0x10') -> the typed value, or None when it does not parse."""
    if option.kind == 'bool':
        return _pg_parse_bool(text)
    if option.kind == 'enum':
        return option.choices.get(text.lower())
    return _pg_parse_number(text, option.kind == 'int')


def format_value(option, value):
    """The text this module sends for a typed value."""
    if option.kind == 'bool':
        return 'true' if value else 'false'
    if option.kind == 'enum':
        return value
    if option.kind == 'int':
        return str(int(value))
    return repr(float(value))


def same_value(option, stored_text, wanted):
    """Whether the stored text means the wanted typed value (0.05 = 0.050 = 5e-2; on = true = 1)."""
    current = parse_stored(option, stored_text)
    if current is None:
        return False
    if option.kind == 'real':
        return float(current) == float(wanted)
    return current == wanted


def split_reloptions(array, prefix=''):
    """pg_class.reloptions ['name=value', ...] -> OrderedDict {prefix+name: value}."""
    result = OrderedDict()
    for item in array or []:
        name, dummy, value = item.partition('=')
        result[prefix + name] = value
    return result


def current_reloptions(table_array, toast_array):
    """The table's and its TOAST table's reloptions as one mapping; TOAST keys as toast.<name>."""
    result = split_reloptions(table_array)
    result.update(split_reloptions(toast_array, TOAST_PREFIX))
    return result


# --- presets ------------------------------------------------------------------

# The reasoning behind every value is in the module documentation (preset option).
PRESET_PREFECT = OrderedDict([
    ('events', OrderedDict([
        ('autovacuum_vacuum_scale_factor', 0.05),
        ('autovacuum_vacuum_threshold', 1000),
        ('autovacuum_analyze_scale_factor', 0.02),
    ])),
    ('flow_run_state', OrderedDict([
        ('autovacuum_vacuum_scale_factor', 0.1),
        ('autovacuum_analyze_scale_factor', 0.05),
    ])),
    ('flow_run', OrderedDict([
        ('autovacuum_vacuum_scale_factor', 0.1),
        ('autovacuum_vacuum_threshold', 500),
    ])),
])

_EVENTS_HIGH_VOLUME = OrderedDict([
    ('autovacuum_vacuum_scale_factor', 0.02),
    ('autovacuum_vacuum_threshold', 1000),
    ('autovacuum_vacuum_insert_scale_factor', 0.02),
    ('autovacuum_vacuum_insert_threshold', 10000),
    ('autovacuum_analyze_scale_factor', 0.01),
    ('autovacuum_vacuum_cost_limit', 1000),
])
_STATE_HISTORY_HIGH_VOLUME = OrderedDict([
    ('autovacuum_vacuum_scale_factor', 0.02),
    ('autovacuum_vacuum_threshold', 1000),
    ('autovacuum_vacuum_insert_scale_factor', 0.05),
    ('autovacuum_vacuum_insert_threshold', 10000),
    ('autovacuum_analyze_scale_factor', 0.02),
    ('autovacuum_vacuum_cost_limit', 1000),
])

PRESET_PREFECT_HIGH_VOLUME = OrderedDict([
    ('log', OrderedDict([
        ('autovacuum_vacuum_scale_factor', 0.01),
        ('autovacuum_vacuum_threshold', 5000),
        ('autovacuum_vacuum_insert_scale_factor', 0.01),
        ('autovacuum_vacuum_insert_threshold', 10000),
        ('autovacuum_analyze_scale_factor', 0.02),
        ('autovacuum_vacuum_cost_limit', 1000),
        ('toast.autovacuum_vacuum_scale_factor', 0.05),
    ])),
    ('events', OrderedDict(list(_EVENTS_HIGH_VOLUME.items()) + [('toast.autovacuum_vacuum_scale_factor', 0.05)])),
    ('event_resources', OrderedDict(_EVENTS_HIGH_VOLUME)),
    ('task_run', OrderedDict([
        ('autovacuum_vacuum_scale_factor', 0.02),
        ('autovacuum_vacuum_threshold', 1000),
        ('autovacuum_analyze_scale_factor', 0.02),
        ('autovacuum_vacuum_cost_limit', 1000),
    ])),
    ('task_run_state', OrderedDict(_STATE_HISTORY_HIGH_VOLUME)),
    ('flow_run_state', OrderedDict(_STATE_HISTORY_HIGH_VOLUME)),
    ('flow_run', OrderedDict(PRESET_PREFECT['flow_run'])),
])

PRESETS = OrderedDict([
    ('none', OrderedDict()),
    ('prefect', PRESET_PREFECT),
    ('prefect_high_volume', PRESET_PREFECT_HIGH_VOLUME),
])


# --- the request ----------------------------------------------------------------

class Target(object):
    """One table to manage: its name, the wanted values ({key: typed value, or
    None for 'not set'}) and where each came from (preset or tables)."""

    def __init__(self, schema, table, label):
        self.schema = schema
        self.table = table
        self.label = label  # how errors and results name it
        self.wanted = OrderedDict()
        self.source = {}

    @property
    def name(self):
        return display_name(self.schema, self.table)

    @property
    def qualified(self):
        return '%s.%s' % (self.schema, self.table)

    def wants_toast(self):
        return any(k.startswith(TOAST_PREFIX) and v is not None for k, v in self.wanted.items())


def _unknown_key_message(key, known, server_version_num):
    option = newest_option(key)
    if option is not None and server_version_num is not None and not option.known_by(server_version_num):
        if server_version_num < option.since:
            return 'needs PostgreSQL %d or later; the server is %s' % (
                option.since // 10000, version_text(server_version_num))
        return 'not known by PostgreSQL %s' % version_text(server_version_num)
    name = key[len(TOAST_PREFIX):] if key.startswith(TOAST_PREFIX) else key
    if key.startswith(TOAST_PREFIX) and newest_option(name) is not None:
        return 'cannot be set on a TOAST table (it applies to the table itself: use %s)' % name
    if key == 'toast' or key == 'toast.':
        return 'write TOAST parameters as toast.<name>, e.g. toast.autovacuum_enabled'
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.75)
    hint = '; did you mean %s?' % close[0] if close else ''
    return 'not a storage parameter this module manages%s' % hint


def build_request(tables, preset='none', state='present', server_version_num=None, block_size=8192):
    """Check and merge `preset` and `tables` into [Target]; return (targets, errors, notes).

    errors lists every bad entry (names, types, ranges, versions, duplicates),
    so the module can refuse with one message before touching anything. notes
    says which preset values this server does not know (they are left out).
    """
    known = catalogue(server_version_num, block_size)
    errors, notes = [], []
    targets = OrderedDict()

    def preset_target(name, label):
        schema, table = parse_qualified_name(name)
        targets[(schema, table)] = Target(schema, table, label)
        return targets[(schema, table)]

    if preset not in PRESETS:
        errors.append('preset: %r is not one of %s' % (preset, ', '.join(PRESETS)))
        preset_tables = {}
    else:
        preset_tables = PRESETS[preset]
    for name, values in preset_tables.items():
        target = preset_target(name, 'preset %s: %s' % (preset, name))
        for key, value in values.items():
            if key not in known:
                notes.append('preset %s: %s.%s left out: %s' % (
                    preset, name, key, _unknown_key_message(key, known, server_version_num)))
                continue
            target.wanted[key] = parse_input(known[key], value)
            target.source[key] = 'preset'

    seen_in_tables = {}
    for name, entry in (tables or {}).items():
        label = 'tables.%s' % name
        try:
            schema, table = parse_qualified_name(name)
        except IdentifierError as e:
            errors.append('%s: %s' % (label, e))
            continue
        if (schema, table) in seen_in_tables:
            errors.append('%s: names the same table as %s (%s.%s)' % (
                label, seen_in_tables[(schema, table)], schema, table))
            continue
        seen_in_tables[(schema, table)] = label
        target = targets.get((schema, table))
        if target is None:
            target = targets[(schema, table)] = Target(schema, table, label)
        else:
            target.label = label
        if entry is None:
            entry = {}
        if state == 'absent' and isinstance(entry, (list, tuple)):
            entry = OrderedDict((k, None) for k in entry)
        if not isinstance(entry, dict):
            errors.append('%s: expected a mapping of storage parameters to values%s, got %s' % (
                label, ' (or, with state=absent, a list of names)' if state == 'absent' else '',
                type(entry).__name__))
            continue
        for key, value in entry.items():
            where = '%s.%s' % (label, key)
            if not isinstance(key, str) or key not in known:
                errors.append('%s: %s' % (where, _unknown_key_message(str(key), known, server_version_num)))
                continue
            if value is None or state == 'absent':
                target.wanted[key] = None
            else:
                try:
                    target.wanted[key] = parse_input(known[key], value)
                except ReloptionError as e:
                    errors.append('%s: %s' % (where, e))
                    continue
            target.source[key] = 'tables'
    return list(targets.values()), errors, notes


# --- the plan -------------------------------------------------------------------

class TablePlan(object):
    """What one table has, what it will have, and what changes."""

    def __init__(self, before):
        self.before = OrderedDict(before)
        self.set = OrderedDict()
        self.reset = []

    @property
    def changed(self):
        return bool(self.set or self.reset)

    @property
    def after(self):
        result = OrderedDict((k, v) for k, v in self.before.items() if k not in self.reset)
        result.update(self.set)
        return result


def plan_table(wanted, current, state='present', exclusive=False, known=None):
    """Compare wanted ({key: typed or None}) with current ({key: stored text}).

    present: keys with a value are SET unless the stored value already means the
    same; keys with None are RESET if set. absent: every wanted key is RESET if
    set. exclusive: also RESET the autovacuum/vacuum keys that are set but not wanted.
    """
    known = known if known is not None else catalogue()
    plan = TablePlan(current)
    for key, value in wanted.items():
        if state == 'absent' or value is None:
            if key in current:
                plan.reset.append(key)
            continue
        option = known[key]
        if key in current and same_value(option, current[key], value):
            continue
        plan.set[key] = format_value(option, value)
    if exclusive:
        for key in current:
            if key not in wanted and is_vacuum_key(key) and key not in plan.reset:
                plan.reset.append(key)
    return plan


def _option_name(key):
    if key.startswith(TOAST_PREFIX):
        return sql.Identifier('toast', key[len(TOAST_PREFIX):])
    return sql.Identifier(key)


def alter_statement(schema, table, plan):
    """One ALTER TABLE ... SET (...), RESET (...) for the plan, or None when nothing changes."""
    if not plan.changed:
        return None
    parts = []
    if plan.set:
        parts.append(sql.SQL('SET ({})').format(sql.SQL(', ').join(
            sql.SQL('{} = {}').format(_option_name(k), sql.Literal(v)) for k, v in plan.set.items())))
    if plan.reset:
        parts.append(sql.SQL('RESET ({})').format(sql.SQL(', ').join(_option_name(k) for k in plan.reset)))
    return sql.SQL('ALTER TABLE {} {}').format(sql.Identifier(schema, table), sql.SQL(', ').join(parts))
