"""The github_pr_comment module (a sticky pull request comment found by a hidden marker), run the way Ansible runs
it, against the GitHub stand-in's pull requests and issue comments."""
import uuid

import pytest

from conftest import run_module
from github_calls import api, changing, fresh, methods, ok, open_pull, push_branches

MARKER = "<!-- textbook-deploy:preview -->"


class Pull:
    """A repository of the stand-in with an open pull request (#1, feature -> main)."""

    def __init__(self, github, work_dir):
        self.github = github
        self.repo = "octo/prc-" + uuid.uuid4().hex[:8]
        github.create_repo(*self.repo.split("/"))
        push_branches(github, self.repo, ["main", "feature"], work_dir)
        self.number = open_pull(github, self.repo, "feature")

    def run(self, check=False, diff=False, **args):
        params = dict(api_url=self.github.api_url, token=self.github.token, repo=self.repo, number=self.number)
        params.update(args)
        return run_module("github_pr_comment", params, check=check, diff=diff)

    def comments(self):
        return api(self.github, "GET", "/repos/%s/issues/%d/comments?per_page=100" % (self.repo, self.number))

    def comment_elsewhere(self, body):
        return api(self.github, "POST", "/repos/%s/issues/%d/comments" % (self.repo, self.number), {"body": body})


@pytest.fixture
def pull(github, tmp_path):
    yield from fresh(github, lambda: Pull(github, tmp_path))


def failed(result):
    assert result.get("failed") is True, result
    return result["msg"]


def test_created_once_then_unchanged(github, pull):
    pull.comment_elsewhere("LGTM")  # someone else's comment stays as it is
    github.reset_log()
    first = ok(pull.run(body="Preview: http://x/pr-1/", diff=True))
    assert first["changed"] is True and first["action"] == "created" and first["deleted"] == []
    assert first["comment"]["body"] == MARKER + "\nPreview: http://x/pr-1/" and first["comment"]["id"]
    assert first["diff"] == {"before": "", "after": MARKER + "\nPreview: http://x/pr-1/"}
    assert changing(github) == [("POST", "/repos/%s/issues/1/comments" % pull.repo)]
    assert [c["body"] for c in pull.comments()] == ["LGTM", MARKER + "\nPreview: http://x/pr-1/"]
    github.reset_log()
    again = ok(pull.run(body="Preview: http://x/pr-1/"))
    assert again["changed"] is False and again["action"] == "unchanged"
    assert again["comment"]["id"] == first["comment"]["id"]
    assert set(methods(github)) == {"GET"}
    assert github.violations() == []


def test_updated_only_when_the_text_differs(github, pull):
    made = ok(pull.run(body="one"))["comment"]
    github.reset_log()
    would = ok(pull.run(body="two", check=True, diff=True))
    assert would["changed"] and would["action"] == "updated" and changing(github) == []
    assert would["diff"] == {"before": MARKER + "\none", "after": MARKER + "\ntwo"}
    changed = ok(pull.run(body="two"))
    assert changed["changed"] and changed["comment"]["id"] == made["id"] and changed["comment"]["body"].endswith("two")
    assert changing(github) == [("PATCH", "/repos/%s/issues/comments/%d" % (pull.repo, made["id"]))]
    assert [c["body"] for c in pull.comments()] == [MARKER + "\ntwo"]
    assert not ok(pull.run(body="two"))["changed"]


def test_markers_keep_comments_apart_and_duplicates_are_removed(github, pull):
    ok(pull.run(body="preview"))
    other = "<!-- textbook-deploy:benchmarks -->"
    assert ok(pull.run(body="fast", marker=other))["action"] == "created"
    quoted = pull.comment_elsewhere("> %s\n> preview\nnice" % MARKER)  # a quote is not the sticky comment
    duplicate = pull.comment_elsewhere(MARKER + "\nstale")  # a racing run left a second one
    result = ok(pull.run(body="preview"))
    assert result["changed"] and result["action"] == "unchanged" and result["deleted"] == [duplicate["id"]]
    bodies = [c["body"] for c in pull.comments()]
    assert bodies == [MARKER + "\npreview", other + "\nfast", quoted["body"]]


def test_absent_deletes_it_and_check_mode_changes_nothing(github, pull):
    made = ok(pull.run(body="preview"))["comment"]
    github.reset_log()
    would = ok(pull.run(state="absent", check=True, diff=True))
    assert would["changed"] and would["action"] == "deleted" and changing(github) == []
    assert would["diff"] == {"before": MARKER + "\npreview", "after": ""}
    gone = ok(pull.run(state="absent"))
    assert gone["changed"] and gone["deleted"] == [made["id"]] and gone["comment"] == {}
    assert pull.comments() == []
    again = ok(pull.run(state="absent"))
    assert again["changed"] is False and again["action"] == "unchanged"
    created = ok(pull.run(body="x", check=True))
    assert created["changed"] and created["action"] == "created" and pull.comments() == []


def test_comment_on_a_closed_pull_request(github, pull):
    from github_calls import change_pull

    change_pull(github, pull.repo, pull.number, "close")
    assert ok(pull.run(body="Preview removed."))["action"] == "created"


@pytest.mark.parametrize("args,words", [
    (dict(number=0), ["number", "positive integer"]),
    (dict(number=-3), ["number", "positive integer"]),
    (dict(number="abc"), ["number"]),
    (dict(body=None), ["body"]),
    (dict(body="   "), ["body", "state=absent"]),
    (dict(body="x" * 65536), ["body", "65536"]),
    (dict(marker="preview"), ["marker", "HTML comment"]),
    (dict(marker="<!-- a -- b -->"), ["marker"]),
    (dict(repo="https://github.com/octo/x"), ["repo", "owner/name"]),
])
def test_bad_input_fails_before_any_request(github, pull, args, words):
    params = dict(body="ok")
    params.update(args)
    msg = failed(pull.run(**params))
    assert all(word in msg for word in words), msg
    assert github.requests() == []


def test_missing_pull_request_or_repository_is_named(github, pull):
    msg = failed(pull.run(number=99, body="x"))
    assert "Pull request #99 does not exist in %s" % pull.repo in msg and "option number" in msg
    msg = failed(pull.run(repo="octo/no-such-repo-here", body="x"))
    assert "does not exist or the token cannot see it" in msg and "option repo" in msg
    assert changing(github) == []


def test_token_without_repo_scope_is_told_what_it_needs(github, pull):
    github.add_token("ghp_prc_noscope", ["read:user"])
    result = pull.run(body="x", token="ghp_prc_noscope")
    msg = failed(result)
    assert "403" in msg and "repo" in msg and "Pull requests (write)" in msg
    assert "ghp_prc_noscope" not in str(result)
    assert changing(github) == []
