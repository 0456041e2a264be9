"""Fixtures the stand-ins' own tests share (the session's `github`, `neon`... come from tests/conftest.py)."""
import pytest


@pytest.fixture
def github_fresh(tmp_path):
    """A private GitHub stand-in, for tests that leave violations, faults or tokens behind."""
    from sandbox.github import GitHubStandIn

    server = GitHubStandIn(str(tmp_path / "gh")).start()
    yield server
    server.stop()


@pytest.fixture
def github_clean(github):
    """The session's GitHub stand-in; the test must not cause a contract violation."""
    before = len(github.violations())
    yield github
    assert github.violations()[before:] == []
