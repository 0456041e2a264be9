"""Publish benchmark: pages_publish vs ghp-import vs `docusaurus deploy --skip-build`, side by side.

Every tool publishes the same build directory to its own repository on the same kind of remote: the GitHub
stand-in's git smart HTTP (git's own http-backend, token auth). For each data set and tool it measures three
cases: the first publish, a republish after one file changed, and a republish with nothing changed. Wall time is
measured around the whole command; peak memory is the largest resident set of any process the command ran
(getrusage RUSAGE_CHILDREN, measured in a fresh child per case).

pages_publish runs exactly as Ansible runs a module (python -m <module> <args.json>), without ansible-playbook's
own start-up, which is the same for any module.

    .venv/bin/python benchmarks/publish_bench.py [--repeat 9] [--files 10000 --megabytes 150] [--skip-generated]
"""
import argparse
import base64
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, ".collections")]
TEXTBOOK = os.path.join(ROOT, "examples", "textbook")
CASES = ("first publish", "one file changed", "nothing changed")


def measure(*cmds, env=None, cwd=None):
    """Run the commands one after the other in a fresh child that reports (seconds, peak RSS MiB of anything
    they ran)."""
    probe = (
        "import json, resource, subprocess, sys, time\n"
        "start = time.perf_counter()\n"
        "for cmd in json.loads(sys.argv[1]):\n"
        "    proc = subprocess.run(cmd, capture_output=True, text=True)\n"
        "    if proc.returncode:\n"
        "        break\n"
        "elapsed = time.perf_counter() - start\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
        "print(json.dumps({'rc': proc.returncode, 'seconds': elapsed, 'peak_mib': peak,\n"
        "                  'out': proc.stdout[-2000:], 'err': proc.stderr[-2000:]}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe, json.dumps(cmds)], capture_output=True, text=True, env=env,
                          cwd=cwd, check=True)
    result = json.loads(proc.stdout)
    if result["rc"] != 0:
        raise RuntimeError("%s failed:\n%s\n%s" % (cmds, result["out"], result["err"]))
    return result


def git_env(token, extra=()):
    """Environment that authenticates git to the stand-in the way GitHub takes a token."""
    env = dict(os.environ)
    basic = base64.b64encode(("x-access-token:%s" % token).encode()).decode()
    pairs = [("http.extraHeader", "Authorization: Basic %s" % basic), *extra]
    env["GIT_CONFIG_COUNT"] = str(len(pairs))
    for index, (key, value) in enumerate(pairs):
        env["GIT_CONFIG_KEY_%d" % index] = key
        env["GIT_CONFIG_VALUE_%d" % index] = value
    env.update(GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.org",
               GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.org")
    return env


class PagesPublish:
    name = "pages_publish"

    def __init__(self, server, repo, site, work):
        self.url, self.token, self.site = server.git_url("bench", repo), server.token, site
        self.cache = os.path.join(work, "cache")
        self.args = os.path.join(work, "args.json")

    def publish(self):
        args = {"src": self.site, "repo": self.url, "branch": "gh-pages", "token": self.token,
                "cache_dir": self.cache, "commit_message": "bench"}
        with open(self.args, "w") as handle:
            json.dump({"ANSIBLE_MODULE_ARGS": args}, handle)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(ROOT, ".collections"), ROOT]))
        return measure([sys.executable, "-m", "ansible_collections.textbook.deploy.plugins.modules.pages_publish",
                        self.args], env=env)


class GhpImport:
    name = "ghp-import"

    def __init__(self, server, repo, site, work):
        self.site, self.repo_dir = site, os.path.join(work, "repo")
        self.env = git_env(server.token)
        subprocess.run(["git", "init", "-q", self.repo_dir], check=True)
        subprocess.run(["git", "-C", self.repo_dir, "remote", "add", "origin", server.git_url("bench", repo)],
                       check=True)
        self.fetched = False

    def publish(self):
        ghp = os.path.join(os.path.dirname(sys.executable), "ghp-import")
        cmds = [[ghp, "--no-jekyll", "--push", "--branch", "gh-pages", "--message", "bench", self.site]]
        if not self.fetched:
            # ghp-import commits on a local gh-pages branch, which a fresh checkout (a CI runner) does not have:
            # without it the push is rejected as non-fast-forward. Its first publish fetches it, as a user must.
            cmds.insert(0, ["git", "fetch", "-q", "--depth=1", "origin", "gh-pages:gh-pages"])
            self.fetched = True
        return measure(*cmds, env=self.env, cwd=self.repo_dir)


class DocusaurusDeploy:
    name = "docusaurus deploy --skip-build"

    def __init__(self, server, repo, site, work):
        host, port = server.git_url("bench", repo).split("/")[2].split(":")
        # Docusaurus always pushes over https://; point that at the stand-in's http:// server.
        self.env = git_env(server.token, [("url.http://.insteadOf", "https://")])
        self.env.update(GIT_USER="x-access-token", GIT_PASS=server.token, DEPLOYMENT_BRANCH="gh-pages",
                        GITHUB_HOST=host, GITHUB_PORT=port, ORGANIZATION_NAME="bench", PROJECT_NAME=repo,
                        CURRENT_BRANCH="main", USE_SSH="false", CUSTOM_COMMIT_MESSAGE="bench")
        # `docusaurus deploy` runs inside the site's own git checkout: a copy of the textbook project.
        self.project = os.path.join(work, "project")
        os.makedirs(self.project)
        for name in ("docusaurus.config.js", "package.json", "sidebars.js", "docs", "src", "static"):
            source = os.path.join(TEXTBOOK, name)
            if os.path.isdir(source):
                shutil.copytree(source, os.path.join(self.project, name))
            elif os.path.exists(source):
                shutil.copy(source, self.project)
        os.symlink(os.path.join(TEXTBOOK, "node_modules"), os.path.join(self.project, "node_modules"))
        for cmd in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "source"],
                    ["remote", "add", "origin", "https://%s:%s/bench/source.git" % (host, port)]):
            subprocess.run(["git", "-C", self.project, *cmd], check=True, env=self.env)
        self.site = site

    def publish(self):
        cli = os.path.join(TEXTBOOK, "node_modules", ".bin", "docusaurus")
        return measure([cli, "deploy", "--skip-build", "--out-dir", self.site], env=self.env, cwd=self.project)


def seed_default_branch(server, repo, work):
    """A repository as on GitHub, with a commit on main and on gh-pages: `docusaurus deploy` 3.10 fails on a
    repository without the deployment branch (its fallback clone of the default branch throws)."""
    url = server.create_repo("bench", repo)
    source = os.path.join(work, "seed")
    env = git_env(server.token)
    subprocess.run(["git", "init", "-q", "-b", "main", source], check=True)
    with open(os.path.join(source, "README.md"), "w") as handle:
        handle.write("# %s\n" % repo)
    for cmd in (["add", "-A"], ["commit", "-qm", "Initial commit"], ["push", "-q", url, "main", "main:gh-pages"]):
        subprocess.run(["git", "-C", source, *cmd], check=True, env=env)


def remote_head(server, repo):
    out = subprocess.run(["git", "ls-remote", server.git_url("bench", repo), "refs/heads/gh-pages"],
                         env=git_env(server.token), capture_output=True, text=True, check=True).stdout
    return out.split()[0]


def run_sequence(server, repo, tool_class, make_site, touch_one, work):
    """The three cases, in order, for one tool on a fresh repository."""
    tool_work = tempfile.mkdtemp(dir=work)
    site = os.path.join(tool_work, "site")
    make_site(site)
    seed_default_branch(server, repo, tool_work)
    tool = tool_class(server, repo, site, tool_work)
    results = []
    for step in (None, touch_one, None):
        if step:
            step(site)
        before = remote_head(server, repo)
        result = tool.publish()
        result["committed"] = remote_head(server, repo) != before
        results.append(result)
    shutil.rmtree(tool_work, ignore_errors=True)
    return tool.name, results


def run_dataset(server, label, make_site, touch_one, tools, work, repeat):
    """Per tool and case: the median time and the largest peak memory of ``repeat`` runs (tools interleaved, so
    a slow moment of the machine does not fall on one tool only)."""
    runs = {}
    for round_number in range(repeat):
        for tool_class in tools:
            repo = "%s-%s-%d" % (label, tool_class.__name__.lower(), round_number)
            name, results = run_sequence(server, repo, tool_class, make_site, touch_one, work)
            runs.setdefault(name, []).append(results)
    rows = []
    for name, sequences in runs.items():
        cases = []
        for case in zip(*sequences):
            cases.append({"seconds": statistics.median(r["seconds"] for r in case),
                          "peak_mib": max(r["peak_mib"] for r in case),
                          "committed": any(r["committed"] for r in case)})
        rows.append((name, *cases))
    return rows


def table(label, rows, repeat):
    head = "%s%s" % (label, ", median of %d runs" % repeat if repeat > 1 else "")
    lines = ["| %s | %s |" % (head, " | ".join(CASES)), "|---|---|---|---|"]
    for name, *results in rows:
        lines.append("| %s | %s |" % (name, " | ".join(
            "%.2f s, %.0f MiB%s" % (r["seconds"], r["peak_mib"], "" if r["committed"] else ", no commit")
            for r in results)))
    return "\n".join(lines)


def main():
    from sandbox.github import GitHubStandIn

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=10000)
    parser.add_argument("--megabytes", type=int, default=150)
    parser.add_argument("--skip-generated", action="store_true")
    parser.add_argument("--repeat", type=int, default=5, help="runs of the examples/textbook set (default 5)")
    args = parser.parse_args()
    gen = os.path.join(ROOT, "benchmarks", "gen_site.py")
    textbook_build = os.path.join(TEXTBOOK, "build")
    if not os.path.isdir(textbook_build):
        subprocess.run(["npm", "run", "build"], cwd=TEXTBOOK, check=True, capture_output=True)

    def touch(site):
        subprocess.run([sys.executable, gen, site, "--touch-one"], check=True, capture_output=True)

    def touch_textbook(site):
        with open(os.path.join(site, "index.html"), "a") as handle:
            handle.write("<!-- changed -->\n")

    tools = (PagesPublish, GhpImport, DocusaurusDeploy)
    work = tempfile.mkdtemp(prefix="publish-bench-")
    server = GitHubStandIn(state_dir=os.path.join(work, "github"))
    server.start()
    try:
        reports = [table("examples/textbook", run_dataset(
            server, "textbook", lambda site: shutil.copytree(textbook_build, site), touch_textbook, tools, work,
            args.repeat), args.repeat)]
        if not args.skip_generated:
            def make(site):
                subprocess.run([sys.executable, gen, site, "--files", str(args.files),
                                "--megabytes", str(args.megabytes)], check=True)
            reports.append(table("generated %d files / %d MB" % (args.files, args.megabytes),
                                 run_dataset(server, "generated", make, touch, tools, work, 1), 1))
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    print("\n\n".join(reports))


if __name__ == "__main__":
    main()
