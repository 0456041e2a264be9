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

from sandbox.common import extract_openapi as extract

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


def subset(spec, operations=OPERATIONS):
    return extract.subset(spec, operations)


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
    extract.write_subset(result, args.out, ensure_ascii=False)


if __name__ == "__main__":
    main()
