# -*- coding: utf-8 -*-
# Copyright: prefectdb.maintenance contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure logic of the retention module: settings validated as Prefect's db vacuum
service validates them, the cutoffs, the cleanups in the order they run, and the
arithmetic of the batch engine (adaptive batch size, percentiles). No database here."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime

from ansible_collections.prefectdb.maintenance.plugins.module_utils.durations import (
    DurationError, format_duration, parse_duration)
from ansible_collections.prefectdb.maintenance.plugins.module_utils.sizes import SizeError, parse_size
from ansible_collections.prefectdb.maintenance.plugins.module_utils.vacuum_plan import (
    DEFAULT_COST_DELAY_MS, MAX_COST_DELAY_MS)

# What PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED takes. 'flow_runs' implies
# 'orphans', as in Prefect 3.9.1 (ServerServicesDBVacuumSettings.enabled_vacuum_types).
VACUUM_TYPES = ('events', 'flow_runs', 'orphans')
DEFAULT_ENABLED = ['events']

DEFAULT_RETENTION_PERIOD = '90d'
MIN_RETENTION_SECONDS = 3600            # Prefect: retention_period gt=timedelta(hours=1)
DEFAULT_EVENTS_RETENTION_PERIOD = '7d'
DEFAULT_EVENT_RETENTION_OVERRIDES = {'prefect.flow-run.heartbeat': '7d'}
DEFAULT_BATCH_SIZE = 200                # Prefect's batch_size default
DEFAULT_MAX_BATCH_SIZE = 50000
# A batch of a quarter second keeps each transaction short and the statements few;
# shorter batches (0.05) help a live server's commits only under max_wal_rate.
DEFAULT_TARGET_BATCH_SECONDS = 0.25
DEFAULT_STATEMENT_TIMEOUT = '30s'
# WAL the batches may write per second, on average (0: no limit). WAL is what a
# live server's commits wait for: each one flushes every WAL record written before
# it, the batches' included (benchmarks/light_touch.py). No limit by default: a
# limit that helps commit latency costs an order of magnitude in run time
# (benchmarks/RESULTS.md, light touch), so the operator chooses it.
DEFAULT_MAX_WAL_RATE = 0
# vacuum_after's cost-based delay (ms), the vacuum module's default: autovacuum's
# pace, which kept a live server's p99 near idle where an unthrottled VACUUM did not.
DEFAULT_VACUUM_COST_DELAY_MS = DEFAULT_COST_DELAY_MS

# The cleanups in the order they run, and the vacuum type that enables each.
# Orphans are hunted before old runs are deleted (the runs' own logs and
# artifacts go with them, so the hunt only finds older dirt); collections are
# reconciled after every artifact deletion; per-type event overrides run before
# the global event retention, as in Prefect's event vacuum task.
CLEANUPS = (
    ('orphaned_logs', 'orphans'),
    ('orphaned_artifacts', 'orphans'),
    ('old_flow_runs', 'flow_runs'),
    ('stale_artifact_collections', 'orphans'),
    ('event_retention_overrides', 'events'),
    ('old_events', 'events'),
)
CLEANUP_NAMES = tuple(name for name, dummy in CLEANUPS)


class PlanError(ValueError):
    """A setting is invalid; the message names it and says what is accepted."""


def _seconds(value, name):
    try:
        return parse_duration(value, name)
    except DurationError as e:
        raise PlanError(str(e))


def resolve_enabled(enabled):
    """The set of vacuum types, as Prefect resolves PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED.

    Accepts a list, a comma-separated string or a boolean (true: events and
    flow_runs; false: events, Prefect's legacy meaning).
    """
    if enabled is None:
        return set()
    if isinstance(enabled, bool):
        raw = {'events', 'flow_runs'} if enabled else {'events'}
    else:
        if isinstance(enabled, str):
            lowered = enabled.strip().lower()
            if lowered in ('true', '1'):
                return resolve_enabled(True)
            if lowered in ('false', '0'):
                return resolve_enabled(False)
            enabled = enabled.split(',')
        raw = set(str(item).strip().lower() for item in enabled if str(item).strip())
    invalid = sorted(raw - set(VACUUM_TYPES))
    if invalid:
        raise PlanError('enabled: %s %s not a vacuum type; use any of %s' % (
            ', '.join(invalid), 'is' if len(invalid) == 1 else 'are', ', '.join(VACUUM_TYPES)))
    if 'flow_runs' in raw:
        raw.add('orphans')
    return raw


def parse_now(value):
    """An aware UTC datetime from ISO-8601 text (a Z or an offset; naive means UTC), or None."""
    if value is None or isinstance(value, datetime.datetime):
        parsed = value
    else:
        text = str(value).strip()
        if text.endswith(('Z', 'z')):
            text = text[:-1] + '+00:00'
        try:
            parsed = datetime.datetime.fromisoformat(text)
        except ValueError:
            raise PlanError("now: %r is not an ISO-8601 timestamp such as 2026-01-01T00:00:00Z" % (value,))
    if parsed is not None and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.astimezone(datetime.timezone.utc) if parsed is not None else None


class Plan(object):
    """Validated settings; cutoffs once `now` is known (set_now)."""

    def __init__(self, enabled, retention_seconds, events_retention_seconds, overrides, batch_size,
                 max_batch_size, target_batch_seconds, statement_timeout, lock_timeout, max_runtime,
                 vacuum_after, now, warnings, max_wal_rate=0, vacuum_cost_delay=DEFAULT_VACUUM_COST_DELAY_MS):
        self.enabled = enabled
        self.retention_seconds = retention_seconds
        self.events_retention_seconds = events_retention_seconds
        # [(event_type, requested seconds, effective seconds)] in a stable order
        self.overrides = overrides
        self.batch_size = batch_size
        self.max_batch_size = max_batch_size
        self.target_batch_seconds = target_batch_seconds
        self.statement_timeout = statement_timeout
        self.lock_timeout = lock_timeout
        self.max_runtime = max_runtime
        self.vacuum_after = vacuum_after
        self.max_wal_rate = max_wal_rate
        self.vacuum_cost_delay = vacuum_cost_delay
        self.now = now
        self.warnings = warnings

    @property
    def cleanups(self):
        """Names of the cleanups that run, in order."""
        return [name for name, vacuum_type in CLEANUPS if vacuum_type in self.enabled
                and not (name == 'event_retention_overrides' and not self.overrides)]

    def set_now(self, now):
        self.now = parse_now(now)

    def flow_run_cutoff(self):
        return self.now - datetime.timedelta(seconds=self.retention_seconds)

    def events_cutoff(self):
        return self.now - datetime.timedelta(seconds=self.events_retention_seconds)

    def override_cutoffs(self):
        """[(event_type, cutoff)]: each override capped at the global events period."""
        return [(event_type, self.now - datetime.timedelta(seconds=effective))
                for event_type, dummy, effective in self.overrides]

    def settings(self):
        """The effective settings, for the module result."""
        return {
            'enabled': sorted(self.enabled),
            'retention_period': _number(self.retention_seconds),
            'events_retention_period': _number(self.events_retention_seconds),
            'event_retention_overrides': dict((t, _number(effective)) for t, dummy, effective in self.overrides),
            'batch_size': self.batch_size,
            'max_batch_size': self.max_batch_size,
            'target_batch_seconds': self.target_batch_seconds,
            'statement_timeout': _number(self.statement_timeout),
            'lock_timeout': _number(self.lock_timeout),
            'max_runtime': None if self.max_runtime is None else _number(self.max_runtime),
            'vacuum_after': self.vacuum_after,
            'max_wal_rate': self.max_wal_rate,
            'vacuum_cost_delay': self.vacuum_cost_delay,
        }


def _number(seconds):
    """Whole seconds as an int, for readable results."""
    return int(seconds) if float(seconds).is_integer() else seconds


def build_plan(params):
    """Validate the module's parameters into a Plan; raise PlanError on the first problem."""
    enabled = resolve_enabled(params.get('enabled', DEFAULT_ENABLED))
    retention = _seconds(params.get('retention_period', DEFAULT_RETENTION_PERIOD), 'retention_period')
    if retention <= MIN_RETENTION_SECONDS:
        raise PlanError('retention_period: %s is too short; Prefect requires more than 1 hour' % (
            format_duration(retention)))
    events_retention = _seconds(params.get('events_retention_period', DEFAULT_EVENTS_RETENTION_PERIOD),
                                'events_retention_period')
    if events_retention <= 0:
        raise PlanError('events_retention_period: must be more than 0 (0 would delete every event)')
    overrides_in = params.get('event_retention_overrides')
    if overrides_in is None:
        overrides_in = DEFAULT_EVENT_RETENTION_OVERRIDES
    if not isinstance(overrides_in, dict):
        raise PlanError('event_retention_overrides: must be a mapping of event type to duration, '
                        'e.g. {"prefect.flow-run.heartbeat": "7d"}')
    warnings = []
    overrides = []
    for event_type in sorted(overrides_in):
        if not isinstance(event_type, str) or not event_type.strip():
            raise PlanError('event_retention_overrides: %r is not an event type' % (event_type,))
        requested = _seconds(overrides_in[event_type], 'event_retention_overrides[%s]' % event_type)
        if requested <= 0:
            raise PlanError('event_retention_overrides[%s]: must be positive, as Prefect requires' % event_type)
        effective = min(requested, events_retention)
        if requested > events_retention:
            warnings.append(
                'event_retention_overrides[%s]: %s is longer than events_retention_period %s and is capped at it '
                '(an override can only shorten the events retention, as in Prefect)' % (
                    event_type, format_duration(requested), format_duration(events_retention)))
        overrides.append((event_type, requested, effective))

    batch_size = _positive_int(params.get('batch_size', DEFAULT_BATCH_SIZE), 'batch_size')
    max_batch_size = _positive_int(params.get('max_batch_size', DEFAULT_MAX_BATCH_SIZE), 'max_batch_size')
    if max_batch_size < batch_size:
        raise PlanError('max_batch_size: %d is smaller than batch_size %d' % (max_batch_size, batch_size))
    target = params.get('target_batch_seconds', DEFAULT_TARGET_BATCH_SECONDS)
    try:
        target = float(target)
    except (TypeError, ValueError):
        raise PlanError('target_batch_seconds: %r is not a number of seconds' % (target,))
    if not 0 < target <= 10:
        raise PlanError('target_batch_seconds: %g is out of range; use a value above 0 and at most 10 seconds'
                        % target)
    statement_timeout = _seconds(params.get('statement_timeout', DEFAULT_STATEMENT_TIMEOUT), 'statement_timeout')
    if statement_timeout < 2 * target:
        raise PlanError('statement_timeout: %s must be at least twice target_batch_seconds (%gs)' % (
            format_duration(statement_timeout), target))
    lock_timeout = _seconds(params.get('lock_timeout', '5s'), 'lock_timeout')
    if lock_timeout <= 0:
        raise PlanError('lock_timeout: must be more than 0; 0 would let a batch wait for locks forever')
    max_runtime = params.get('max_runtime')
    if max_runtime is not None:
        max_runtime = _seconds(max_runtime, 'max_runtime')
        if max_runtime <= 0:
            raise PlanError('max_runtime: must be more than 0, or unset for no limit')
    return Plan(enabled=enabled, retention_seconds=retention, events_retention_seconds=events_retention,
                overrides=overrides, batch_size=batch_size, max_batch_size=max_batch_size,
                target_batch_seconds=target, statement_timeout=statement_timeout, lock_timeout=lock_timeout,
                max_runtime=max_runtime, vacuum_after=bool(params.get('vacuum_after')),
                max_wal_rate=parse_wal_rate(params.get('max_wal_rate', DEFAULT_MAX_WAL_RATE)),
                vacuum_cost_delay=parse_cost_delay(params.get('vacuum_cost_delay', DEFAULT_VACUUM_COST_DELAY_MS)),
                now=parse_now(params.get('now')), warnings=warnings)


def parse_cost_delay(value):
    """Milliseconds of vacuum_cost_delay for vacuum_after: 0 (no delay) to PostgreSQL's 100."""
    if value is None:
        return DEFAULT_VACUUM_COST_DELAY_MS
    if isinstance(value, bool):
        raise PlanError('vacuum_cost_delay: %r is not a number of milliseconds' % (value,))
    try:
        delay = float(value)
    except (TypeError, ValueError):
        raise PlanError('vacuum_cost_delay: %r is not a number of milliseconds' % (value,))
    if not 0 <= delay <= MAX_COST_DELAY_MS:
        raise PlanError('vacuum_cost_delay: %g is out of range; use 0 (no delay) to %g milliseconds'
                        % (delay, MAX_COST_DELAY_MS))
    return delay


def parse_wal_rate(value):
    """Bytes per second from max_wal_rate (bytes or a size such as '4MB'); 0 means no limit."""
    if value is None:
        return 0
    try:
        return parse_size(value, 'max_wal_rate')
    except SizeError as e:
        raise PlanError('%s (per second; 0 for no limit)' % e)


def _positive_int(value, name):
    if isinstance(value, bool):
        raise PlanError('%s: %r is not a positive integer' % (name, value))
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise PlanError('%s: %r is not a positive integer' % (name, value))
    if number != value and str(number) != str(value).strip():
        raise PlanError('%s: %r is not a positive integer' % (name, value))
    if number <= 0:
        raise PlanError('%s: must be more than 0' % name)
    return number


# --- the engine's arithmetic ----------------------------------------------------

def next_batch_size(size, seconds, target, maximum, minimum=1):
    """The next batch size from the last one and how long its transaction took.

    Multiplicative, damped to at most x2 per step up and /2 down, so one slow
    batch (a checkpoint, a neighbour's burst) does not collapse the size and a
    fast one does not overshoot the target by far.
    """
    if seconds <= 0:
        factor = 2.0
    else:
        factor = min(2.0, max(0.5, target / seconds))
    return int(max(minimum, min(maximum, int(size * factor))))


def wal_pause(wal_bytes, seconds, max_wal_rate):
    """Seconds to rest after a batch that wrote `wal_bytes` of WAL in `seconds`, so that
    batch and rest together stay at `max_wal_rate` bytes a second (0: no rest)."""
    if not max_wal_rate or wal_bytes <= 0:
        return 0.0
    return max(0.0, float(wal_bytes) / max_wal_rate - seconds)


def percentile(sorted_values, fraction):
    """Nearest-rank percentile of an ascending list; None when empty."""
    if not sorted_values:
        return None
    rank = max(1, int(-(-fraction * len(sorted_values) // 1)))  # ceil without math
    return sorted_values[min(rank, len(sorted_values)) - 1]


def batch_figures(batch_seconds, rows, seconds):
    """p50/p95/max batch seconds and rows per second for a cleanup's result."""
    ordered = sorted(batch_seconds)
    return {
        'batch_seconds': {
            'p50': _round(percentile(ordered, 0.50)),
            'p95': _round(percentile(ordered, 0.95)),
            'max': _round(ordered[-1] if ordered else None),
        },
        'rows_per_second': int(round(rows / seconds)) if seconds > 0 and rows else 0,
    }


def _round(value):
    return None if value is None else round(value, 4)


def choose_strategy(estimated_rows, pages, server_version_num, rows_per_page=0.5):
    """'sweep' or 'range' for deleting `estimated_rows` rows of a table of `pages` pages.

    'range' walks the time index in bounded key ranges and visits only the rows that
    go, one heap page per row in index order: what an hourly run needs. 'sweep' walks
    the heap in ctid ranges (TID range scans, PostgreSQL 14+) and reads every page
    once, as a sequential scan: what a first run on a neglected database needs, when
    on average at least one row in two pages goes. Both delete exactly the same rows.
    """
    if server_version_num < 140000 or not pages or pages <= 0:
        return 'range'
    return 'sweep' if float(estimated_rows) >= rows_per_page * float(pages) else 'range'
