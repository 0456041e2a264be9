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

from sandbox.common.contract import walk

# path -> the methods the stand-in implements
OPERATIONS = {
    "/repos/{owner}/{repo}": ["get"],
    "/repos/{owner}/{repo}/pages": ["get", "post", "put", "delete"],
    "/repos/{owner}/{repo}/pages/builds": ["get", "post"],
    "/repos/{owner}/{repo}/pages/builds/latest": ["get"],
    "/repos/{owner}/{repo}/pages/builds/{build_id}": ["get"],
}
SPEC_FILE = os.path.join("generated", "api.github.com.json")
OUT_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "openapi", "api.github.com.subset.json")


def refs_in(node):
    """Every local $ref ("#/components/<kind>/<name>") found anywhere inside node."""
    for item in walk(node):
        ref = item.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/"):
            yield ref


def subset(spec, operations=OPERATIONS):
    paths = {}
    for path, methods in operations.items():
        item = spec["paths"][path]
        paths[path] = {key: value for key, value in item.items() if key in methods or key == "parameters"}

    components, pending, seen = {}, list(refs_in(paths)), set()
    while pending:
        ref = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        _, _, kind, name = ref.split("/", 3)
        target = spec["components"][kind][name]
        components.setdefault(kind, {})[name] = target
        pending.extend(refs_in(target))

    return {
        "openapi": spec["openapi"],
        "info": spec["info"],
        "servers": spec["servers"],
        "paths": paths,
        "components": {kind: dict(sorted(items.items())) for kind, items in sorted(components.items())},
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
    with open(args.out, "w") as handle:
        json.dump(result, handle, indent=1, sort_keys=False)
        handle.write("\n")
    print("wrote %s: %d paths, %d components" % (
        args.out, len(result["paths"]), sum(len(v) for v in result["components"].values())))


if __name__ == "__main__":
    main()
