"""Routing shared by the stand-ins: an operation's method and path template, matched against request paths."""
import re


class Route:
    """One operation; `{name}` in the template matches one path segment, captured as `name`."""

    def __init__(self, method, template, action):
        self.method, self.template, self.action = method, template, action
        self.regex = re.compile("^%s$" % re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template))


def match(routes, method, path):
    """(route, path params) of the first route for the method and path, or (None, None)."""
    for route in routes:
        found = route.regex.match(path)
        if found and route.method == method:
            return route, found.groupdict()
    return None, None
