"""The GitHub stand-in's fixtures beside the session's `github` (tests/conftest.py): a private one, and the shared one
checked for contract violations. (A conftest.py in tests/sandbox would shadow tests/conftest.py for the
`from conftest import ...` of every test file, so they live in this plugin, loaded by tests/conftest.py.)"""
import pytest


@pytest.fixture
def github_fresh(tmp_path):
    """A private GitHub stand-in, for tests that leave violations, faults or tokens behind."""
    from sandbox.github import GitHubStandIn

    server = GitHubStandIn(str(tmp_path / "gh"), build_delay=0.05).start()
    yield server
    server.stop()


@pytest.fixture
def github_clean(github):
    """The session's GitHub stand-in; the test must not cause a contract violation."""
    before = len(github.violations())
    yield github
    assert github.violations()[before:] == []
