"""Bare repositories on disk, read with git's plumbing, and git's smart HTTP served by `git http-backend`."""
import os
import re
import subprocess
import threading

from .web import CHUNK

# git must not pick up the user's or the system's configuration (hooks, credential helpers, signing ...).
BASE_ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null", "HOME": "/nonexistent", "LANG": "C"}
COMMITTER = {"GIT_AUTHOR_NAME": "sandbox", "GIT_AUTHOR_EMAIL": "sandbox@example.invalid",
             "GIT_COMMITTER_NAME": "sandbox", "GIT_COMMITTER_EMAIL": "sandbox@example.invalid"}


def git(git_dir, *args, input=None, env=None):
    """Run a git command on a bare repository and return its stdout as text (raises on failure)."""
    proc = subprocess.run(["git", "--git-dir", git_dir, *args], input=input, capture_output=True,
                          env=dict(BASE_ENV, **(env or {})), text=True, check=False)
    if proc.returncode:
        raise RuntimeError("git %s failed: %s" % (" ".join(args), proc.stderr.strip()))
    return proc.stdout


def init_bare(git_dir, default_branch):
    subprocess.run(["git", "init", "--quiet", "--bare", "--initial-branch", default_branch, git_dir],
                   check=True, env=BASE_ENV)
    # GitHub lets clients fetch any reachable commit by its SHA, and takes pushes over HTTP.
    git(git_dir, "config", "uploadpack.allowReachableSHA1InWant", "true")
    git(git_dir, "config", "http.receivepack", "true")


def heads(git_dir):
    """{"refs/heads/<branch>": sha} for every branch."""
    out = git(git_dir, "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads")
    return dict(line.split(" ", 1) for line in out.splitlines())


def race_commit(git_dir):
    """Put one empty commit on top of every branch, as if someone else had just pushed."""
    for ref, old in heads(git_dir).items():
        new = git(git_dir, "commit-tree", old + "^{tree}", "-p", old, "-m", "Concurrent push (sandbox push_race)",
                  env=COMMITTER).strip()
        git(git_dir, "update-ref", ref, new, old)


def lookup(git_dir, specs):
    """Resolve `<commit>:<path>` specs in one call: a list of (type, sha, size), or None where missing."""
    if not specs:
        return []
    out = git(git_dir, "cat-file", "--batch-check=%(objecttype) %(objectname) %(objectsize)",
              input="".join(spec + "\n" for spec in specs))
    found = []
    for line in out.splitlines():
        parts = line.split(" ")
        ok = len(parts) == 3 and re.fullmatch(r"[0-9a-f]{40}", parts[1]) and parts[2].isdigit()
        found.append((parts[0], parts[1], int(parts[2])) if ok else None)
    return found


def read_blob(git_dir, sha):
    return subprocess.run(["git", "--git-dir", git_dir, "cat-file", "blob", sha], capture_output=True,
                          env=BASE_ENV, check=True).stdout


def stream_blob(git_dir, sha):
    """Yield a blob's content in chunks (site assets can be large)."""
    proc = subprocess.Popen(["git", "--git-dir", git_dir, "cat-file", "blob", sha], stdout=subprocess.PIPE,
                            env=BASE_ENV)
    try:
        while True:
            data = proc.stdout.read1(CHUNK)
            if not data:
                break
            yield data
    finally:
        proc.stdout.close()
        proc.wait()


class HttpBackend:
    """One request to `git http-backend` (CGI): body streamed in on a thread, response streamed out."""

    def __init__(self, project_root, path_info, handler, remote_user, stderr):
        query = handler.path.partition("?")[2]
        env = dict(BASE_ENV, GIT_PROJECT_ROOT=project_root, GIT_HTTP_EXPORT_ALL="1", PATH_INFO=path_info,
                   QUERY_STRING=query, REQUEST_METHOD=handler.command, REMOTE_USER=remote_user,
                   REMOTE_ADDR=handler.client_address[0], SERVER_PROTOCOL="HTTP/1.1",
                   CONTENT_TYPE=handler.headers.get("Content-Type", ""))
        optional = {"CONTENT_LENGTH": handler.headers.get("Content-Length"),  # absent when chunked: read to EOF
                    "HTTP_CONTENT_ENCODING": handler.headers.get("Content-Encoding"),  # git gzips some bodies
                    "GIT_PROTOCOL": handler.headers.get("Git-Protocol")}
        env.update({key: value for key, value in optional.items() if value})
        self.proc = subprocess.Popen(["git", "http-backend"], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=stderr)
        self.feeder = threading.Thread(target=self._feed, args=(handler.body_chunks(),), daemon=True)
        self.feeder.start()

    def _feed(self, chunks):
        # A separate thread: http-backend may start answering before it has read the whole body.
        try:
            for chunk in chunks:
                self.proc.stdin.write(chunk)
        except (OSError, ValueError):
            pass  # the backend or the client gave up; the response side reports it
        finally:
            try:
                self.proc.stdin.close()
            except OSError:
                pass

    def response(self):
        """(status, [(header, value)]) parsed from the CGI output; then iterate body() for the rest."""
        status, headers = 200, []
        for raw in iter(self.proc.stdout.readline, b""):
            line = raw.decode("latin-1").rstrip("\r\n")
            if not line:
                break
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            else:
                headers.append((name, value.strip()))
        return status, headers

    def body(self):
        try:
            while True:
                data = self.proc.stdout.read1(CHUNK)
                if not data:
                    break
                yield data
        finally:
            self.close()

    def close(self):
        self.proc.stdout.close()
        self.feeder.join(timeout=5)
        self.proc.wait()
