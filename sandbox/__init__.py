"""Local stand-ins for the services the collection deploys to, for tests and `make demo` (never imported by plugins).

- `sandbox.github.GitHubStandIn`: github.com (git, REST API, Pages).
- `python -m sandbox up|down|status|urls`: run them in the background (see sandbox/cli.py).
"""
