"""Databases for the molecule scenarios, on the test cluster of tests/integration.

    python tests/molecule/testdb.py clone NAME     # fresh clone of the 2,000-run history template
    python tests/molecule/testdb.py drop NAME
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'integration'))

from testbed import Cluster  # noqa: E402  pylint: disable=wrong-import-position


def main(argv):
    if len(argv) != 2 or argv[0] not in ('clone', 'drop'):
        sys.stderr.write(__doc__)
        return 2
    action, name = argv
    cluster = Cluster()
    cluster.drop(name)
    if action == 'clone':
        cluster.clone(cluster.history_template(), name)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
