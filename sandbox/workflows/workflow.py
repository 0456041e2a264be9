"""A workflow file as GitHub reads it: the YAML, `on:` (events, branch, tag, path and type filters) and the
inputs of workflow_dispatch.

Filter patterns follow GitHub's "Filter pattern cheat sheet" (Workflow syntax for GitHub Actions): `*` matches
any characters but `/`, `**` any characters, `?` zero or one of the preceding character, `+` one or more of it,
`[...]` a class, and a leading `!` takes back what the patterns before it matched (order matters).
"""
import re

import yaml

EVENTS = ("push", "pull_request", "workflow_dispatch")
PULL_REQUEST_ACTIONS = ("opened", "synchronize", "reopened", "closed", "edited", "assigned", "unassigned",
                        "labeled", "unlabeled", "ready_for_review", "converted_to_draft", "review_requested",
                        "review_request_removed", "locked", "unlocked", "auto_merge_enabled", "auto_merge_disabled",
                        "enqueued", "dequeued", "milestoned", "demilestoned")
DEFAULT_PULL_REQUEST_TYPES = ("opened", "synchronize", "reopened")  # GitHub's, when `types:` is not given
INPUT_TYPES = ("string", "choice", "boolean", "number", "environment")


class BadInput(Exception):
    """Something the user gave (a file, an option, a missing secret) that stops the run before or as it starts."""


def load(path):
    """The workflow as a dict, with `on` as a key (YAML 1.1 would read it as true). A file that does not parse is
    BadInput naming the file and the line."""
    try:
        with open(path) as handle:
            data = yaml.safe_load(handle)
    except OSError as err:
        raise BadInput("cannot read the workflow %s: %s" % (path, err.strerror))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = "%s:%d:%d" % (path, mark.line + 1, mark.column + 1) if mark else str(path)
        raise BadInput("%s: the workflow is not valid YAML: %s" % (where, getattr(err, "problem", None) or err))
    if not isinstance(data, dict):
        raise BadInput("%s: a workflow is a mapping with `on:` and `jobs:`" % path)
    if True in data:
        data["on"] = data.pop(True)
    for key in ("on", "jobs"):
        if not data.get(key):
            raise BadInput("%s: the workflow has no `%s:`" % (path, key))
    if not isinstance(data["jobs"], dict):
        raise BadInput("%s: `jobs:` must map job ids to jobs" % path)
    return data


def triggers(workflow):
    """{event: its settings (a dict, maybe empty)} from `on:` in any of its three forms."""
    on = workflow["on"]
    if isinstance(on, str):
        return {on: {}}
    if isinstance(on, list):
        return {event: {} for event in on}
    return {event: settings or {} for event, settings in on.items()}


def check_event(workflow, event, path):
    """BadInput for an event the runner does not know, or one the workflow does not listen to."""
    if event not in EVENTS:
        raise BadInput("unknown event %r: the runner knows %s" % (event, ", ".join(EVENTS)))
    listened = triggers(workflow)
    if event not in listened:
        raise BadInput("%s does not run on %s: it listens to %s" % (path, event, ", ".join(sorted(listened))))
    return listened[event]


# --- filters ---------------------------------------------------------------------------------------------------

def pattern_regex(pattern):
    """A filter pattern as a regular expression (see the module docstring)."""
    out, pos = [], 0
    while pos < len(pattern):
        char = pattern[pos]
        if pattern.startswith("**", pos):
            out.append(".*")
            pos += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char in "?+":
            out.append(char)
        elif char == "[":
            end = pattern.find("]", pos + 1)
            if end < 0:
                out.append(re.escape(char))
            else:
                out.append(pattern[pos:end + 1])
                pos = end
        else:
            out.append(re.escape(char))
        pos += 1
    return re.compile("^%s$" % "".join(out))


def matches(patterns, value):
    """Whether value passes a list of patterns, later `!patterns` taking back earlier matches."""
    result = False
    for pattern in patterns or []:
        negated = pattern.startswith("!")
        if pattern_regex(pattern[1:] if negated else pattern).match(value):
            result = not negated
    return result


def as_list(value):
    return [value] if isinstance(value, str) else list(value or [])


def ref_mismatch(settings, ref):
    """Why a push of `ref` does not pass branches/tags filters, or None when it does."""
    kind, name = ("tags", ref[len("refs/tags/"):]) if ref.startswith("refs/tags/") else \
        ("branches", ref[len("refs/heads/"):])
    other = "branches" if kind == "tags" else "tags"
    include, ignore = settings.get(kind), settings.get(kind + "-ignore")
    if include is not None and not matches(as_list(include), name):
        return "%s %r is not in %s %s" % (kind[:-1] if kind == "tags" else "branch", name, kind, as_list(include))
    if ignore is not None and matches(as_list(ignore), name):
        return "%s %r is in %s-ignore %s" % (kind[:-1] if kind == "tags" else "branch", name, kind, as_list(ignore))
    if include is None and ignore is None and (settings.get(other) is not None or
                                               settings.get(other + "-ignore") is not None):
        return "the workflow filters %s only, and %s is not one" % (other, ref)
    return None


def paths_mismatch(settings, changed):
    """Why the changed files do not pass paths/paths-ignore, or None when they do."""
    include, ignore = settings.get("paths"), settings.get("paths-ignore")
    if include is not None and not any(matches(as_list(include), path) for path in changed):
        return "no changed file matches paths %s (changed: %s)" % (as_list(include), summary(changed))
    if ignore is not None and changed and all(matches(as_list(ignore), path) for path in changed):
        return "every changed file matches paths-ignore %s (changed: %s)" % (as_list(ignore), summary(changed))
    return None


def summary(paths, most=5):
    shown = ", ".join(paths[:most]) or "none"
    return shown + (" and %d more" % (len(paths) - most) if len(paths) > most else "")


def mismatch(event, settings, ref, base_ref, changed, action):
    """Why `on:` does not start the workflow for this event, or None when it does. `ref` is the pushed ref;
    a pull request's branch filters look at its base branch (`base_ref`) and its types at `action`."""
    if event == "workflow_dispatch":
        return None
    if event == "pull_request":
        types = as_list(settings.get("types")) or list(DEFAULT_PULL_REQUEST_TYPES)
        if action not in types:
            return "pull_request %s is not in its types %s" % (action, types)
        reason = ref_mismatch({key: value for key, value in settings.items() if key.startswith("branches")},
                              "refs/heads/" + base_ref)
    else:
        reason = ref_mismatch(settings, ref)
    return reason or paths_mismatch(settings, changed)


# --- workflow_dispatch inputs ----------------------------------------------------------------------------------

def dispatch_inputs(settings, given):
    """The `inputs` context: each declared input from --input or its default, typed (booleans and numbers as
    such). An unknown name, a missing required input, a value outside a choice's options or of the wrong type is
    BadInput."""
    declared = settings.get("inputs") or {}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise BadInput("unknown --input %s: the workflow declares %s" % (", ".join(unknown),
                                                                        ", ".join(sorted(declared)) or "no inputs"))
    return {name: typed_input(name, spec or {}, given.get(name)) for name, spec in declared.items()}


def typed_input(name, spec, value):
    kind = spec.get("type", "string")
    if kind not in INPUT_TYPES:
        raise BadInput("input %s has an unknown type %r" % (name, kind))
    if value is None:
        value = spec.get("default")
        if value is None and spec.get("required"):
            raise BadInput("input %s is required: give --input %s=VALUE" % (name, name))
    if kind == "boolean":
        text = str(value if value is not None else False).lower()
        if text not in ("true", "false"):
            raise BadInput("input %s is a boolean: true or false, not %r" % (name, value))
        return text == "true"
    if kind == "number":
        try:
            number = float(value if value is not None else 0)
        except ValueError:
            raise BadInput("input %s is a number, not %r" % (name, value))
        return int(number) if number.is_integer() else number
    text = "" if value is None else str(value)
    options = [str(option) for option in spec.get("options") or []]
    if kind == "choice" and text not in options:
        raise BadInput("input %s must be one of %s, not %r" % (name, ", ".join(options), text))
    return text
