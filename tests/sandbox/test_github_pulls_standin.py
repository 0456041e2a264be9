"""The GitHub stand-in's pull requests (opened and closed through its admin API, read over REST) and issue comments
(REST), with GitHub's rules: branches from the real git repository, state filters, pagination, the 65,536-character
comment limit, 404 for a number without an issue or pull request, and scope `repo`.

Tests on the shared `github` fixture (`clean`) use their own repository and leave no violation behind; tests that
provoke violations or add tokens use a private stand-in (`fresh`); both come from tests/sandbox/conftest.py.
"""
import json
import urllib.error
import uuid

import pytest

from github_calls import admin, change_pull, open_pull, push_branches, raw_api as api, send


@pytest.fixture
def fresh(github_fresh):
    return github_fresh


@pytest.fixture
def clean(github_clean):
    return github_clean


def repository(server, tmp_path, branches=("main", "feature")):
    """A new repository with a commit on each branch: (full name, {branch: sha})."""
    name = "octo/pr-" + uuid.uuid4().hex[:8]
    server.create_repo(*name.split("/"))
    work = tmp_path / name.replace("/", "-")
    work.mkdir()
    return name, push_branches(server, name, list(branches), work)


def test_pull_request_follows_its_branches_and_states(clean, tmp_path):
    name, shas = repository(clean, tmp_path, ("main", "feature", "other"))
    number = open_pull(clean, name, "feature", title="Add a chapter", body="Please")
    assert number == 1
    status, _, pull = api(clean, "GET", "/repos/%s/pulls/1" % name)
    assert status == 200 and pull["number"] == 1 and pull["state"] == "open" and pull["title"] == "Add a chapter"
    assert (pull["head"]["ref"], pull["head"]["sha"], pull["head"]["label"]) == (
        "feature", shas["feature"], "octo:feature")
    assert (pull["base"]["ref"], pull["base"]["sha"]) == ("main", shas["main"])
    assert pull["merged"] is False and pull["merged_at"] is None and pull["body"] == "Please"
    # a push to the head branch moves head.sha while the pull request is open
    work = tmp_path / "again"
    work.mkdir()
    moved = push_branches(clean, name, ["main", "feature"], work)["feature"]
    assert api(clean, "GET", "/repos/%s/pulls/1" % name)[2]["head"]["sha"] == moved
    assert change_pull(clean, name, 1, "close") == {"number": 1, "state": "closed", "merged": False}
    closed = api(clean, "GET", "/repos/%s/pulls/1" % name)[2]
    assert closed["state"] == "closed" and closed["closed_at"] and closed["merged_at"] is None
    assert change_pull(clean, name, 1, "reopen")["state"] == "open"
    assert change_pull(clean, name, 1, "merge") == {"number": 1, "state": "closed", "merged": True}
    merged = api(clean, "GET", "/repos/%s/pulls/1" % name)[2]
    assert merged["merged"] is True and merged["merge_commit_sha"] == moved and merged["merged_by"]["login"]
    with pytest.raises(urllib.error.HTTPError) as refused:
        change_pull(clean, name, 1, "reopen")
    assert refused.value.code == 422 and "merged" in json.loads(refused.value.read())["message"]
    # opening: the branches must exist and differ, and one open pull request per head and base
    for head, base, words in (("nope", "main", "does not exist"), ("main", "main", "different"),
                              ("feature", "nope", "does not exist")):
        with pytest.raises(urllib.error.HTTPError) as refused:
            open_pull(clean, name, head, base)
        assert refused.value.code == 422 and words in json.loads(refused.value.read())["message"]
    assert open_pull(clean, name, "other") == 2
    with pytest.raises(urllib.error.HTTPError) as refused:
        open_pull(clean, name, "other")
    assert json.loads(refused.value.read())["message"] == "A pull request already exists for octo:other."
    status, _, error = api(clean, "GET", "/repos/%s/pulls/99" % name)
    assert status == 404 and error["message"] == "Not Found"
    with pytest.raises(urllib.error.HTTPError) as refused:
        change_pull(clean, name, 99, "close")
    assert refused.value.code == 404


def test_pull_request_list_filters_and_pages_as_github(clean, tmp_path):
    name, _ = repository(clean, tmp_path, ("main", "a", "b", "c"))
    for head in ("a", "b", "c"):
        open_pull(clean, name, head)
    change_pull(clean, name, 2, "close")
    numbers = lambda path: [p["number"] for p in api(clean, "GET", "/repos/%s/pulls%s" % (name, path))[2]]
    assert numbers("") == [3, 1]  # open by default, newest first
    assert numbers("?state=closed") == [2]
    assert numbers("?state=all") == [3, 2, 1]
    assert numbers("?state=all&direction=asc") == [1, 2, 3]
    assert numbers("?state=all&head=octo:b") == [2] and numbers("?state=all&base=main") == [3, 2, 1]
    status, headers, page = api(clean, "GET", "/repos/%s/pulls?state=all&per_page=2" % name)
    assert [p["number"] for p in page] == [3, 2] and 'rel="next"' in headers["link"]
    assert "page=2" in headers["link"] and "head" in page[0] and "merged" not in page[0]  # pull-request-simple
    status, headers, page = api(clean, "GET", "/repos/%s/pulls?state=all&per_page=2&page=2" % name)
    assert [p["number"] for p in page] == [1] and 'rel="next"' not in headers["link"]


def test_issue_comments_lifecycle(clean, tmp_path):
    name, _ = repository(clean, tmp_path)
    number = open_pull(clean, name, "feature")
    base = "/repos/%s/issues" % name
    status, headers, made = api(clean, "POST", "%s/%d/comments" % (base, number), {"body": "Preview: here"})
    assert status == 201 and made["body"] == "Preview: here" and made["user"]["login"] == "sandbox-user"
    assert headers["location"] == made["url"] and made["html_url"].endswith("/pull/1#issuecomment-%d" % made["id"])
    assert api(clean, "GET", "%s/comments/%d" % (base, made["id"]))[2]["body"] == "Preview: here"
    status, _, changed = api(clean, "PATCH", "%s/comments/%d" % (base, made["id"]), {"body": "Preview: there"})
    assert status == 200 and changed["body"] == "Preview: there"
    second = api(clean, "POST", "%s/%d/comments" % (base, number), {"body": "x" * 65536})  # the limit itself
    assert second[0] == 201
    status, _, listed = api(clean, "GET", "%s/%d/comments" % (base, number))
    assert [c["id"] for c in listed] == [made["id"], second[2]["id"]]  # oldest first
    status, headers, page = api(clean, "GET", "%s/%d/comments?per_page=1" % (base, number))
    assert [c["id"] for c in page] == [made["id"]] and 'rel="next"' in headers["link"]
    assert api(clean, "GET", "%s/%d/comments?since=2999-01-01T00:00:00Z" % (base, number))[2] == []
    assert api(clean, "GET", "/repos/%s/pulls/%d" % (name, number))[2]["comments"] == 2
    assert api(clean, "DELETE", "%s/comments/%d" % (base, made["id"]))[0] == 204
    assert api(clean, "GET", "%s/comments/%d" % (base, made["id"]))[0] == 404
    assert api(clean, "PATCH", "%s/comments/%d" % (base, made["id"]), {"body": "y"})[0] == 404
    assert api(clean, "DELETE", "%s/comments/%d" % (base, made["id"]))[0] == 404


def test_comments_github_refuses(clean, tmp_path):
    name, _ = repository(clean, tmp_path)
    number = open_pull(clean, name, "feature")
    base = "/repos/%s/issues" % name
    status, _, error = api(clean, "POST", "%s/%d/comments" % (base, number), {"body": "x" * 65537})
    assert status == 422 and error["message"] == "Validation Failed"
    assert error["errors"] == [{"resource": "IssueComment", "code": "unprocessable", "field": "data",
                                "message": "Body is too long (maximum is 65536 characters)"}]
    assert api(clean, "POST", "%s/%d/comments" % (base, number), {"body": "  "})[0] == 422
    made = api(clean, "POST", "%s/%d/comments" % (base, number), {"body": "ok"})[2]
    assert api(clean, "PATCH", "%s/comments/%d" % (base, made["id"]), {"body": "x" * 65537})[0] == 422
    # comments belong to an issue or pull request that exists
    assert api(clean, "POST", "%s/7/comments" % base, {"body": "hello"})[0] == 404
    assert api(clean, "GET", "%s/7/comments" % base)[0] == 404
    assert api(clean, "GET", "/repos/octo/no-such-repo/issues/1/comments")[0] == 404


def test_pulls_and_comments_need_repo_scope(fresh, tmp_path):
    name, _ = repository(fresh, tmp_path)
    open_pull(fresh, name, "feature")
    fresh.add_token("ghp_readuser", ["read:user"])
    for method, path, body in (("GET", "/pulls/1", None), ("GET", "/pulls", None),
                               ("GET", "/issues/1/comments", None), ("POST", "/issues/1/comments", {"body": "x"})):
        status, headers, error = api(fresh, method, "/repos/%s%s" % (name, path), body, token="ghp_readuser")
        assert status == 403 and error["message"] == "Resource not accessible by personal access token", path
        assert headers["x-accepted-oauth-scopes"] == "repo"
    assert api(fresh, "GET", "/repos/%s/issues/1/comments" % name)[2] == []  # nothing was written
    assert fresh.violations() == []


def test_comment_requests_outside_the_contract_are_refused(fresh, tmp_path):
    name, _ = repository(fresh, tmp_path)
    open_pull(fresh, name, "feature")
    status, _, error = api(fresh, "POST", "/repos/%s/issues/1/comments" % name, {"body": "x", "sticky": True})
    assert status == 422 and "sticky" in error["message"]
    assert api(fresh, "POST", "/repos/%s/issues/1/comments" % name, {})[0] == 422
    assert api(fresh, "GET", "/repos/%s/pulls?state=merged" % name)[0] == 422
    assert [v["kind"] for v in fresh.violations()] == ["request"] * 3
    status, _, body = send("POST", fresh.admin_url + "/pulls", json.dumps({"repo": name, "head": "feature"}))
    assert status == 400  # base is required by the admin API
    assert admin(fresh, "GET", "/violations") == fresh.violations()
