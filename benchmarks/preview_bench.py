"""Pull-request preview benchmark: playbooks/preview.yml with the real textbook (examples/textbook, Docusaurus)
against the GitHub, Neon and Qdrant stand-ins (started here, on loopback), as a preview workflow runs it.

Steps, on one repository whose main site is published first (deploy_frontend.yml, not timed as a preview):
1. the preview of a pull request made (a cold preview build directory: Docusaurus builds the site for
   <base>pr-preview/pr-<N>/; the Neon branch with its expiry and the migrations; the index; the comment);
2. the same run again (what a re-run of the workflow without a new commit costs);
3. a second pull request's preview (the build directory is warm from step 1, another base URL: a full build);
4. both removed (preview_state=absent).
For each: wall time of ansible-playbook, the controller's peak memory (sum of RSS of the process tree), the tasks
changed, and the three costliest tasks.

    .venv/bin/python benchmarks/preview_bench.py
"""
import base64
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[1] / ".collections")]

from playbook_run import ROOT, Run, mib  # noqa: E402 (this directory is on sys.path when run as a script)

INVENTORY = ROOT / "inventories" / "local"
TEXTBOOK = ROOT / "examples" / "textbook"


def open_pull_request(github, repo, work, branch):
    """A branch with one commit on top of main, pushed to the stand-in, and a pull request of it."""
    checkout = Path(work) / ("checkout-" + branch)
    auth = "http.extraHeader=Authorization: Basic " + base64.b64encode(
        ("x-access-token:" + github.token).encode()).decode()
    env = dict(os.environ, GIT_AUTHOR_NAME="dev", GIT_AUTHOR_EMAIL="dev@example.invalid", GIT_COMMITTER_NAME="dev",
               GIT_COMMITTER_EMAIL="dev@example.invalid")
    remote = github.git_url("textbook", repo)
    commands = [["init", "-q", "-b", "main"], ["commit", "-q", "--allow-empty", "-m", "start"],
                ["checkout", "-q", "-b", branch], ["commit", "-q", "--allow-empty", "-m", "a change"],
                ["-c", auth, "push", "-q", "-f", remote, "main", branch]]
    checkout.mkdir()
    for command in commands:
        subprocess.run(["git", "-C", str(checkout)] + command, check=True, env=env, capture_output=True)
    return github.create_pull("textbook", repo, branch, "main", title=branch)


def timed(label, playbook, extra):
    run = Run(label, ROOT / "playbooks" / playbook, INVENTORY, extra)
    run.run()
    if run.rc != 0:
        raise SystemExit("%s failed:\n%s" % (label, run.output[-4000:]))
    changed = sum(host["changed"] for host in run.recap().values())
    slowest = "; ".join("%s %.1f s" % (name, seconds) for name, seconds in run.slowest(3))
    return "| %s | %.1f s | %d | %.0f MiB | %s |" % (label, run.seconds, changed, mib(run.peak_rss), slowest)


def main():
    from sandbox.github import GitHubStandIn
    from sandbox.neon import NeonStandIn
    from sandbox.qdrant import QdrantStandIn

    work = tempfile.mkdtemp(prefix="preview-bench-")
    github = GitHubStandIn(os.path.join(work, "github"))
    neon, qdrant = NeonStandIn(os.path.join(work, "neon")), QdrantStandIn(os.path.join(work, "qdrant"))
    for service in (github, neon, qdrant):
        service.start()
    try:
        repo = "book"
        github.create_repo("textbook", repo)
        site = {
            "frontend_repo": "textbook/" + repo, "frontend_git_url": github.git_url("textbook", repo),
            "frontend_github_api_url": github.api_url, "frontend_github_token": github.token,
            "frontend_site_url": github.pages_base.rstrip("/"), "frontend_base_url": "/textbook/%s/" % repo,
            "frontend_build_dir": os.path.join(work, "build"),
            "frontend_preview_build_dir": os.path.join(work, "build-preview"),
            "frontend_chat_api_url": "https://api.example.invalid", "frontend_journey_check": False,
            "data_neon_api_url": neon.api_url, "data_neon_api_key": neon.api_key, "data_neon_project": "bench",
            "data_qdrant_url": qdrant.url, "data_qdrant_api_key": qdrant.api_key,
        }
        timed("main site published (not a preview)", "deploy_frontend.yml", site)
        first, second = (open_pull_request(github, repo, work, name) for name in ("change-1", "change-2"))
        rows = [
            timed("preview up, pull request %d (cold build directory)" % first, "preview.yml",
                  dict(site, preview_number=first)),
            timed("preview again, nothing new", "preview.yml", dict(site, preview_number=first)),
            timed("preview up, pull request %d (another base URL)" % second, "preview.yml",
                  dict(site, preview_number=second)),
            timed("preview down, pull request %d" % first, "preview.yml",
                  dict(site, preview_number=first, preview_state="absent")),
            timed("preview down, pull request %d" % second, "preview.yml",
                  dict(site, preview_number=second, preview_state="absent")),
        ]
    finally:
        for service in (qdrant, neon, github):
            service.stop()
    print("| preview.yml (%s) | wall time | changed | controller peak RSS | costliest tasks |" % TEXTBOOK.name)
    print("|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
