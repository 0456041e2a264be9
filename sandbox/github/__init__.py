"""A stateful local stand-in for github.com: git over smart HTTP, the Pages and Actions settings REST API, and a
Pages host.

Its job is to fail loudly on whatever the real service would reject, and to behave as GitHub does where the
collection depends on it. One port serves the REST API (GHES-style under /api/v3), git and the admin API
(/_sandbox/); a second port serves the built Pages sites.

Modelled:
- git smart HTTP by git's own `git http-backend`; token auth as GitHub takes it (HTTP Basic, token as password);
  401 without valid credentials, 403 for a push without scope `repo`/`public_repo`; fetching reachable commits
  by SHA is allowed.
- REST: GET /repos/{owner}/{repo}; Pages create/get/update/delete; builds list/request/latest/by id. Token auth
  (`Bearer` or `token`), scope `repo` for Pages, rate-limit headers, GitHub's error bodies and status codes.
  Every request and response is checked against GitHub's OpenAPI description (openapi/, see extract_openapi.py):
  an invalid request gets GitHub's 422, an invalid response becomes a 500; both are recorded in `violations()`.
- Pages builds: a push that moves the source branch of a branch-built (`legacy`) site, creating Pages, changing
  its source or cname, or `POST .../pages/builds` queues a build (queued -> building -> built/errored, build_delay
  seconds per step, one at a time per site). The host serves the tree of the last `built` commit, from the
  bare repository, like GitHub: index.html for directories, `/a` -> `/a/` or `/a.html`, the site's 404.html,
  Jekyll's hidden files without `.nojekyll`, custom domains by Host header (the project address redirects there).
- Pages built by Actions (pages_deployments.py for the rules and their sources): artifacts registered through the
  admin API (as actions/upload-artifact uploads them), `POST .../pages/deployments` for a `workflow` site only,
  deployments that go deployment_in_progress -> syncing_files -> succeed (or deployment_content_failed for an
  artifact that is not one gzipped tar of files and directories) one at a time per site, `GET
  .../pages/deployments/{id}`; the host then serves the artifact's tree with the URL rules above. The local
  runner of sandbox/workflows is what calls them (actions/upload-pages-artifact and actions/deploy-pages).
- Actions settings (actions.py for the rules and their sources, actions_api.py for the endpoints): repository
  and environment secrets (a real Curve25519 key pair per repository and per environment; PUT must carry a
  libsodium sealed box for the current key_id, else 422; the decrypted value is kept and shown only by the admin
  API), repository and environment variables, environments (wait timer, required reviewers, prevent_self_review,
  deployment_branch_policy; deleting one deletes its secrets, variables and branch policies) and their deployment
  branch policies; GitHub's name rules, size and count limits; GET /users/{username} and
  GET /orgs/{org}/teams/{team_slug} for `sandbox-user` and the users and teams added through the admin API.
  These endpoints need scope `repo` like Pages (403 "Resource not accessible by personal access token" without
  it; GitHub may answer 404 instead when the token cannot see a private repository at all).
- Pull requests and issue comments (pulls.py for the rules and their sources, pulls_api.py for the endpoints):
  pull requests are opened between two real branches of the repository, and closed, merged or reopened, through
  the admin API (POST/PATCH /_sandbox/pulls) or create_pull()/update_pull(); REST reads them (GET .../pulls with
  state/head/base/sort/direction and GitHub's pagination, GET .../pulls/{pull_number}); an open one's head.sha
  follows its branch. Issue comments on a pull request's number: list (oldest first, `since`, pagination), create,
  get, update, delete; 404 for a number without a pull request, 422 for a body over 65,536 characters (GitHub's
  error) or blank. These endpoints need scope `repo` like Pages.
- Repository contents (contents_api.py): GET /repos/{owner}/{repo}/contents/{path}?ref=..., a directory's entries
  or a file's content read from the bare repository's tree at a branch, tag or commit; 404 "No commit found for the
  ref ..." for an unknown ref; scope `repo`. Its docstring lists what it leaves out (media types, the 1,000-entry
  limit, the root directory).
- Faults on demand: http_500, rate_limit_429, secondary_rate_limit, slow (REST), push_race (git).

Not modelled (do not rely on these being checked):
- HTTPS, certificates and DNS: `https_enforced` is stored only; every URL is plain http on 127.0.0.1.
- Users, organisations, permissions beyond token scopes, fine-grained tokens, GitHub Apps; every token acts as
  one user with admin rights on every repository. All repositories are private: anonymous access is refused.
  Users and teams exist only to be environment reviewers: no membership, no repository access check of
  reviewers, no organisations of their own (GET /orgs/{org} is not served), and a repository's owner is not a
  user that GET /users/{username} knows. Looking up a team needs no `read:org` scope here.
- Actions beyond their settings and Pages deployments: the stand-in runs no workflows (sandbox/workflows runs
  them locally, reading secrets and variables from here), protection rules never gate anything and wait timers
  never run; no Actions artifact API (artifacts come through the admin API); no organisation or enterprise
  secrets and variables, Dependabot/Codespaces secrets, custom deployment protection rules (GitHub Apps),
  `can_admins_bypass`, or plan limits (GitHub Free refuses environments and protection rules on private
  repositories; the stand-in allows them). Branch policy names are stored, not matched against refs. Public keys
  are rotated only through the admin API. Timestamps have whole seconds, as GitHub's do.
- Messages the stand-in words itself because GitHub's exact text was not found: secret/variable size and count
  limits, a too long or blank environment name, an out-of-range wait timer, too many or unknown reviewers, and
  protected_branches equal to custom_branch_policies (the statuses, 422, are GitHub's).
- Jekyll itself (files are served as they are in the branch), the CNAME file in the branch (the custom domain
  comes from the API's `cname` only), user/organisation sites (<owner>.github.io); for sites built by Actions,
  OIDC tokens, previews and cancelling a deployment (pages_deployments.py).
- Issues (only pull requests have numbers), creating or editing pull requests over REST (POST/PATCH .../pulls),
  drafts, reviews, review comments, labels, reactions, locking, the merge itself (merging marks the pull request
  merged; no merge commit is made and the base branch does not move), closing a pull request when its head branch
  is deleted, and the counts of a pull request's commits, additions, deletions and changed files (always 0).
- Every REST endpoint other than those above (they answer 404 and count as violations), GraphQL, webhooks,
  branch protection (force pushes are accepted), push size limits, LFS, the dumb HTTP protocol and SSH.
- Persistence: repositories live on disk, but Pages settings, builds, Actions settings, users, teams, tokens and
  logs live in memory only.
- Stricter than GitHub on purpose: unknown fields in request bodies are rejected (GitHub ignores some), and
  creating or pointing a legacy site at a branch that does not exist is a 422.
"""
from .server import GitHubStandIn

__all__ = ["GitHubStandIn"]
