"""Session fixtures for the Qdrant stand-in (loaded by conftest.py)."""
import pytest


@pytest.fixture(scope="session")
def qdrant(tmp_path_factory):
    """One running Qdrant stand-in (API key required: `qdrant.api_key`) for the whole session."""
    from sandbox.qdrant import QdrantStandIn

    server = QdrantStandIn(state_dir=str(tmp_path_factory.mktemp("qdrant")))
    server.start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _qdrant_clean(request):
    """Each test that uses `qdrant` starts with no pending fault and an empty request log."""
    if "qdrant" not in request.fixturenames:
        yield
        return
    server = request.getfixturevalue("qdrant")
    server.clear_faults()
    server.reset_log()
    yield
    server.clear_faults()


@pytest.fixture
def qdrant_args(qdrant):
    """The connection options every Qdrant module takes, pointing at the stand-in (fast retries)."""
    return dict(api_url=qdrant.url, api_key=qdrant.api_key, retries=3)
