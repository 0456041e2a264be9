"""Code the three stand-ins share: fault registry, request log and lifecycle, OpenAPI contract and extraction."""
