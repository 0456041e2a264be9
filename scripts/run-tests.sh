#!/usr/bin/env bash
# The whole suite, as `make test` and CI run it: static checks first (fast), then pytest (unit, sandbox,
# integration), then molecule. Nothing here installs anything: `make deps` did.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin="$root/.venv/bin"
export PATH="$bin:$PATH" ANSIBLE_CONFIG="$root/ansible.cfg"
# Whatever a failing step leaves running is stopped: the sandbox's background stand-ins above all.
trap '"$bin/python" -m sandbox down >/dev/null 2>&1 || true' EXIT

step() { printf '\n==> %s\n' "$*"; }

step "changelog fragments"
antsibull-changelog lint
step "ansible-lint (production profile)"
ansible-lint --profile production
step "ansible-test sanity"
bash scripts/sanity.sh
step "molecule"
molecule test --all
step "pytest: the example chat service's own offline tests (what its generated CI runs)"
(cd examples/chat_api && pytest -q -p no:cacheprovider)
step "pytest: unit, sandbox, integration"
# two workers (this machine has 2 cores); a file stays on one worker, so its fixtures and order hold. The tests of
# the deployed sandbox (the browser's tests/browser/test_sandbox_journey.py, the generated workflows'
# tests/platform/) run in molecule's site scenario, after site.yml.
pytest -q -p no:cacheprovider -n 2 --dist loadfile --ignore=tests/browser/test_sandbox_journey.py \
    --ignore=tests/platform tests
