"""Cut the part of GitHub's OpenAPI description that the stand-in serves into a small committed file.

The full description (npm package @octokit/openapi, generated/api.github.com.json) is 13 MB and slow to load;
the stand-in only needs a handful of operations. Regenerate after bumping the package:

    cd /tmp && npm pack @octokit/openapi@23.0.2 && tar xzf octokit-openapi-23.0.2.tgz
    python -m sandbox.github.extract_openapi /tmp/package

The subset keeps the operations listed in OPERATIONS, every component they reference (transitively), the
`servers` entry, and records the source package in `info.x-source`.
"""
import argparse
import json
import os

from sandbox.common.extract_openapi import referenced_components, select_paths, sorted_components, write_subset

# path -> the methods the stand-in implements
OPERATIONS = {
    "/repos/{owner}/{repo}": ["get"],
    "/repos/{owner}/{repo}/pages": ["get", "post", "put", "delete"],
    "/repos/{owner}/{repo}/pages/builds": ["get", "post"],
    "/repos/{owner}/{repo}/pages/builds/latest": ["get"],
    "/repos/{owner}/{repo}/pages/builds/{build_id}": ["get"],
    # Pages built by Actions: actions/deploy-pages (the local runner of sandbox/workflows)
    "/repos/{owner}/{repo}/pages/deployments": ["post"],
    "/repos/{owner}/{repo}/pages/deployments/{pages_deployment_id}": ["get"],
    # GitHub Actions settings: secrets, variables, environments and their deployment branch policies
    "/repos/{owner}/{repo}/actions/secrets": ["get"],
    "/repos/{owner}/{repo}/actions/secrets/public-key": ["get"],
    "/repos/{owner}/{repo}/actions/secrets/{secret_name}": ["get", "put", "delete"],
    "/repos/{owner}/{repo}/actions/variables": ["get", "post"],
    "/repos/{owner}/{repo}/actions/variables/{name}": ["get", "patch", "delete"],
    "/repos/{owner}/{repo}/environments": ["get"],
    "/repos/{owner}/{repo}/environments/{environment_name}": ["get", "put", "delete"],
    "/repos/{owner}/{repo}/environments/{environment_name}/deployment-branch-policies": ["get", "post"],
    "/repos/{owner}/{repo}/environments/{environment_name}/deployment-branch-policies/{branch_policy_id}":
        ["get", "put", "delete"],
    "/repos/{owner}/{repo}/environments/{environment_name}/secrets": ["get"],
    "/repos/{owner}/{repo}/environments/{environment_name}/secrets/public-key": ["get"],
    "/repos/{owner}/{repo}/environments/{environment_name}/secrets/{secret_name}": ["get", "put", "delete"],
    "/repos/{owner}/{repo}/environments/{environment_name}/variables": ["get", "post"],
    "/repos/{owner}/{repo}/environments/{environment_name}/variables/{name}": ["get", "patch", "delete"],
    # pull requests (read; the stand-in's admin API opens and closes them) and their issue comments
    "/repos/{owner}/{repo}/pulls": ["get"],
    "/repos/{owner}/{repo}/pulls/{pull_number}": ["get"],
    "/repos/{owner}/{repo}/issues/{issue_number}/comments": ["get", "post"],
    "/repos/{owner}/{repo}/issues/comments/{comment_id}": ["get", "patch", "delete"],
    # a directory of a branch (the Pages branch's preview directories, for the preview sweep)
    "/repos/{owner}/{repo}/contents/{path}": ["get"],
    # reviewers of an environment are given by id: modules look them up by login / slug
    "/users/{username}": ["get"],
    "/orgs/{org}/teams/{team_slug}": ["get"],
}
SPEC_FILE = os.path.join("generated", "api.github.com.json")
OUT_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "openapi", "api.github.com.subset.json")


def subset(spec, operations=OPERATIONS):
    paths = select_paths(spec, operations)
    return {
        "openapi": spec["openapi"],
        "info": spec["info"],
        "servers": spec["servers"],
        "paths": paths,
        "components": sorted_components(referenced_components(spec, [paths])),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package_dir", help="the unpacked @octokit/openapi npm package (contains package.json)")
    parser.add_argument("--out", default=OUT_FILE)
    args = parser.parse_args(argv)

    with open(os.path.join(args.package_dir, "package.json")) as handle:
        package = json.load(handle)
    with open(os.path.join(args.package_dir, SPEC_FILE)) as handle:
        spec = json.load(handle)

    result = subset(spec)
    result["info"] = dict(result["info"], **{"x-source": {
        "package": package["name"], "version": package["version"], "file": SPEC_FILE.replace(os.sep, "/"),
    }})
    write_subset(result, args.out)


if __name__ == "__main__":
    main()
