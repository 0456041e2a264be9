"""REST endpoints for pull requests (read) and issue comments (read, create, update, delete).

The state and the rules, with their sources, are in pulls.py; RestApi (rest.py) authenticates, checks the scope and
the contract and dispatches here. Handlers return (status, data, headers). Statuses are the description's:
pulls/get 200 or 404; pulls/list 200; issues/list-comments 200 or 404; issues/create-comment 201, 404 (no such
issue or pull request) or 422; issues/get-comment 200 or 404; issues/update-comment 200 or 422 (and 404 for an
unknown id, as GitHub answers); issues/delete-comment 204 (404 for an unknown id).
"""
import calendar
import time

from sandbox.common.routes import Route

from .actions_api import paginate
from .errors import DOCS, error, not_found
from .objects import USER_ID
from .pulls import Comment, body_problem, comment_json, pull_json

PULLS_DOCS = DOCS + "/pulls/pulls"
COMMENTS_DOCS = DOCS + "/issues/comments"
REPO = "/repos/{owner}/{repo}"
ROUTES = [
    Route("GET", REPO + "/pulls", "list_pulls"),
    Route("GET", REPO + "/pulls/{pull_number}", "get_pull"),
    Route("GET", REPO + "/issues/{issue_number}/comments", "list_comments"),
    Route("POST", REPO + "/issues/{issue_number}/comments", "create_comment"),
    Route("GET", REPO + "/issues/comments/{comment_id}", "get_comment"),
    Route("PATCH", REPO + "/issues/comments/{comment_id}", "update_comment"),
    Route("DELETE", REPO + "/issues/comments/{comment_id}", "delete_comment"),
]
# All stand-in repositories are private: reading or writing their pull requests and comments needs scope `repo`
NEEDS_REPO_SCOPE = ("/pulls", "/issues/")


def _since(text):
    try:
        return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        return None


class PullsApi:
    def __init__(self, app):
        self.app = app

    def _pull(self, repo, number):
        pull = repo.issues.pulls.get(int(number))
        if pull is not None:
            repo.issues.refresh(repo.git_dir, pull)
        return pull

    def _comment(self, repo, comment_id):
        return repo.issues.comments.get(int(comment_id))

    @staticmethod
    def _invalid(problem, docs):
        return error(422, "Validation Failed", docs, errors=[problem])

    # --- pull requests -------------------------------------------------------------------------------------

    def list_pulls(self, repo, query, path, **_):
        state = query.get("state", "open")
        pulls = [p for p in repo.issues.pulls.values() if state == "all" or p.state == state]
        if query.get("head"):
            owner, _, branch = query["head"].partition(":")
            pulls = [p for p in pulls if owner.lower() == repo.owner.lower() and (not branch or p.head == branch)]
        if query.get("base"):
            pulls = [p for p in pulls if p.base == query["base"]]
        sort = query.get("sort", "created")
        direction = query.get("direction", "desc" if sort == "created" else "asc")
        key = (lambda p: (p.updated, p.number)) if sort == "updated" else (lambda p: (p.created, p.number))
        pulls.sort(key=key, reverse=direction == "desc")
        shown, headers = paginate(self.app.api_url + path, pulls, query, 30, 100)
        for pull in shown:
            repo.issues.refresh(repo.git_dir, pull)
        return 200, [pull_json(self.app, repo, p, full=False) for p in shown], headers

    def get_pull(self, repo, params, **_):
        pull = self._pull(repo, params["pull_number"])
        return (200, pull_json(self.app, repo, pull), []) if pull else not_found(PULLS_DOCS + "#get-a-pull-request")

    # --- issue comments ------------------------------------------------------------------------------------

    def list_comments(self, repo, params, query, path, **_):
        number = int(params["issue_number"])
        if number not in repo.issues.pulls:
            return not_found(COMMENTS_DOCS + "#list-issue-comments")
        comments = sorted((c for c in repo.issues.comments.values() if c.number == number), key=lambda c: c.id)
        if query.get("since"):
            since = _since(query["since"])
            if since is None:
                return error(422, "Validation Failed", COMMENTS_DOCS, errors=[{
                    "resource": "IssueComment", "code": "invalid", "field": "since",
                    "message": "since must be an ISO 8601 timestamp (YYYY-MM-DDTHH:MM:SSZ)"}])
            comments = [c for c in comments if int(c.updated) >= since]
        shown, headers = paginate(self.app.api_url + path, comments, query, 30, 100)
        return 200, [comment_json(self.app, repo, c) for c in shown], headers

    def create_comment(self, repo, params, data, **_):
        number = int(params["issue_number"])
        if number not in repo.issues.pulls:
            return not_found(COMMENTS_DOCS + "#create-an-issue-comment")
        problem = body_problem(data["body"])
        if problem:
            return self._invalid(problem, COMMENTS_DOCS + "#create-an-issue-comment")
        comment = Comment(number, data["body"], self.app.user_by_id(USER_ID).login)  # every token is that user
        repo.issues.comments[comment.id] = comment
        pull = repo.issues.pulls[number]
        pull.updated = comment.created  # a comment updates its issue, as on GitHub
        data = comment_json(self.app, repo, comment)
        return 201, data, [("Location", data["url"])]

    def get_comment(self, repo, params, **_):
        comment = self._comment(repo, params["comment_id"])
        if comment is None:
            return not_found(COMMENTS_DOCS + "#get-an-issue-comment")
        return 200, comment_json(self.app, repo, comment), []

    def update_comment(self, repo, params, data, **_):
        comment = self._comment(repo, params["comment_id"])
        if comment is None:
            return not_found(COMMENTS_DOCS + "#update-an-issue-comment")
        problem = body_problem(data["body"])
        if problem:
            return self._invalid(problem, COMMENTS_DOCS + "#update-an-issue-comment")
        if data["body"] != comment.body:
            comment.body, comment.updated = data["body"], time.time()
        return 200, comment_json(self.app, repo, comment), []

    def delete_comment(self, repo, params, **_):
        comment = self._comment(repo, params["comment_id"])
        if comment is None:
            return not_found(COMMENTS_DOCS + "#delete-an-issue-comment")
        del repo.issues.comments[comment.id]
        return 204, None, []
