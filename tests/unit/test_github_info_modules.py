"""github_pull_info and github_content_info against the GitHub stand-in, run as Ansible runs them: read-only (only
GET requests, in check mode too), one request per pull request asked about or per directory listed, bad options
refused before any request, and a repository that does not exist named as the thing to fix."""
import uuid

import pytest

from conftest import run_module
from github_calls import change_pull, fresh, methods, ok, open_pull, push_branches, push_tree


class Repo:
    """A repository of the stand-in: main, three feature branches and pull requests #1 (open), #2 (closed) and #3
    (merged), and a gh-pages branch with two previews, a file and a symlink under pr-preview/."""

    def __init__(self, github, tmp_path):
        self.github = github
        self.name = "octo/info-" + uuid.uuid4().hex[:8]
        github.create_repo(*self.name.split("/"))
        (tmp_path / "branches").mkdir()
        push_branches(github, self.name, ["main", "one", "two", "three"], tmp_path / "branches")
        for branch in ("one", "two", "three"):
            open_pull(github, self.name, branch, title="Pull from %s" % branch)
        change_pull(github, self.name, 2, "close")
        change_pull(github, self.name, 3, "merge")
        push_tree(github, self.name, "gh-pages", {
            "index.html": "main site", "pr-preview/pr-1/index.html": "one", "pr-preview/pr-12/index.html": "twelve",
            "pr-preview/README.txt": "previews", "pr-preview/latest": "->pr-12"}, tmp_path / "pages")

    def run(self, module, check=False, **args):
        params = dict(api_url=self.github.api_url, token=self.github.token, repo=self.name)
        params.update(args)
        return run_module(module, params, check=check)


@pytest.fixture
def repo(github, tmp_path):
    before = len(github.violations())
    yield from fresh(github, lambda: Repo(github, tmp_path))
    assert github.violations()[before:] == []


def failed(result):
    assert result.get("failed") is True, result
    return result["msg"]


# --- github_pull_info ------------------------------------------------------------------------------------------

def test_pull_states_by_number_one_request_each(github, repo):
    result = ok(repo.run("github_pull_info", check=True, numbers=[3, 1, 2, 7, 1]))
    assert result["changed"] is False
    assert [(pull["number"], pull["state"]) for pull in result["pulls"]] == [
        (3, "merged"), (1, "open"), (2, "closed"), (7, "absent")]
    merged, opened = result["pulls"][0], result["pulls"][1]
    assert merged["merged_at"] and merged["closed_at"] and (merged["head"], merged["base"]) == ("three", "main")
    assert opened["closed_at"] is None and opened["title"] == "Pull from one"
    assert result["pulls"][3] == {"number": 7, "state": "absent"}
    # one GET per number, and one for the repository when a number was not found
    paths = [entry["path"] for entry in github.requests()]
    assert methods(github) == ["GET"] * 5 and paths[-1] == "/repos/%s" % repo.name


def test_pull_listing_by_state(github, repo):
    everything = ok(repo.run("github_pull_info", state="all"))
    assert sorted((pull["number"], pull["state"]) for pull in everything["pulls"]) == [
        (1, "open"), (2, "closed"), (3, "merged")]
    closed = ok(repo.run("github_pull_info", state="closed"))
    assert sorted(pull["number"] for pull in closed["pulls"]) == [2, 3]
    assert [pull["number"] for pull in ok(repo.run("github_pull_info"))["pulls"]] == [1]
    github.reset_log()
    assert ok(repo.run("github_pull_info", numbers=[]))["pulls"] == [] and github.requests() == []


@pytest.mark.parametrize("args, message", [
    ({"numbers": [0]}, "numbers: 0 is not a pull request number"),
    ({"numbers": [-4]}, "numbers: -4 is not a pull request number"),
    ({"numbers": ["x"]}, "numbers"),
    ({"repo": "octo/book.git", "numbers": [1]}, "repo must be 'owner/name' without the .git suffix"),
    ({"repo": "https://github.com/octo/book", "numbers": [1]}, "repo must be 'owner/name'"),
    ({"state": "merged"}, "state"),
])
def test_pull_info_bad_options_fail_before_any_request(github, repo, args, message):
    github.reset_log()
    assert message in failed(repo.run("github_pull_info", **args))
    assert github.requests() == []


def test_pull_info_names_a_missing_repository_and_a_missing_token(github, repo):
    msg = failed(repo.run("github_pull_info", repo="octo/no-such-repo", numbers=[1]))
    assert "Repository octo/no-such-repo does not exist" in msg and "option repo" in msg
    github.reset_log()
    msg = failed(run_module("github_pull_info", dict(api_url=github.api_url, repo=repo.name, numbers=[1]),
                            env={"GITHUB_TOKEN": "", "GH_TOKEN": ""}))
    assert "No GitHub token given" in msg and github.requests() == []
    result = repo.run("github_pull_info", numbers=[1], token="ghp_wrong")
    assert "401" in failed(result) and "ghp_wrong" not in str(result)


# --- github_content_info -----------------------------------------------------------------------------------------

def test_a_directory_is_listed_in_one_request(github, repo):
    result = ok(repo.run("github_content_info", check=True, path="/pr-preview/", ref="gh-pages"))
    assert (result["changed"], result["exists"], result["missing"], result["type"]) == (False, True, None, "dir")
    assert [(e["name"], e["path"], e["type"]) for e in result["entries"]] == [
        ("README.txt", "pr-preview/README.txt", "file"), ("latest", "pr-preview/latest", "symlink"),
        ("pr-1", "pr-preview/pr-1", "dir"), ("pr-12", "pr-preview/pr-12", "dir")]
    readme = result["entries"][0]
    assert readme["size"] == len("previews") and len(readme["sha"]) == 40
    assert [(entry["method"], entry["path"]) for entry in github.requests()] == [
        ("GET", "/repos/%s/contents/pr-preview" % repo.name)]


def test_a_file_a_nested_directory_and_what_is_missing(github, repo):
    nested = ok(repo.run("github_content_info", path="pr-preview/pr-12", ref="gh-pages"))
    assert [e["name"] for e in nested["entries"]] == ["index.html"]
    page = ok(repo.run("github_content_info", path="pr-preview/pr-12/index.html", ref="gh-pages"))
    assert (page["type"], page["entries"], len(page["sha"])) == ("file", [], 40)
    gone = ok(repo.run("github_content_info", path="pr-preview/pr-99", ref="gh-pages"))
    assert (gone["exists"], gone["missing"], gone["entries"]) == (False, "path", [])
    no_ref = ok(repo.run("github_content_info", path="pr-preview", ref="no-such-branch"))
    assert (no_ref["exists"], no_ref["missing"]) == (False, "ref")
    default_branch = ok(repo.run("github_content_info", path="pr-preview"))  # main has no such directory
    assert (default_branch["exists"], default_branch["missing"]) == (False, "path")


@pytest.mark.parametrize("args, message", [
    ({"path": ""}, "path must name a directory or file"),
    ({"path": "pr-preview/../secrets"}, "path must name a directory or file"),
    ({"path": "a//b"}, "path must name a directory or file"),
    ({"path": "pr-preview", "ref": " "}, "ref must name a branch"),
    ({"path": "pr-preview", "repo": "octo"}, "repo must be 'owner/name'"),
])
def test_content_info_bad_options_fail_before_any_request(github, repo, args, message):
    github.reset_log()
    assert message in failed(repo.run("github_content_info", **args))
    assert github.requests() == []


def test_content_info_names_a_missing_repository(github, repo):
    msg = failed(repo.run("github_content_info", repo="octo/no-such-repo", path="pr-preview", ref="gh-pages"))
    assert "Repository octo/no-such-repo does not exist" in msg and "option repo" in msg
