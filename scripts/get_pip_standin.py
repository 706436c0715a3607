"""Offline stand-in for ansible-test's pip bootstrap script (get-pip.py).

ansible-test downloads get-pip.py from ci-files.testing.ansible.com to seed
the virtual environments of `ansible-test sanity --venv`. That host is out of
reach here, so `make` copies this file to ~/.ansible/test/cache/get_pip_<ver>.py,
where ansible-test looks first. It installs pip with ensurepip, then installs
the requested packages from the configured index with that pip.
"""
import subprocess
import sys

IGNORED = {'--no-setuptools', '--no-wheel'}


def main(argv):
    rest = [a for a in argv if a not in IGNORED]
    subprocess.check_call([sys.executable, '-m', 'ensurepip', '--upgrade'])
    subprocess.check_call([sys.executable, '-m', 'pip', 'install'] + rest)


if __name__ == '__main__':
    main(sys.argv[1:])
