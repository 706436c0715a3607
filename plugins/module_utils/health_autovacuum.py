# -*- coding: utf-8 -*-
# Copyright: prefectdb.maintenance contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Autovacuum as PostgreSQL applies it, worked out from facts: server settings with
units normalised, per-table reloptions, the settings in effect for a table and
whether the table has crossed its autovacuum trigger. Pure functions, no database."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

# Server settings reported by the autovacuum check (pg_settings names).
AUTOVACUUM_SETTINGS = (
    'autovacuum', 'track_counts', 'autovacuum_naptime', 'autovacuum_max_workers',
    'autovacuum_vacuum_threshold', 'autovacuum_vacuum_scale_factor',
    'autovacuum_vacuum_max_threshold',  # PostgreSQL 18
    'autovacuum_vacuum_insert_threshold', 'autovacuum_vacuum_insert_scale_factor',
    'autovacuum_analyze_threshold', 'autovacuum_analyze_scale_factor',
    'autovacuum_vacuum_cost_limit', 'autovacuum_vacuum_cost_delay', 'vacuum_cost_limit', 'vacuum_cost_delay',
    'autovacuum_freeze_max_age', 'autovacuum_multixact_freeze_max_age', 'vacuum_freeze_min_age',
    'vacuum_freeze_table_age', 'autovacuum_work_mem', 'maintenance_work_mem', 'log_autovacuum_min_duration',
)

_TIME_UNITS = {'us': 0.000001, 'ms': 0.001, 's': 1, 'min': 60, 'h': 3600, 'd': 86400}
_MEMORY_UNITS = {'B': 1, 'kB': 1024, 'MB': 1024 ** 2, 'GB': 1024 ** 3, 'TB': 1024 ** 4}

# reloption name -> type; table reloptions that matter to (auto)vacuum
_RELOPTION_TYPES = {
    'autovacuum_enabled': 'bool', 'fillfactor': 'int', 'toast_tuple_target': 'int',
    'autovacuum_vacuum_threshold': 'int', 'autovacuum_vacuum_scale_factor': 'float',
    'autovacuum_vacuum_max_threshold': 'int',
    'autovacuum_vacuum_insert_threshold': 'int', 'autovacuum_vacuum_insert_scale_factor': 'float',
    'autovacuum_analyze_threshold': 'int', 'autovacuum_analyze_scale_factor': 'float',
    'autovacuum_vacuum_cost_limit': 'int', 'autovacuum_vacuum_cost_delay': 'float',
    'autovacuum_freeze_min_age': 'int', 'autovacuum_freeze_max_age': 'int', 'autovacuum_freeze_table_age': 'int',
    'autovacuum_multixact_freeze_max_age': 'int', 'log_autovacuum_min_duration': 'int',
    'vacuum_index_cleanup': 'str', 'vacuum_truncate': 'bool', 'parallel_workers': 'int',
}


def _to_bool(text):
    return str(text).strip().lower() in ('on', 'true', 'yes', '1', 't', 'y')


def normalize_setting(setting, unit=None, vartype=None):
    """A pg_settings row's value as a number: durations in seconds, memory in bytes,
    booleans as bool; -1 (meaning 'use the other setting') is kept as -1."""
    if setting is None:
        return None
    if vartype == 'bool':
        return _to_bool(setting)
    if vartype not in ('integer', 'real'):
        return setting
    value = float(setting) if vartype == 'real' else int(setting)
    if value == -1 or not unit:
        return value
    factor = None
    digits = ''.join(ch for ch in unit if ch.isdigit())
    base = unit[len(digits):]
    multiplier = int(digits) if digits else 1
    if base in _TIME_UNITS:
        factor = _TIME_UNITS[base] * multiplier
    elif base in _MEMORY_UNITS:
        factor = _MEMORY_UNITS[base] * multiplier
    if factor is None:
        return value
    result = value * factor
    return int(result) if float(result).is_integer() else result


def normalize_settings(rows):
    """{name: value} from pg_settings rows (name, setting, unit, vartype)."""
    return dict((r['name'], normalize_setting(r['setting'], r.get('unit'), r.get('vartype'))) for r in rows)


def parse_reloptions(reloptions):
    """['autovacuum_enabled=false', 'fillfactor=90'] -> {'autovacuum_enabled': False, 'fillfactor': 90}.
    Cost delay reloptions are in milliseconds; they are returned in seconds."""
    result = {}
    for item in reloptions or []:
        name, dummy, value = str(item).partition('=')
        kind = _RELOPTION_TYPES.get(name, 'str')
        try:
            if kind == 'bool':
                parsed = _to_bool(value)
            elif kind == 'int':
                parsed = int(value)
            elif kind == 'float':
                parsed = float(value)
            else:
                parsed = value
        except ValueError:
            parsed = value
        if name == 'autovacuum_vacuum_cost_delay' and isinstance(parsed, float) and parsed >= 0:
            parsed = parsed / 1000.0
        result[name] = parsed
    return result


def effective_autovacuum(reloptions, settings):
    """The autovacuum parameters in effect for one table: its reloptions where set,
    else the server settings (cost limit/delay -1 fall back to the vacuum_* ones).
    `reloptions` is parse_reloptions() output, `settings` normalize_settings() output."""
    ro = reloptions or {}

    def pick(name):
        return ro[name] if name in ro else settings.get(name)

    cost_limit = pick('autovacuum_vacuum_cost_limit')
    if cost_limit is None or cost_limit == -1:
        cost_limit = settings.get('vacuum_cost_limit')
    cost_delay = pick('autovacuum_vacuum_cost_delay')
    if cost_delay is None or cost_delay == -1:
        cost_delay = settings.get('vacuum_cost_delay')
    freeze_max_age = settings.get('autovacuum_freeze_max_age')
    if ro.get('autovacuum_freeze_max_age') is not None and freeze_max_age is not None:
        freeze_max_age = min(ro['autovacuum_freeze_max_age'], freeze_max_age)  # a reloption can only lower it
    server_enabled = settings.get('autovacuum')
    enabled = ro.get('autovacuum_enabled', True)
    return {
        'enabled': bool(enabled) and bool(server_enabled if server_enabled is not None else True),
        'table_enabled': bool(enabled),
        'vacuum_threshold': pick('autovacuum_vacuum_threshold'),
        'vacuum_scale_factor': pick('autovacuum_vacuum_scale_factor'),
        # PostgreSQL 18 caps the dead-rows trigger (-1: no cap); None before 18, where neither exists
        'vacuum_max_threshold': pick('autovacuum_vacuum_max_threshold'),
        'vacuum_insert_threshold': pick('autovacuum_vacuum_insert_threshold'),
        'vacuum_insert_scale_factor': pick('autovacuum_vacuum_insert_scale_factor'),
        'analyze_threshold': pick('autovacuum_analyze_threshold'),
        'analyze_scale_factor': pick('autovacuum_analyze_scale_factor'),
        'vacuum_cost_limit': cost_limit,
        'vacuum_cost_delay': cost_delay,
        'freeze_max_age': freeze_max_age,
        'source': dict((name, 'table' if ('autovacuum_' + name) in ro else 'server')
                       for name in ('vacuum_threshold', 'vacuum_scale_factor', 'vacuum_max_threshold',
                                    'vacuum_insert_threshold',
                                    'vacuum_insert_scale_factor', 'analyze_threshold', 'analyze_scale_factor')),
    }


def autovacuum_triggers(effective, reltuples, n_dead_tup, n_ins_since_vacuum, n_mod_since_analyze):
    """The row counts at which autovacuum acts on this table and whether each is crossed,
    as relation_needs_vacanalyze() computes them (reltuples -1, never vacuumed, counts as 0)."""
    tuples = max(float(reltuples or 0), 0.0)
    dead_limit = (effective.get('vacuum_threshold') or 0) + (effective.get('vacuum_scale_factor') or 0) * tuples
    max_threshold = effective.get('vacuum_max_threshold')
    if max_threshold is not None and max_threshold >= 0:
        dead_limit = min(dead_limit, max_threshold)  # PostgreSQL 18's autovacuum_vacuum_max_threshold
    insert_threshold = effective.get('vacuum_insert_threshold')
    insert_limit = None
    if insert_threshold is not None and insert_threshold != -1:
        insert_limit = insert_threshold + (effective.get('vacuum_insert_scale_factor') or 0) * tuples
    analyze_limit = (effective.get('analyze_threshold') or 0) + (effective.get('analyze_scale_factor') or 0) * tuples
    dead = int(n_dead_tup or 0)
    inserted = int(n_ins_since_vacuum or 0)
    modified = int(n_mod_since_analyze or 0)
    vacuum_due = dead > dead_limit or (insert_limit is not None and inserted > insert_limit)
    return {
        'vacuum_dead_rows_trigger': int(dead_limit),
        'vacuum_insert_trigger': None if insert_limit is None else int(insert_limit),
        'analyze_trigger': int(analyze_limit),
        'vacuum_due': bool(vacuum_due),
        'analyze_due': modified > analyze_limit,
    }
