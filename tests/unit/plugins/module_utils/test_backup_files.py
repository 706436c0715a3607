"""The backup module's decisions without a database or a disk: names, rotation, the size estimate,
checksum lines, pg_restore --list and row count comparison."""
import datetime

import pytest

from ansible_collections.prefectdb.maintenance.plugins.module_utils import backup_files as bf

WHEN = datetime.datetime(2026, 1, 1, 2, 0, 5, tzinfo=datetime.timezone.utc)


def test_dump_name_is_timestamped_in_utc_and_unique():
    assert bf.dump_name('prefect', WHEN) == 'prefect_20260101T020005Z.dump'
    existing = ['prefect_20260101T020005Z.dump', 'prefect_20260101T020005Z_2.dump']
    assert bf.dump_name('prefect', WHEN, existing) == 'prefect_20260101T020005Z_3.dump'


@pytest.mark.parametrize('filename,parsed', [
    ('prefect_20260101T020005Z.dump', ('20260101T020005Z', 0)),
    ('prefect_20260101T020005Z_2.dump', ('20260101T020005Z', 2)),
    ('prefect_20260101T020005Z.dump.sha256', None),
    ('.prefect_20260101T020005Z.dump.partial', None),
    ('prefect_staging_20260101T020005Z.dump', None),  # another prefix
    ('prefect_latest.dump', None),
    ('prefect-20260101T020005Z.dump', None),
    ('other_20260101T020005Z.dump', None),
])
def test_parse_dump_name(filename, parsed):
    assert bf.parse_dump_name('prefect', filename) == parsed


def test_rotation_keeps_the_newest_of_this_prefix_only():
    files = ['prefect_20251230T020000Z.dump', 'prefect_20251231T020000Z.dump', 'prefect_20260101T020000Z.dump',
             'prefect_20260101T020000Z_2.dump', 'prefect_20251230T020000Z.dump.sha256', 'notes.txt',
             'prefect_staging_20240101T000000Z.dump', '.prefect_20260102T020000Z.dump.partial']
    kept, deleted = bf.rotation('prefect', files, 2)
    assert kept == ['prefect_20260101T020000Z_2.dump', 'prefect_20260101T020000Z.dump']
    assert deleted == ['prefect_20251231T020000Z.dump', 'prefect_20251230T020000Z.dump']
    assert bf.rotation('prefect', files, 10) == (
        ['prefect_20260101T020000Z_2.dump', 'prefect_20260101T020000Z.dump', 'prefect_20251231T020000Z.dump',
         'prefect_20251230T020000Z.dump'], [])
    with pytest.raises(bf.BackupError):
        bf.rotation('prefect', files, 0)


@pytest.mark.parametrize('prefix', ['prefect', 'prefect-prod', 'db.2', 'A_b'])
def test_good_prefixes(prefix):
    assert bf.check_prefix(prefix) == prefix


@pytest.mark.parametrize('prefix', ['', '../x', 'a/b', '.hidden', '-x', 'with space', None])
def test_bad_prefixes(prefix):
    with pytest.raises(bf.BackupError) as err:
        bf.check_prefix(prefix)
    assert 'must start with a letter or digit' in str(err.value)


def test_partial_and_checksum_names():
    assert bf.partial_name('prefect_20260101T020005Z.dump') == '.prefect_20260101T020005Z.dump.partial'
    assert bf.checksum_name('prefect_20260101T020005Z.dump') == 'prefect_20260101T020005Z.dump.sha256'
    assert bf.checksum_line('ab' * 32, 'x.dump') == 'ab' * 32 + '  x.dump\n'


def test_size_estimate():
    assert bf.estimate_dump_bytes(1000) == 500
    assert bf.estimate_dump_bytes(1000, compress=6, ratio=0.25) == 250
    assert bf.estimate_dump_bytes(1000, compress=0) == 1000
    assert bf.estimate_dump_bytes(1000, compress=0, ratio=1.5) == 1500
    with pytest.raises(bf.BackupError):
        bf.estimate_dump_bytes(1000, ratio=0)


def test_space_refusal():
    gib = 1024 ** 3
    assert bf.space_refusal(10 * gib, 5 * gib) is None
    assert bf.space_refusal(10 * gib, 5 * gib, reserve=5 * gib) is None
    assert bf.space_refusal(10 * gib, 5 * gib, reserve=6 * gib, where='/backups') == (
        'free space at /backups is 10 GB, keeping reserve 6 GB free, below the estimated dump size 5 GB')
    assert bf.space_refusal(gib, 2 * gib) == 'free space at dest is 1 GB, below the estimated dump size 2 GB'


def test_scratch_database_name_fits_an_identifier():
    assert bf.scratch_database_name('prefect', WHEN) == 'prefect_verify_20260101t020005z'
    long_name = bf.scratch_database_name('Prefect-Production-' + 'x' * 80, WHEN)
    assert len(long_name) == 63 and long_name.startswith('prefect_production_x')
    assert long_name.endswith('_verify_20260101t020005z')


LISTING = """;
; Archive created at 2026-01-01 02:00:05 UTC
;     dbname: prefect
;
215; 1259 16500 TABLE public log postgres
3601; 0 16500 TABLE DATA public log postgres
3602; 0 16510 TABLE DATA public flow_run prefect
3603; 0 16520 TABLE DATA public my table postgres
3604; 0 0 COMMENT - EXTENSION pg_trgm
"""


def test_tables_in_listing():
    assert bf.tables_in_listing(LISTING) == {('public', 'log'), ('public', 'flow_run'), ('public', 'my table')}
    assert bf.missing_from_listing([('public', 'log'), ('public', 'events')], LISTING) == [('public', 'events')]
    assert bf.missing_from_listing([('public', 'log')], LISTING) == []
    assert bf.tables_in_listing('') == set()


def test_compare_counts():
    source = {'public.log': 10, 'public.flow_run': 2, 'public.events': 5}
    assert bf.compare_counts(source, dict(source)) == []
    assert bf.compare_counts(source, {'public.log': 9, 'public.flow_run': 2, 'public.extra': 1}) == [
        'public.events is missing from the restore', 'public.extra is in the restore only',
        'public.log has 10 rows in the database but 9 in the restore']


def test_newest_verified_needs_the_checksum_and_the_prefix():
    names = ['prefect_20260101T020000Z.dump', 'prefect_20260101T020000Z.dump.sha256',
             'prefect_20260102T020000Z.dump',  # not verified: no .sha256
             'prefect_20251231T020000Z_2.dump', 'prefect_20251231T020000Z_2.dump.sha256',
             'other_20260105T020000Z.dump', 'other_20260105T020000Z.dump.sha256']
    name, when = bf.newest_verified('prefect', names)
    assert name == 'prefect_20260101T020000Z.dump'
    assert when == datetime.datetime(2026, 1, 1, 2, 0, 0, tzinfo=datetime.timezone.utc)
    assert bf.newest_verified('prefect', ['prefect_20260102T020000Z.dump']) is None
    assert bf.newest_verified('nothing', names) is None
