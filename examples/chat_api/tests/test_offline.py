"""The service without its databases: what a pull request's CI checks in seconds (the repository's own suite runs
it against real PostgreSQL and the Qdrant stand-in)."""
import pytest
from fastapi.testclient import TestClient

from chat_api.app import create_app
from chat_api.config import ConfigError, Settings

UNREACHABLE = {"CHAT_DATABASE_URL": "postgresql://chat:secret@127.0.0.1:9/chat",
               "CHAT_QDRANT_URL": "http://127.0.0.1:9", "CHAT_TIMEOUT_SECONDS": "0.5", "CHAT_VERSION": "9.9.9"}


@pytest.fixture
def client():
    with TestClient(create_app(Settings.from_env(UNREACHABLE))) as client:
        yield client


def test_alive_and_versioned_without_its_databases(client):
    assert client.get("/healthz").status_code == 200
    assert client.get("/version").json()["version"] == "9.9.9"


def test_not_ready_without_its_databases(client):
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert "secret" not in answer.text


def test_a_question_too_long_is_refused_before_any_lookup(client):
    answer = client.post("/api/chat", json={"question": "x" * 2001})
    assert answer.status_code == 422 and "at most 2000" in answer.text


def test_metrics_count_requests_by_route(client):
    client.get("/healthz")
    assert 'route="/healthz"' in client.get("/metrics").text


def test_a_missing_setting_names_the_variable():
    with pytest.raises(ConfigError, match="CHAT_DATABASE_URL"):
        Settings.from_env({})
