"""The GitHub stand-in's Actions settings: repository and environment secrets (sealed boxes for real Curve25519
keys), variables, environments with reviewers, wait timer and deployment branch policies, the user/team look-ups,
token scopes, contract checks and the admin API additions.

Tests on the shared `github` fixture use their own repository and leave no violation behind (`clean`); tests that
provoke violations or add tokens use a private stand-in (`fresh`).
"""
import base64
import json
import os
import time
import uuid
from urllib.parse import quote

import pytest
from nacl.public import PrivateKey, PublicKey, SealedBox

from github_calls import raw_api as api, send

BAD_ENCRYPTION = "Bad request - validation failed due to an improperly encrypted secret"


# --- helpers ---------------------------------------------------------------------------------------------------

def admin(server, method, path, body=None):
    status, _, raw = send(method, server.admin_url + path, json.dumps(body).encode() if body is not None else None)
    return status, json.loads(raw) if raw else None


def new_repo(server):
    name = "a" + uuid.uuid4().hex[:8]
    server.create_repo("octo", name)
    return "/repos/octo/" + name


def seal(key, plaintext):
    """What a client sends: the plaintext in a libsodium sealed box for the level's public key, base64."""
    box = SealedBox(PublicKey(base64.b64decode(key["key"])))
    return base64.b64encode(box.encrypt(plaintext.encode() if isinstance(plaintext, str) else plaintext)).decode()


def put_secret(server, level_path, name, plaintext, key=None):
    key = key or api(server, "GET", level_path + "/secrets/public-key")[2]
    return api(server, "PUT", "%s/secrets/%s" % (level_path, name),
               {"encrypted_value": seal(key, plaintext), "key_id": key["key_id"]})


def arrived(server, repo_path, environment=None):
    """The decrypted secrets, as the admin API shows them: {NAME: value}."""
    query = "?repo=" + repo_path[len("/repos/"):] + ("&environment=" + quote(environment) if environment else "")
    status, body = admin(server, "GET", "/secrets" + query)
    assert status == 200, body
    return {name: entry["value"] for name, entry in body["secrets"].items()}


def put_environment(server, repo_path, name, body=None):
    status, _, env = api(server, "PUT", "%s/environments/%s" % (repo_path, quote(name, safe="")), body)
    assert status == 200, env
    return env


CUSTOM = {"protected_branches": False, "custom_branch_policies": True}


@pytest.fixture
def fresh(github_fresh):  # tests/fixtures_github.py
    return github_fresh


@pytest.fixture
def clean(github_clean):  # tests/fixtures_github.py
    return github_clean


# --- the contract subset ---------------------------------------------------------------------------------------

def test_every_route_is_in_the_recorded_subset():
    from sandbox.github import contract, extract_openapi, rest

    spec = contract.load_spec()
    assert spec["info"]["x-source"] == {"package": "@octokit/openapi", "version": "23.0.2",
                                        "file": "generated/api.github.com.json"}
    for route in rest.ROUTES:
        assert route.method.lower() in spec["paths"][route.template], (route.method, route.template)
        assert route.method.lower() in extract_openapi.OPERATIONS[route.template]
    # the current paths for environment secrets and variables (not /repositories/{repository_id}/environments/...)
    assert "/repos/{owner}/{repo}/environments/{environment_name}/secrets/{secret_name}" in spec["paths"]
    assert not any(path.startswith("/repositories/") for path in spec["paths"])


# --- repository secrets ----------------------------------------------------------------------------------------

def test_repository_secret_round_trip(clean):
    repo = new_repo(clean)
    status, _, key = api(clean, "GET", repo + "/actions/secrets/public-key")
    assert status == 200 and isinstance(key["key_id"], str) and len(base64.b64decode(key["key"])) == 32

    status, _, body = put_secret(clean, repo + "/actions", "deploy_token", "s3cr3t", key)
    assert (status, body) == (201, {})
    assert arrived(clean, repo) == {"DEPLOY_TOKEN": "s3cr3t"}  # stored upper-case, decrypted
    status, _, secret = api(clean, "GET", repo + "/actions/secrets/Deploy_Token")  # names are not case-sensitive
    assert status == 200 and set(secret) == {"name", "created_at", "updated_at"} and secret["name"] == "DEPLOY_TOKEN"
    assert secret["created_at"].endswith("Z") and secret["created_at"] == secret["updated_at"]

    time.sleep(1.1)  # timestamps have whole seconds
    status, _, body = put_secret(clean, repo + "/actions", "DEPLOY_TOKEN", "n3w", key)
    assert (status, body) == (204, None)
    assert arrived(clean, repo) == {"DEPLOY_TOKEN": "n3w"}
    updated = api(clean, "GET", repo + "/actions/secrets/DEPLOY_TOKEN")[2]
    assert updated["created_at"] == secret["created_at"] and updated["updated_at"] > secret["updated_at"]

    assert put_secret(clean, repo + "/actions", "OTHER", "x", key)[0] == 201
    status, _, listing = api(clean, "GET", repo + "/actions/secrets")
    assert status == 200 and listing["total_count"] == 2
    assert [s["name"] for s in listing["secrets"]] == ["DEPLOY_TOKEN", "OTHER"]
    assert all(set(s) == {"name", "created_at", "updated_at"} for s in listing["secrets"])
    assert "n3w" not in json.dumps(listing)

    assert api(clean, "DELETE", repo + "/actions/secrets/deploy_token")[:3:2] == (204, None)
    assert api(clean, "GET", repo + "/actions/secrets/DEPLOY_TOKEN")[0] == 404
    assert api(clean, "DELETE", repo + "/actions/secrets/DEPLOY_TOKEN")[0] == 404
    assert arrived(clean, repo) == {"OTHER": "x"}


def test_secret_encryption_is_checked(clean):
    repo = new_repo(clean)
    key = api(clean, "GET", repo + "/actions/secrets/public-key")[2]
    path = repo + "/actions/secrets/TOKEN"
    stranger = {"key": base64.b64encode(bytes(PrivateKey.generate().public_key)).decode(), "key_id": key["key_id"]}
    attempts = [
        {"encrypted_value": seal(key, "v"), "key_id": "1" + key["key_id"]},  # not the current key id
        {"encrypted_value": base64.b64encode(os.urandom(64)).decode(), "key_id": key["key_id"]},  # not a sealed box
        {"encrypted_value": base64.b64encode(b"v").decode(), "key_id": key["key_id"]},  # plain base64, too short
        {"encrypted_value": seal(stranger, "v"), "key_id": key["key_id"]},  # sealed for another key
    ]
    for body in attempts:
        status, _, data = api(clean, "PUT", path, body)
        assert status == 422 and data["message"] == BAD_ENCRYPTION and data["status"] == "422", data
    assert arrived(clean, repo) == {}
    assert api(clean, "GET", path)[0] == 404


@pytest.mark.parametrize("name, message", [
    ("1TOKEN", "can only contain alphanumeric characters"),
    ("MY-TOKEN", "can only contain alphanumeric characters"),
    ("MY%20TOKEN", "can only contain alphanumeric characters"),
    ("GITHUB_TOKEN", "Secret names must not start with GITHUB_."),
    ("github_token", "Secret names must not start with GITHUB_."),
])
def test_secret_names_github_rejects(clean, name, message):
    repo = new_repo(clean)
    status, _, data = put_secret(clean, repo + "/actions", name, "v")
    assert status == 422 and message in data["message"], data
    assert arrived(clean, repo) == {}


def test_secret_size_limit_and_pagination(clean):
    repo = new_repo(clean)
    key = api(clean, "GET", repo + "/actions/secrets/public-key")[2]
    assert put_secret(clean, repo + "/actions", "BIG", b"x" * (48 * 1024), key)[0] == 201
    status, _, data = put_secret(clean, repo + "/actions", "TOO_BIG", b"x" * (48 * 1024 + 1), key)
    assert status == 422 and "48 KB" in data["message"]
    for name in ("B", "C"):
        assert put_secret(clean, repo + "/actions", name, "v", key)[0] == 201
    status, headers, page = api(clean, "GET", repo + "/actions/secrets?per_page=2")
    assert page["total_count"] == 3 and [s["name"] for s in page["secrets"]] == ["B", "BIG"]
    assert 'page=2>; rel="next"' in headers["link"]
    status, headers, page = api(clean, "GET", repo + "/actions/secrets?per_page=2&page=2")
    assert [s["name"] for s in page["secrets"]] == ["C"] and 'rel="next"' not in headers["link"]


# --- environment secrets ---------------------------------------------------------------------------------------

def test_environment_secrets_live_and_die_with_their_environment(clean):
    repo = new_repo(clean)
    env = repo + "/environments/production"
    assert api(clean, "GET", env + "/secrets/public-key")[0] == 404  # no environment yet
    assert put_environment(clean, repo, "production")["name"] == "production"

    repo_key = api(clean, "GET", repo + "/actions/secrets/public-key")[2]
    status, _, env_key = api(clean, "GET", env + "/secrets/public-key")
    assert status == 200 and env_key["key"] != repo_key["key"] and env_key["key_id"] != repo_key["key_id"]

    # sealed with the repository's key (the gh CLI's old bug, cli/cli#3831): refused
    status, _, data = api(clean, "PUT", env + "/secrets/DB_PASSWORD",
                          {"encrypted_value": seal(repo_key, "pw"), "key_id": env_key["key_id"]})
    assert status == 422 and data["message"] == BAD_ENCRYPTION
    assert put_secret(clean, env, "db_password", "pw", env_key)[:3:2] == (201, {})
    assert put_secret(clean, env, "DB_PASSWORD", "pw2", env_key)[0] == 204
    assert arrived(clean, repo, "production") == {"DB_PASSWORD": "pw2"}
    assert arrived(clean, repo, "PRODUCTION") == {"DB_PASSWORD": "pw2"}  # environment names are not case-sensitive
    assert arrived(clean, repo) == {}  # not a repository secret
    assert api(clean, "GET", repo + "/actions/secrets/DB_PASSWORD")[0] == 404
    listing = api(clean, "GET", env + "/secrets")[2]
    assert listing["total_count"] == 1 and listing["secrets"][0]["name"] == "DB_PASSWORD"
    assert api(clean, "GET", env + "/secrets/db_password")[2]["name"] == "DB_PASSWORD"

    assert api(clean, "DELETE", env)[0] == 204
    assert api(clean, "GET", env)[0] == 404
    assert api(clean, "GET", env + "/secrets/DB_PASSWORD")[0] == 404
    assert api(clean, "DELETE", env)[0] == 404
    assert admin(clean, "GET", "/secrets?repo=%s&environment=production" % repo[len("/repos/"):])[0] == 404
    put_environment(clean, repo, "production")  # a new environment starts empty
    assert api(clean, "GET", env + "/secrets")[2] == {"total_count": 0, "secrets": []}
    assert api(clean, "GET", env + "/secrets/public-key")[2]["key_id"] != env_key["key_id"]


# --- variables -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("level", ["repository", "environment"])
def test_variables_crud(clean, level):
    repo = new_repo(clean)
    base = repo + "/actions"
    if level == "environment":
        put_environment(clean, repo, "staging")
        base = repo + "/environments/staging"
    status, _, body = api(clean, "POST", base + "/variables", {"name": "region", "value": "eu-west-1"})
    assert (status, body) == (201, {})
    status, _, data = api(clean, "POST", base + "/variables", {"name": "REGION", "value": "x"})
    assert status == 409 and data["message"] == "Already exists - Variable already exists"
    status, _, variable = api(clean, "GET", base + "/variables/Region")
    assert status == 200 and (variable["name"], variable["value"]) == ("REGION", "eu-west-1")
    assert variable["created_at"] == variable["updated_at"]

    time.sleep(1.1)
    assert api(clean, "PATCH", base + "/variables/REGION", {"value": "us-east-1"})[:3:2] == (204, None)
    changed = api(clean, "GET", base + "/variables/REGION")[2]
    assert changed["value"] == "us-east-1" and changed["updated_at"] > variable["updated_at"]
    assert changed["created_at"] == variable["created_at"]

    assert api(clean, "POST", base + "/variables", {"name": "ZONE", "value": "a"})[0] == 201
    assert api(clean, "PATCH", base + "/variables/REGION", {"name": "zone"})[0] == 409  # the new name is taken
    assert api(clean, "PATCH", base + "/variables/REGION", {"name": "aws_region"})[0] == 204  # a rename
    assert api(clean, "GET", base + "/variables/REGION")[0] == 404
    listing = api(clean, "GET", base + "/variables")[2]
    assert listing["total_count"] == 2
    assert [(v["name"], v["value"]) for v in listing["variables"]] == [("AWS_REGION", "us-east-1"), ("ZONE", "a")]
    status, headers, page = api(clean, "GET", base + "/variables?per_page=1")
    assert len(page["variables"]) == 1 and 'rel="next"' in headers["link"]

    assert api(clean, "DELETE", base + "/variables/aws_region")[0] == 204
    assert api(clean, "DELETE", base + "/variables/AWS_REGION")[0] == 404
    assert api(clean, "PATCH", base + "/variables/AWS_REGION", {"value": "x"})[0] == 404
    if level == "environment":
        assert api(clean, "GET", repo + "/actions/variables")[2]["total_count"] == 0  # not a repository variable
        assert api(clean, "DELETE", repo + "/environments/staging")[0] == 204
        assert api(clean, "GET", base + "/variables/ZONE")[0] == 404
        assert api(clean, "POST", base + "/variables", {"name": "ZONE", "value": "a"})[0] == 404


@pytest.mark.parametrize("name, message", [
    ("9LIVES", "can only contain alphanumeric characters"),
    ("DOT.NAME", "can only contain alphanumeric characters"),
    ("has space", "can only contain alphanumeric characters"),
    ("", "can only contain alphanumeric characters"),
    ("GITHUB_SHA", "Variable names must not start with GITHUB_."),
])
def test_variable_names_github_rejects(clean, name, message):
    repo = new_repo(clean)
    status, _, data = api(clean, "POST", repo + "/actions/variables", {"name": name, "value": "v"})
    assert status == 422 and message in data["message"], data
    assert api(clean, "POST", repo + "/actions/variables", {"name": "GOOD", "value": "v"})[0] == 201
    status, _, data = api(clean, "PATCH", repo + "/actions/variables/GOOD", {"name": name})
    assert status == 422 and message in data["message"], data
    assert api(clean, "GET", repo + "/actions/variables")[2]["total_count"] == 1


def test_variable_size_limit(clean):
    repo = new_repo(clean)
    assert api(clean, "POST", repo + "/actions/variables", {"name": "OK", "value": "x" * 48 * 1024})[0] == 201
    status, _, data = api(clean, "POST", repo + "/actions/variables", {"name": "BIG", "value": "x" * (48 * 1024 + 1)})
    assert status == 422 and "48 KB" in data["message"]


# --- environments ----------------------------------------------------------------------------------------------

def test_environment_with_reviewers_wait_timer_and_branch_policies(clean):
    login, slug = "rev-" + uuid.uuid4().hex[:6], "ops-" + uuid.uuid4().hex[:6]
    assert admin(clean, "POST", "/users", {"login": login})[0] == 201
    assert admin(clean, "POST", "/teams", {"org": "acme", "slug": slug, "name": "Ops"})[0] == 201
    status, _, user = api(clean, "GET", "/users/" + login)  # how a module turns a login into an id
    assert status == 200 and user["login"] == login
    status, _, team = api(clean, "GET", "/orgs/acme/teams/" + slug)
    assert status == 200 and team["slug"] == slug and team["organization"]["login"] == "acme"
    me = api(clean, "GET", "/users/sandbox-user")[2]

    repo = new_repo(clean)
    env = put_environment(clean, repo, "production", {
        "wait_timer": 30, "prevent_self_review": True, "deployment_branch_policy": CUSTOM,
        "reviewers": [{"type": "User", "id": user["id"]}, {"type": "Team", "id": team["id"]},
                      {"type": "User", "id": me["id"]}]})
    rules = {rule["type"]: rule for rule in env["protection_rules"]}
    assert set(rules) == {"wait_timer", "required_reviewers", "branch_policy"}
    assert rules["wait_timer"]["wait_timer"] == 30 and rules["required_reviewers"]["prevent_self_review"] is True
    assert [(r["type"], r["reviewer"]["id"]) for r in rules["required_reviewers"]["reviewers"]] == [
        ("User", user["id"]), ("Team", team["id"]), ("User", me["id"])]
    assert rules["required_reviewers"]["reviewers"][0]["reviewer"]["login"] == login
    assert env["deployment_branch_policy"] == CUSTOM
    assert api(clean, "GET", repo + "/environments/production")[2] == env

    policies = repo + "/environments/production/deployment-branch-policies"
    status, _, main = api(clean, "POST", policies, {"name": "main"})
    assert status == 200 and (main["name"], main["type"]) == ("main", "branch")
    status, _, tag = api(clean, "POST", policies, {"name": "v*", "type": "tag"})
    assert status == 200 and tag["type"] == "tag"
    status, headers, _ = api(clean, "POST", policies, {"name": "main"})  # already there
    assert status == 303 and headers["location"].endswith("/deployment-branch-policies/%d" % main["id"])
    assert api(clean, "GET", policies)[2] == {"total_count": 2, "branch_policies": [main, tag]}
    status, _, renamed = api(clean, "PUT", "%s/%d" % (policies, main["id"]), {"name": "release/*"})
    assert status == 200 and renamed["name"] == "release/*" and renamed["id"] == main["id"]
    assert api(clean, "GET", "%s/%d" % (policies, main["id"]))[2] == renamed
    assert api(clean, "DELETE", "%s/%d" % (policies, tag["id"]))[0] == 204
    assert api(clean, "GET", "%s/%d" % (policies, tag["id"]))[0] == 404

    # PUT changes only what it is given
    env = put_environment(clean, repo, "production", {"wait_timer": 5})
    rules = {rule["type"]: rule for rule in env["protection_rules"]}
    assert rules["wait_timer"]["wait_timer"] == 5 and len(rules["required_reviewers"]["reviewers"]) == 3
    assert api(clean, "GET", policies)[2]["total_count"] == 1
    env = put_environment(clean, repo, "production", {"prevent_self_review": False})
    rules = {rule["type"]: rule for rule in env["protection_rules"]}
    assert rules["wait_timer"]["wait_timer"] == 5 and rules["required_reviewers"]["prevent_self_review"] is False
    assert env["deployment_branch_policy"] == CUSTOM
    put_environment(clean, repo, "production", {"prevent_self_review": True})

    # prevent_self_review needs a reviewer (GitHub: safe-settings#628)
    status, _, data = api(clean, "PUT", repo + "/environments/production", {"reviewers": []})
    assert status == 422 and "at least one reviewer to set prevent_self_review" in data["message"]
    env = put_environment(clean, repo, "production", {"reviewers": None, "prevent_self_review": False,
                                                      "wait_timer": 0, "deployment_branch_policy": None})
    assert env["protection_rules"] == [] and env["deployment_branch_policy"] is None
    assert api(clean, "GET", policies)[0] == 404  # no custom branch policies any more
    assert api(clean, "GET", "%s/%d" % (policies, main["id"]))[0] == 404
    put_environment(clean, repo, "production", {"deployment_branch_policy": CUSTOM})
    assert api(clean, "GET", policies)[2]["total_count"] == 0  # the old ones went with the setting


@pytest.mark.parametrize("body, message", [
    ({"wait_timer": 43201}, "wait timer"),
    ({"wait_timer": -1}, "wait timer"),
    ({"reviewers": [{"type": "User", "id": 987654321}]}, "does not exist"),
    ({"reviewers": [{"type": "Team", "id": 1}]}, "does not exist"),
    ({"reviewers": [{"type": "User"}]}, "needs a type"),
    ({"prevent_self_review": True}, "at least one reviewer"),
    ({"deployment_branch_policy": {"protected_branches": True, "custom_branch_policies": True}}, "Only one of"),
    ({"deployment_branch_policy": {"protected_branches": False, "custom_branch_policies": False}}, "Only one of"),
])
def test_environment_settings_github_rejects(clean, body, message):
    repo = new_repo(clean)
    status, _, data = api(clean, "PUT", repo + "/environments/qa", body)
    assert status == 422 and message in data["message"] and data["documentation_url"], data
    assert api(clean, "GET", repo + "/environments/qa")[0] == 404  # nothing was created


def test_environment_reviewer_limit(clean):
    repo = new_repo(clean)
    ids = [clean.add_user("limit-%s-%d" % (uuid.uuid4().hex[:6], i)).id for i in range(7)]
    status, _, data = api(clean, "PUT", repo + "/environments/qa",
                          {"reviewers": [{"type": "User", "id": i} for i in ids]})
    assert status == 422 and "up to 6" in data["message"]
    env = put_environment(clean, repo, "qa", {"reviewers": [{"type": "User", "id": i} for i in ids[:6]]})
    assert len(env["protection_rules"][0]["reviewers"]) == 6


def test_environment_names(clean):
    repo = new_repo(clean)
    assert put_environment(clean, repo, "x" * 255)["name"] == "x" * 255
    status, _, data = api(clean, "PUT", repo + "/environments/" + "y" * 256)
    assert status == 422 and "too long" in data["message"]

    env = put_environment(clean, repo, "Staging")  # no body at all, as `gh api -X PUT` sends
    assert env["protection_rules"] == [] and env["deployment_branch_policy"] is None
    again = put_environment(clean, repo, "STAGING", {"wait_timer": 1})  # the same environment
    assert (again["id"], again["name"]) == (env["id"], "Staging")
    slashed = put_environment(clean, repo, "prod/eu west")  # sent as prod%2Feu%20west
    assert slashed["url"].endswith("/environments/prod%2Feu%20west")
    assert api(clean, "GET", repo + "/environments/prod%2Feu%20west")[2]["name"] == "prod/eu west"
    listing = api(clean, "GET", repo + "/environments")[2]
    assert listing["total_count"] == 3 and [e["name"] for e in listing["environments"]] == [
        "x" * 255, "Staging", "prod/eu west"]
    status, headers, page = api(clean, "GET", repo + "/environments?per_page=2&page=2")
    assert [e["name"] for e in page["environments"]] == ["prod/eu west"] and 'rel="prev"' in headers["link"]


def test_branch_policies_need_custom_branch_policies(clean):
    repo = new_repo(clean)
    policies = repo + "/environments/prod/deployment-branch-policies"
    assert api(clean, "POST", policies, {"name": "main"})[0] == 404  # no environment
    put_environment(clean, repo, "prod", {"deployment_branch_policy": {"protected_branches": True,
                                                                       "custom_branch_policies": False}})
    assert api(clean, "POST", policies, {"name": "main"})[0] == 404
    assert api(clean, "GET", policies)[0] == 404
    put_environment(clean, repo, "prod")  # nothing given: the protected-branches setting stays
    assert api(clean, "POST", policies, {"name": "main"})[0] == 404


# --- auth, unknown repositories, users and teams ---------------------------------------------------------------

ENDPOINTS = [
    ("GET", "/actions/secrets", None), ("GET", "/actions/secrets/public-key", None),
    ("GET", "/actions/secrets/X", None), ("DELETE", "/actions/secrets/X", None),
    ("GET", "/actions/variables", None), ("POST", "/actions/variables", {"name": "A", "value": "b"}),
    ("GET", "/environments", None), ("GET", "/environments/prod", None), ("PUT", "/environments/prod", {}),
    ("GET", "/environments/prod/secrets", None), ("GET", "/environments/prod/secrets/public-key", None),
    ("GET", "/environments/prod/variables", None), ("GET", "/environments/prod/deployment-branch-policies", None),
]


def test_missing_scope_unknown_repository_and_accounts(fresh):
    repo = new_repo(fresh)
    fresh.add_token("ghp_noscope", ["read:org", "workflow"])
    for method, suffix, body in ENDPOINTS:
        status, headers, data = api(fresh, method, repo + suffix, body, token="ghp_noscope")
        assert status == 403 and data["message"] == "Resource not accessible by personal access token", suffix
        assert headers["x-accepted-oauth-scopes"] == "repo" and headers["x-oauth-scopes"] == "read:org, workflow"
        assert api(fresh, method, "/repos/octo/missing" + suffix, body)[0] == 404, suffix
    assert api(fresh, "GET", repo + "/environments")[0] == 200  # the same calls work with scope `repo`
    assert api(fresh, "GET", "/repos/octo/" + repo.rsplit("/", 1)[1] + "/actions/secrets", token="nope")[0] == 401

    assert api(fresh, "GET", "/users/sandbox-user", token="ghp_noscope")[2]["id"] == 1  # needs no scope
    assert api(fresh, "GET", "/users/nobody-here")[0] == 404
    assert api(fresh, "GET", "/orgs/acme/teams/nobody")[0] == 404
    assert fresh.violations() == []


# --- contract validation ---------------------------------------------------------------------------------------

def test_invalid_requests_are_422_and_recorded(fresh):
    repo = new_repo(fresh)
    key = api(fresh, "GET", repo + "/actions/secrets/public-key")[2]
    put_environment(fresh, repo, "prod", {"deployment_branch_policy": CUSTOM})
    bad = [
        ("PUT", "/actions/secrets/A", {"encrypted_value": seal(key, "v")}),  # key_id is required
        ("PUT", "/actions/secrets/A", {"encrypted_value": "not base64!", "key_id": key["key_id"]}),
        ("PUT", "/actions/secrets/A", {"encrypted_value": seal(key, "v"), "key_id": key["key_id"],
                                       "visibility": "all"}),  # an organization secret's field
        ("POST", "/actions/variables", {"name": "A"}),
        ("POST", "/actions/variables", {"name": "A", "value": 5}),
        ("PUT", "/environments/prod", {"wait_timer": "5"}),
        ("PUT", "/environments/prod", {"reviewers": [{"type": "Person", "id": 1}]}),
        ("PUT", "/environments/prod", {"deployment_branch_policy": {"protected_branches": True}}),
        ("POST", "/environments/prod/deployment-branch-policies", {"name": "main", "type": "commit"}),
        ("GET", "/environments/prod/deployment-branch-policies/abc", None),
        ("GET", "/actions/variables?per_page=many", None),
    ]
    for method, suffix, body in bad:
        status, _, data = api(fresh, method, repo + suffix, body)
        assert status == 422 and data["message"].startswith("Invalid request."), (suffix, body, data)
    violations = fresh.violations()
    assert [(v["kind"], v["status"]) for v in violations] == [("request", 422)] * len(bad)
    assert arrived(fresh, repo) == {}


def test_a_response_outside_the_contract_is_a_500(fresh, monkeypatch):
    from sandbox.github import objects

    repo = new_repo(fresh)
    put_environment(fresh, repo, "prod")
    monkeypatch.setattr(objects, "environment_json", lambda app, repo, env: {"id": env.id, "name": env.name})
    status, _, data = api(fresh, "GET", repo + "/environments/prod")
    assert status == 500 and "node_id" in data["message"]
    monkeypatch.setattr(objects, "secret_json", lambda secret: {"name": secret.name})
    assert put_secret(fresh, repo + "/actions", "A", "v")[0] == 201
    assert api(fresh, "GET", repo + "/actions/secrets/A")[0] == 500
    kinds = [(v["kind"], v["method"], v["status"]) for v in fresh.violations()]
    assert kinds == [("response", "GET", 200), ("response", "GET", 200)]
    assert "'created_at' is a required property" in fresh.violations()[1]["message"]


# --- admin API -------------------------------------------------------------------------------------------------

def test_admin_api_for_actions(fresh):
    repo = new_repo(fresh)
    full_name = repo[len("/repos/"):]
    status, user = admin(fresh, "POST", "/users", {"login": "octocat", "id": 583231, "name": "The Octocat"})
    assert (status, user) == (201, {"login": "octocat", "id": 583231, "name": "The Octocat"})
    assert api(fresh, "GET", "/users/OctoCat")[2]["id"] == 583231  # logins are not case-sensitive
    assert admin(fresh, "POST", "/users", {"login": "other", "id": 583231})[0] == 400  # the id is taken
    status, team = admin(fresh, "POST", "/teams", {"org": "acme", "slug": "release-managers", "id": 42})
    assert status == 201 and team == {"org": "acme", "slug": "release-managers", "id": 42, "name": "release-managers"}
    assert api(fresh, "GET", "/orgs/ACME/teams/release-managers")[2]["id"] == 42
    assert admin(fresh, "POST", "/teams", {"org": "acme"})[0] == 400

    old = api(fresh, "GET", repo + "/actions/secrets/public-key")[2]
    assert put_secret(fresh, repo + "/actions", "A", "one", old)[0] == 201
    status, body = admin(fresh, "GET", "/secrets?repo=" + full_name)
    assert status == 200 and body["repo"] == full_name and body["environment"] is None
    assert body["secrets"]["A"]["value"] == "one" and body["secrets"]["A"]["value_base64"] == "b25l"
    assert body["secrets"]["A"]["created_at"].endswith("Z")

    status, new = admin(fresh, "POST", "/public-keys/rotate", {"repo": full_name})
    assert status == 201 and new["key_id"] != old["key_id"]
    assert api(fresh, "GET", repo + "/actions/secrets/public-key")[2] == new
    status, _, data = put_secret(fresh, repo + "/actions", "A", "two", old)  # sealed for the retired key
    assert status == 422 and data["message"] == BAD_ENCRYPTION
    assert put_secret(fresh, repo + "/actions", "A", "two")[0] == 204
    assert arrived(fresh, repo) == {"A": "two"}

    assert put_secret(fresh, repo + "/actions", "RAW", bytes([0xff, 0xfe]))[0] == 201  # not UTF-8
    raw = admin(fresh, "GET", "/secrets?repo=" + full_name)[1]["secrets"]["RAW"]
    assert raw["value"] is None and base64.b64decode(raw["value_base64"]) == b"\xff\xfe"

    put_environment(fresh, repo, "prod")
    assert admin(fresh, "POST", "/public-keys/rotate", {"repo": full_name, "environment": "prod"})[0] == 201
    assert admin(fresh, "GET", "/secrets?repo=%s&environment=prod" % full_name) == (
        200, {"repo": full_name, "environment": "prod", "secrets": {}})
    assert admin(fresh, "GET", "/secrets?repo=octo/missing")[0] == 404
    assert admin(fresh, "GET", "/secrets?repo=%s&environment=nope" % full_name)[0] == 404
    assert admin(fresh, "POST", "/public-keys/rotate", {"repo": "octo/missing"})[0] == 404
    assert admin(fresh, "GET", "/secrets")[0] == 400
    assert fresh.violations() == []
