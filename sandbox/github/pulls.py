"""Pull requests of a repository and the comments on them (GitHub's issue comments): the state, GitHub's rules and
the JSON in the shapes of GitHub's description (pull-request, pull-request-simple, issue-comment).

pulls_api.py serves them over REST; pull requests are opened, closed, merged and reopened through the admin API
(POST/PATCH /_sandbox/pulls) or `GitHubStandIn.create_pull` / `update_pull`, as a person or `gh pr create` would.
Where a rule comes from:
- A pull request's head and base are branches of the repository's real git repository (refs/heads/<name>); they
  must differ, and GitHub refuses a second open pull request for the same head and base with 422 "A pull request
  already exists for owner:head." (its own message, as the REST API answers pulls/create). Numbers count from 1
  per repository (GitHub shares them with issues; the stand-in has no issues).
- head.sha follows the head branch while the pull request is open (a push moves it); once closed it stays.
- Merging marks the pull request closed and merged (merged_at, merge_commit_sha = the head commit); the base branch
  is not moved (the stand-in makes no merge commit). A merged pull request cannot be reopened (GitHub's web UI
  offers no reopen for it).
- Issue comments belong to an issue or pull request number of the repository (404 otherwise: issues/create-comment
  documents 404); ids are unique across the stand-in, as GitHub's are. A body is at most 65,536 characters:
  GitHub answers a longer one with 422 "Validation Failed" and the error
  {"resource": "IssueComment", "code": "unprocessable", "field": "data",
  "message": "Body is too long (maximum is 65536 characters)"} (quoted from the API's answer in
  jmikedupont2/ai-ticket issue #51 and vebr/jest-lcov-reporter issue #14; changesets/action caps its comments for
  the same limit). A blank body is refused with 422 too (GitHub refuses empty comments; the wording is ours).
- Comments are listed oldest first, 30 per page by default and at most 100 (per_page, page, Link header), with
  `since` (updated at or after); pull requests newest first (sort=created, direction=desc by default), filtered
  by state (open by default, closed, all), head (`owner:branch`) and base.
"""
import itertools
import time
from dataclasses import dataclass, field
from typing import Optional

from . import git
from .objects import node_id, repo_json, user_json
from .pages import iso

COMMENT_MAX = 65536
TOO_LONG = "Body is too long (maximum is 65536 characters)"
_ids = itertools.count(2000001)  # pull request and comment ids, unique across the stand-in


@dataclass
class PullRequest:
    number: int
    title: str
    head: str
    base: str
    head_sha: str
    base_sha: str
    user: str
    body: Optional[str] = None
    state: str = "open"
    merged_at: Optional[float] = None
    closed_at: Optional[float] = None
    merge_commit_sha: Optional[str] = None
    id: int = field(default_factory=lambda: next(_ids))
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)


@dataclass
class Comment:
    number: int  # of the issue or pull request it is on
    body: str
    user: str
    id: int = field(default_factory=lambda: next(_ids))
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)


@dataclass
class RepoIssues:
    """The pull requests ({number: PullRequest}) and issue comments ({id: Comment}) of one repository."""
    pulls: dict = field(default_factory=dict)
    comments: dict = field(default_factory=dict)

    def open_pull(self, git_dir, owner, head, base, user, title=None, body=None):
        """A new pull request, or raise ValueError with GitHub's reason."""
        refs = git.heads(git_dir)
        for name, what in ((head, "head"), (base, "base")):
            if not name or "refs/heads/%s" % name not in refs:
                raise ValueError("%s branch %r does not exist in the repository" % (what, name))
        if head == base:
            raise ValueError("head and base must be different branches")
        for pull in self.pulls.values():
            if pull.state == "open" and (pull.head, pull.base) == (head, base):
                raise ValueError("A pull request already exists for %s:%s." % (owner, head))
        number = max(self.pulls, default=0) + 1
        pull = PullRequest(number, title or head, head, base, refs["refs/heads/%s" % head],
                           refs["refs/heads/%s" % base], user, body)
        self.pulls[number] = pull
        return pull

    def change_pull(self, git_dir, number, action):
        """close, merge or reopen a pull request; raise KeyError (no such number) or ValueError (not allowed)."""
        pull = self.pulls[number]
        self.refresh(git_dir, pull)
        now = time.time()
        if action == "reopen":
            if pull.merged_at:
                raise ValueError("pull request #%d was merged and cannot be reopened" % number)
            pull.state, pull.closed_at = "open", None
        elif action in ("close", "merge"):
            if pull.state != "open":
                raise ValueError("pull request #%d is not open" % number)
            pull.state, pull.closed_at = "closed", now
            if action == "merge":
                pull.merged_at, pull.merge_commit_sha = now, pull.head_sha
        else:
            raise ValueError("action must be close, merge or reopen, got %r" % action)
        pull.updated = now
        return pull

    @staticmethod
    def refresh(git_dir, pull):
        """An open pull request's head and base follow their branches (a push moves them)."""
        if pull.state == "open":
            refs = git.heads(git_dir)
            pull.head_sha = refs.get("refs/heads/%s" % pull.head, pull.head_sha)
            pull.base_sha = refs.get("refs/heads/%s" % pull.base, pull.base_sha)


def body_problem(body):
    """None, or the errors[] entry of GitHub's 422 for a comment body it refuses."""
    if len(body) > COMMENT_MAX:
        return {"resource": "IssueComment", "code": "unprocessable", "field": "data", "message": TOO_LONG}
    if not body.strip():
        return {"resource": "IssueComment", "code": "missing_field", "field": "body", "message": "Body cannot be blank"}
    return None


# --- JSON ------------------------------------------------------------------------------------------------------

def _ref_json(app, repo, branch, sha):
    return {"label": "%s:%s" % (repo.owner, branch), "ref": branch, "sha": sha,
            "user": user_json(app, repo.owner), "repo": repo_json(app, repo)}


def pull_json(app, repo, pull, full=True):
    """A pull-request (GET .../pulls/{n}), or with full=False a pull-request-simple (the list)."""
    api = "%s/repos/%s" % (app.api_url, repo.full_name)
    html = "%s/%s/pull/%d" % (app.base_url, repo.full_name, pull.number)
    links = {"self": api + "/pulls/%d" % pull.number, "html": html, "issue": api + "/issues/%d" % pull.number,
             "comments": api + "/issues/%d/comments" % pull.number,
             "review_comments": api + "/pulls/%d/comments" % pull.number,
             "review_comment": api + "/pulls/comments{/number}", "commits": api + "/pulls/%d/commits" % pull.number,
             "statuses": api + "/statuses/%s" % pull.head_sha}
    data = {
        "url": links["self"], "id": pull.id, "node_id": node_id("PullRequest", pull.id), "html_url": html,
        "diff_url": html + ".diff", "patch_url": html + ".patch", "issue_url": links["issue"],
        "commits_url": links["commits"], "review_comments_url": links["review_comments"],
        "review_comment_url": links["review_comment"], "comments_url": links["comments"],
        "statuses_url": links["statuses"], "number": pull.number, "state": pull.state, "locked": False,
        "title": pull.title, "user": user_json(app, pull.user), "body": pull.body, "labels": [], "milestone": None,
        "active_lock_reason": None, "created_at": iso(pull.created), "updated_at": iso(pull.updated),
        "closed_at": iso(pull.closed_at) if pull.closed_at else None,
        "merged_at": iso(pull.merged_at) if pull.merged_at else None, "merge_commit_sha": pull.merge_commit_sha,
        "assignee": None, "assignees": [], "requested_reviewers": [], "requested_teams": [],
        "head": _ref_json(app, repo, pull.head, pull.head_sha), "base": _ref_json(app, repo, pull.base, pull.base_sha),
        "_links": {name: {"href": href} for name, href in links.items()}, "author_association": "OWNER",
        "auto_merge": None, "draft": False,
    }
    if full:
        merged = pull.merged_at is not None
        data.update({
            "merged": merged, "mergeable": None if pull.state == "closed" else True, "rebaseable": None,
            "mergeable_state": "unknown" if pull.state == "closed" else "clean",
            "merged_by": user_json(app, pull.user) if merged else None,
            "comments": sum(1 for c in repo.issues.comments.values() if c.number == pull.number),
            "review_comments": 0, "maintainer_can_modify": False, "commits": 0, "additions": 0, "deletions": 0,
            "changed_files": 0,
        })
    return data


def comment_json(app, repo, comment):
    """An issue-comment."""
    api = "%s/repos/%s" % (app.api_url, repo.full_name)
    return {
        "id": comment.id, "node_id": node_id("IssueComment", comment.id),
        "url": "%s/issues/comments/%d" % (api, comment.id),
        "html_url": "%s/%s/pull/%d#issuecomment-%d" % (app.base_url, repo.full_name, comment.number, comment.id),
        "body": comment.body, "user": user_json(app, comment.user), "created_at": iso(comment.created),
        "updated_at": iso(comment.updated), "issue_url": "%s/issues/%d" % (api, comment.number),
        "author_association": "OWNER",
    }
