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


SITE = "https://textbook.example.org"
PREFLIGHT = {"Origin": SITE, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}


def cors_headers(answer):
    return {name: value for name, value in answer.headers.items() if name.lower().startswith("access-control-")}


@pytest.fixture
def cors_client():
    env = dict(UNREACHABLE, CHAT_ALLOWED_ORIGINS="https://TextBook.example.org:443/, http://localhost:3000",
               CHAT_CORS_MAX_AGE="120")
    with TestClient(create_app(Settings.from_env(env))) as client:
        yield client


def test_the_preflight_from_an_allowed_origin_passes(cors_client):
    answer = cors_client.options("/api/chat", headers=PREFLIGHT)
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == SITE
    assert answer.headers["access-control-max-age"] == "120"
    assert "POST" in answer.headers["access-control-allow-methods"]


def test_answers_to_an_allowed_origin_carry_cors_headers_also_on_errors(cors_client):
    refused = cors_client.post("/api/chat", json={"question": ""}, headers={"Origin": SITE})
    assert refused.status_code == 422 and refused.headers["access-control-allow-origin"] == SITE
    not_ready = cors_client.get("/readyz", headers={"Origin": "http://localhost:3000"})
    assert not_ready.status_code == 503
    assert not_ready.headers["access-control-allow-origin"] == "http://localhost:3000"


def test_another_origin_gets_no_cors_headers(cors_client):
    other = "https://evil.example.net"
    preflight = cors_client.options("/api/chat", headers=dict(PREFLIGHT, Origin=other))
    assert preflight.status_code == 400 and cors_headers(preflight) == {}
    assert cors_headers(cors_client.post("/api/chat", json={"question": ""}, headers={"Origin": other})) == {}


def test_without_allowed_origins_there_is_no_cors(client):
    answer = client.options("/api/chat", headers=PREFLIGHT)
    assert answer.status_code == 405 and cors_headers(answer) == {}


@pytest.mark.parametrize("entry", ["*", "https://x.org/path", "ftp://x.org", "x.org", "https://u:p@x.org",
                                   "https://x.org?a=1", "https://x.org#top", "https://x.org:99999"])
def test_a_bad_origin_is_refused_naming_the_variable_and_the_entry(entry):
    with pytest.raises(ConfigError, match=r"CHAT_ALLOWED_ORIGINS: .*is not an origin.*scheme://host\[:port\]") as err:
        Settings.from_env(dict(UNREACHABLE, CHAT_ALLOWED_ORIGINS="https://ok.org " + entry))
    assert repr(entry) in str(err.value)


def test_origins_are_normalised_as_browsers_send_them():
    env = dict(UNREACHABLE, CHAT_ALLOWED_ORIGINS=" HTTPS://Docs.Example.org:443/,http://Example.org:80\n"
                                                 "http://example.org:8481  https://docs.example.org")
    assert Settings.from_env(env).allowed_origins == (
        "https://docs.example.org", "http://example.org", "http://example.org:8481")


@pytest.mark.parametrize("value", ["-1", "86401", "ten"])
def test_a_bad_cors_max_age_names_the_variable(value):
    with pytest.raises(ConfigError, match="CHAT_CORS_MAX_AGE"):
        Settings.from_env(dict(UNREACHABLE, CHAT_CORS_MAX_AGE=value))


def test_sources_are_only_the_passages_close_to_the_best():
    from chat_api.app import relevant

    hits = [{"id": "a", "score": 0.54}, {"id": "b", "score": 0.3}, {"id": "c", "score": 0.05}, {"id": "d", "score": 0}]
    assert [hit["id"] for hit in relevant(hits, 0.5)] == ["a", "b"]
    assert [hit["id"] for hit in relevant(hits, 0.0)] == ["a", "b", "c"]
    assert relevant([], 0.5) == []


def test_min_relative_score_must_be_a_share():
    with pytest.raises(ConfigError, match="CHAT_MIN_RELATIVE_SCORE"):
        Settings.from_env(dict(UNREACHABLE, CHAT_MIN_RELATIVE_SCORE="2"))
