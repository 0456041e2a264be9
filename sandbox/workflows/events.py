"""The event that starts a run: its payload as GitHub sends it (what `github.event` and $GITHUB_EVENT_PATH hold)
and the `github` context around it."""
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional

ZERO_SHA = "0" * 40
ACTOR = "sandbox-user"  # the stand-in's one user


@dataclass
class Event:
    name: str  # push, pull_request or workflow_dispatch
    ref: str  # the full ref GITHUB_REF names
    sha: str  # the commit the run checks out
    payload: dict
    changed: List[str] = field(default_factory=list)  # the files a paths filter looks at
    action: Optional[str] = None  # a pull request's activity
    head_ref: str = ""
    base_ref: str = ""
    inputs: Dict[str, object] = field(default_factory=dict)


def ref_name(ref):
    for prefix in ("refs/heads/", "refs/tags/", "refs/pull/"):
        if ref.startswith(prefix):
            return ref[len(prefix):]
    return ref


def push_event(mirror, repository, ref, sha):
    """A push of `ref` to `sha`, from its first parent (a commit without one pushes its whole tree)."""
    before = mirror.parent(sha)
    head = mirror.commit(sha)
    payload = {"ref": ref, "before": before, "after": sha, "created": before == ZERO_SHA, "deleted": False,
               "forced": False, "base_ref": None, "compare": "%s/compare/%s...%s" % (repository["html_url"],
                                                                                       before[:12], sha[:12]),
               "commits": [head], "head_commit": head, "pusher": {"name": ACTOR, "email": None},
               "repository": repository, "sender": repository["owner"]}
    return Event("push", ref, sha, payload, mirror.changed(before, sha))


def pull_request_event(mirror, repository, action, number, head, base):
    """Pull request `number` from branch head=(ref, sha) into base=(ref, sha): GITHUB_REF is refs/pull/N/merge;
    the changed files are those of the three-dot diff, as on the pull request's Files tab."""
    (head_ref, head_sha), (base_ref, base_sha) = head, base
    owner = repository["owner"]
    side = {name: {"label": "%s:%s" % (owner["login"], ref_name(ref)), "ref": ref_name(ref), "sha": sha,
                   "repo": repository, "user": owner}
            for name, (ref, sha) in (("head", head), ("base", base))}
    closed = action == "closed"
    pull = {"url": "%s/pulls/%d" % (repository["url"], number), "number": number, "id": number,
            "html_url": "%s/pull/%d" % (repository["html_url"], number), "state": "closed" if closed else "open",
            "locked": False, "draft": False, "merged": False, "title": "Pull request #%d" % number,
            "user": owner, "head": side["head"], "base": side["base"],
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    payload = {"action": action, "number": number, "pull_request": pull, "repository": repository,
               "sender": owner}
    changed = mirror.changed(mirror.merge_base(base_sha, head_sha), head_sha)
    return Event("pull_request", "refs/pull/%d/merge" % number, head_sha, payload, changed, action,
                 ref_name(head_ref), ref_name(base_ref))


def dispatch_event(repository, ref, sha, inputs, workflow_path):
    """workflow_dispatch on `ref`: github.event.inputs holds the inputs as text (booleans 'true'/'false')."""
    as_text = {name: str(value).lower() if isinstance(value, bool) else str(value) for name, value in inputs.items()}
    payload = {"inputs": as_text, "ref": ref, "repository": repository, "sender": repository["owner"],
               "workflow": workflow_path}
    return Event("workflow_dispatch", ref, sha, payload, inputs=inputs)


def github_context(event, repository, run, standin):
    """The `github` context of the run (per job, `job`, `workspace` and `action` are set on a copy)."""
    ref = event.ref
    return {
        "event_name": event.name, "event": event.payload, "ref": ref, "ref_name": ref_name(ref),
        "ref_type": "tag" if ref.startswith("refs/tags/") else "branch", "ref_protected": False, "sha": event.sha,
        "head_ref": event.head_ref, "base_ref": event.base_ref, "repository": repository["full_name"],
        "repository_id": str(repository["id"]), "repository_owner": repository["owner"]["login"],
        "repository_owner_id": str(repository["owner"]["id"]), "actor": ACTOR,
        "actor_id": str(repository["owner"]["id"]), "triggering_actor": ACTOR, "run_id": str(run.id),
        "run_number": "1", "run_attempt": "1", "retention_days": "90", "workflow": run.name,
        "workflow_ref": "%s/%s@%s" % (repository["full_name"], run.workflow_path, ref),
        "server_url": standin.base_url, "api_url": standin.api_url, "graphql_url": standin.api_url + "/graphql",
        "token": standin.token, "event_path": str(run.event_path), "secret_source": "Actions", "job": "",
        "workspace": "", "action": "",
    }
