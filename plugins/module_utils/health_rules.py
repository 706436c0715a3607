# -*- coding: utf-8 -*-
# Copyright: prefectdb.maintenance contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Health rules: facts and thresholds in, findings out. Pure functions, no database.

A finding is {id, check, severity (ok|warning|critical), subject, value, threshold,
message, remediation}. Every rule that was evaluated and found nothing adds one `ok`
finding with its id, so a report shows each rule's state and a healthy database
has no warning or critical finding."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.prefectdb.maintenance.plugins.module_utils.durations import (
    DurationError, format_duration, parse_duration,
)

SEVERITIES = ('ok', 'warning', 'critical')
SEVERITY_RANK = {'ok': 0, 'warning': 1, 'critical': 2}

CHECKS = ('tables', 'bloat', 'indexes', 'disk', 'autovacuum', 'connections', 'xmin', 'wraparound',
          'checkpoints', 'prefect', 'growth')

# Defaults follow Prefect's database maintenance guide where it gives a figure
# (disk > 80%, dead rows 20/50/100%, connections near the limit, autovacuum 24 h).
DEFAULT_THRESHOLDS = {
    'disk_used_warning_percent': 70.0,
    'disk_used_critical_percent': 80.0,
    'disk_full_warning_days': 30.0,
    'disk_full_critical_days': 7.0,
    'dead_rows_monitor_percent': 20.0,
    'dead_rows_vacuum_percent': 50.0,
    'dead_rows_critical_percent': 100.0,
    'dead_rows_min': 1000,
    'bloat_warning_percent': 50.0,
    'bloat_critical_percent': 100.0,
    'bloat_min_bytes': 10485760,
    'index_bloat_warning_percent': 100.0,
    'unused_index_min_bytes': 10485760,
    'connections_warning_percent': 80.0,
    'connections_critical_percent': 90.0,
    'autovacuum_stale_after': '24h',
    'autovacuum_max_per_day': 48.0,
    'active_table_min_changes': 1000,
    'transaction_max_age': '1h',
    'idle_in_transaction_max_age': '5m',
    'prepared_transaction_max_age': '0s',
    'xmin_horizon_max_age': 10000000,
    'wraparound_warning_percent': 50.0,
    'wraparound_critical_percent': 80.0,
    'checkpoints_requested_percent': 30.0,
    'checkpoints_min_count': 10,
}
DURATION_THRESHOLDS = ('autovacuum_stale_after', 'transaction_max_age', 'idle_in_transaction_max_age',
                       'prepared_transaction_max_age')
ORDERED_PAIRS = (
    ('disk_used_warning_percent', 'disk_used_critical_percent'),
    ('dead_rows_monitor_percent', 'dead_rows_vacuum_percent'),
    ('dead_rows_vacuum_percent', 'dead_rows_critical_percent'),
    ('bloat_warning_percent', 'bloat_critical_percent'),
    ('connections_warning_percent', 'connections_critical_percent'),
    ('wraparound_warning_percent', 'wraparound_critical_percent'),
)


class ThresholdError(ValueError):
    pass


def normalize_thresholds(raw):
    """Thresholds with defaults filled in and durations in seconds; raises
    ThresholdError naming the option when a value is wrong."""
    result = dict(DEFAULT_THRESHOLDS)
    for key, value in (raw or {}).items():
        if key not in DEFAULT_THRESHOLDS:
            raise ThresholdError('thresholds.%s is not a known threshold' % key)
        if value is not None:
            result[key] = value
    for key in DURATION_THRESHOLDS:
        try:
            result[key] = parse_duration(result[key], 'thresholds.%s' % key)
        except DurationError as e:
            raise ThresholdError(str(e))
    for key, value in result.items():
        if key in DURATION_THRESHOLDS:
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ThresholdError('thresholds.%s: %r is not a number' % (key, value))
        if number < 0:
            raise ThresholdError('thresholds.%s: %r is negative' % (key, value))
        result[key] = int(number) if key.endswith(('_bytes', '_min', '_changes', '_age', '_count')) else number
    for low, high in ORDERED_PAIRS:
        if result[low] > result[high]:
            raise ThresholdError('thresholds.%s (%s) must not exceed thresholds.%s (%s)' % (
                low, result[low], high, result[high]))
    if result['disk_full_critical_days'] > result['disk_full_warning_days']:
        raise ThresholdError('thresholds.disk_full_critical_days must not exceed thresholds.disk_full_warning_days')
    return result


def finding(rule_id, check, severity, subject, value, threshold, message, remediation=None):
    if severity not in SEVERITIES:
        raise ValueError('unknown severity %r' % severity)
    return {
        'id': rule_id, 'check': check, 'severity': severity, 'subject': subject,
        'value': value, 'threshold': threshold, 'message': message, 'remediation': remediation,
    }


def _pct(value):
    return '%.1f%%' % value


def _bytes(value):
    value = float(value or 0)
    for unit in ('B', 'kB', 'MB', 'GB', 'TB'):
        if abs(value) < 1024 or unit == 'TB':
            return ('%d %s' % (value, unit)) if unit == 'B' else ('%.1f %s' % (value, unit))
        value /= 1024.0
    return str(value)


def _age(seconds):
    return 'never' if seconds is None else format_duration(max(0, int(seconds)))


# --- tables ------------------------------------------------------------------------

def rule_dead_rows(facts, t):
    """The guide's dead-row ratio n_dead_tup / n_live_tup x 100."""
    out = []
    for table in facts.get('tables') or []:
        dead = int(table.get('dead_rows') or 0)
        if dead < t['dead_rows_min']:
            continue
        ratio = table.get('dead_row_ratio_percent')
        name = table['qualified']
        remedy = ('VACUUM (ANALYZE) %s; if dead rows remain afterwards, look at the xmin check for what '
                  'holds them (long transactions, replication slots, prepared transactions)' % name)
        if ratio is None or ratio > t['dead_rows_critical_percent']:
            out.append(finding('dead_rows', 'tables', 'critical', name, ratio, t['dead_rows_critical_percent'],
                               '%s has %d dead rows for %d live ones (%s): urgent VACUUM needed' % (
                                   name, dead, int(table.get('live_rows') or 0),
                                   'no live rows' if ratio is None else _pct(ratio)), remedy))
        elif ratio > t['dead_rows_vacuum_percent']:
            out.append(finding('dead_rows', 'tables', 'warning', name, ratio, t['dead_rows_vacuum_percent'],
                               '%s: dead-row ratio %s above %s: manual VACUUM recommended' % (
                                   name, _pct(ratio), _pct(t['dead_rows_vacuum_percent'])), remedy))
        elif ratio > t['dead_rows_monitor_percent']:
            out.append(finding('dead_rows', 'tables', 'warning', name, ratio, t['dead_rows_monitor_percent'],
                               '%s: dead-row ratio %s above %s: monitor, autovacuum may be falling behind' % (
                                   name, _pct(ratio), _pct(t['dead_rows_monitor_percent'])),
                               'monitor closely and consider a manual VACUUM (ANALYZE) %s; tune its autovacuum '
                               '(prefectdb.maintenance.autovacuum) if the ratio keeps growing' % name))
    return out, 'no table above %s dead rows' % _pct(t['dead_rows_monitor_percent'])


# --- bloat -------------------------------------------------------------------------

def rule_table_bloat(facts, t):
    out = []
    for item in facts.get('tables') or []:
        name = item['relation']
        approx = item.get('pgstattuple_approx') or {}
        measured = approx.get('wasted_bytes') is not None
        finding_ = _bloat_finding(name, approx if measured else item, measured or item.get('reliable'),
                                  'pgstattuple_approx' if measured else 'estimate (%s)' % item.get('method'),
                                  item.get('reasons'), t)
        if finding_:
            out.append(finding_)
        toast = item.get('toast_pgstattuple_approx') or {}
        if toast.get('wasted_bytes') is not None:
            finding_ = _bloat_finding('%s (TOAST)' % name, toast, True, 'pgstattuple_approx', None, t)
            if finding_:
                out.append(finding_)
    return out, 'no table wastes more than %s of its needed size (above %s)' % (
        _pct(t['bloat_warning_percent']), _bytes(t['bloat_min_bytes']))


def _bloat_finding(name, figures, reliable, how, reasons, t):
    wasted = figures.get('wasted_bytes')
    if wasted is None or wasted < t['bloat_min_bytes']:
        return None
    ratio = figures.get('bloat_ratio_percent')
    table = name.replace(' (TOAST)', '')
    remedy = ('VACUUM makes the space reusable but does not shrink %s; to give it back to the operating system '
              'rebuild it online with pg_repack (prefectdb.maintenance.vacuum) or VACUUM FULL in a maintenance '
              'window' % table)
    caveat = '' if reliable else ' (estimate unreliable: %s; confirm with pgstattuple)' % '; '.join(reasons or [])
    if ratio is None or ratio > t['bloat_critical_percent']:
        return finding('table_bloat', 'bloat', 'critical' if reliable else 'warning', name, ratio,
                       t['bloat_critical_percent'], '%s wastes %s (%s of it, bloat %s) by %s%s' % (
                           name, _bytes(wasted), _pct(figures.get('wasted_percent') or 0),
                           'total' if ratio is None else _pct(ratio), how, caveat), remedy)
    if ratio > t['bloat_warning_percent']:
        return finding('table_bloat', 'bloat', 'warning', name, ratio, t['bloat_warning_percent'],
                       '%s wastes %s (bloat %s) by %s%s' % (name, _bytes(wasted), _pct(ratio), how, caveat), remedy)
    return None


def rule_index_bloat(facts, t):
    out = []
    for item in facts.get('indexes') or []:
        wasted = item.get('wasted_bytes')
        ratio = item.get('bloat_ratio_percent')
        if wasted is None or wasted < t['bloat_min_bytes'] or ratio is None:
            continue
        if ratio > t['index_bloat_warning_percent']:
            name = item['relation']
            out.append(finding('index_bloat', 'bloat', 'warning', name, ratio, t['index_bloat_warning_percent'],
                               'index %s wastes %s (bloat %s, estimate by %s)' % (
                                   name, _bytes(wasted), _pct(ratio), item.get('method')),
                               'REINDEX INDEX CONCURRENTLY %s (prefectdb.maintenance.reindex)' % name))
    return out, 'no B-tree index above %s estimated bloat' % _pct(t['index_bloat_warning_percent'])


# --- indexes -----------------------------------------------------------------------

def rule_invalid_index(facts, t):
    out = []
    for index in facts.get('invalid') or []:
        name = index['qualified']
        leftover = index.get('leftover_of_concurrent_build')
        out.append(finding(
            'invalid_index', 'indexes', 'warning', name, index.get('size_bytes'), None,
            'index %s on %s is invalid%s: it is maintained on every write but never used' % (
                name, index.get('table'),
                ' (leftover of a failed CREATE/REINDEX CONCURRENTLY)' if leftover else ''),
            'DROP INDEX CONCURRENTLY %s, then build it again if it is needed (prefectdb.maintenance.reindex '
            'cleans up such leftovers)' % name))
    return out, 'no invalid index'


# --- disk --------------------------------------------------------------------------

def rule_disk(facts, t):
    out = []
    used = facts.get('used_percent')
    if facts.get('method') in (None, 'unknown') or used is None:
        out.append(finding('disk_used', 'disk', 'warning', facts.get('data_directory') or 'disk', None,
                           t['disk_used_critical_percent'],
                           'disk usage unknown: %s' % (facts.get('reason') or 'the data directory cannot be stat()ed'),
                           'run the module on the database host, or state the volume size with disk_total_bytes '
                           '(managed databases)'))
        return out, None
    subject = facts.get('data_directory') or 'disk'
    remedy = ('free space or grow the volume; shrink Prefect data with retention (prefectdb.maintenance.retention: '
              'events first, the largest table) and give space back with pg_repack')
    if used > t['disk_used_critical_percent']:
        out.append(finding('disk_used', 'disk', 'critical', subject, used, t['disk_used_critical_percent'],
                           'disk %s used (%s free of %s)' % (_pct(used), _bytes(facts.get('available_bytes')),
                                                             _bytes(facts.get('total_bytes'))), remedy))
    elif used > t['disk_used_warning_percent']:
        out.append(finding('disk_used', 'disk', 'warning', subject, used, t['disk_used_warning_percent'],
                           'disk %s used (%s free of %s)' % (_pct(used), _bytes(facts.get('available_bytes')),
                                                             _bytes(facts.get('total_bytes'))), remedy))
    return out, 'disk %s used (%s)' % (_pct(used), facts.get('method'))


# --- autovacuum --------------------------------------------------------------------

def rule_autovacuum_server(facts, t):
    out = []
    settings = facts.get('settings') or {}
    if settings.get('autovacuum') is False:
        out.append(finding('autovacuum_off', 'autovacuum', 'critical', 'autovacuum', False, True,
                           'autovacuum is off for the whole server: dead rows pile up and only anti-wraparound '
                           'vacuums run', 'set autovacuum = on in postgresql.conf and reload'))
    if settings.get('track_counts') is False:
        out.append(finding('autovacuum_off', 'autovacuum', 'critical', 'track_counts', False, True,
                           'track_counts is off: autovacuum cannot see which tables need work',
                           'set track_counts = on in postgresql.conf and reload'))
    return out, 'autovacuum and track_counts are on'


def rule_autovacuum_disabled(facts, t):
    out = []
    for table in facts.get('tables') or []:
        for part, enabled in (('', table.get('table_enabled')), ('TOAST of ', table.get('toast_enabled'))):
            if enabled is False:
                name = table['qualified']
                option = 'toast.autovacuum_enabled' if part else 'autovacuum_enabled'
                out.append(finding('autovacuum_disabled', 'autovacuum', 'warning', name, False, True,
                                   'autovacuum is disabled on the %s%s (%s=false)' % (part, name, option),
                                   'ALTER TABLE %s RESET (%s), or make sure a scheduled VACUUM covers it' % (
                                       name, option)))
    return out, 'autovacuum enabled on every reported table'


def rule_autovacuum_stale(facts, t):
    out = []
    limit = t['autovacuum_stale_after']
    for table in facts.get('tables') or []:
        changes = int(table.get('changes_since_vacuum') or 0)
        if changes < t['active_table_min_changes']:
            continue
        since = table.get('seconds_since_vacuum')
        stale = (since is not None and since > limit) or (since is None and table.get('vacuum_due'))
        if not stale:
            continue
        name = table['qualified']
        out.append(finding(
            'autovacuum_stale', 'autovacuum', 'warning', name, since, limit,
            '%s: %d rows changed and %s' % (
                name, changes, 'never (auto)vacuumed although past its autovacuum trigger' if since is None
                else 'last (auto)vacuum %s ago, over %s' % (_age(since), _age(limit))),
            'find out why autovacuum skips %s (disabled, workers busy on big tables, cost limits, a held xmin '
            'horizon); VACUUM (ANALYZE) it and tune its autovacuum settings (prefectdb.maintenance.autovacuum)'
            % name))
    return out, 'every active table (auto)vacuumed within %s' % _age(limit)


# --- connections ---------------------------------------------------------------------

def rule_connections(facts, t):
    out = []
    pct = facts.get('used_percent')
    if pct is None:
        return out, 'connections unknown'
    msg = '%d of %d usable connections in use (%s; %d active, %d idle, %d idle in transaction)' % (
        facts.get('total', 0), facts.get('usable', 0), _pct(pct), facts.get('active', 0), facts.get('idle', 0),
        facts.get('idle_in_transaction', 0))
    remedy = ('put a pooler (PgBouncer) in front of PostgreSQL or lower Prefect\'s pool size '
              '(PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_SIZE); raise max_connections only with memory to spare')
    if pct > t['connections_critical_percent']:
        out.append(finding('connections', 'connections', 'critical', 'connections', pct,
                           t['connections_critical_percent'], msg, remedy))
    elif pct > t['connections_warning_percent']:
        out.append(finding('connections', 'connections', 'warning', 'connections', pct,
                           t['connections_warning_percent'], msg, remedy))
    return out, msg


# --- xmin horizon ----------------------------------------------------------------------

def _session_subject(s):
    return 'pid %s (%s, %s)' % (s.get('pid'), s.get('usename') or '?', s.get('application_name') or 'no application_name')


def rule_long_transaction(facts, t):
    out = []
    for s in facts.get('sessions') or []:
        if s.get('backend_type') != 'client backend':
            continue
        age = s.get('xact_age_seconds')
        if age is not None and age > t['transaction_max_age']:
            out.append(finding('long_transaction', 'xmin', 'warning', _session_subject(s), age,
                               t['transaction_max_age'],
                               'transaction open for %s on database %s (state %s): it holds back vacuum cluster-wide; '
                               'query: %s' % (_age(age), s.get('datname'), s.get('state'), s.get('query')),
                               'end it from the application, or SELECT pg_terminate_backend(%s)' % s.get('pid')))
    return out, 'no transaction older than %s' % _age(t['transaction_max_age'])


def rule_idle_in_transaction(facts, t):
    out = []
    for s in facts.get('sessions') or []:
        if not str(s.get('state') or '').startswith('idle in transaction'):
            continue
        age = s.get('state_age_seconds')
        if age is not None and age > t['idle_in_transaction_max_age']:
            out.append(finding('idle_in_transaction', 'xmin', 'warning', _session_subject(s), age,
                               t['idle_in_transaction_max_age'],
                               'session %s for %s on database %s; last query: %s' % (
                                   s.get('state'), _age(age), s.get('datname'), s.get('query')),
                               'fix the client that leaves transactions open; set idle_in_transaction_session_timeout; '
                               'SELECT pg_terminate_backend(%s) ends this one' % s.get('pid')))
    return out, 'no session idle in transaction over %s' % _age(t['idle_in_transaction_max_age'])


def rule_prepared_transaction(facts, t):
    out = []
    for p in facts.get('prepared_transactions') or []:
        age = p.get('age_seconds') or 0
        if age >= t['prepared_transaction_max_age']:
            out.append(finding('prepared_transaction', 'xmin', 'warning', 'prepared transaction %s' % p.get('gid'),
                               age, t['prepared_transaction_max_age'],
                               'prepared transaction %r on database %s (owner %s) since %s holds the xmin horizon '
                               '(xid age %s)' % (p.get('gid'), p.get('database'), p.get('owner'), p.get('prepared'),
                                                 p.get('xid_age')),
                               "COMMIT PREPARED '%s' or ROLLBACK PREPARED '%s' from database %s, once its "
                               "coordinator is known to be gone" % (p.get('gid'), p.get('gid'), p.get('database'))))
    return out, 'no prepared transaction'


def rule_replication_slots(facts, t):
    out = []
    for slot in facts.get('replication_slots') or []:
        ages = [a for a in (slot.get('xmin_age'), slot.get('catalog_xmin_age')) if a is not None]
        if not ages:
            continue
        oldest = max(ages)
        if not slot.get('active') or oldest > t['xmin_horizon_max_age']:
            out.append(finding(
                'replication_slot', 'xmin', 'warning', 'slot %s' % slot.get('slot_name'), oldest,
                t['xmin_horizon_max_age'],
                '%s %s replication slot %s holds the xmin horizon (age %d xids)%s' % (
                    'inactive' if not slot.get('active') else 'active', slot.get('slot_type'), slot.get('slot_name'),
                    oldest, '' if slot.get('retained_wal_bytes') is None else
                    ' and retains %s of WAL' % _bytes(slot.get('retained_wal_bytes'))),
                "reconnect its consumer, or drop the slot if nothing uses it: SELECT pg_drop_replication_slot('%s')"
                % slot.get('slot_name')))
    return out, 'no replication slot holds the xmin horizon'


def rule_standby_feedback(facts, t):
    out = []
    for standby in facts.get('standby_feedback') or []:
        age = standby.get('backend_xmin_age')
        if age is not None and age > t['xmin_horizon_max_age']:
            out.append(finding('standby_xmin', 'xmin', 'warning', 'standby %s' % (
                standby.get('application_name') or standby.get('client_addr')), age, t['xmin_horizon_max_age'],
                'hot_standby_feedback from %s holds the xmin horizon (age %d xids)' % (
                    standby.get('application_name') or standby.get('client_addr'), age),
                'look for long queries on that standby; consider max_standby_streaming_delay instead of feedback'))
    return out, 'no standby feedback holding the xmin horizon'


# --- wraparound ------------------------------------------------------------------------

def _wraparound(facts, t, kind, pct_key, age_key, limit_key):
    out = []
    for db in facts.get('databases') or []:
        pct = db.get(pct_key)
        if pct is None:
            continue
        severity = threshold = None
        if pct > t['wraparound_critical_percent']:
            severity, threshold = 'critical', t['wraparound_critical_percent']
        elif pct > t['wraparound_warning_percent']:
            severity, threshold = 'warning', t['wraparound_warning_percent']
        if severity:
            out.append(finding(
                '%s_wraparound' % kind, 'wraparound', severity, 'database %s' % db.get('datname'), pct, threshold,
                'database %s: %s age %d is %s of %s (%d)' % (
                    db.get('datname'), kind, db.get(age_key), _pct(pct), limit_key, facts.get(limit_key) or 0),
                'VACUUM (FREEZE) the oldest tables of %s (relfrozenxid_age in facts.tables) after removing what '
                'holds the xmin horizon' % db.get('datname')))
    return out, '%s age below %s of %s in every database' % (kind, _pct(t['wraparound_warning_percent']), limit_key)


def rule_xid_wraparound(facts, t):
    return _wraparound(facts, t, 'xid', 'xid_percent', 'xid_age', 'autovacuum_freeze_max_age')


def rule_mxid_wraparound(facts, t):
    return _wraparound(facts, t, 'mxid', 'mxid_percent', 'mxid_age', 'autovacuum_multixact_freeze_max_age')


# --- checkpoints -----------------------------------------------------------------------

def rule_checkpoints_requested(facts, t):
    """Checkpoints mostly requested (WAL-triggered) rather than timed: max_wal_size is too small
    for the write load, and each such checkpoint brings a burst of full-page writes."""
    out = []
    timed = int(facts.get('timed') or 0)
    requested = int(facts.get('requested') or 0)
    pct = facts.get('requested_percent')
    total = timed + requested
    if pct is None or total < t['checkpoints_min_count']:
        return out, '%d checkpoints since the statistics reset, fewer than %d to judge' % (
            total, t['checkpoints_min_count'])
    wal = _bytes(facts.get('max_wal_size'))
    if pct > t['checkpoints_requested_percent']:
        out.append(finding(
            'checkpoints_requested', 'checkpoints', 'warning', 'checkpoints', pct, t['checkpoints_requested_percent'],
            '%d of %d checkpoints (%s) were requested rather than timed, with max_wal_size %s: WAL fills up '
            'before checkpoint_timeout and each such checkpoint brings a burst of full-page writes' % (
                requested, total, _pct(pct), wal),
            'raise max_wal_size (for example double it, to %s) so that checkpoints are timed, and/or spread '
            'retention\'s deletes with max_wal_rate (prefectdb.maintenance.retention)' % _bytes(
                2 * (facts.get('max_wal_size') or 0))))
    return out, '%d of %d checkpoints (%s) requested, max_wal_size %s' % (requested, total, _pct(pct), wal)


# --- prefect ---------------------------------------------------------------------------

def recommended_events_retention(runs_per_day):
    """The guide's events retention for a measured number of flow runs a day."""
    if runs_per_day is None:
        return None
    if runs_per_day < 100:
        low, high, band = 7, 7, 'fewer than 100 flow runs a day'
    elif runs_per_day <= 1000:
        low, high, band = 3, 5, '100 to 1,000 flow runs a day'
    else:
        low, high, band = 1, 2, 'more than 1,000 flow runs a day'
    return {'min_days': low, 'max_days': high, 'band': band}


def rule_prefect_access(facts, t):
    out = []
    if facts.get('readable') is False:
        out.append(finding('prefect_access', 'prefect', 'warning', 'prefect tables', None, None,
                           'Prefect retention evidence not checked: %s' % facts.get('reason'),
                           'GRANT SELECT ON events, flow_run TO this login (or grant pg_read_all_data); '
                           'the module reads index ends only, never whole tables'))
    return out, None


def rule_retention_drift(facts, t):
    out = []
    retention = facts.get('retention') or {}
    grace = retention.get('grace_seconds') or 0
    events_limit = retention.get('events_retention_seconds')
    events = facts.get('events') or {}
    age = events.get('oldest_age_seconds')
    if events_limit is not None and age is not None and age > events_limit + grace:
        out.append(finding('retention_drift', 'prefect', 'warning', 'events', age, events_limit,
                           'the oldest event is %s old, beyond the events retention of %s (%s estimated rows past '
                           'it): event retention is not running' % (
                               _age(age), _age(events_limit), events.get('beyond_retention_estimate')),
                           "check Prefect's db_vacuum service (PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED includes "
                           "'events' and the event persister is on) or run prefectdb.maintenance.retention"))
    for item in events.get('by_type') or []:
        limit = item.get('retention_seconds')
        type_age = item.get('oldest_age_seconds')
        if limit is not None and type_age is not None and type_age > limit + grace:
            out.append(finding('retention_drift', 'prefect', 'warning', 'events %s' % item.get('event'), type_age,
                               limit, 'the oldest %s event is %s old, beyond its retention of %s' % (
                                   item.get('event'), _age(type_age), _age(limit)),
                               'check PREFECT_SERVER_SERVICES_DB_VACUUM_EVENT_RETENTION_OVERRIDES and that the '
                               'db_vacuum service runs, or run prefectdb.maintenance.retention'))
    runs_limit = retention.get('flow_run_retention_seconds')
    oldest = (facts.get('flow_runs') or {}).get('oldest_eligible') or {}
    run_age = oldest.get('age_seconds')
    if runs_limit is not None and run_age is not None and run_age > runs_limit + grace:
        out.append(finding('retention_drift', 'prefect', 'warning', 'flow_run', run_age, runs_limit,
                           'the oldest terminal top-level flow run ended %s ago, beyond the flow run retention of %s '
                           '(%s estimated runs past it): flow run retention is not running' % (
                               _age(run_age), _age(runs_limit),
                               (facts.get('flow_runs') or {}).get('beyond_retention_estimate')),
                           "enable 'flow_runs' in PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED or run "
                           "prefectdb.maintenance.retention"))
    return out, 'Prefect data within its retention periods'


def rule_events_retention_recommendation(facts, t):
    out = []
    runs = (facts.get('flow_runs') or {}).get('per_day_7d_average')
    recommended = recommended_events_retention(runs)
    configured = (facts.get('retention') or {}).get('events_retention_seconds')
    if recommended is None or configured is None:
        return out, None
    days = configured / 86400.0
    text = '%g-%g days' % (recommended['min_days'], recommended['max_days']) \
        if recommended['min_days'] != recommended['max_days'] else '%g days' % recommended['max_days']
    if days > recommended['max_days'] + 1e-9:
        out.append(finding('events_retention_recommendation', 'prefect', 'warning', 'events retention',
                           round(days, 2), recommended['max_days'],
                           'events are kept %g days; with %.0f flow runs a day (%s) the maintenance guide recommends '
                           '%s' % (days, runs, recommended['band'], text),
                           'set PREFECT_SERVER_EVENTS_RETENTION_PERIOD (and prefectdb_events_retention_period) to %s'
                           % text))
    return out, 'events kept %g days; %.0f flow runs a day: the guide recommends %s' % (days, runs, text)


# --- growth ----------------------------------------------------------------------------

def rule_history(facts, t):
    out = []
    history = facts.get('history') or {}
    if history.get('recorded') is False:
        severity = 'ok' if history.get('reason_kind') in ('check_mode', 'standby', 'disabled') else 'warning'
        out.append(finding('history_not_recorded', 'growth', severity, history.get('table') or 'history',
                           None, None, 'no health snapshot recorded: %s' % history.get('reason'),
                           history.get('remediation')))
    return out, 'health snapshot recorded in %s' % history.get('table')


def rule_disk_full(facts, t):
    out = []
    days = facts.get('days_until_full')
    if days is None:
        return out, 'the disk is not filling up at the measured rate' if facts.get('rate_bytes_per_day') is not None \
            else None
    severity = None
    if days < t['disk_full_critical_days']:
        severity, threshold = 'critical', t['disk_full_critical_days']
    elif days < t['disk_full_warning_days']:
        severity, threshold = 'warning', t['disk_full_warning_days']
    if severity:
        out.append(finding('disk_full_forecast', 'growth', severity, 'disk', days, threshold,
                           'at %s/day (%s over %s) the disk is full in %.1f days (%s)' % (
                               _bytes(facts.get('rate_bytes_per_day')), facts.get('rate_of'),
                               facts.get('rate_window'), days, facts.get('full_at')),
                           'shorten retention (events first) or grow the volume before then'))
    return out, 'disk full in %.1f days at the current rate' % days


def rule_autovacuum_frequent(facts, t):
    """Tables autovacuumed more often than autovacuum_max_per_day, measured between
    stored snapshots (7-day window, else 1-day): the weekly review's "too often"."""
    windows = facts.get('windows') or {}
    name, window = next(((n, windows[n]) for n in ('7d', '1d') if windows.get(n)), (None, None))
    if not window:
        return [], None
    out = []
    limit = t['autovacuum_max_per_day']
    for table in window.get('tables') or []:
        rate = table.get('autovacuums_per_day')
        if rate is None or rate <= limit:
            continue
        out.append(finding(
            'autovacuum_frequent', 'growth', 'warning', table['table'], rate, limit,
            '%s was autovacuumed %.1f times a day over the last %s, more than %.0f' % (
                table['table'], rate, name, limit),
            'raise its autovacuum_vacuum_threshold or scale factor (prefectdb.maintenance.autovacuum) if each run '
            'finds little to do; if each run finds dead rows it cannot remove, look for a long transaction or a '
            'replication slot holding the xmin horizon'))
    return out, 'no table autovacuumed more than %.0f times a day (over %s)' % (limit, name)


# --- the evaluator ---------------------------------------------------------------------

# check -> [(rule id, rule)]; each rule returns (problems, message when there are none)
RULES = {
    'tables': [('dead_rows', rule_dead_rows)],
    'bloat': [('table_bloat', rule_table_bloat), ('index_bloat', rule_index_bloat)],
    'indexes': [('invalid_index', rule_invalid_index)],
    'disk': [('disk_used', rule_disk)],
    'autovacuum': [('autovacuum_off', rule_autovacuum_server), ('autovacuum_disabled', rule_autovacuum_disabled),
                   ('autovacuum_stale', rule_autovacuum_stale)],
    'connections': [('connections', rule_connections)],
    'xmin': [('long_transaction', rule_long_transaction), ('idle_in_transaction', rule_idle_in_transaction),
             ('prepared_transaction', rule_prepared_transaction), ('replication_slot', rule_replication_slots),
             ('standby_xmin', rule_standby_feedback)],
    'wraparound': [('xid_wraparound', rule_xid_wraparound), ('mxid_wraparound', rule_mxid_wraparound)],
    'checkpoints': [('checkpoints_requested', rule_checkpoints_requested)],
    'prefect': [('prefect_access', rule_prefect_access), ('retention_drift', rule_retention_drift),
                ('events_retention_recommendation', rule_events_retention_recommendation)],
    'growth': [('history_not_recorded', rule_history), ('disk_full_forecast', rule_disk_full),
               ('autovacuum_frequent', rule_autovacuum_frequent)],
}
RULE_IDS = tuple(rule_id for check in CHECKS for rule_id, dummy in RULES[check]) + ('check_failed',)


def evaluate(facts, thresholds, checks):
    """Findings for the selected checks: every problem, then one `ok` per rule that
    found none. Checks whose facts are missing (failed) produce nothing here."""
    findings = []
    for check in checks:
        check_facts = facts.get(check)
        if check_facts is None:
            continue
        for rule_id, rule in RULES[check]:
            problems, ok_message = rule(check_facts, thresholds)
            findings.extend(problems)
            if not problems and ok_message:
                findings.append(finding(rule_id, check, 'ok', check, None, None, ok_message))
    return findings


def check_failed(check, error):
    return finding('check_failed', check, 'warning', check, None, None,
                   'the %s check could not run: %s' % (check, error),
                   'grant the login pg_monitor (and SELECT on the Prefect tables), or raise statement_timeout')


def summarize(findings):
    counts = dict((s, 0) for s in SEVERITIES)
    for f in findings:
        counts[f['severity']] += 1
    worst = 'ok'
    for f in findings:
        if SEVERITY_RANK[f['severity']] > SEVERITY_RANK[worst]:
            worst = f['severity']
    return {'worst': worst, 'critical': counts['critical'], 'warning': counts['warning'], 'ok': counts['ok'],
            'ids': sorted(set(f['id'] for f in findings if f['severity'] != 'ok'))}


def should_fail(summary, fail_on):
    if fail_on in (None, 'none'):
        return False
    return SEVERITY_RANK[summary['worst']] >= SEVERITY_RANK[fail_on]


def message(summary, findings, database):
    """One line a person can act on."""
    if summary['worst'] == 'ok':
        return 'health of %s: no warning or critical finding (%d checks ok)' % (database, summary['ok'])
    worst_first = sorted((f for f in findings if f['severity'] != 'ok'),
                         key=lambda f: -SEVERITY_RANK[f['severity']])
    parts = ['%s %s %s' % (f['severity'], f['id'], f['subject']) for f in worst_first[:5]]
    more = len(worst_first) - len(parts)
    return 'health of %s: %d critical, %d warning: %s%s' % (
        database, summary['critical'], summary['warning'], '; '.join(parts), ' and %d more' % more if more else '')
