"""The JSON objects of the REST API (repository, Page, Page build), in the shapes GitHub's description requires."""
import base64
import time

from .pages import iso

USER_ID = 1


def user_json(app, login):
    url = "%s/users/%s" % (app.api_url, login)
    return {
        "login": login, "id": USER_ID, "node_id": base64.b64encode(b"04:User%d" % USER_ID).decode(),
        "avatar_url": "%s/avatars/%s" % (app.base_url, login), "gravatar_id": "", "url": url,
        "html_url": "%s/%s" % (app.base_url, login), "followers_url": url + "/followers",
        "following_url": url + "/following{/other_user}", "gists_url": url + "/gists{/gist_id}",
        "starred_url": url + "/starred{/owner}{/repo}", "subscriptions_url": url + "/subscriptions",
        "organizations_url": url + "/orgs", "repos_url": url + "/repos", "events_url": url + "/events{/privacy}",
        "received_events_url": url + "/received_events", "type": "User", "site_admin": False,
    }


# The repository's templated URLs, as GitHub lists them (path below /repos/{owner}/{repo}).
REPO_LINKS = {
    "archive_url": "/{archive_format}{/ref}", "assignees_url": "/assignees{/user}", "blobs_url": "/git/blobs{/sha}",
    "branches_url": "/branches{/branch}", "collaborators_url": "/collaborators{/collaborator}",
    "comments_url": "/comments{/number}", "commits_url": "/commits{/sha}", "compare_url": "/compare/{base}...{head}",
    "contents_url": "/contents/{+path}", "contributors_url": "/contributors", "deployments_url": "/deployments",
    "downloads_url": "/downloads", "events_url": "/events", "forks_url": "/forks",
    "git_commits_url": "/git/commits{/sha}", "git_refs_url": "/git/refs{/sha}", "git_tags_url": "/git/tags{/sha}",
    "hooks_url": "/hooks", "issue_comment_url": "/issues/comments{/number}",
    "issue_events_url": "/issues/events{/number}", "issues_url": "/issues{/number}", "keys_url": "/keys{/key_id}",
    "labels_url": "/labels{/name}", "languages_url": "/languages", "merges_url": "/merges",
    "milestones_url": "/milestones{/number}", "notifications_url": "/notifications{?since,all,participating}",
    "pulls_url": "/pulls{/number}", "releases_url": "/releases{/id}", "stargazers_url": "/stargazers",
    "statuses_url": "/statuses/{sha}", "subscribers_url": "/subscribers", "subscription_url": "/subscription",
    "tags_url": "/tags", "teams_url": "/teams", "trees_url": "/git/trees{/sha}",
}


def repo_json(app, repo):
    api = "%s/repos/%s" % (app.api_url, repo.full_name)
    html = "%s/%s" % (app.base_url, repo.full_name)
    data = {name: api + suffix for name, suffix in REPO_LINKS.items()}
    data.update({
        "id": repo.id, "node_id": base64.b64encode(b"010:Repository%d" % repo.id).decode(), "name": repo.name,
        "full_name": repo.full_name, "owner": user_json(app, repo.owner), "private": True, "html_url": html,
        "description": None, "fork": False, "url": api, "git_url": "git://%s/%s.git" % (app.host, repo.full_name),
        "ssh_url": "git@%s:%s.git" % (app.host, repo.full_name), "clone_url": app.git_url(repo.owner, repo.name),
        "svn_url": html, "mirror_url": None, "homepage": None, "language": None, "size": 0,
        "default_branch": repo.default_branch, "visibility": "private", "archived": False, "disabled": False,
        "has_issues": True, "has_projects": True, "has_wiki": True, "has_discussions": False,
        "has_pages": repo.pages is not None, "has_downloads": True, "is_template": False, "license": None,
        "forks": 0, "forks_count": 0, "stargazers_count": 0, "watchers": 0, "watchers_count": 0, "open_issues": 0,
        "open_issues_count": 0, "network_count": 0, "subscribers_count": 0, "topics": [],
        "pushed_at": iso(repo.pushed_at), "created_at": iso(repo.created_at), "updated_at": iso(repo.pushed_at),
        "permissions": {"admin": True, "maintain": True, "push": True, "triage": True, "pull": True},
    })
    return data


def page_json(app, repo):
    pages = repo.pages
    live = pages.live(time.time())
    data = {
        "url": "%s/repos/%s/pages" % (app.api_url, repo.full_name), "status": pages.status(time.time()),
        "cname": pages.cname, "custom_404": bool(live and live.custom_404), "html_url": app.site_url(repo),
        "build_type": pages.build_type, "public": True, "protected_domain_state": None,
        "pending_domain_unverified_at": None, "https_enforced": pages.https_enforced,
    }
    if pages.branch:
        data["source"] = {"branch": pages.branch, "path": pages.path}
    return data


def build_json(app, repo, build):
    now = time.time()
    return {
        "url": "%s/repos/%s/pages/builds/%d" % (app.api_url, repo.full_name, build.id),
        "status": build.status(now), "error": {"message": build.error if build.status(now) == "errored" else None},
        "pusher": user_json(app, build.pusher), "commit": build.commit, "duration": build.duration_ms(now),
        "created_at": iso(build.created), "updated_at": iso(build.updated(now)),
    }
