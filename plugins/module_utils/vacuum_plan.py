# -*- coding: utf-8 -*-
# Copyright: prefectdb.maintenance contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the vacuum module does, decided without a database: which options a
server supports, which tables `auto` picks and why, which tables VACUUM FULL
or pg_repack must refuse, how much disk pg_repack needs, what pg_repack's
output means. Facts in (rows of table_stats), decisions out."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.prefectdb.maintenance.plugins.module_utils.sizes import format_size

MODES = ('vacuum', 'vacuum_analyze', 'analyze', 'full', 'repack')
VACUUM_MODES = ('vacuum', 'vacuum_analyze')
INDEX_CLEANUP_VALUES = ('auto', 'on', 'off')

# server_version_num from which each VACUUM option exists
SKIP_LOCKED_SINCE = 120000
INDEX_CLEANUP_SINCE = 120000
INDEX_CLEANUP_AUTO_SINCE = 140000
PARALLEL_SINCE = 130000
PROCESS_TOAST_SINCE = 140000
# GRANT MAINTAIN and the pg_maintain role (VACUUM, ANALYZE, REINDEX, CLUSTER, LOCK TABLE without ownership)
MAINTAIN_SINCE = 170000
MAX_PARALLEL = 1024

# Cost-based vacuum delay of the module's session (vacuum_cost_delay, vacuum_cost_limit).
# Unthrottled (PostgreSQL's vacuum_cost_delay 0 for a manual VACUUM) it dirties pages and
# writes WAL as fast as the disk goes, and a live server's commits wait behind that WAL:
# 2.95x the idle p99 under load. 2 ms per 200 cost units, autovacuum's own pace since
# PostgreSQL 12, kept it within 1.21x at 6.6x the run time (benchmarks/RESULTS.md, light touch).
DEFAULT_COST_DELAY_MS = 2.0
DEFAULT_COST_LIMIT = 200
MAX_COST_DELAY_MS = 100.0     # PostgreSQL's range of vacuum_cost_delay
MAX_COST_LIMIT = 10000        # and of vacuum_cost_limit


class PlanError(ValueError):
    """Bad input or a refusal: one clear message, nothing was changed."""


def cost_settings(cost_delay, cost_limit):
    """[(setting, value)] for the session from the module's cost_delay (ms) and cost_limit;
    raises PlanError on a value PostgreSQL would refuse."""
    try:
        delay = float(cost_delay)
    except (TypeError, ValueError):
        raise PlanError('cost_delay: %r is not a number of milliseconds' % (cost_delay,))
    if not 0 <= delay <= MAX_COST_DELAY_MS:
        raise PlanError('cost_delay: %g is out of range; use 0 (no delay) to %g milliseconds' % (delay, MAX_COST_DELAY_MS))
    if isinstance(cost_limit, bool) or not isinstance(cost_limit, int) or not 1 <= cost_limit <= MAX_COST_LIMIT:
        raise PlanError('cost_limit: %r is out of range; use 1 to %d' % (cost_limit, MAX_COST_LIMIT))
    return [('vacuum_cost_delay', '%gms' % delay), ('vacuum_cost_limit', str(cost_limit))]


def version_text(num):
    """150018 -> '15.18'."""
    return '%d.%d' % (num // 10000, num % 10000)


def vacuum_options(mode, server_version_num, skip_locked=True, parallel=None, index_cleanup=None,
                   process_toast=None):
    """(command, [option keywords], [notes]) for one mode on one server version.

    Raises PlanError for an option the mode does not take or the server lacks;
    SKIP_LOCKED (on by default) is left out with a note on servers before 12.
    """
    if mode not in MODES or mode == 'repack':
        raise PlanError('mode %r has no VACUUM statement' % mode)
    server = version_text(server_version_num)
    notes = []
    options = []
    if mode == 'full':
        options.append('FULL')
    if mode == 'vacuum_analyze':
        options.append('ANALYZE')
    if parallel is not None:
        if mode not in VACUUM_MODES:
            raise PlanError('parallel applies to mode vacuum and vacuum_analyze only (VACUUM FULL and ANALYZE '
                            'cannot run in parallel); remove it for mode=%s' % mode)
        if server_version_num < PARALLEL_SINCE:
            raise PlanError('parallel needs PostgreSQL 13 or newer; the server is %s' % server)
        if not 0 <= int(parallel) <= MAX_PARALLEL:
            raise PlanError('parallel must be between 0 and %d, not %s' % (MAX_PARALLEL, parallel))
        options.append('PARALLEL %d' % int(parallel))
    if index_cleanup is not None:
        value = str(index_cleanup).lower()
        if value not in INDEX_CLEANUP_VALUES:
            raise PlanError('index_cleanup must be one of %s, not %r' % (', '.join(INDEX_CLEANUP_VALUES), index_cleanup))
        if mode not in VACUUM_MODES:
            raise PlanError('index_cleanup applies to mode vacuum and vacuum_analyze only; remove it for mode=%s' % mode)
        if server_version_num < INDEX_CLEANUP_SINCE:
            raise PlanError('index_cleanup needs PostgreSQL 12 or newer; the server is %s' % server)
        if value == 'auto' and server_version_num < INDEX_CLEANUP_AUTO_SINCE:
            raise PlanError('index_cleanup=auto needs PostgreSQL 14 or newer (the server %s takes on or off)' % server)
        options.append('INDEX_CLEANUP %s' % value.upper())
    if process_toast is not None:
        if mode not in VACUUM_MODES + ('full',):
            raise PlanError('process_toast applies to VACUUM modes only; remove it for mode=%s' % mode)
        if server_version_num < PROCESS_TOAST_SINCE:
            raise PlanError('process_toast needs PostgreSQL 14 or newer; the server is %s' % server)
        if mode == 'full' and not process_toast:
            raise PlanError('VACUUM FULL always processes the TOAST table; process_toast=false is not allowed with mode=full')
        options.append('PROCESS_TOAST %s' % ('TRUE' if process_toast else 'FALSE'))
    if skip_locked:
        if server_version_num >= SKIP_LOCKED_SINCE:
            options.append('SKIP_LOCKED')
        else:
            notes.append('SKIP_LOCKED needs PostgreSQL 12; on %s a locked table waits up to lock_timeout' % server)
    command = 'ANALYZE' if mode == 'analyze' else 'VACUUM'
    return command, options, notes


def statement_text(command, options, qualified_name):
    """The statement as people read it (the module builds it with psycopg2.sql)."""
    if options:
        return '%s (%s) %s' % (command, ', '.join(options), qualified_name)
    return '%s %s' % (command, qualified_name)


# --- choosing tables -----------------------------------------------------------

def live_estimate(table):
    """Live tuples: the statistics' count, else the planner's estimate (a fresh
    clone or a reset of statistics leaves n_live_tup at 0)."""
    live = int(table.get('n_live_tup') or 0)
    if live > 0:
        return live
    return max(int(table.get('reltuples') or 0), 0)


def dead_ratio(dead, live):
    """Dead tuples as a percentage of live ones, as Prefect's maintenance guide
    computes bloat (can exceed 100); None when there are no live tuples."""
    if live <= 0:
        return None
    return round(100.0 * dead / live, 1)


def _metric(table, mode):
    """(count, label) the criteria apply to: dead tuples, or for ANALYZE the rows
    modified since the last analyze."""
    if mode == 'analyze':
        return int(table.get('n_mod_since_analyze') or 0), 'rows modified since the last analyze'
    return int(table.get('n_dead_tup') or 0), 'dead tuples'


def qualified(table):
    return '%s.%s' % (table['schema'], table['name'])


def evaluate_table(table, mode, min_dead_ratio=50.0, min_dead_tuples=1000, min_size=0):
    """(picked, reason) for one table under the `auto` criteria.

    A table is picked when its dead tuples (for mode=analyze: rows modified since
    the last ANALYZE) reach min_dead_tuples, their ratio to the live tuples
    reaches min_dead_ratio percent (a table with no live tuples left counts as
    above any ratio), and the table with its indexes and TOAST is at least min_size.
    """
    count, label = _metric(table, mode)
    live = live_estimate(table)
    ratio = dead_ratio(count, live)
    size = int(table.get('total_bytes') or 0)
    ratio_text = 'no live tuples' if ratio is None else '%s%% of %d live' % (_num(ratio), live)
    facts = '%d %s (%s), %s' % (count, label, ratio_text, format_size(size))
    misses = []
    if count < min_dead_tuples:
        misses.append('fewer than %d %s' % (min_dead_tuples, label))
    if ratio is not None and ratio < min_dead_ratio:
        misses.append('below %s%%' % _num(min_dead_ratio))
    if ratio is None and count == 0:
        misses.append('empty')
    if size < min_size:
        misses.append('smaller than min_size %s' % format_size(min_size))
    if misses:
        return False, '%s: %s' % (facts, '; '.join(misses))
    return True, '%s: at least %d %s and %s%%%s' % (
        facts, min_dead_tuples, label, _num(min_dead_ratio),
        ' and %s' % format_size(min_size) if min_size else '')


def _num(value):
    return ('%.1f' % value).rstrip('0').rstrip('.')


def select_tables(tables, mode, min_dead_ratio=50.0, min_dead_tuples=1000, min_size=0, max_full_size=None,
                  repack_keys=None):
    """`auto`: (selected, not_selected) from table_stats rows.

    selected is ordered by the metric, largest first, so a max_runtime cut
    leaves the least urgent tables. For mode=full, tables above max_full_size
    are left out; for mode=repack, tables without a key pg_repack can use.
    Each entry is {'table': row, 'reason': text}.
    """
    selected, not_selected = [], []
    for table in tables:
        if table.get('extension_member'):
            not_selected.append({'table': table, 'reason': 'belongs to an extension'})
            continue
        picked, reason = evaluate_table(table, mode, min_dead_ratio, min_dead_tuples, min_size)
        if picked:
            refusal = refusal_for(table, mode, max_full_size, repack_keys)
            if refusal:
                picked, reason = False, '%s; but %s' % (reason, refusal)
        (selected if picked else not_selected).append({'table': table, 'reason': reason})
    selected.sort(key=lambda entry: (-_metric(entry['table'], mode)[0], qualified(entry['table'])))
    return selected, not_selected


def refusal_for(table, mode, max_full_size=None, repack_keys=None):
    """Why a table may not be processed in this mode, or None."""
    if mode == 'full' and max_full_size is not None and int(table['total_bytes']) > max_full_size:
        return ('VACUUM FULL refused: %s is %s with indexes and TOAST, above max_full_size %s; VACUUM FULL '
                'blocks reads and writes for its whole run, use mode=repack or raise max_full_size' % (
                    qualified(table), format_size(table['total_bytes']), format_size(max_full_size)))
    if mode == 'repack' and repack_keys is not None and table['oid'] not in repack_keys:
        return ('pg_repack refused: %s has no primary key and no unique index on NOT NULL columns, which '
                'pg_repack needs' % qualified(table))
    return None


def explicit_refusals(tables, mode, max_full_size=None, repack_keys=None):
    """Refusals for an explicit list: every table must be processable, else nothing runs."""
    return [refusal for refusal in (refusal_for(t, mode, max_full_size, repack_keys) for t in tables) if refusal]


# --- pg_repack ----------------------------------------------------------------

def repack_space_needed(table):
    """pg_repack builds a full copy of the table and its indexes before dropping
    the old one, and logs changes meanwhile: ask for twice table plus indexes."""
    return 2 * int(table['total_bytes'])


def repack_space_refusal(table, free):
    """A refusal message when `free` bytes cannot hold a repack of table, else None."""
    needed = repack_space_needed(table)
    if free is None or free >= needed:
        return None
    return ('pg_repack refused: %s needs %s free (twice its %s with indexes), only %s is free' % (
        qualified(table), format_size(needed), format_size(table['total_bytes']), format_size(free)))


def repack_version_problem(client_version, extension_version):
    """A message when the pg_repack client and the extension in the database
    differ (pg_repack itself refuses to run then), else None."""
    if extension_version is None:
        return ('the pg_repack extension is not installed in this database; a superuser must run '
                'CREATE EXTENSION pg_repack there first')
    if not client_version:
        return 'the pg_repack client did not report its version'
    if tuple(client_version) != tuple(int(p) for p in re.findall(r'\d+', extension_version)[:3]):
        return ('the pg_repack client is %s but the extension in the database is %s; install matching versions '
                '(ALTER EXTENSION pg_repack UPDATE, or the client of the extension\'s version)' % (
                    '.'.join(str(p) for p in client_version), extension_version))
    return None


_SKIPPED = re.compile(r'Skipping repack .* due to timeout', re.I)


def repack_outcome(rc, output):
    """('done'|'skipped'|'failed', message) from pg_repack's exit code and output.

    pg_repack exits 0 even when it skipped a table (lock wait timed out with
    --no-kill-backend) or refused one (no key): its WARNING lines say so.
    """
    lines = [line.strip() for line in (output or '').splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith('ERROR') or line.startswith('FATAL')]
    if rc != 0 or errors:
        return 'failed', '; '.join(errors) or 'pg_repack exited with %s' % rc
    skipped = [line for line in lines if _SKIPPED.search(line)]
    if skipped:
        return 'skipped', '; '.join(skipped)
    warnings = [line for line in lines if line.startswith('WARNING')]
    if warnings:
        return 'failed', '; '.join(warnings)
    return 'done', None


_VACUUM_SKIP = re.compile(r'skipping (vacuum|analyze) of "[^"]*" --- lock not available')


def skipped_notice(notices):
    """The server's notice when SKIP_LOCKED skipped the table, else None."""
    for notice in notices or ():
        if _VACUUM_SKIP.search(notice):
            return notice.strip()
    return None


# VACUUM and ANALYZE skip a table the login may not process with a WARNING, not an error,
# and the wording changed in PostgreSQL 16:
#   15:  skipping "log" --- only table or database owner can vacuum it   (or: only superuser can ...)
#   16+: permission denied to vacuum "log", skipping it
_PERMISSION_SKIP = re.compile(r'skipping "[^"]*" --- only (table or database owner|superuser or database owner|superuser) '
                              r'can (vacuum|analyze) it|permission denied to (vacuum|analyze) "[^"]*", skipping it')


def permission_notice(notices):
    """The server's warning when VACUUM or ANALYZE skipped the table for lack of privilege, else None."""
    for notice in notices or ():
        if _PERMISSION_SKIP.search(notice):
            return notice.strip()
    return None


def permission_failure(notice, server_version_num):
    """What a table skipped for lack of privilege reports: the server's words and what would let the login."""
    needs = 'ownership of the table (or superuser)'
    if server_version_num >= MAINTAIN_SINCE:
        needs = 'ownership of the table, the MAINTAIN privilege on it or membership in pg_maintain (or superuser)'
    return '%s: VACUUM and ANALYZE need %s; the table was left as it was' % (notice.replace('WARNING:', '').strip(), needs)


def budget_left(started, now, max_runtime):
    """Whether a new table may start: max_runtime seconds (None: no limit) from
    `started`, the moment the first table began."""
    return max_runtime is None or now - started < max_runtime
