"""Session fixtures for the Qdrant stand-in (loaded by conftest.py)."""
import pytest


@pytest.fixture(scope="session")
def qdrant_server(tmp_path_factory):
    """One running Qdrant stand-in (API key required) for the whole session."""
    from sandbox.qdrant import QdrantStandIn

    server = QdrantStandIn(state_dir=str(tmp_path_factory.mktemp("qdrant")))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def qdrant(qdrant_server):
    """The session's Qdrant stand-in, with no fault left over from an earlier test and an empty request log."""
    qdrant_server.clear_faults()
    qdrant_server.reset_log()
    yield qdrant_server
    qdrant_server.clear_faults()


@pytest.fixture
def qdrant_args(qdrant):
    """The connection options every Qdrant module takes, pointing at the stand-in."""
    return dict(api_url=qdrant.url, api_key=qdrant.api_key, retries=3)
