"""Cut a stand-in's operations, and every component they reference, out of a service's OpenAPI description.

Each service's extract_openapi.py names its operations, reads its package and writes its committed subset with
these helpers, so that the stand-in loads a small file instead of the whole published description.
"""
import json

from sandbox.common.contract import walk


def refs_in(node):
    """Every local $ref ("#/components/<kind>/<name>") found anywhere inside node."""
    for item in walk(node):
        ref = item.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/"):
            yield ref


def select_paths(spec, operations):
    """The listed methods of each listed path ({path: [method, ...]}), with the path's shared `parameters`."""
    paths = {}
    for path, methods in operations.items():
        item = spec["paths"][path]
        paths[path] = {key: value for key, value in item.items() if key in methods or key == "parameters"}
    return paths


def referenced_components(spec, roots):
    """{kind: {name: component}} of every component reachable by $ref from the roots, transitively."""
    components, pending, seen = {}, [ref for root in roots for ref in refs_in(root)], set()
    while pending:
        ref = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        _, _, kind, name = ref.split("/", 3)
        target = spec["components"][kind][name]
        components.setdefault(kind, {})[name] = target
        pending.extend(refs_in(target))
    return components


def subset(spec, operations):
    """The description cut to the listed operations ({path: [method, ...]}) and every component they reference,
    with the servers, the top-level security and the security schemes it names (by name, not by $ref)."""
    for path, methods in operations.items():
        missing = [m for m in methods if m not in spec["paths"][path]]
        if missing:
            raise KeyError("%s has no %s in the description" % (path, ", ".join(missing)))
    paths = select_paths(spec, operations)
    components = referenced_components(spec, [paths, spec.get("security", [])])
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
        "components": sorted_components(components),
    }


def sorted_components(components):
    """Components sorted by kind and name, so that the output does not depend on the order refs were found."""
    return {kind: dict(sorted(items.items())) for kind, items in sorted(components.items())}


def write_subset(result, out_file, ensure_ascii=True):
    with open(out_file, "w") as handle:
        json.dump(result, handle, indent=1, sort_keys=False, ensure_ascii=ensure_ascii)
        handle.write("\n")
    print("wrote %s: %d paths, %d components" % (
        out_file, len(result["paths"]), sum(len(v) for v in result["components"].values())))
