"""The JSON objects of the REST API (repository, Page, Page build, user, team, Actions secret and variable,
environment, deployment branch policy), in the shapes GitHub's description requires."""
import base64
import time
from urllib.parse import quote

from .pages import iso

USER_ID = 1


def node_id(kind, number):
    return base64.b64encode(b"%d:%s%d" % (len(kind), kind.encode(), number)).decode()


def user_json(app, login, user_id=USER_ID):
    """A simple-user."""
    url = "%s/users/%s" % (app.api_url, login)
    return {
        "login": login, "id": user_id, "node_id": base64.b64encode(b"04:User%d" % user_id).decode(),
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


# --- users and teams (accounts.py) -----------------------------------------------------------------------------

def public_user_json(app, user):
    """GET /users/{username}: a public-user (closed schema: only its properties)."""
    data = user_json(app, user.login, user.id)
    data.update({
        "user_view_type": "public", "name": user.name, "company": None, "blog": "", "location": None,
        "email": None, "hireable": None, "bio": None, "twitter_username": None, "public_repos": 0,
        "public_gists": 0, "followers": 0, "following": 0, "created_at": iso(user.created),
        "updated_at": iso(user.created),
    })
    return data


def team_json(app, team):
    """A team, as environment reviewers show it."""
    url = "%s/organizations/%d/team/%d" % (app.api_url, team.org_id, team.id)
    return {
        "id": team.id, "node_id": node_id("Team", team.id), "url": url,
        "html_url": "%s/orgs/%s/teams/%s" % (app.base_url, team.org, team.slug), "name": team.name,
        "slug": team.slug, "description": None, "privacy": "closed", "notification_setting": "notifications_enabled",
        "permission": "pull", "members_url": url + "/members{/member}", "repositories_url": url + "/repos",
        "parent": None, "type": "organization", "organization_id": team.org_id,
    }


def team_full_json(app, team):
    """GET /orgs/{org}/teams/{team_slug}: a team-full with its organization."""
    org_url = "%s/orgs/%s" % (app.api_url, team.org)
    data = team_json(app, team)
    data.update({
        "members_count": 0, "repos_count": 0, "created_at": iso(team.created),
        "updated_at": iso(team.created),
        "organization": {
            "login": team.org, "id": team.org_id, "node_id": node_id("Organization", team.org_id), "url": org_url,
            "repos_url": org_url + "/repos", "events_url": org_url + "/events", "hooks_url": org_url + "/hooks",
            "issues_url": org_url + "/issues", "members_url": org_url + "/members{/member}",
            "public_members_url": org_url + "/public_members{/member}",
            "avatar_url": "%s/avatars/%s" % (app.base_url, team.org), "description": None,
            "html_url": "%s/%s" % (app.base_url, team.org), "has_organization_projects": True,
            "has_repository_projects": True, "public_repos": 0, "public_gists": 0, "followers": 0, "following": 0,
            "type": "Organization", "created_at": iso(team.created), "updated_at": iso(team.created),
            "archived_at": None,
        },
    })
    return data


# --- Actions settings (actions.py) ------------------------------------------------------------------------------

def secret_json(secret):
    """An actions-secret: never its value."""
    return {"name": secret.name, "created_at": iso(secret.created), "updated_at": iso(secret.updated)}


def variable_json(variable):
    return {"name": variable.name, "value": variable.value, "created_at": iso(variable.created),
            "updated_at": iso(variable.updated)}


def public_key_json(keys):
    return {"key_id": keys.key_id, "key": keys.public_key}


def branch_policy_json(policy):
    return {"id": policy.id, "node_id": node_id("DeploymentBranchPolicy", policy.id), "name": policy.name,
            "type": policy.type}


def _reviewer_json(app, kind, reviewer_id):
    if kind == "User":
        user = app.user_by_id(reviewer_id)
        return {"type": "User", "reviewer": user_json(app, user.login, user.id)}
    return {"type": "Team", "reviewer": team_json(app, app.team_by_id(reviewer_id))}


def environment_json(app, repo, env):
    rules = []
    if env.wait_timer:
        rules.append({"id": env.rule_ids["wait_timer"], "node_id": node_id("Gate", env.rule_ids["wait_timer"]),
                      "type": "wait_timer", "wait_timer": env.wait_timer})
    if env.reviewers:
        rule_id = env.rule_ids["required_reviewers"]
        rules.append({"id": rule_id, "node_id": node_id("Gate", rule_id), "type": "required_reviewers",
                      "prevent_self_review": env.prevent_self_review,
                      "reviewers": [_reviewer_json(app, kind, rid) for kind, rid in env.reviewers]})
    if env.branch_policy:
        rule_id = env.rule_ids["branch_policy"]
        rules.append({"id": rule_id, "node_id": node_id("Gate", rule_id), "type": "branch_policy"})
    return {
        "id": env.id, "node_id": node_id("Environment", env.id), "name": env.name,
        "url": "%s/repos/%s/environments/%s" % (app.api_url, repo.full_name, quote(env.name, safe="")),
        "html_url": "%s/%s/deployments/activity_log?environments_filter=%s" % (
            app.base_url, repo.full_name, quote(env.name, safe="")),
        "created_at": iso(env.created), "updated_at": iso(env.updated), "protection_rules": rules,
        "deployment_branch_policy": dict(env.branch_policy) if env.branch_policy else None,
    }
