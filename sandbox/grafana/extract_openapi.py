"""Cut the part of Grafana's OpenAPI description that the stand-in serves into a small committed file.

Grafana publishes its HTTP API description as public/openapi3.json in the grafana/grafana repository (~690 kB,
OpenAPI 3.0.3, generated from the swagger comments of pkg/api). Regenerate the subset from a copy of that file:

    python -m sandbox.grafana.extract_openapi /tmp/grafana-openapi3.json --commit <the file's commit>

The subset keeps the operations listed in OPERATIONS, every component they reference (transitively), the
`servers`, `security` and the security schemes it names, and records the source repository, path and commit in
`info.x-extracted-from`. Output is deterministic: components sorted by name, keys in the description's own order.
GET /api/health and GET /api/frontend/settings, which the clients also call, are not in the description.
"""
import argparse
import json
import os

from sandbox.common import extract_openapi as extract

REPOSITORY, PATH = "grafana/grafana", "public/openapi3.json"
COMMIT = "004965ecf88f944b0752ce9582c6adde5687f643"

# path (relative to the server URL /api) -> the methods the stand-in implements
OPERATIONS = {
    "/annotations": ["post"],
    "/dashboards/db": ["post"],
    "/dashboards/uid/{uid}": ["get"],
    "/folders": ["get", "post"],
    "/search": ["get"],
}
OUT_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "openapi", "openapi3.subset.json")


def subset(spec, operations=OPERATIONS):
    return extract.subset(spec, operations)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec_file", help="public/openapi3.json of grafana/grafana")
    parser.add_argument("--commit", default=COMMIT, help="the grafana/grafana commit the file was taken from")
    parser.add_argument("--out", default=OUT_FILE)
    args = parser.parse_args(argv)
    with open(args.spec_file) as handle:
        spec = json.load(handle)
    result = subset(spec)
    result["info"] = dict(result["info"], **{"x-extracted-from": {
        "repository": REPOSITORY, "path": PATH, "commit": args.commit,
        "operations": sum(len(methods) for methods in OPERATIONS.values()),
    }})
    extract.write_subset(result, args.out, ensure_ascii=False)


if __name__ == "__main__":
    main()
