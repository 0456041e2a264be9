"""Cut the part of Neon's OpenAPI description that the stand-in serves into a small committed file.

Neon publishes its API v2 description in the npm package @neondatabase/api-client (file
public-v2-for-users.gen.yaml, ~430 kB of YAML). Regenerate the subset after bumping the package:

    cd /tmp && npm pack @neondatabase/api-client@2.7.3 && tar xzf neondatabase-api-client-2.7.3.tgz
    python -m sandbox.neon.extract_openapi /tmp/package/public-v2-for-users.gen.yaml

The subset keeps the operations listed in OPERATIONS, every component they reference (transitively), the
`servers` and `security` entries, and records the source package and version in `info.x-extracted-from`
(read from the package.json beside the YAML file when present, else from PACKAGE/VERSION). Output is
deterministic: components sorted by name, keys in the description's own order, `sort_keys` off.
"""
import argparse
import json
import os

import yaml

from sandbox.common.contract import walk

PACKAGE, VERSION, FILE = "@neondatabase/api-client", "2.7.3", "public-v2-for-users.gen.yaml"

# path -> the methods the stand-in implements
OPERATIONS = {
    "/projects": ["get", "post"],
    "/projects/{project_id}": ["get", "patch", "delete"],
    "/projects/{project_id}/branches": ["get", "post"],
    "/projects/{project_id}/branches/{branch_id}": ["get", "patch", "delete"],
    "/projects/{project_id}/branches/{branch_id}/endpoints": ["get"],
    "/projects/{project_id}/endpoints": ["get", "post"],
    "/projects/{project_id}/endpoints/{endpoint_id}": ["get", "patch", "delete"],
    "/projects/{project_id}/branches/{branch_id}/roles": ["get", "post"],
    "/projects/{project_id}/branches/{branch_id}/roles/{role_name}": ["get", "delete"],
    "/projects/{project_id}/branches/{branch_id}/roles/{role_name}/reset_password": ["post"],
    "/projects/{project_id}/branches/{branch_id}/roles/{role_name}/reveal_password": ["get"],
    "/projects/{project_id}/branches/{branch_id}/databases": ["get", "post"],
    "/projects/{project_id}/branches/{branch_id}/databases/{database_name}": ["get", "patch", "delete"],
    "/projects/{project_id}/operations": ["get"],
    "/projects/{project_id}/operations/{operation_id}": ["get"],
    "/projects/{project_id}/connection_uri": ["get"],
}
OUT_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "openapi", "public-v2-for-users.subset.json")


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
        missing = [m for m in methods if m not in item]
        if missing:
            raise KeyError("%s has no %s in the description" % (path, ", ".join(missing)))
        paths[path] = {key: value for key, value in item.items() if key in methods or key == "parameters"}

    roots = [paths, spec.get("security", [])]
    components, pending, seen = {}, [r for root in roots for r in refs_in(root)], set()
    while pending:
        ref = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        _, _, kind, name = ref.split("/", 3)
        target = spec["components"][kind][name]
        components.setdefault(kind, {})[name] = target
        pending.extend(refs_in(target))
    # the security schemes named by the top-level `security` are referenced by name, not by $ref
    schemes = spec["components"].get("securitySchemes", {})
    for requirement in spec.get("security", []):
        for name in requirement:
            components.setdefault("securitySchemes", {})[name] = schemes[name]

    return {
        "openapi": spec["openapi"],
        "info": spec["info"],
        "servers": spec["servers"],
        "security": spec.get("security", []),
        "paths": paths,
        "components": {kind: dict(sorted(items.items())) for kind, items in sorted(components.items())},
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec_file", help="public-v2-for-users.gen.yaml from the unpacked @neondatabase/api-client")
    parser.add_argument("--out", default=OUT_FILE)
    args = parser.parse_args(argv)

    name, version = PACKAGE, VERSION
    package_json = os.path.join(os.path.dirname(os.path.abspath(args.spec_file)), "package.json")
    if os.path.exists(package_json):
        with open(package_json) as handle:
            package = json.load(handle)
        name, version = package["name"], package["version"]
    with open(args.spec_file) as handle:
        spec = yaml.safe_load(handle)

    result = subset(spec)
    result["info"] = dict(result["info"], **{"x-extracted-from": {
        "package": name, "version": version, "file": os.path.basename(args.spec_file),
        "operations": sum(len(methods) for methods in OPERATIONS.values()),
    }})
    with open(args.out, "w") as handle:
        json.dump(result, handle, indent=1, sort_keys=False, ensure_ascii=False)
        handle.write("\n")
    print("wrote %s: %d paths, %d components" % (
        args.out, len(result["paths"]), sum(len(v) for v in result["components"].values())))


if __name__ == "__main__":
    main()
