"""The GitHub stand-in's contents API (GET /repos/{owner}/{repo}/contents/{path}), read from the bare repository's
tree: a directory's entries, a file's content, a symlink's target, GitHub's 404s for a missing path or ref, scope
`repo`, and every answer checked against GitHub's description (the multi-segment path included)."""
import base64
import json
import uuid

from github_calls import push_tree, raw_api as api
from sandbox.github import contract


def site(server, tmp_path):
    name = "octo/contents-" + uuid.uuid4().hex[:8]
    server.create_repo(*name.split("/"))
    push_tree(server, name, "gh-pages", {"index.html": "main", "pr-preview/pr-3/index.html": "<h1>three</h1>",
                                         "pr-preview/pr-3/assets/app.js": "x()", "pr-preview/top": "->pr-3"},
              tmp_path / "site")
    return name


def test_directory_file_and_symlink(github_clean, tmp_path):
    name = site(github_clean, tmp_path)
    status, _, listing = api(github_clean, "GET", "/repos/%s/contents/pr-preview?ref=gh-pages" % name)
    assert status == 200 and [(e["name"], e["type"], e["path"]) for e in listing] == [
        ("pr-3", "dir", "pr-preview/pr-3"), ("top", "symlink", "pr-preview/top")]
    assert listing[0]["size"] == 0 and listing[0]["download_url"] is None and len(listing[0]["sha"]) == 40
    assert listing[0]["url"].endswith("/repos/%s/contents/pr-preview/pr-3?ref=gh-pages" % name)
    status, _, nested = api(github_clean, "GET", "/repos/%s/contents/pr-preview/pr-3/?ref=gh-pages" % name)
    assert status == 200 and [e["name"] for e in nested] == ["assets", "index.html"]
    status, _, page = api(github_clean, "GET", "/repos/%s/contents/pr-preview/pr-3/index.html?ref=gh-pages" % name)
    assert status == 200 and page["type"] == "file" and page["encoding"] == "base64"
    assert base64.b64decode(page["content"]) == b"<h1>three</h1>" and page["size"] == 14
    status, _, link = api(github_clean, "GET", "/repos/%s/contents/pr-preview/top?ref=gh-pages" % name)
    assert status == 200 and (link["type"], link["target"]) == ("symlink", "pr-3")
    # the branch's head commit works as a ref too
    head = api(github_clean, "GET", "/repos/%s/contents/pr-preview?ref=gh-pages" % name)[2]
    assert head == listing


def test_missing_path_ref_repository_and_scope(github_fresh, tmp_path):
    name = site(github_fresh, tmp_path)
    status, _, body = api(github_fresh, "GET", "/repos/%s/contents/pr-preview/pr-4?ref=gh-pages" % name)
    assert (status, body["message"]) == (404, "Not Found")
    status, _, body = api(github_fresh, "GET", "/repos/%s/contents/pr-preview?ref=nope" % name)
    assert (status, body["message"]) == (404, "No commit found for the ref nope")
    status, _, body = api(github_fresh, "GET", "/repos/%s/contents/pr-preview" % name)  # main does not exist
    assert (status, body["message"]) == (404, "No commit found for the ref main")
    assert api(github_fresh, "GET", "/repos/octo/none/contents/pr-preview?ref=gh-pages")[0] == 404
    assert api(github_fresh, "GET", "/repos/%s/contents/a/../index.html?ref=gh-pages" % name)[0] == 404
    github_fresh.add_token("ghp_noscope", [])
    status, headers, _ = api(github_fresh, "GET", "/repos/%s/contents/pr-preview" % name, token="ghp_noscope")
    assert status == 403 and headers["x-accepted-oauth-scopes"] == "repo"
    assert github_fresh.violations() == []


def test_the_contract_reads_the_path_as_one_parameter_and_checks_every_entry():
    assert contract.encode_multi_segment("/repos/o/r/contents/pr/pr-1") == "/repos/o/r/contents/pr%2Fpr-1"
    assert contract.encode_multi_segment("/repos/o/r/pulls/1") == "/repos/o/r/pulls/1"
    request = contract.ApiRequest("GET", "/repos/o/r/contents/a/b", "ref=gh-pages", {})
    entry = {"type": "dir", "size": 0, "name": "b", "path": "a/b", "sha": "0" * 40,
             "url": "https://api.github.com/repos/o/r/contents/a/b", "git_url": None, "html_url": None,
             "download_url": None, "_links": {"self": "https://api.github.com/repos/o/r/contents/a/b", "git": None,
                                              "html": None}}
    template = "/repos/{owner}/{repo}/contents/{path}"

    def problems(data):
        response = contract.ApiResponse(200, [("Content-Type", "application/json")], json.dumps(data).encode())
        return contract.check_response(request, template, response)

    assert problems([entry]) == []
    assert problems([dict(entry, type="folder")]) and problems([{k: v for k, v in entry.items() if k != "sha"}])
