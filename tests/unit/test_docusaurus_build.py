"""docusaurus_build, run the way Ansible runs it, on a fake project: real npm and node, no Docusaurus.

The fake project's build script (build.js) writes one page per file of src/ into --out-dir and appends a line to
../builds.log; its postinstall script appends to ../installs.log. So the logs count what really ran.
"""
import json
import os
import shutil
import time

import pytest

from conftest import run_module

from ansible_collections.textbook.deploy.plugins.module_utils.fingerprint import (
    RACY_NS,
    StatCache,
    dir_usage,
    tree_fingerprint,
)
from ansible_collections.textbook.deploy.plugins.modules.docusaurus_build import error_lines

pytestmark = pytest.mark.skipif(not shutil.which("npm") or not shutil.which("node"), reason="needs node and npm")

MODULE = "docusaurus_build"

PACKAGE = {
    "name": "fake-textbook",
    "version": "1.0.0",
    "private": True,
    "scripts": {
        "build": "node build.js",
        "postinstall": "node -e \"require('fs').appendFileSync('../installs.log', 'install\\n')\"",
    },
}
LOCK = {
    "name": "fake-textbook",
    "version": "1.0.0",
    "lockfileVersion": 3,
    "requires": True,
    "packages": {"": {"name": "fake-textbook", "version": "1.0.0", "hasInstallScript": True}},
}
BUILD_JS = r"""
const fs = require('fs');
const path = require('path');
const i = process.argv.indexOf('--out-dir');
const out = i >= 0 ? process.argv[i + 1] : 'build';
fs.appendFileSync(path.join(__dirname, '..', 'builds.log'), 'build\n');
const src = path.join(__dirname, 'src');
if (fs.existsSync(path.join(src, 'FAIL'))) {
  console.log('[INFO] Creating an optimized production build...');
  console.log('[webpackbar] Compiling Client');
  console.error('[ERROR] Error: Unable to build website for locale en.');
  console.error('    at tryToBuildLocale (/x/node_modules/@docusaurus/core/lib/commands/build/build.js:76:15)');
  console.error('  [cause]: Error: Docusaurus found broken links!');
  console.error('  - Broken link on source page path = /book/docs/intro/:');
  console.error('     -> linking to /book/docs/nowhere/');
  process.exit(1);
}
fs.mkdirSync(out, {recursive: true});
fs.writeFileSync(path.join(out, 'index.html'),
  `<a href="${process.env.BASE_URL || '/'}docs/">docs</a><meta name="chat" content="${process.env.CHAT_API_URL || ''}">`);
for (const name of fs.readdirSync(src)) {
  fs.writeFileSync(path.join(out, name + '.html'), fs.readFileSync(path.join(src, name)));
}
"""
ENV = {"BASE_URL": "/book/", "SITE_URL": "http://127.0.0.1:8481", "CHAT_API_URL": "http://127.0.0.1:8000"}


def write(path, text):
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    with open(str(path), "w") as handle:
        handle.write(text)


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "book"
    write(root / "package.json", json.dumps(PACKAGE, indent=2))
    write(root / "package-lock.json", json.dumps(LOCK, indent=2))
    write(root / "build.js", BUILD_JS)
    write(root / "src" / "intro.md", "# Intro\n")
    write(root / "src" / "chapter-1.md", "# Chapter 1\n")
    return root


def count(project, what):
    path = project.parent / ("%s.log" % what)
    return len(path.read_text().splitlines()) if path.exists() else 0


def build(project, check=False, diff=False, **args):
    params = {"project_dir": str(project), "env": dict(ENV)}
    params.update(args)
    return run_module(MODULE, params, check=check, diff=diff)


def ok(result):
    assert not result.get("failed"), result.get("msg", result)
    return result


def test_first_run_installs_and_builds(project):
    result = ok(build(project))
    assert result["changed"] and result["installed"] and result["built"]
    assert result["build_dir"] == str(project / "build")
    assert result["file_count"] == 3
    assert result["bytes"] == sum(f.stat().st_size for f in (project / "build").iterdir())
    assert len(result["content_hash"]) == 64
    assert (count(project, "installs"), count(project, "builds")) == (1, 1)
    assert "/book/docs/" in (project / "build" / "index.html").read_text()
    assert (project / "node_modules" / ".textbook-deploy" / "install.json").is_file()
    assert (project / "node_modules" / ".textbook-deploy" / "build.json").is_file()


def test_second_run_changes_nothing(project):
    first = ok(build(project))
    second = ok(build(project))
    assert second["changed"] is False and not second["installed"] and not second["built"]
    assert second["content_hash"] == first["content_hash"]
    assert (second["file_count"], second["bytes"]) == (first["file_count"], first["bytes"])
    assert (count(project, "installs"), count(project, "builds")) == (1, 1)


def test_changed_source_rebuilds(project):
    first = ok(build(project))
    write(project / "src" / "chapter-1.md", "# Chapter 1, revised\n")
    second = ok(build(project))
    assert second["changed"] and second["built"] and not second["installed"]
    assert second["content_hash"] != first["content_hash"]
    assert (project / "build" / "chapter-1.md.html").read_text() == "# Chapter 1, revised\n"
    assert count(project, "builds") == 2
    assert ok(build(project))["changed"] is False


def test_same_size_rewrite_in_the_same_second_is_seen(project):
    ok(build(project))
    target = project / "src" / "intro.md"
    stat = target.stat()
    target.write_text("# Intr0\n")
    os.utime(str(target), ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert ok(build(project))["built"]


def test_new_and_removed_pages_leave_no_stale_files(project):
    ok(build(project))
    write(project / "src" / "chapter-2.md", "# Chapter 2\n")
    assert ok(build(project))["file_count"] == 4
    (project / "src" / "chapter-2.md").unlink()
    result = ok(build(project))
    assert result["built"] and result["file_count"] == 3
    assert not (project / "build" / "chapter-2.md.html").exists()
    assert sorted(os.listdir(str(project))) == ["build", "build.js", "node_modules", "package-lock.json",
                                                "package.json", "src"]


def test_changed_env_rebuilds(project):
    first = ok(build(project))
    env = dict(ENV, BASE_URL="/other/")
    second = ok(build(project, env=env))
    assert second["built"] and second["content_hash"] != first["content_hash"]
    assert "/other/docs/" in (project / "build" / "index.html").read_text()
    assert ok(build(project, env=env))["changed"] is False
    assert count(project, "builds") == 2


def test_changed_lockfile_runs_npm_ci_again(project):
    ok(build(project))
    write(project / "package-lock.json", json.dumps(LOCK, indent=4))
    result = ok(build(project))
    assert result["installed"] and result["built"]
    assert (count(project, "installs"), count(project, "builds")) == (2, 2)
    assert "package-lock.json changed since the last npm ci" in result["reasons"]
    assert ok(build(project))["changed"] is False


def test_existing_install_that_matches_the_lockfile_is_adopted(project):
    write(project / "dep" / "package.json", json.dumps({"name": "dep", "version": "1.0.0"}))
    package = dict(PACKAGE, dependencies={"dep": "file:dep"})
    write(project / "package.json", json.dumps(package, indent=2))
    lock = json.loads(json.dumps(LOCK))
    lock["packages"][""]["dependencies"] = {"dep": "file:dep"}
    lock["packages"]["dep"] = {"version": "1.0.0"}
    lock["packages"]["node_modules/dep"] = {"resolved": "dep", "link": True}
    write(project / "package-lock.json", json.dumps(lock, indent=2))
    ok(build(project))
    shutil.rmtree(str(project / "node_modules" / ".textbook-deploy"))
    result = ok(build(project))
    assert not result["installed"] and result["built"], result["reasons"]
    assert count(project, "installs") == 1
    assert json.loads((project / "node_modules" / ".textbook-deploy" / "install.json").read_text())["adopted"]


def test_deleted_or_altered_out_dir_rebuilds(project):
    ok(build(project))
    shutil.rmtree(str(project / "build"))
    result = ok(build(project))
    assert result["built"] and (project / "build" / "index.html").is_file()
    (project / "build" / "intro.md.html").unlink()
    assert ok(build(project))["built"]
    assert count(project, "builds") == 3
    assert ok(build(project))["changed"] is False


def test_out_dir_outside_the_project(project, tmp_path):
    out = tmp_path / "site" / "public"
    result = ok(build(project, out_dir=str(out)))
    assert result["build_dir"] == str(out) and (out / "index.html").is_file()
    assert not (project / "build").exists()
    assert ok(build(project, out_dir=str(out)))["changed"] is False


def test_force_builds_without_reinstalling(project):
    ok(build(project))
    result = ok(build(project, force=True))
    assert result["built"] and not result["installed"]
    assert (count(project, "installs"), count(project, "builds")) == (1, 2)


def test_check_mode_runs_nothing(project):
    result = ok(build(project, check=True))
    assert result["changed"] and result["installed"] and result["built"]
    assert (count(project, "installs"), count(project, "builds")) == (0, 0)
    assert not (project / "node_modules").exists() and not (project / "build").exists()
    real = ok(build(project))
    assert real["content_hash"] == result["content_hash"]

    write(project / "src" / "intro.md", "# Intro, revised\n")
    pending = ok(build(project, check=True))
    assert pending["changed"] and pending["built"] and not pending["installed"]
    assert count(project, "builds") == 1
    assert ok(build(project, check=True, env=dict(ENV, BASE_URL="/x/")))["built"]
    assert ok(build(project))["built"]
    assert ok(build(project, check=True))["changed"] is False
    assert count(project, "builds") == 2


def test_diff_mode_shows_before_and_after(project):
    first = ok(build(project, diff=True))
    assert first["diff"] == {"before": {"content_hash": None, "file_count": 0},
                             "after": {"content_hash": first["content_hash"], "file_count": 3}}
    write(project / "src" / "chapter-2.md", "# Chapter 2\n")
    preview = ok(build(project, check=True, diff=True))
    assert preview["diff"]["before"] == {"content_hash": first["content_hash"], "file_count": 3}
    assert preview["diff"]["after"]["content_hash"] == preview["content_hash"] != first["content_hash"]
    second = ok(build(project, diff=True))
    assert second["diff"] == {"before": {"content_hash": first["content_hash"], "file_count": 3},
                              "after": {"content_hash": second["content_hash"], "file_count": 4}}
    third = ok(build(project, diff=True))
    assert third["diff"]["before"] == third["diff"]["after"]


def test_failing_build_reports_its_own_errors_and_keeps_the_previous_site(project):
    ok(build(project))
    before = sorted(os.listdir(str(project / "build")))
    write(project / "src" / "FAIL", "")
    result = build(project)
    assert result["failed"] and result["rc"] == 1
    assert "npm run build failed" in result["msg"]
    assert "Docusaurus found broken links!" in result["msg"]
    assert "-> linking to /book/docs/nowhere/" in result["msg"]
    assert result["stderr_lines"][0] == "[ERROR] Error: Unable to build website for locale en."
    assert not any(line.lstrip().startswith("at ") for line in result["stderr_lines"])
    assert not any("Compiling Client" in line for line in result["stderr_lines"])
    assert sorted(os.listdir(str(project / "build"))) == before
    assert not [name for name in os.listdir(str(project)) if "textbook-deploy" in name]
    (project / "src" / "FAIL").unlink()
    assert ok(build(project))["changed"] is False


def test_failing_npm_ci_reports_npm_errors(project):
    package = dict(PACKAGE, dependencies={"left-pad": "1.3.0"})
    write(project / "package.json", json.dumps(package, indent=2))
    result = build(project)
    assert result["failed"] and result["msg"].startswith("npm ci failed")
    assert any("in sync" in line or "Missing" in line for line in result["stderr_lines"]), result["stderr_lines"]
    assert count(project, "builds") == 0


def test_build_script_that_ignores_out_dir(project):
    write(project / "package.json", json.dumps(dict(PACKAGE, scripts={"build": "echo not building"}), indent=2))
    result = build(project)
    assert result["failed"] and "wrote nothing to --out-dir" in result["msg"]
    assert "docusaurus build" in result["msg"]


@pytest.mark.parametrize("case, expected", [
    ("missing_project", ["project_dir", "does not exist", "Docusaurus project"]),
    ("no_package_json", ["project_dir", "no package.json"]),
    ("no_build_script", ["no \"build\" script", "docusaurus build"]),
    ("no_lockfile", ["no package-lock.json", "npm ci needs it", "commit"]),
    ("env_not_string", ["env.PORT must be a string", "int", "quote"]),
    ("env_bool", ["env.DEBUG must be a string", "bool"]),
    ("out_dir_in_node_modules", ["out_dir", "inside node_modules", "npm ci deletes"]),
    ("out_dir_is_project", ["out_dir", "is project_dir itself"]),
    ("out_dir_contains_project", ["out_dir", "contains project_dir"]),
    ("out_dir_foreign_files", ["out_dir", "not a site build", "new or empty directory"]),
    ("out_dir_is_file", ["out_dir", "not a directory"]),
    ("npm_missing", ["npm", "not an executable file"]),
])
def test_bad_input_fails_before_anything_runs(project, tmp_path, case, expected):
    args = {}
    if case == "missing_project":
        args["project_dir"] = str(tmp_path / "nowhere")
    elif case == "no_package_json":
        (project / "package.json").unlink()
    elif case == "no_build_script":
        write(project / "package.json", json.dumps(dict(PACKAGE, scripts={}), indent=2))
    elif case == "no_lockfile":
        (project / "package-lock.json").unlink()
    elif case == "env_not_string":
        args["env"] = dict(ENV, PORT=8000)
    elif case == "env_bool":
        args["env"] = dict(ENV, DEBUG=True)
    elif case == "out_dir_in_node_modules":
        args["out_dir"] = str(project / "node_modules" / "site")
    elif case == "out_dir_is_project":
        args["out_dir"] = str(project) + "/"
    elif case == "out_dir_contains_project":
        args["out_dir"] = str(tmp_path)
    elif case == "out_dir_foreign_files":
        write(tmp_path / "notes" / "todo.txt", "keep me")
        args["out_dir"] = str(tmp_path / "notes")
    elif case == "out_dir_is_file":
        write(tmp_path / "afile", "x")
        args["out_dir"] = str(tmp_path / "afile")
    elif case == "npm_missing":
        args["npm"] = str(tmp_path / "no-npm")
    result = build(project, **args)
    assert result.get("failed"), result
    for text in expected:
        assert text in result["msg"], result["msg"]
    assert (count(project, "installs"), count(project, "builds")) == (0, 0)
    assert not (project / "node_modules").exists()
    if case == "out_dir_foreign_files":
        assert (tmp_path / "notes" / "todo.txt").read_text() == "keep me"


# -- the pieces, in process ---------------------------------------------------------------------------------------

def test_error_lines_picks_errors_with_context_and_caps():
    stderr = "\n".join(["noise %d" % n for n in range(10)] + ["Error: one"]
                       + ["    at f (/x.js:1:2)"] * 5 + ["detail %d" % n for n in range(100)]
                       + ["\x1b[31m✖ failed again\x1b[0m"])
    lines = error_lines("", stderr)
    assert lines[:4] == ["noise 8", "noise 9", "Error: one", "detail 0"]
    assert "..." in lines and "✖ failed again" in lines
    assert error_lines("only\noutput\n", "") == ["only", "output"]
    many = "\n".join("error %d" % n for n in range(100))
    capped = error_lines(many, "")
    assert len(capped) == 41 and capped[-1] == "... (60 more lines)"
    npm_only = "npm error code EUSAGE\nnpm error The `npm ci` command can only install with an existing package-lock.json"
    assert error_lines("", npm_only)[0] == "npm error code EUSAGE"


def test_tree_fingerprint_skips_and_stat_cache(tmp_path):
    root = tmp_path / "site"
    write(root / "docs" / "a.md", "a")
    write(root / "build" / "index.html", "skipped at the top")
    write(root / "docs" / "build" / "b.md", "kept below the top")
    write(root / "node_modules" / "x" / "index.js", "skipped at any depth")
    write(root / "docs" / "node_modules" / "y.js", "skipped at any depth")
    write(root / ".git" / "HEAD", "skipped")
    write(root / "dist" / "page.html", "skipped by path")
    tree = tree_fingerprint(str(root), skip_dirs=("node_modules", ".git"), skip_top=("build",),
                            skip_paths=(str(root / "dist"),))
    assert (tree.file_count, tree.bytes) == (2, 1 + len("kept below the top"))

    old = time.time_ns() - 10 * RACY_NS
    for path in (root / "docs" / "a.md", root / "docs" / "build" / "b.md"):
        os.utime(str(path), ns=(old, old))
    skips = dict(skip_dirs=("node_modules", ".git", "dist"), skip_top=("build",))
    first = StatCache()
    digest = tree_fingerprint(str(root), first, **skips).digest
    assert first.hashed == 2
    again = StatCache(json.loads(json.dumps(first.entries())))
    assert tree_fingerprint(str(root), again, **skips).digest == digest
    assert again.hashed == 0 and not again.changed

    fresh = StatCache()
    write(root / "docs" / "new.md", "just written")
    assert tree_fingerprint(str(root), fresh, **skips).digest != digest
    assert "docs/new.md" not in fresh.entries(), "a racily clean entry must not be trusted next time"
    assert dir_usage(str(root / "missing")) == (0, 0)


def test_rehash_of_ten_thousand_unchanged_files_reads_none(tmp_path):
    root = str(tmp_path / "big")
    old = time.time_ns() - 10 * RACY_NS
    for index in range(10000):
        directory = os.path.join(root, "d%02d" % (index // 200))
        if index % 200 == 0:
            os.makedirs(directory)
        path = os.path.join(directory, "f%05d.md" % index)
        with open(path, "w") as handle:
            handle.write("page %d\n" % index)
        os.utime(path, ns=(old, old))
    cache = StatCache()
    tree_fingerprint(root, cache)
    entries = json.loads(json.dumps(cache.entries()))
    again = StatCache(entries)
    tree = tree_fingerprint(root, again)
    assert tree.file_count == 10000 and again.hashed == 0
