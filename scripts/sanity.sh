#!/usr/bin/env bash
# ansible-test sanity on the collection exactly as it ships: build the tarball (galaxy.yml build_ignore applies),
# install it into a scratch ansible_collections tree, and run the sanity tests there (ansible-test needs that layout).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.venv/bin"
work=$(mktemp -d)
# ansible-test bootstraps pip in its sanity venvs with a get-pip.py it downloads from a host this machine cannot
# reach; put our offline equivalent where it looks first.
pip_version=$("$bin/python" -c 'from ansible_test._internal.python_requirements import get_venv_packages as g
from types import SimpleNamespace as N; print(g(N(version="3.11"))["pip"])')
mkdir -p ~/.ansible/test/cache
cp "$root/scripts/get_pip_offline.py" ~/.ansible/test/cache/"get_pip_${pip_version//./_}.py"
trap 'rm -rf "$work"' EXIT
"$bin/ansible-galaxy" collection build --output-path "$work" "$root" >/dev/null
"$bin/ansible-galaxy" collection install --force --no-deps -p "$work" "$work"/textbook-deploy-*.tar.gz >/dev/null
cd "$work/ansible_collections/textbook/deploy"
git init -q . && git add -A   # ansible-test lists the files under test from git
"$bin/ansible-test" sanity --python "$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
    --local --color no "$@"
