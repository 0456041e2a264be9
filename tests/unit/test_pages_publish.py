"""pages_publish, run the way Ansible runs it, against local bare repositories (file://) and the GitHub stand-in."""
import base64
import ctypes
import json
import os
import struct
import subprocess
import time
import uuid

import pytest

from conftest import run_module

GIT_IDENTITY = {"GIT_AUTHOR_NAME": "other", "GIT_AUTHOR_EMAIL": "other@example.invalid",
                "GIT_COMMITTER_NAME": "other", "GIT_COMMITTER_EMAIL": "other@example.invalid"}
PAST = time.time() - 3600  # file times well before any index write: no "racily clean" entries


# --- helpers ------------------------------------------------------------------------------------------------

def git(*args, git_dir=None, env=None, check=True, data=None):
    cmd = ["git"] + (["--git-dir", str(git_dir)] if git_dir else []) + list(args)
    environ = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null", **GIT_IDENTITY)
    environ.update(env or {})
    proc = subprocess.run(cmd, capture_output=True, text=True, env=environ, input=data)
    if check and proc.returncode:
        raise AssertionError("%s failed: %s" % (" ".join(cmd), proc.stderr))
    return proc.stdout.strip()


def write_site(root, files, mtime=PAST):
    for path, content in files.items():
        full = os.path.join(str(root), path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as handle:
            handle.write(content.encode() if isinstance(content, str) else content)
        os.utime(full, (mtime, mtime))


SITE = {
    "index.html": "<html>home</html>\n",
    "docs/intro/index.html": "<html>intro</html>\n",
    "docs/setup/index.html": "<html>setup</html>\n",
    "assets/js/main.0a1b2c.js": "console.log('hi');\n",
    "assets/img/logo.png": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4,
}


def tree_files(git_dir, rev):
    """{path: sha} of a commit's tree."""
    out = git("ls-tree", "-r", "-z", rev, git_dir=git_dir)
    files = {}
    for record in out.split("\0"):
        if record:
            meta, path = record.split("\t", 1)
            files[path] = meta.split()[2]
    return files


def blob(git_dir, rev, path):
    return subprocess.run(["git", "--git-dir", str(git_dir), "cat-file", "blob", "%s:%s" % (rev, path)],
                          capture_output=True, check=True).stdout


def parents(git_dir, rev):
    return git("rev-list", "--parents", "-n", "1", rev, git_dir=git_dir).split()[1:]


def heads(url, env=None):
    return git("ls-remote", "--heads", url, env=env)


@pytest.fixture
def env(tmp_path):
    """A bare remote, a site directory with SITE and a private cache dir."""
    remote = tmp_path / "remote.git"
    git("init", "--quiet", "--bare", "--initial-branch", "main", str(remote))
    site = tmp_path / "site"
    write_site(site, SITE)

    class Env(object):
        pass

    ctx = Env()
    ctx.tmp, ctx.remote, ctx.site, ctx.cache = tmp_path, remote, site, tmp_path / "cache"
    ctx.url = "file://%s" % remote
    ctx.args = dict(src=str(site), repo=ctx.url, cache_dir=str(ctx.cache), commit_message="Publish test")
    return ctx


def publish(ctx, check=False, diff=False, run_env=None, **overrides):
    args = dict(ctx.args)
    args.update(overrides)
    args = {key: value for key, value in args.items() if value is not None}
    return run_module("pages_publish", args, check=check, diff=diff, env=run_env)


def ok(result):
    assert not result.get("failed"), result.get("msg")
    return result


# --- file:// remote -----------------------------------------------------------------------------------------

def test_first_publish_creates_one_commit_with_the_site_and_extra_files(env):
    result = ok(publish(env, cname="Docs.Example.com", extra_files={"build-info.json": '{"version": "1.2.3"}\n',
                                                                   "meta/info.txt": "x"},
                        author_name="Deploy Bot", author_email="bot@example.org"))
    assert result["changed"] and result["pushed"] and result["push_attempts"] == 1
    assert result["previous_commit"] is None
    head = git("rev-parse", "refs/heads/gh-pages", git_dir=env.remote)
    assert result["commit"] == head
    assert parents(env.remote, head) == []
    files = tree_files(env.remote, head)
    assert set(files) == set(SITE) | {"CNAME", ".nojekyll", "build-info.json", "meta/info.txt"}
    for path, content in SITE.items():
        assert blob(env.remote, head, path) == (content.encode() if isinstance(content, str) else content)
    assert blob(env.remote, head, "CNAME") == b"docs.example.com\n"
    assert blob(env.remote, head, ".nojekyll") == b""
    assert blob(env.remote, head, "build-info.json") == b'{"version": "1.2.3"}\n'
    assert result["tree"] == git("rev-parse", head + "^{tree}", git_dir=env.remote)
    assert result["files_added"] == len(SITE) + 4 and result["files_changed"] == len(SITE) + 4
    assert result["files_removed"] == result["files_modified"] == 0
    assert result["bytes_changed"] == sum(len(c) for c in SITE.values()) + len("docs.example.com\n") + 21 + 1
    assert git("log", "-1", "--format=%an <%ae>|%cn|%s", head, git_dir=env.remote) == \
        "Deploy Bot <bot@example.org>|Deploy Bot|Publish test"
    assert not os.path.exists(env.site / "CNAME") and not os.path.exists(env.site / ".nojekyll")  # src untouched


def test_second_run_is_unchanged_and_pushes_nothing(env):
    first = ok(publish(env))
    before = heads(env.url)
    second = ok(publish(env, diff=True))
    assert not second["changed"] and not second["pushed"] and second["push_attempts"] == 0
    assert second["commit"] == first["commit"] == second["previous_commit"]
    assert heads(env.url) == before
    assert git("rev-list", "--count", "gh-pages", git_dir=env.remote) == "1"


def test_one_file_changed_is_one_modified_file_on_top_of_the_head(env):
    first = ok(publish(env))
    write_site(env.site, {"docs/intro/index.html": "<html>intro v2</html>\n"}, mtime=PAST + 60)
    result = ok(publish(env, diff=True))
    assert result["changed"] and result["pushed"]
    assert (result["files_added"], result["files_removed"], result["files_modified"]) == (0, 0, 1)
    assert result["files_changed"] == 1 and result["bytes_changed"] == len("<html>intro v2</html>\n")
    assert result["previous_commit"] == first["commit"]
    assert parents(env.remote, result["commit"]) == [first["commit"]]
    prepared = result["diff"]["prepared"]
    assert "M docs/intro/index.html" in prepared and "0 added, 0 removed, 1 modified" in prepared
    assert blob(env.remote, "gh-pages", "docs/intro/index.html") == b"<html>intro v2</html>\n"


def test_cold_cache_publishes_on_top_of_an_existing_branch(env):
    """A fresh CI runner: no cache, a branch that already holds the site (the bulk write path)."""
    first = ok(publish(env))
    unchanged = ok(publish(env, cache_dir=str(env.tmp / "cold-1")))
    assert not unchanged["changed"] and unchanged["commit"] == first["commit"]
    write_site(env.site, {"docs/intro/index.html": "<html>intro v3</html>\n"}, mtime=PAST + 60)
    result = ok(publish(env, cache_dir=str(env.tmp / "cold-2")))
    assert result["changed"] and parents(env.remote, result["commit"]) == [first["commit"]]
    assert (result["files_added"], result["files_removed"], result["files_modified"]) == (0, 0, 1)
    assert blob(env.remote, "gh-pages", "docs/intro/index.html") == b"<html>intro v3</html>\n"


def test_extra_file_replaces_a_src_file_of_the_same_name_on_a_cold_cache(env):
    write_site(env.site, {"CNAME": "old.example.org\n"})
    ok(publish(env, cname="docs.example.com"))
    assert blob(env.remote, "gh-pages", "CNAME") == b"docs.example.com\n"


def test_branch_deleted_on_the_remote_is_published_again_from_a_warm_cache(env):
    ok(publish(env))
    git("update-ref", "-d", "refs/heads/gh-pages", git_dir=env.remote)
    result = ok(publish(env))
    assert result["changed"] and result["previous_commit"] is None
    assert parents(env.remote, result["commit"]) == [] and heads(env.url).split()[0] == result["commit"]
    again = ok(publish(env))
    assert not again["changed"] and again["commit"] == result["commit"]


def test_added_and_removed_files_are_counted_and_listed(env):
    ok(publish(env))
    os.unlink(env.site / "docs" / "setup" / "index.html")
    write_site(env.site, {"docs/new/index.html": "new"})
    result = ok(publish(env, diff=True))
    assert (result["files_added"], result["files_removed"], result["files_modified"]) == (1, 1, 0)
    assert "A docs/new/index.html" in result["diff"]["prepared"]
    assert "D docs/setup/index.html" in result["diff"]["prepared"]
    assert "docs/setup/index.html" not in tree_files(env.remote, "gh-pages")


def test_diff_is_capped(env):
    write_site(env.site, dict(("many/f%03d.txt" % n, str(n)) for n in range(250)))
    result = ok(publish(env, diff=True))
    lines = result["diff"]["prepared"].splitlines()
    assert len(lines) == 1 + 200 + 1 and lines[-1] == "... and %d more" % (250 + len(SITE) + 1 - 200)


def test_check_mode_computes_changes_but_pushes_nothing(env):
    result = ok(publish(env, check=True, diff=True))
    assert result["changed"] and not result["pushed"] and result["commit"] is None
    assert result["files_added"] == len(SITE) + 1
    assert "A index.html" in result["diff"]["prepared"]
    assert heads(env.url) == ""
    first = ok(publish(env))
    before = heads(env.url)
    write_site(env.site, {"index.html": "changed"}, mtime=PAST + 60)
    result = ok(publish(env, check=True))
    assert result["changed"] and result["files_modified"] == 1 and result["previous_commit"] == first["commit"]
    assert heads(env.url) == before


def install_race(ctx, other=None):
    """A pre-receive hook that, once, moves gh-pages to a commit 'someone else' made (by default one with the same
    tree): the push's ref update fails."""
    head = git("rev-parse", "refs/heads/gh-pages", git_dir=ctx.remote)
    other = other or git("commit-tree", head + "^{tree}", "-p", head, "-m", "Concurrent push", git_dir=ctx.remote)
    hook = ctx.remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\ncat >/dev/null\n[ -e race-done ] && exit 0\ntouch race-done\n"
                    "unset GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES\n"
                    "git update-ref refs/heads/gh-pages %s %s\n" % (other, head))
    hook.chmod(0o755)
    return head, other


def test_push_race_recommits_on_the_new_head_without_force(env):
    first = ok(publish(env))
    head, other = install_race(env)
    write_site(env.site, {"index.html": "v2"}, mtime=PAST + 60)
    result = ok(publish(env))
    assert result["pushed"] and result["push_attempts"] == 2
    new = git("rev-parse", "refs/heads/gh-pages", git_dir=env.remote)
    assert result["commit"] == new and result["previous_commit"] == other
    assert parents(env.remote, new) == [other] and parents(env.remote, other) == [first["commit"]]  # nothing lost
    assert blob(env.remote, new, "index.html") == b"v2"


def test_branch_moved_since_the_last_run_is_published_on_top_not_overwritten(env):
    """A warm cache pushes on the head it last saw; another publisher's commit makes that a race, not a loss."""
    first = ok(publish(env))
    ok(publish(env, cache_dir=str(env.tmp / "other-runner"), extra_files={"other.txt": "x"}))
    other = git("rev-parse", "refs/heads/gh-pages", git_dir=env.remote)
    write_site(env.site, {"index.html": "v2"}, mtime=PAST + 60)
    result = ok(publish(env))
    assert result["pushed"] and result["push_attempts"] == 2 and result["previous_commit"] == other
    assert parents(env.remote, result["commit"]) == [other] and parents(env.remote, other) == [first["commit"]]
    assert blob(env.remote, result["commit"], "index.html") == b"v2"


def test_push_race_gives_up_after_push_retries_without_forcing(env):
    ok(publish(env))
    head, other = install_race(env)
    write_site(env.site, {"index.html": "v2"}, mtime=PAST + 60)
    result = publish(env, push_retries=0)
    assert result.get("failed") and "kept moving" in result["msg"] and "push_retries" in result["msg"]
    assert git("rev-parse", "refs/heads/gh-pages", git_dir=env.remote) == other


def test_other_push_rejections_fail_with_gits_message(env):
    first = ok(publish(env))
    hook = env.remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'pushes to gh-pages are frozen' >&2\nexit 1\n")
    hook.chmod(0o755)
    write_site(env.site, {"index.html": "v2"}, mtime=PAST + 60)
    result = publish(env)
    assert result.get("failed") and result["push_attempts"] == 1
    assert "pre-receive hook declined" in result["msg"] and "pushes to gh-pages are frozen" in result["msg"]
    assert git("rev-parse", "refs/heads/gh-pages", git_dir=env.remote) == first["commit"]


def test_keep_history_false_publishes_an_orphan_commit_with_a_lease(env):
    ok(publish(env))
    write_site(env.site, {"index.html": "v2"}, mtime=PAST + 60)
    head, other = install_race(env)
    result = ok(publish(env, keep_history=False))
    assert result["pushed"] and result["push_attempts"] == 2  # the lease saw the concurrent push and retried
    new = git("rev-parse", "refs/heads/gh-pages", git_dir=env.remote)
    assert new == result["commit"] and parents(env.remote, new) == []
    assert git("rev-list", "--count", new, git_dir=env.remote) == "1"
    again = ok(publish(env, keep_history=False))
    assert not again["changed"]


# --- a site in a directory of the branch (pull-request previews), and directories a root publish keeps ---------

PREVIEW = {"index.html": "<html>preview 42</html>\n", "docs/intro/index.html": "<html>intro, changed</html>\n"}


def preview_site(ctx, name="preview", files=PREVIEW):
    write_site(ctx.tmp / name, files)
    return str(ctx.tmp / name)


def branch_files(ctx):
    return tree_files(ctx.remote, "refs/heads/gh-pages")


def test_a_preview_goes_into_its_directory_and_leaves_the_main_site_as_it_is(env):
    main = ok(publish(env, keep=["pr-preview"]))
    result = ok(publish(env, src=preview_site(env), path="/pr-preview/pr-42/", diff=True))
    assert result["pushed"] and result["path"] == "pr-preview/pr-42"
    assert (result["files_added"], result["files_removed"], result["files_modified"]) == (3, 0, 0)
    assert "A pr-preview/pr-42/index.html" in result["diff"]["prepared"]
    files = branch_files(env)
    assert {path: sha for path, sha in files.items() if not path.startswith("pr-preview/")} == tree_files(
        env.remote, main["commit"])
    assert blob(env.remote, "refs/heads/gh-pages", "pr-preview/pr-42/index.html") == b"<html>preview 42</html>\n"
    assert "pr-preview/pr-42/.nojekyll" in files  # nojekyll and extra_files go with the site into its directory
    again = ok(publish(env, src=preview_site(env), path="pr-preview/pr-42"))
    assert not again["changed"] and not again["pushed"]


def test_a_root_publish_keeps_the_previews_and_a_removed_preview_leaves_nothing_behind(env):
    ok(publish(env, keep=["pr-preview"]))
    ok(publish(env, src=preview_site(env), path="pr-preview/pr-42"))
    ok(publish(env, src=preview_site(env, "other", {"index.html": "43"}), path="pr-preview/pr-43"))
    write_site(env.site, {"index.html": "<html>home v2</html>\n"}, mtime=PAST + 60)
    root = ok(publish(env, keep=["pr-preview"]))
    assert (root["files_added"], root["files_removed"], root["files_modified"]) == (0, 0, 1)
    assert blob(env.remote, "refs/heads/gh-pages", "pr-preview/pr-43/index.html") == b"43"
    checked = ok(publish(env, src=None, path="pr-preview/pr-42", state="absent", check=True, diff=True))
    assert checked["changed"] and checked["files_removed"] == 3 and not checked["pushed"]
    assert "D pr-preview/pr-42/index.html" in checked["diff"]["prepared"]
    assert "pr-preview/pr-42/index.html" in branch_files(env)
    ok(publish(env, src=None, path="pr-preview/pr-42", state="absent"))
    ok(publish(env, src=None, path="pr-preview/pr-43", state="absent"))
    files = branch_files(env)
    assert not any(path.startswith("pr-preview") for path in files) and "index.html" in files
    gone = ok(publish(env, src=None, path="pr-preview/pr-43", state="absent"))
    assert not gone["changed"] and not gone["pushed"]


def test_a_root_publish_without_keep_replaces_the_previews(env):
    ok(publish(env))
    ok(publish(env, src=preview_site(env), path="pr-preview/pr-42"))
    write_site(env.site, {"index.html": "v2"}, mtime=PAST + 60)
    result = ok(publish(env))
    assert result["files_removed"] == 3 and not any(path.startswith("pr-preview") for path in branch_files(env))


def test_a_rollback_keeps_the_previews_of_the_head(env):
    first = ok(publish(env, keep=["pr-preview"]))
    write_site(env.site, {"index.html": "v2"}, mtime=PAST + 60)
    ok(publish(env, keep=["pr-preview"]))
    ok(publish(env, src=preview_site(env), path="pr-preview/pr-42"))
    back = ok(publish(env, src=None, rollback_to=first["commit"], keep=["pr-preview"]))
    assert back["pushed"] and blob(env.remote, back["commit"], "index.html") == SITE["index.html"].encode()
    assert "pr-preview/pr-42/index.html" in branch_files(env)


def test_a_preview_racing_another_publish_keeps_both(env):
    """The other run's commit changes the main site while the preview is pushed: the preview is recomposed on it."""
    ok(publish(env, keep=["pr-preview"]))
    head = git("rev-parse", "refs/heads/gh-pages", git_dir=env.remote)
    changed = git("hash-object", "-w", "--stdin", data="<html>other</html>\n", git_dir=env.remote)
    listing = git("ls-tree", head, git_dir=env.remote).replace(tree_files(env.remote, head)["index.html"], changed)
    other_tree = git("mktree", data=listing + "\n", git_dir=env.remote)
    install_race(env, git("commit-tree", other_tree, "-p", head, "-m", "Concurrent push", git_dir=env.remote))
    result = ok(publish(env, src=preview_site(env), path="pr-preview/pr-42"))
    other = parents(env.remote, result["commit"])
    assert result["push_attempts"] == 2 and parents(env.remote, other[0]) == [head]
    assert blob(env.remote, "refs/heads/gh-pages", "index.html") == b"<html>other</html>\n"
    assert blob(env.remote, "refs/heads/gh-pages", "pr-preview/pr-42/index.html") == b"<html>preview 42</html>\n"


@pytest.mark.parametrize("overrides, message", [
    ({"path": "../x"}, "path '../x' is not a directory inside the branch"),
    ({"path": "a/.git/b"}, "path 'a/.git/b' is not a directory"),
    ({"keep": ["/"]}, "keep entry"),
    ({"keep": ["a/../../b"]}, "keep entry"),
    ({"path": "pr-preview/pr-1", "cname": "docs.example.com"}, "apply to a publish of the root"),
    ({"path": "pr-preview/pr-1", "keep": ["pr-preview"]}, "apply to a publish of the root"),
    ({"src": None, "state": "absent"}, "path"),
    ({"state": "absent", "path": "pr-preview/pr-1"}, "state=absent removes the directory path"),
])
def test_bad_placement_fails_before_anything_is_pushed(env, overrides, message):
    ok(publish(env))
    before = heads(env.url)
    result = publish(env, **overrides)
    assert result.get("failed") and message in result["msg"], result
    assert heads(env.url) == before


def test_a_site_with_a_directory_keep_reserves_is_refused(env):
    write_site(env.site, {"pr-preview/stale/index.html": "x"})
    result = publish(env, keep=["pr-preview"])
    assert result.get("failed") and "has pr-preview, which keep leaves as the branch has it" in result["msg"]
    assert heads(env.url) == ""


def test_rollback_republishes_an_old_tree_as_a_new_commit(env):
    first = ok(publish(env))
    write_site(env.site, {"index.html": "v2", "docs/extra/index.html": "x"}, mtime=PAST + 60)
    second = ok(publish(env))
    # a fresh cache has neither commit: the old one is fetched by its sha
    result = ok(publish(env, src=None, rollback_to=first["commit"], cache_dir=str(env.tmp / "other-cache"),
                        commit_message="Roll back", diff=True))
    assert result["changed"] and result["pushed"] and result["previous_commit"] == second["commit"]
    new = git("rev-parse", "refs/heads/gh-pages", git_dir=env.remote)
    assert new == result["commit"] not in (first["commit"], second["commit"])
    assert parents(env.remote, new) == [second["commit"]]
    assert git("rev-parse", new + "^{tree}", git_dir=env.remote) == git("rev-parse", first["commit"] + "^{tree}",
                                                                          git_dir=env.remote)
    assert (result["files_removed"], result["files_modified"]) == (1, 1)
    again = ok(publish(env, src=None, rollback_to=first["commit"]))
    assert not again["changed"]


def test_rollback_to_an_unknown_commit_fails_and_leaves_the_remote(env):
    ok(publish(env))
    before = heads(env.url)
    result = publish(env, src=None, rollback_to="1" * 40)
    assert result.get("failed") and "rollback_to" in result["msg"]
    assert heads(env.url) == before


def test_forbidden_value_fails_naming_the_file_never_the_value(env):
    secret = "s3cr3t-Backend-Key-%s" % uuid.uuid4().hex
    ok(publish(env))
    before = heads(env.url)
    write_site(env.site, {"assets/js/config.js": "const a = 1;\nconst key = '%s';\n" % secret}, mtime=PAST + 60)
    result = publish(env, forbidden_values=["", "unused-value-xyz", secret])
    assert result.get("failed")
    assert "assets/js/config.js" in result["msg"] and "forbidden value #3" in result["msg"] and "line 2" in result["msg"]
    assert "********" not in result["msg"]  # the module never formatted it (Ansible had nothing to mask)
    assert secret not in json.dumps(result)
    assert result["findings"] == [{"path": "assets/js/config.js", "kind": "forbidden value #3", "line": 2}]
    assert heads(env.url) == before


def test_forbidden_value_json_escaped_is_found(env):
    secret = 'pa"ss/word\\%s' % uuid.uuid4().hex[:8]
    write_site(env.site, {"data.json": json.dumps({"k": secret})})
    result = publish(env, forbidden_values=[secret])
    assert result.get("failed") and "data.json" in result["msg"]
    assert heads(env.url) == ""


@pytest.mark.parametrize("content,kind", [
    ("var t = 'ghp_" + "Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0Uv1Wx2Yz';", "GitHub token"),
    ("aws_access_key_id = AKIA" + "Q3ZT7N2LXK4R8VW5\n", "AWS access key id"),
    ("-----BEGIN OPENSSH " + "PRIVATE KEY-----\nabc\n", "private key"),
    ("slack: xoxb-" + "2048193726-5501938467-q8Zr1pL0sYt4", "Slack token"),
    ("DATABASE_URL=postgresql://neondb_owner:" + "npg_8hKq2ZxLp4Ws@ep-cool-fog-123.eu-central-1.aws.neon.tech/neondb",
     "postgres URI with a password"),
])
def test_secret_patterns_are_refused(env, content, kind):
    write_site(env.site, {"assets/js/leak.js": "\n" + content})
    result = publish(env)
    assert result.get("failed") and kind in result["msg"] and "assets/js/leak.js" in result["msg"]
    assert content.split()[-1][-12:] not in json.dumps(result)
    assert heads(env.url) == ""
    assert ok(publish(env, secret_scan=False))["pushed"]


def test_placeholders_are_not_secrets(env):
    write_site(env.site, {"docs/howto/index.html": "postgresql://user:password@localhost/db and ghp_" + "X" * 36
                          + " and AKIAIOSFODNN7EXAMPLE and postgres://app:${PGPASSWORD}@db/app"})
    assert ok(publish(env))["pushed"]


def test_gitignore_gitattributes_and_nested_repositories_do_not_change_what_is_published(env):
    write_site(env.site, {".gitignore": "*.html\n*.png\n", ".gitattributes": "* text eol=crlf\n",
                          "notes.txt": "line1\nline2\n"})
    vendor = env.site / "vendor"
    git("init", "--quiet", str(vendor))
    write_site(env.site, {"vendor/lib.js": "lib\n", "vendor/sub/more.js": "more\n"})
    git("-C", str(vendor), "add", "-A")
    git("-C", str(vendor), "commit", "--quiet", "-m", "vendored")
    git("init", "--quiet", str(env.site))  # the site itself is a checkout: its .git must not be published
    result = ok(publish(env))
    files = tree_files(env.remote, "gh-pages")
    assert not any(part == ".git" for path in files for part in path.split("/"))
    assert set(SITE) <= set(files)
    assert {"vendor/lib.js", "vendor/sub/more.js", ".gitignore", ".gitattributes"} <= set(files)
    modes = git("ls-tree", "-r", "gh-pages", git_dir=env.remote)
    assert "160000" not in modes  # no gitlink
    assert blob(env.remote, "gh-pages", "notes.txt") == b"line1\nline2\n"  # no eol conversion
    again = ok(publish(env))
    assert not again["changed"], again
    assert again["tree"] == result["tree"]


@pytest.mark.parametrize("overrides,option", [
    ({"src": "/nonexistent/build"}, "src"),
    ({"repo": "ftp://x"}, "repo"),
    ({"repo": "not a url"}, "repo"),
    ({"repo": "relative/path.git"}, "repo"),
    ({"branch": "bad..name"}, "branch"),
    ({"branch": "-x"}, "branch"),
    ({"branch": "a b"}, "branch"),
    ({"cname": "http://x.com"}, "cname"),
    ({"cname": "a b"}, "cname"),
    ({"cname": "docs.example.com/path"}, "cname"),
    ({"cname": "192.0.2.10"}, "cname"),
    ({"extra_files": {"../escape.txt": "x"}}, "extra_files"),
    ({"extra_files": {".git/config": "x"}}, "extra_files"),
    ({"src": None, "rollback_to": "HEAD~1"}, "rollback_to"),
    ({"push_retries": -1}, "push_retries"),
])
def test_bad_input_fails_before_anything_is_pushed(env, overrides, option):
    ok(publish(env))
    before = heads(env.url)
    write_site(env.site, {"index.html": "would change"}, mtime=PAST + 60)
    result = publish(env, **overrides)
    assert result.get("failed"), result
    assert option in result["msg"]
    assert heads(env.url) == before


@pytest.mark.parametrize("first_publish", [True, False])
def test_extra_file_clashing_with_a_directory_of_src_fails(env, first_publish):
    if not first_publish:
        ok(publish(env))
    result = publish(env, extra_files={"docs": "a file where src has a folder"})
    assert result.get("failed") and "docs" in result["msg"] and "clash" in result["msg"]


def test_empty_src_fails(env):
    empty = env.tmp / "empty"
    (empty / "only" / "dirs").mkdir(parents=True)
    result = publish(env, src=str(empty / "only" / "dirs"))
    assert result.get("failed") and "src" in result["msg"] and "empty" in result["msg"]
    result = publish(env, src=str(empty))
    assert result.get("failed") and "src" in result["msg"] and "no files" in result["msg"]
    assert heads(env.url) == ""


def test_password_in_repo_url_is_refused_without_echoing_it(env):
    result = publish(env, repo="https://user:hunter2secret@example.com/o/r.git")
    assert result.get("failed") and "repo" in result["msg"] and "token" in result["msg"]
    assert "hunter2secret" not in result["msg"]


def test_missing_local_repository_names_repo(env):
    result = publish(env, repo="file://%s/nope.git" % env.tmp)
    assert result.get("failed") and "repo" in result["msg"] and "nope.git" in result["msg"]
    result = publish(env, repo="%s/nope.git" % env.tmp)
    assert result.get("failed") and "repo" in result["msg"]


def test_absolute_path_remote_works(env):
    result = ok(publish(env, repo=str(env.remote), branch="site/v1"))
    assert git("rev-parse", "refs/heads/site/v1", git_dir=env.remote) == result["commit"]


def test_corrupt_cache_index_is_rebuilt(env):
    first = ok(publish(env))
    for name in os.listdir(str(env.cache)):
        index = env.cache / name / "textbook-index"
        if index.exists():
            index.write_bytes(b"garbage")
    result = ok(publish(env))
    assert not result["changed"] and result["commit"] == first["commit"]


# --- the persistent index: unchanged files are not read again ----------------------------------------------

class OpenWatcher(object):
    """Records which files under a directory tree are opened (inotify IN_OPEN): reading a file to hash it opens
    it; comparing its stat data with the index does not."""

    IN_OPEN = 0x20
    IN_ISDIR = 0x40000000
    IN_NONBLOCK = 0o4000

    def __init__(self, root):
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(self.IN_NONBLOCK)
        if self.fd < 0:
            pytest.skip("inotify is not available")
        self.dirs = {}
        for dirpath, dirnames, dummy in os.walk(str(root)):
            dirnames[:] = [d for d in dirnames if d != ".git"]
            wd = self.libc.inotify_add_watch(self.fd, dirpath.encode(), self.IN_OPEN)
            if wd < 0:
                os.close(self.fd)
                pytest.skip("inotify cannot watch %s" % dirpath)
            self.dirs[wd] = os.path.relpath(dirpath, str(root))

    def opened(self):
        paths, data = set(), b""
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            data += chunk
        offset = 0
        while offset < len(data):
            wd, mask, dummy, length = struct.unpack_from("iIII", data, offset)
            name = data[offset + 16:offset + 16 + length].rstrip(b"\0").decode()
            offset += 16 + length
            if name and not mask & self.IN_ISDIR:
                paths.add(os.path.normpath(os.path.join(self.dirs[wd], name)))
        return paths

    def close(self):
        os.close(self.fd)


def test_persistent_index_hashes_only_changed_files(env):
    watcher = OpenWatcher(env.site)
    try:
        ok(publish(env))
        assert watcher.opened() == set(SITE)  # a new cache reads every file (the watcher works)
        write_site(env.site, {"docs/setup/index.html": "<html>setup v2</html>\n"}, mtime=PAST + 60)
        watcher.opened()
        result = ok(publish(env))
        assert result["files_modified"] == 1
        assert watcher.opened() == {"docs/setup/index.html"}  # the other files' stat data was reused
        result = ok(publish(env))
        assert not result["changed"]
        assert watcher.opened() == set()
        # control: without the persistent index (another cache dir) every file is read again
        ok(publish(env, cache_dir=str(env.tmp / "cold-cache")))
        assert watcher.opened() == set(SITE)
    finally:
        watcher.close()


# --- the GitHub stand-in over smart HTTP with a token -------------------------------------------------------

def http_env(token):
    """git environment that authenticates to the stand-in like the module does (header via GIT_CONFIG_*)."""
    basic = base64.b64encode(("x-access-token:%s" % token).encode()).decode()
    return {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": "Authorization: Basic %s" % basic, "GIT_TERMINAL_PROMPT": "0"}


@pytest.fixture
def hub(github, tmp_path):
    name = "site-%s" % uuid.uuid4().hex[:8]
    github.create_repo("octo", name)
    site = tmp_path / "site"
    write_site(site, SITE)

    class Hub(object):
        pass

    ctx = Hub()
    ctx.github, ctx.name, ctx.tmp, ctx.site = github, name, tmp_path, site
    ctx.url = github.git_url("octo", name)
    ctx.token = github.token
    ctx.auth = http_env(github.token)
    ctx.args = dict(src=str(site), repo=ctx.url, token=github.token, cache_dir=str(tmp_path / "cache"),
                    cname="docs.example.com", extra_files={"build-info.json": '{"v": 1}'})
    return ctx


def remote_head(ctx):
    out = heads(ctx.url, env=ctx.auth)
    return out.split()[0] if out else None


def fetch_all(ctx):
    clone = ctx.tmp / "inspect.git"
    if not clone.exists():
        git("init", "--quiet", "--bare", str(clone))
    git("fetch", "--quiet", ctx.url, "+refs/heads/*:refs/heads/*", git_dir=clone, env=ctx.auth)
    return clone


def test_http_publish_change_and_no_change(hub):
    first = ok(publish(hub))
    assert first["pushed"] and remote_head(hub) == first["commit"]
    clone = fetch_all(hub)
    files = tree_files(clone, "gh-pages")
    assert {"CNAME", ".nojekyll", "build-info.json"} | set(SITE) == set(files)
    assert blob(clone, "gh-pages", "CNAME") == b"docs.example.com\n"
    second = ok(publish(hub))
    assert not second["changed"] and remote_head(hub) == first["commit"]
    write_site(hub.site, {"docs/intro/index.html": "v2"}, mtime=PAST + 60)
    third = ok(publish(hub, diff=True))
    assert third["files_modified"] == 1 and "M docs/intro/index.html" in third["diff"]["prepared"]
    assert remote_head(hub) == third["commit"]
    assert hub.token not in json.dumps(third)


def test_http_push_race_recommits_on_top(hub):
    first = ok(publish(hub))
    write_site(hub.site, {"index.html": "v2"}, mtime=PAST + 60)
    hub.github.inject_fault("push_race", path=r"^/octo/%s\.git/" % hub.name)
    result = ok(publish(hub))
    assert result["pushed"] and result["push_attempts"] == 2
    clone = fetch_all(hub)
    race = parents(clone, result["commit"])
    assert len(race) == 1 and race[0] != first["commit"]
    assert parents(clone, race[0]) == [first["commit"]]  # the concurrent commit is kept: no force
    assert blob(clone, "gh-pages", "index.html") == b"v2"


def test_http_check_mode_pushes_nothing(hub):
    first = ok(publish(hub))
    write_site(hub.site, {"index.html": "v2"}, mtime=PAST + 60)
    result = ok(publish(hub, check=True))
    assert result["changed"] and not result["pushed"] and result["commit"] is None
    assert remote_head(hub) == first["commit"]


def test_http_wrong_token_fails_without_the_token_and_leaves_the_remote(hub):
    first = ok(publish(hub))
    write_site(hub.site, {"index.html": "v2"}, mtime=PAST + 60)
    bad = "ghp_" + uuid.uuid4().hex + "abcd"
    for cache in ("cache", "fresh-cache"):
        result = publish(hub, token=bad, cache_dir=str(hub.tmp / cache))
        assert result.get("failed") and "token" in result["msg"] and "authentication" in result["msg"]
        everything = json.dumps(result)
        assert bad not in everything
        assert base64.b64encode(("x-access-token:%s" % bad).encode()).decode() not in everything
    assert remote_head(hub) == first["commit"]


def test_http_missing_token_and_env_token(hub):
    result = publish(hub, token=None, run_env={"GITHUB_TOKEN": "", "GH_TOKEN": ""})
    assert result.get("failed") and "token" in result["msg"]
    result = ok(publish(hub, token=None, run_env={"GITHUB_TOKEN": hub.token}))
    assert result["pushed"] and remote_head(hub) == result["commit"]


def test_http_read_only_token_cannot_push(hub):
    first = ok(publish(hub))
    reader = "ghp_" + uuid.uuid4().hex + "read"
    hub.github.add_token(reader, ["read:org"])
    write_site(hub.site, {"index.html": "v2"}, mtime=PAST + 60)
    result = publish(hub, token=reader)
    assert result.get("failed") and "token" in result["msg"] and "write access" in result["msg"]
    assert reader not in json.dumps(result)
    assert remote_head(hub) == first["commit"]


def test_http_missing_repository_names_repo(hub):
    result = publish(hub, repo=hub.github.git_url("octo", "does-not-exist"))
    assert result.get("failed") and "repo" in result["msg"] and "does not exist" in result["msg"]


def test_http_rollback_fetches_the_old_commit_by_sha(hub):
    first = ok(publish(hub))
    write_site(hub.site, {"index.html": "broken release"}, mtime=PAST + 60)
    second = ok(publish(hub))
    result = ok(publish(hub, src=None, cname=None, extra_files=None, rollback_to=first["commit"],
                        cache_dir=str(hub.tmp / "rollback-cache")))
    assert result["pushed"] and result["previous_commit"] == second["commit"]
    clone = fetch_all(hub)
    assert parents(clone, result["commit"]) == [second["commit"]]
    assert git("rev-parse", result["commit"] + "^{tree}", git_dir=clone) == \
        git("rev-parse", first["commit"] + "^{tree}", git_dir=clone)


# --- git plumbing helpers (plugins/module_utils/git.py) -----------------------------------------------------

def test_scrub_removes_the_token_and_its_base64_forms():
    from ansible_collections.textbook.deploy.plugins.module_utils.git import basic_auth_value, scrub
    token = "ghp_" + "Zz9" * 12
    text = "token %s, header Basic %s, plain %s" % (token, basic_auth_value(token),
                                                    base64.b64encode(token.encode()).decode())
    cleaned = scrub(text, [token])
    assert token not in cleaned and basic_auth_value(token) not in cleaned
    assert base64.b64encode(token.encode()).decode() not in cleaned
    assert scrub("nothing", [None]) == "nothing" and scrub("", [token]) == ""


@pytest.mark.parametrize("url,good", [
    ("https://github.com/o/r.git", True),
    ("http://127.0.0.1:8080/o/r.git", True),
    ("file:///srv/git/site.git", True),
    ("/srv/git/site.git", True),
    ("ssh://git@github.com/o/r.git", True),
    ("git@github.com:o/r.git", True),
    ("ftp://x", False),
    ("not a url", False),
    ("relative/path", False),
    ("https://github.com/", False),
    ("https://user:pw@github.com/o/r.git", False),
    ("file://host/path", False),
    ("https://github.com:99999/o/r.git", False),
    ("", False),
])
def test_validate_remote(url, good):
    from ansible_collections.textbook.deploy.plugins.module_utils.git import validate_remote
    assert (validate_remote(url) is None) == good


def test_config_env_appends_to_existing_git_config_variables():
    from ansible_collections.textbook.deploy.plugins.module_utils.git import config_env
    env = config_env([("a.b", "1"), ("c.d", "2")], base={"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "x.y"})
    assert env == {"GIT_CONFIG_KEY_1": "a.b", "GIT_CONFIG_VALUE_1": "1", "GIT_CONFIG_KEY_2": "c.d",
                   "GIT_CONFIG_VALUE_2": "2", "GIT_CONFIG_COUNT": "3"}


@pytest.mark.parametrize("stderr,kind", [
    ("fatal: couldn't find remote ref refs/heads/gh-pages", "missing_ref"),
    ("fatal: Authentication failed for 'http://x/o/r.git/'", "auth"),
    ("fatal: unable to access 'x': The requested URL returned error: 403", "forbidden"),
    ("fatal: repository 'http://x/o/r.git/' not found", "not_found"),
    ("fatal: unable to access 'x': Failed to connect to x port 1: Connection refused", "network"),
    ("error: something else", None),
])
def test_classify_remote_error(stderr, kind):
    from ansible_collections.textbook.deploy.plugins.module_utils.git import classify_remote_error
    assert classify_remote_error(stderr) == kind


@pytest.mark.parametrize("stdout,stderr,ok_,race", [
    ("To x\n*\tabc:refs/heads/gh-pages\t[new branch]\nDone\n", "", True, False),
    ("To x\n \tabc:refs/heads/gh-pages\t1111..2222\nDone\n", "", True, False),
    ("To x\n!\tabc:refs/heads/gh-pages\t[rejected] (fetch first)\nDone\n", "hint: ...", False, True),
    ("To x\n!\tabc:refs/heads/gh-pages\t[rejected] (non-fast-forward)\nDone\n", "", False, True),
    ("To x\n!\tabc:refs/heads/gh-pages\t[rejected] (stale info)\nDone\n", "", False, True),
    ("To x\n!\tabc:refs/heads/gh-pages\t[remote rejected] (failed to update ref)\nDone\n", "", False, True),
    ("To x\n!\tabc:refs/heads/gh-pages\t[remote rejected] (pre-receive hook declined)\nDone\n", "", False, False),
    ("", "fatal: unable to access 'x': The requested URL returned error: 403", False, False),
])
def test_parse_push_porcelain(stdout, stderr, ok_, race):
    from ansible_collections.textbook.deploy.plugins.module_utils.git import parse_push_porcelain
    result = parse_push_porcelain(stdout, stderr, "refs/heads/gh-pages")
    assert (result.ok, result.race) == (ok_, race)
