"""A stateful local stand-in for the Neon API v2, backed by real PostgreSQL 15 clusters.

Its job is to fail loudly on whatever Neon would reject, and to behave as Neon does where the collection depends
on it. One plain-HTTP port serves the API under /api/v2 (Bearer API key); every compute endpoint is a real
PostgreSQL server on its own TCP port at `public_host`, so the connection URIs it hands out work.

    with NeonStandIn(state_dir, op_delay=0.2) as neon:        # or .start() / .stop()
        neon.api_url, neon.api_key                             # http://127.0.0.1:PORT/api/v2, napi_...
        project = neon.create_project("demo")                  # ready at once (no running operations)
        neon.connection_uri(project["id"])                     # postgresql://neondb_owner:...@127.0.0.1:PORT/neondb
        neon.inject_fault("http_423", method="POST", path=r"/branches$", times=1)
        neon.advance_clock(8 * 86400)                          # branches whose expiry passed go at the next request
        neon.requests(), neon.violations(), neon.reset_log(), neon.clear_faults()

Modelled:
- Projects (list with search/limit/cursor, create, get, update, delete), branches (list with search/sort/limit/
  cursor, create, get, update, delete, their endpoints), endpoints (create, get, update, delete; read_write and
  read_only), roles (list, create, get, delete, reset_password, reveal_password), databases (list, create, get,
  update = rename/owner, delete), operations (list newest first with limit/cursor, get) and connection_uri.
- Every request (path, query, body) and every response is checked against Neon's OpenAPI description (openapi/,
  cut from npm @neondatabase/api-client 2.7.3 by extract_openapi.py; adjustments listed in contract.py). An invalid
  request is answered 400 {"code": "", "message": "request body has an error: ..."}; an invalid response becomes a
  500. Both are recorded in `violations()`, as are requests for paths the stand-in does not serve (404/405).
- A project is created as on Neon: default branch `main`, a read_write endpoint, an owner role (`neondb_owner`
  unless given) with a password, a database (`neondb` unless given), operations create_timeline + start_compute,
  and connection_uris. A branch is a copy of its parent (pg_basebackup of the running parent, or a file copy of a
  stopped one): roles with their passwords, databases, schema and rows. Branch names, and role and database
  names on a branch, are unique (409). Role and database names are limited to 63 bytes; role names starting with
  `pg_` and Neon's reserved roles (neon_superuser, cloud_admin, postgres, ...), and the databases postgres,
  template0 and template1 are refused (400). The default branch and branches with children cannot be deleted;
  a branch has at most one read_write endpoint (409). Branch names (create, rename, a project's first branch) have
  1 to 256 characters, the limits of the description (BranchCreateRequest.branch.name), which documents no
  character set; a NUL character is refused too (our inference: Neon keeps its state in PostgreSQL) (400).
- Branch expiry, as Neon's guide describes it (https://neon.com/docs/guides/branch-expiration, "Timestamp format
  requirements" and "Restrictions"; the description's Branch.expires_at): `expires_at` on create or update must be
  RFC 3339 with a time zone (`Z` or `+HH:MM`; a fraction of a second is accepted and dropped: whole seconds are
  stored), in the future and at most 30 days from now (400 otherwise). It is refused on the default branch, on a
  protected branch (also when protecting a branch that expires) and on a branch with children, and no branch can
  be created from a branch that expires (400). PATCH with `expires_at: null` removes the expiry. Answers show
  `expires_at` in UTC (`...Z`) and the read-only `ttl_interval_seconds` (expiry minus the time it was set).
  An expired branch is deleted with its endpoints and clusters, as Neon's background job deletes it "not exactly
  at the specified time": here lazily, when the next API request arrives (before that request is handled), with no
  operation recorded. `now()` is the clock expiry reads and `advance_clock(seconds)` moves it forward for tests.
- Roles and databases exist for real: CREATE ROLE ... LOGIN PASSWORD (member of neon_superuser, as on Neon),
  CREATE DATABASE ... OWNER, renames, owner changes and drops (connections to a renamed or dropped database are
  terminated, as Neon drops them); reset_password really changes the password. Passwords are returned when a
  role is created or reset and by reveal_password (412 when the project has store_passwords false or the role
  has no password), never by list/get.
- Operations (Neon's action names: create_timeline, create_branch, start_compute, suspend_compute, apply_config,
  delete_timeline) are "running" for `op_delay` seconds, then "finished". While one runs, every mutating request
  on that project is answered 423 Locked with Neon's message ("project already has running conflicting
  operations, scheduling of new ones is prohibited"); reads never are. Role and database changes start
  apply_config on each running compute of the branch (none when the branch has no endpoint). Renaming a branch
  or a project starts no operation.
- Errors have Neon's shape {"code": "", "message", "request_id"} (request_id echoes X-Request-ID): 401
  "authentication required" without a key, "authorization failed" with a wrong one; 404 "project not found",
  "branch not found", "endpoint not found", "role not found", "database not found", "operation not found".
- Faults on demand (faults.py): http_423, http_429 (Retry-After), http_500, http_503, operation_failed (the
  operations of the next matching change end "failed" with an error), slow_operation (they run `seconds`).

PostgreSQL details (postgres.py): one cluster per branch, started as the branch's read_write endpoint (listening
on public_host, scram-sha-256) or socket-only while only read_only endpoints stream from it, stopped when the
branch has no endpoint (SQL then starts it briefly, as Neon wakes an idle compute). A read_only endpoint is a hot
standby (pg_basebackup -R). The superuser `cloud_admin` is reachable only over the unix socket in a private
directory; TCP logins as it are rejected. As root, PostgreSQL runs as the `postgres` user and the clusters live in
a private directory under /dev/shm (or the temp dir), named in <state_dir>/pg-root and removed by stop(). stop()
stops every postmaster it started.

Not modelled (do not rely on these being checked):
- TLS: the servers have no certificates, so URIs carry no `sslmode=require` (Neon's do); the connection pooler
  (`pooled=true` returns the direct address, pooler_host names the same host); Neon's hostnames (`host` and
  `proxy_host` are public_host; the port is in the URIs only - see `endpoint_port()`).
- Autoscaling, compute sizes, suspend timeouts and suspension, endpoint `settings.pg_settings` (stored and
  echoed, not applied), passwordless access, IP allow lists, project settings and quotas (stored only),
  pg_version (reported as requested; every server is PostgreSQL 15), regions (a fixed list of Neon region ids is
  accepted; nothing differs between them).
- Point-in-time branching (parent_lsn / parent_timestamp), schema-only and archived branches (refused with 400),
  restore and reset (so no TTL restart), recovery of deleted projects or branches (deletes, expiry's too, are
  immediate and final, where Neon keeps a deleted branch recoverable for 7 days), the Early Access limit on
  expiry (every key may set it here).
- Billing, consumption metrics (all zero), plan limits (number of projects, branches, computes), organisations,
  API key scopes, Neon's own rate limiting (only as injected faults), any endpoint not listed above.
- Durability: fsync is off; state lives in memory and dies with the stand-in.
- Exact wording of Neon's error messages and the statuses of refusals the description does not document
  (409 for duplicates, 400 for invalid names and refusals) are best guesses; codes are always "".
- Stricter than Neon on purpose: unknown fields in request bodies are rejected (Neon ignores them), and deleting
  a role that owns a database is refused (400) instead of guessing what Neon does with the database.
"""
from .server import NeonStandIn

__all__ = ["NeonStandIn"]
