import pytest

from testbed import Cluster, run_module


@pytest.fixture(scope='session')
def cluster():
    """The private PostgreSQL cluster (started if needed, left running)."""
    return Cluster()


@pytest.fixture(scope='session')
def prefect_template(cluster):
    return cluster.prefect_template()


@pytest.fixture(scope='session')
def history_template(cluster):
    return cluster.history_template()


@pytest.fixture
def prefect_db(cluster, prefect_template):
    """A fresh database with Prefect's empty schema, dropped after the test."""
    name = cluster.clone(prefect_template)
    yield name
    cluster.drop(name)


@pytest.fixture
def history_db(cluster, history_template):
    """A fresh database with Prefect's schema and 2,000 flow runs of synthetic history."""
    name = cluster.clone(history_template)
    yield name
    cluster.drop(name)


@pytest.fixture
def module_runner(cluster):
    """run(module, args, dbname, ...) through ansible-playbook."""
    def run(module, args=None, dbname=None, **kwargs):
        return run_module(cluster, module, args, dbname=dbname, **kwargs)
    return run
