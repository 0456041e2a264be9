"""The Grafana stand-in for tests (loaded by conftest.py).

- `grafana`: a fresh GrafanaStandIn on 127.0.0.1 (a free port) with a random service account token, stopped after the
  test; `grafana.url` is the base URL clients are given, `grafana.token` the token, `grafana.violations()` what broke
  Grafana's API description. State is in memory, so a stand-in per test costs nothing.
"""
import pytest


@pytest.fixture
def grafana():
    from sandbox.grafana import GrafanaStandIn

    server = GrafanaStandIn().start()
    try:
        yield server
    finally:
        server.stop()
