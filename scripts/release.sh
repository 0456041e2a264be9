#!/usr/bin/env bash
# Cut a release of the collection in this checkout (`make release`):
#   1. galaxy.yml's version must be a semantic version (MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]) newer than the last
#      release in changelogs/changelog.yaml;
#   2. antsibull-changelog lint, then release: CHANGELOG.rst and changelogs/changelog.yaml get the version's section,
#      made of changelogs/fragments/*.yml, which it removes (changelogs/config.yaml: keep_fragments false);
#   3. ansible-galaxy collection build: OUTPUT_DIR/textbook-deploy-VERSION.tar.gz (galaxy.yml's build_ignore applies).
# It commits and pushes nothing: review CHANGELOG.rst, commit CHANGELOG.rst and changelogs/, tag vVERSION.
# Usage: scripts/release.sh [OUTPUT_DIR]   (default: build/ in the checkout). VENV_BIN names the directory of
# python, antsibull-changelog and ansible-galaxy (default: the checkout's .venv/bin).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${VENV_BIN:-$root/.venv/bin}
out=${1:-$root/build}
cd "$root"
export PATH="$bin:$PATH"

version=$(python - <<'EOF'
import sys

import yaml
from semantic_version import Version

with open("galaxy.yml", encoding="utf-8") as handle:
    version = str((yaml.safe_load(handle) or {}).get("version", ""))
try:
    wanted = Version(version)
except ValueError:
    sys.exit(f"galaxy.yml's version {version!r} is not a semantic version (MAJOR.MINOR.PATCH, for example 1.2.0).")
with open("changelogs/changelog.yaml", encoding="utf-8") as handle:
    releases = (yaml.safe_load(handle) or {}).get("releases") or {}
if releases:
    last = max(Version(str(v)) for v in releases)
    if wanted <= last:
        sys.exit(f"galaxy.yml's version {wanted} is not newer than the last release, {last} "
                 f"(changelogs/changelog.yaml): raise it in galaxy.yml.")
print(wanted)
EOF
)

fragments=$(find changelogs/fragments -maxdepth 1 -name '*.yml' -o -maxdepth 1 -name '*.yaml' | wc -l)
echo "Releasing textbook.deploy $version ($fragments changelog fragments)"
antsibull-changelog lint
antsibull-changelog release --version "$version"
mkdir -p "$out"
ansible-galaxy collection build --force --output-path "$out" .
tarball="$out/textbook-deploy-$version.tar.gz"
test -f "$tarball"
echo "Built $tarball"
echo "Next: review CHANGELOG.rst, then: git add CHANGELOG.rst changelogs/changelog.yaml changelogs/fragments && git commit -m 'Release $version' && git tag v$version"
