"""Session fixtures for the Neon stand-in and its PostgreSQL server (loaded by conftest.py).

- `neon`: one started NeonStandIn for the whole session (state under pytest's tmp dir), stopped at the end.
- `neon_project`: a fresh project (unique name, ready at once: no running operations) made through the stand-in's
  direct-state helper; yields the project's JSON with two extra keys for convenience: `_branch_id` (the default
  branch) and `_connection_uri` (its owner role on its database). Faults are cleared after each test and the
  project is deleted.

Tests that provoke violations should use a private stand-in, as `neon.violations()` is shared by the session.
"""
import uuid

import pytest


@pytest.fixture(scope="session")
def neon(tmp_path_factory):
    from sandbox.neon import NeonStandIn

    server = NeonStandIn(state_dir=str(tmp_path_factory.mktemp("neon")))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def neon_project(neon):
    full = neon.create_project("test-" + uuid.uuid4().hex[:10], full=True)
    project = dict(full["project"])
    project["_branch_id"] = full["branch"]["id"]
    project["_connection_uri"] = full["connection_uris"][0]["connection_uri"]
    try:
        yield project
    finally:
        neon.clear_faults()
        neon.delete_project(project["id"])
