#!/usr/bin/env bash
# ansible-test sanity on the collection exactly as it ships: build the tarball (galaxy.yml build_ignore applies),
# install it into a scratch ansible_collections tree, and run the sanity tests there (ansible-test needs that layout).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.venv/bin"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin/ansible-galaxy" collection build --output-path "$work" "$root" >/dev/null
"$bin/ansible-galaxy" collection install --no-deps -p "$work" "$work"/textbook-deploy-*.tar.gz >/dev/null
cd "$work/ansible_collections/textbook/deploy"
git init -q . && git add -A   # ansible-test lists the files under test from git
"$bin/ansible-test" sanity --python "$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
    --local --color no "$@"
