"""RestClient (plugins/module_utils/rest.py): retries, backoff, rate limits and errors, against the GitHub stand-in."""
import socket
import time
import uuid

import pytest

from ansible_collections.textbook.deploy.plugins.module_utils.api_module import GITHUB_API_DEFAULTS
from ansible_collections.textbook.deploy.plugins.module_utils.rest import (
    ApiError,
    Response,
    RestClient,
    api_message,
)

SCOPE_HINT = "the classic scope `repo`"


class Recorder:
    """Stands in for time.sleep: records the waits instead of sleeping."""

    def __init__(self):
        self.waits = []

    def __call__(self, seconds):
        self.waits.append(seconds)

    @property
    def total(self):
        return sum(self.waits)


def make_client(github, token=None, sleep=None, rand=lambda: 1.0, **kwargs):
    """A GitHub-flavoured client; rand=1.0 makes the full-jitter backoff its upper bound (predictable)."""
    kwargs.setdefault("headers", GITHUB_API_DEFAULTS["headers"])
    kwargs.setdefault("token_env", GITHUB_API_DEFAULTS["token_env"])
    kwargs.setdefault("scope_hint", SCOPE_HINT)
    return RestClient(github.api_url, token=github.token if token is None else token,
                      sleep=sleep or Recorder(), rand=rand, **kwargs)


@pytest.fixture
def repo(github):
    """A fresh repository; faults and the request log start empty."""
    name = "rest-%s" % uuid.uuid4().hex[:8]
    github.create_repo("octo", name)
    github.clear_faults()
    github.reset_log()
    yield "/repos/octo/%s" % name
    github.clear_faults()


def attempts(github, method, path):
    return [entry_status(entry) for entry in github.requests() if entry_method(entry) == method
            and entry_path(entry) == path]


def entry_method(entry):
    return entry["method"] if isinstance(entry, dict) else entry[0]


def entry_path(entry):
    return entry["path"] if isinstance(entry, dict) else entry[1]


def entry_status(entry):
    return entry["status"] if isinstance(entry, dict) else entry[2]


# --- success path -------------------------------------------------------------------------------------------------

def test_get_returns_decoded_json_and_counts_calls(github, repo):
    client = make_client(github)
    response = client.get(repo)
    assert isinstance(response, Response)
    assert response.status == 200
    assert response.data["full_name"] == repo[len("/repos/"):]
    assert response.header("x-ratelimit-limit") is not None  # case-insensitive
    assert client.calls == 1
    assert attempts(github, "GET", repo) == [200]
    assert github.violations() == []


def test_missing_ok_returns_none_on_404(github, repo):
    client = make_client(github)
    assert client.get(repo + "/pages", missing_ok=True) is None
    assert client.calls == 1


# --- retries ------------------------------------------------------------------------------------------------------

def test_5xx_is_retried_with_full_jitter_backoff(github, repo):
    sleep = Recorder()
    github.inject_fault("http_500", method="GET", path=repo + "$", times=3)
    client = make_client(github, sleep=sleep)
    assert client.get(repo).status == 200
    assert attempts(github, "GET", repo) == [500, 500, 500, 200]
    assert client.calls == 4
    # rand() == 1.0: the upper bound of each full-jitter window, base 1 s doubling
    assert sleep.waits == [1.0, 2.0, 4.0]
    assert client.slept == 7.0


def test_backoff_is_jittered_and_capped(github, repo):
    sleep = Recorder()
    draws = iter([0.5, 0.25, 0.5, 0.5, 0.5, 0.5, 0.5])
    github.inject_fault("http_500", method="GET", path=repo + "$", times=6)
    client = make_client(github, sleep=sleep, rand=lambda: next(draws), retries=6, max_wait=1000)
    assert client.get(repo).status == 200
    # windows 1, 2, 4, 8, 16, 32->30 (cap) times the random draw
    assert sleep.waits == [0.5, 0.5, 2.0, 4.0, 8.0, 15.0]


def test_retries_exhausted_fails_with_last_status(github, repo):
    sleep = Recorder()
    github.inject_fault("http_500", method="GET", path=repo + "$", times=10)
    client = make_client(github, sleep=sleep, retries=2)
    with pytest.raises(ApiError) as caught:
        client.get(repo)
    assert caught.value.status == 500
    assert attempts(github, "GET", repo) == [500, 500, 500]
    assert len(sleep.waits) == 2
    assert "HTTP 500" in str(caught.value)
    assert "Server Error (injected by the sandbox)" in str(caught.value)
    assert "3 attempts" in str(caught.value)


def test_retries_zero_disables_retrying(github, repo):
    github.inject_fault("http_500", method="GET", path=repo + "$", times=1)
    client = make_client(github, retries=0)
    with pytest.raises(ApiError) as caught:
        client.get(repo)
    assert caught.value.status == 500
    assert attempts(github, "GET", repo) == [500]


def test_429_honours_retry_after(github, repo):
    sleep = Recorder()
    github.inject_fault("rate_limit_429", method="GET", path=repo + "$", times=2, retry_after=3)
    client = make_client(github, sleep=sleep)
    assert client.get(repo).status == 200
    assert attempts(github, "GET", repo) == [429, 429, 200]
    assert sleep.waits == [3.0, 3.0]  # Retry-After wins over X-RateLimit-Reset and over backoff


def test_secondary_rate_limit_is_retried_after_retry_after(github, repo):
    sleep = Recorder()
    github.inject_fault("secondary_rate_limit", method="GET", path=repo + "$", times=1, retry_after=7)
    client = make_client(github, sleep=sleep)
    assert client.get(repo).status == 200
    assert attempts(github, "GET", repo) == [403, 200]
    assert sleep.waits == [7.0]


def test_bounded_total_wait_fails_now_with_the_status(github, repo):
    sleep = Recorder()
    github.inject_fault("rate_limit_429", method="GET", path=repo + "$", times=5, retry_after=40)
    client = make_client(github, sleep=sleep, max_wait=100)
    with pytest.raises(ApiError) as caught:
        client.get(repo)
    # 40 + 40 fit into 100, a third wait of 40 does not: fail at once instead of sleeping
    assert sleep.waits == [40.0, 40.0]
    assert sleep.total <= 100
    assert attempts(github, "GET", repo) == [429, 429, 429]
    err = caught.value
    assert err.status == 429
    assert "HTTP 429" in str(err) and "max_wait=100" in str(err)
    assert "rate limit" in str(err).lower()


def test_wait_longer_than_max_wait_fails_without_sleeping(github, repo):
    sleep = Recorder()
    github.inject_fault("secondary_rate_limit", method="GET", path=repo + "$", times=1, retry_after=600)
    client = make_client(github, sleep=sleep, max_wait=120)
    with pytest.raises(ApiError) as caught:
        client.get(repo)
    assert sleep.waits == []
    assert caught.value.status == 403
    assert "secondary rate limit" in str(caught.value)


# --- POST ---------------------------------------------------------------------------------------------------------

def test_post_is_not_retried_on_500(github, repo):
    sleep = Recorder()
    github.inject_fault("http_500", method="POST", path=repo + "/pages$", times=1)
    client = make_client(github, sleep=sleep)
    with pytest.raises(ApiError) as caught:
        client.post(repo + "/pages", body={"build_type": "workflow"})
    assert attempts(github, "POST", repo + "/pages") == [500]
    assert sleep.waits == []
    assert caught.value.status == 500
    assert "POST %s/pages failed: HTTP 500" % repo in str(caught.value)
    assert "retry_post" in str(caught.value)


def test_post_is_retried_on_500_when_the_caller_says_it_is_safe(github, repo):
    github.inject_fault("http_500", method="POST", path=repo + "/pages$", times=1)
    client = make_client(github)
    response = client.post(repo + "/pages", body={"build_type": "workflow"}, retry_post=True, ok=(201,))
    assert response.status == 201
    assert attempts(github, "POST", repo + "/pages") == [500, 201]
    assert github.violations() == []


def test_post_is_retried_on_rate_limits(github, repo):
    sleep = Recorder()
    github.inject_fault("secondary_rate_limit", method="POST", path=repo + "/pages$", times=1, retry_after=2)
    github.inject_fault("rate_limit_429", method="POST", path=repo + "/pages$", times=1, retry_after=1)
    client = make_client(github, sleep=sleep)
    assert client.post(repo + "/pages", body={"build_type": "workflow"}).status == 201
    assert attempts(github, "POST", repo + "/pages") == [403, 429, 201]
    assert sleep.waits == [2.0, 1.0]


def test_unexpected_success_status_is_an_error(github, repo):
    client = make_client(github)
    with pytest.raises(ApiError) as caught:
        client.get(repo, ok=(201,))
    assert caught.value.status == 200


# --- timeouts and connection errors ------------------------------------------------------------------------------

def wait_until_served(github, method, path, count=1, timeout=10):
    """Wait until the stand-in has answered (and logged) a request the client gave up on, so its late log entry
    does not land in the next test's log."""
    deadline = time.monotonic() + timeout
    while len(attempts(github, method, path)) < count:
        assert time.monotonic() < deadline, "the stand-in never answered %s %s" % (method, path)
        time.sleep(0.05)


def test_timeout_is_retried_for_get(github, repo):
    sleep = Recorder()
    github.inject_fault("slow", method="GET", path=repo + "$", times=1, delay=1.5)
    client = make_client(github, sleep=sleep, timeout=0.5)
    assert client.get(repo).status == 200
    assert client.calls == 2
    assert len(sleep.waits) == 1
    wait_until_served(github, "GET", repo, count=2)


def test_timeout_is_not_retried_for_post(github, repo):
    sleep = Recorder()
    github.inject_fault("slow", method="POST", path=repo + "/pages$", times=1, delay=1.5)
    client = make_client(github, sleep=sleep, timeout=0.5)
    with pytest.raises(ApiError) as caught:
        client.post(repo + "/pages", body={"build_type": "workflow"})
    assert client.calls == 1
    assert sleep.waits == []
    assert caught.value.status is None
    assert "timed out" in str(caught.value)
    assert "POST %s/pages failed" % repo in str(caught.value)
    wait_until_served(github, "POST", repo + "/pages")


def test_connection_refused_is_retried_then_reported_without_the_token():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sleep = Recorder()
    token = "ghp_connectionrefused%s" % uuid.uuid4().hex
    client = RestClient("http://127.0.0.1:%d/api/v3" % port, token=token, retries=2, sleep=sleep, rand=lambda: 1.0)
    with pytest.raises(ApiError) as caught:
        client.get("/repos/o/r")
    assert client.calls == 3
    assert sleep.waits == [1.0, 2.0]
    assert caught.value.status is None
    assert token not in str(caught.value)
    assert "GET /repos/o/r failed" in str(caught.value)


# --- error messages -----------------------------------------------------------------------------------------------

def test_401_names_the_token_option_and_env_and_never_the_token(github, repo):
    token = "ghp_wrong%s" % uuid.uuid4().hex
    client = make_client(github, token=token)
    with pytest.raises(ApiError) as caught:
        client.get(repo + "/pages")
    err = caught.value
    text = str(err)
    assert err.status == 401
    assert text.startswith("GET %s/pages failed: HTTP 401: Bad credentials." % repo)
    assert "`token`" in text and "GITHUB_TOKEN" in text
    assert token not in text and token not in repr(err.to_result())
    assert attempts(github, "GET", repo + "/pages") == [401]  # 401 is not retried


def test_403_names_the_scope_needed(github, repo):
    token = "ghp_noscope%s" % uuid.uuid4().hex
    github.add_token(token, scopes=[])
    client = make_client(github, token=token)
    with pytest.raises(ApiError) as caught:
        client.put(repo + "/pages", body={"cname": None})
    err = caught.value
    text = str(err)
    assert err.status == 403
    assert "Resource not accessible by personal access token" in text
    assert SCOPE_HINT in text
    assert "accepts the OAuth scopes: repo" in text  # from X-Accepted-OAuth-Scopes
    assert token not in text
    assert attempts(github, "PUT", repo + "/pages") == [403]  # a permission error is not a rate limit


def test_404_says_missing_or_invisible(github, repo):
    client = make_client(github)
    with pytest.raises(ApiError) as caught:
        client.get("/repos/octo/no-such-repo-%s" % uuid.uuid4().hex[:6])
    assert caught.value.status == 404
    assert "does not exist, or the token cannot see it" in str(caught.value)


def test_validation_errors_carry_githubs_details(github, repo):
    client = make_client(github)
    with pytest.raises(ApiError) as caught:
        client.post(repo + "/pages", body={"source": {"branch": "no-such-branch", "path": "/"}})
    assert caught.value.status == 422
    assert "Validation Failed" in str(caught.value)
    assert "no-such-branch" in str(caught.value)


# --- pure logic: header parsing and message extraction ------------------------------------------------------------

def test_retry_after_http_date_and_ratelimit_reset():
    now = 1445412475.0  # Wed, 21 Oct 2015 07:27:55 GMT
    client = RestClient("http://example.invalid", clock=lambda: now, rand=lambda: 1.0)
    date = Response(429, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, None)
    assert client._delay(date, 1, True) == 5.0
    reset = Response(403, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(now) + 30)},
                     {"message": "API rate limit exceeded"})
    assert client._rate_limited(reset)
    assert client._delay(reset, 1, True) == 31.0  # until the reset, plus a second of margin
    secondary = Response(403, {}, {"message": "You have exceeded a secondary rate limit."})
    assert client._rate_limited(secondary)
    assert client._delay(secondary, 1, True) == 60.0  # GitHub: wait at least a minute without headers
    forbidden = Response(403, {"X-RateLimit-Remaining": "4999"}, {"message": "Must have admin rights"})
    assert not client._rate_limited(forbidden)


@pytest.mark.parametrize("body, expected", [
    ({"message": "Validation Failed", "errors": [{"resource": "Page", "field": "cname", "code": "invalid"}]},
     "Validation Failed (Page.cname: invalid)"),
    ({"message": "Validation Failed", "errors": [{"message": "branch missing", "code": "custom"}]},
     "Validation Failed (branch missing)"),
    ({"error": "project not found"}, "project not found"),
    ({"error": {"message": "quota exceeded", "code": 7}}, "quota exceeded"),
    ({"detail": "Not authenticated"}, "Not authenticated"),
    ({"detail": [{"loc": ["body", "name"], "msg": "field required"}]}, "body.name: field required"),
    ({"status": {"error": "Not found: Collection `x` doesn't exist!"}, "time": 0.001},
     "Not found: Collection `x` doesn't exist!"),
    ({"code": "", "message": "role 'x' already exists", "request_id": "r-1"}, "role 'x' already exists"),
    ("<html>Bad gateway</html>", "<html>Bad gateway</html>"),
    (None, ""),
])
def test_api_message_is_extracted_generically(body, expected):
    assert api_message(body) == expected


def test_auth_scheme_and_header_are_configurable(github, repo):
    # GitHub also takes the older "token <token>" scheme
    assert make_client(github, auth_scheme="token").get(repo).status == 200
    # an API keyed by its own header (Qdrant's "api-key"): GitHub does not know it, so the request is anonymous
    client = make_client(github, auth_scheme=None, auth_header="api-key")
    with pytest.raises(ApiError) as caught:
        client.get(repo)
    assert caught.value.status == 401
    assert github.token not in str(caught.value)
