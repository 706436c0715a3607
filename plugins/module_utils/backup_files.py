# -*- coding: utf-8 -*-
# Copyright: prefectdb.maintenance contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the backup module decides without a database or a disk: timestamped
dump names, which dumps rotation keeps, the dump size estimate against free
space, the checksum file, what pg_restore --list shows, and how row counts of
the source and of a restore compare."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import re

from ansible_collections.prefectdb.maintenance.plugins.module_utils.sizes import format_size

TIMESTAMP_FORMAT = '%Y%m%dT%H%M%SZ'
SUFFIX = '.dump'
CHECKSUM_SUFFIX = '.sha256'
PARTIAL_SUFFIX = '.partial'
MAX_IDENTIFIER = 63

_PREFIX = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]*$')
_STAMP = re.compile(r'^(?P<stamp>\d{8}T\d{6}Z)(?:_(?P<seq>\d+))?' + re.escape(SUFFIX) + '$')
# pg_restore --list: "<dump id>; <catalog table oid> <oid> TABLE DATA <schema> <table> <owner>"
_TABLE_DATA = re.compile(r'^\d+;\s+\d+\s+\d+\s+TABLE DATA\s+(?P<schema>\S+)\s+(?P<table>.+?)\s+(?P<owner>\S+)\s*$')


class BackupError(ValueError):
    """Bad input or a refusal: one clear message, nothing was changed."""


def check_prefix(prefix):
    """The dump name prefix must be a plain file name part."""
    if not prefix or not _PREFIX.match(prefix):
        raise BackupError('prefix %r must start with a letter or digit and hold only letters, digits, _, . and -'
                          % (prefix,))
    return prefix


def parse_dump_name(prefix, filename):
    """(timestamp text, sequence) of a dump this module wrote with this prefix, else None.

    Only <prefix>_<YYYYmmddTHHMMSSZ>[_<n>].dump matches: rotation never touches
    any other file in the directory.
    """
    if not filename.startswith(prefix + '_'):
        return None
    match = _STAMP.match(filename[len(prefix) + 1:])
    if not match:
        return None
    return match.group('stamp'), int(match.group('seq') or 0)


def dump_name(prefix, when, existing=()):
    """<prefix>_<UTC timestamp>.dump, with _2, _3... when a dump of the same second exists."""
    stamp = when.strftime(TIMESTAMP_FORMAT)
    existing = set(existing)
    name = '%s_%s%s' % (prefix, stamp, SUFFIX)
    seq = 1
    while name in existing:
        seq += 1
        name = '%s_%s_%d%s' % (prefix, stamp, seq, SUFFIX)
    return name


def newest_verified(prefix, filenames):
    """(name, UTC datetime) of the newest dump of this prefix that has its .sha256
    beside it (the module writes that only after verifying), or None."""
    present = set(filenames)
    dumps = []
    for name in filenames:
        key = parse_dump_name(prefix, name)
        if key and checksum_name(name) in present:
            dumps.append((key, name))
    if not dumps:
        return None
    (stamp, dummy), name = max(dumps)
    when = datetime.datetime.strptime(stamp, TIMESTAMP_FORMAT).replace(tzinfo=datetime.timezone.utc)
    return name, when


def rotation(prefix, filenames, keep):
    """(kept, deleted): the newest `keep` dumps of this prefix, and the older ones, newest first."""
    if keep < 1:
        raise BackupError('keep must be at least 1, not %r' % (keep,))
    dumps = [(parse_dump_name(prefix, f), f) for f in filenames]
    dumps = sorted(((key, f) for key, f in dumps if key), reverse=True)
    names = [f for dummy, f in dumps]
    return names[:keep], names[keep:]


def checksum_name(dump):
    return dump + CHECKSUM_SUFFIX


def partial_name(dump):
    """Where pg_dump writes until the dump is verified: hidden, and no match for rotation."""
    return '.' + dump + PARTIAL_SUFFIX


def checksum_line(digest, dump):
    """A line `sha256sum -c` reads."""
    return '%s  %s\n' % (digest, dump)


def estimate_dump_bytes(table_bytes, compress=None, ratio=0.5):
    """Bytes a custom-format dump of `table_bytes` of tables (heap and TOAST) may take.

    Indexes are not dumped, only their definitions. Compressed (the default),
    Prefect's JSON and text shrink several times, but dead space in the tables
    does not reach the dump at all: `ratio` of the table bytes is a cautious
    bound; uncompressed (compress=0) the data can reach the table bytes.
    """
    if ratio <= 0:
        raise BackupError('estimate_ratio must be positive, not %r' % (ratio,))
    if compress == 0:
        ratio = max(ratio, 1.0)
    return int(table_bytes * ratio)


def space_refusal(free, estimate, reserve=0, where='dest'):
    """A refusal message when `free` bytes minus `reserve` cannot hold `estimate`, else None."""
    if free - reserve >= estimate:
        return None
    extra = ' keeping reserve %s free,' % format_size(reserve) if reserve else ''
    return ('free space at %s is %s,%s below the estimated dump size %s' % (
        where, format_size(free), extra, format_size(estimate)))


def scratch_database_name(dbname, when):
    """A database name for the verification restore, within PostgreSQL's 63 bytes."""
    stamp = when.strftime(TIMESTAMP_FORMAT).lower()
    tail = '_verify_' + stamp
    head = re.sub(r'[^a-z0-9_]', '_', dbname.lower())[:MAX_IDENTIFIER - len(tail)]
    return head + tail


def tables_in_listing(listing):
    """{(schema, table)} of the TABLE DATA entries pg_restore --list shows."""
    found = set()
    for line in (listing or '').splitlines():
        if line.startswith(';'):
            continue
        match = _TABLE_DATA.match(line.strip())
        if match:
            found.add((match.group('schema'), match.group('table')))
    return found


def missing_from_listing(tables, listing):
    """The tables [(schema, table)] whose data the dump's table of contents lacks."""
    present = tables_in_listing(listing)
    return sorted(t for t in tables if tuple(t) not in present)


def compare_counts(source, restored):
    """Differences between row counts {'schema.table': rows} of the source (at the dump's
    snapshot) and of the restore: [text], empty when they are identical."""
    differences = []
    for name in sorted(set(source) | set(restored)):
        if name not in restored:
            differences.append('%s is missing from the restore' % name)
        elif name not in source:
            differences.append('%s is in the restore only' % name)
        elif source[name] != restored[name]:
            differences.append('%s has %d rows in the database but %d in the restore' % (
                name, source[name], restored[name]))
    return differences
