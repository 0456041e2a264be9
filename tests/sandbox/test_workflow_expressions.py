"""The local runner's `${{ }}` evaluator (sandbox/workflows/expressions.py) and its reading of `on:` and
workflow_dispatch inputs (sandbox/workflows/workflow.py), against the rules of GitHub's documentation."""
import math

import pytest

from sandbox.workflows import workflow
from sandbox.workflows.expressions import ExpressionError, MissingValue, Scope, Strict, split_template
from sandbox.workflows.workflow import BadInput

EVENT = {"pull_request": {"number": 7, "head": {"ref": "feature"}},
         "labels": [{"name": "docs"}, {"name": "Bug"}], "empty": {}}


def scope(status=None, **contexts):
    base = {"github": {"event_name": "push", "ref": "refs/heads/main", "event": EVENT},
            "env": {"Greeting": "hello"}, "vars": {}, "steps": {}}
    base.update(contexts)
    return Scope(base, status=status or (lambda name: name in ("success", "always")))


def ev(text, **contexts):
    return scope(**contexts).evaluate(text)


@pytest.mark.parametrize("text, value", [
    ("null", None), ("true", True), ("false", False), ("711", 711), ("-9.2", -9.2), ("0xff", 255),
    ("2.99e-2", 0.0299), ("'It''s open source!'", "It's open source!"), ("'\"double\"'", '"double"'),
])
def test_literals(text, value):
    assert ev(text) == value


@pytest.mark.parametrize("text, value", [
    # strings compare case-insensitively
    ("'ABC' == 'abc'", True), ("'a' < 'B'", True), ("'b' != 'B'", False),
    # different types are coerced to numbers: null 0, true 1, '' 0, a JSON number string its value, else NaN
    ("null == 0", True), ("null == false", True), ("true == 1", True), ("'' == 0", True), ("'1.5' == 1.5", True),
    ("' 2 ' == 2", True), ("'0x10' == 16", True), ("'abc' == 0", False), ("'abc' != 0", True),
    ("true > false", True), ("'10' > 9", True), ("NaN == NaN", False), ("NaN < 1", False),
    # arrays and objects are equal only to themselves
    ("github.event.labels == github.event.labels", True), ("github.event.empty == 0", False),
    ("fromJSON('[]') == fromJSON('[]')", False),
    ("1 < 2 && 2 <= 2 && 3 > 2 && 3 >= 4", False), ("!(1 == 2)", True), ("!''", True), ("!'0'", False),
])
def test_operators_and_coercion(text, value):
    assert ev(text) is value


@pytest.mark.parametrize("text, value", [
    ("'' || 'default'", "default"), ("0 || null", None), ("'x' && 'y'", "y"), ("null && 'y'", None),
    ("github.event_name == 'push' && 'deploy' || 'test'", "deploy"),
    ("fromJSON('[]') || 'no'", []),  # an array is truthy
])
def test_and_or_return_an_operand(text, value):
    assert ev(text) == value


def test_and_or_evaluate_lazily():
    secrets = Strict({}, lambda name: "no secret %s" % name)
    assert ev("false && secrets.NOPE", secrets=secrets) is False
    assert ev("'set' || secrets.NOPE", secrets=secrets) == "set"
    with pytest.raises(MissingValue, match="no secret NOPE"):
        ev("true && secrets.NOPE", secrets=secrets)


@pytest.mark.parametrize("text, value", [
    ("github.event.pull_request.number", 7), ("github['event']['pull_request']['head'].ref", "feature"),
    ("GITHUB.Event_Name", "push"), ("env.greeting", "hello"), ("github.event.nothing.deeper", None),
    ("github.event.labels[1].name", "Bug"), ("github.event.labels[5]", None), ("github.event.labels['0']", None),
    ("github.event.labels.*.name", ["docs", "Bug"]), ("github.event.labels[*].name", ["docs", "Bug"]),
])
def test_property_and_index_access(text, value):
    assert ev(text) == value


@pytest.mark.parametrize("text, value", [
    ("contains('Hello world', 'WORLD')", True), ("contains(github.event.labels.*.name, 'bug')", True),
    ("contains(fromJSON('[1, 2]'), '2')", True), ("contains(fromJSON('[1, 2]'), 3)", False),
    ("startsWith(github.ref, 'REFS/heads/')", True), ("endsWith('file.YML', '.yml')", True),
    ("format('{0} {1} {{braces}}', 'Hello', 3)", "Hello 3 {braces}"), ("format('{0}{0}', true)", "truetrue"),
    ("join(github.event.labels.*.name, ', ')", "docs, Bug"), ("join('abc')", "abc"),
    ("join(fromJSON('[1, null, false]'))", "1,,false"),
    ("toJSON(github.event.pull_request.head)", '{\n  "ref": "feature"\n}'),
    ("fromJSON('{\"a\": [1, 2.5]}').a[1]", 2.5), ("fromJSON('true')", True),
    ("FORMAT('{0}', 1.0)", "1"),
])
def test_functions(text, value):
    assert ev(text) == value


def test_hash_files_asks_the_scope():
    asked = []
    s = Scope({}, hash_files=lambda patterns: asked.append(patterns) or "f00d")
    assert s.evaluate("hashFiles('**/package-lock.json', 'x')") == "f00d"
    assert asked == [["**/package-lock.json", "x"]]


@pytest.mark.parametrize("text, message", [
    ("1 +", "unexpected character"), ("(1", "expected ')'"), ("nope.x", "Unrecognized named-value: 'nope'"),
    ("frobnicate(1)", "Unrecognized function: 'frobnicate'"), ("contains('a')", "contains() takes 2 arguments"),
    ("format('{1}', 'a')", "no argument {1}"), ("format('{', 1)", "a lone '{'"), ("fromJSON('{x')", "not JSON"),
    ("success(1)", "takes no arguments"), ("", "empty expression"), ("'open", "unexpected character"),
    ("a..b", "expected a property name"),
])
def test_errors_name_the_expression(text, message):
    with pytest.raises(ExpressionError, match=message.replace("(", r"\(").replace(")", r"\)").replace(
            "{", r"\{").replace("}", r"\}").replace("'", "'")):
        ev(text, a={})


@pytest.mark.parametrize("status, condition, runs", [
    ("ok", None, True), ("ok", "github.event_name == 'push'", True), ("failed", "github.event_name == 'push'", False),
    ("failed", "always()", True), ("failed", "failure()", True), ("ok", "failure()", False),
    ("failed", "${{ failure() && github.event_name == 'push' }}", True), ("ok", "${{ false }}", False),
    ("ok", "cancelled()", False), ("failed", "!cancelled()", True), ("failed", True, False), ("ok", True, True),
    ("failed", "success() || failure()", True),
])
def test_conditions_get_success_unless_they_call_a_status_function(status, condition, runs):
    failed = status == "failed"
    answers = {"success": not failed, "failure": failed, "always": True, "cancelled": False}
    assert scope(status=answers.__getitem__).condition(condition) is runs


def test_templates_keep_the_type_of_a_whole_expression_and_write_text_otherwise():
    s = scope()
    assert s.render("${{ 3 }}") == 3 and s.render(" ${{ true }} ") is True
    assert s.render("pr-${{ github.event.pull_request.number }}.${{ null }}!") == "pr-7.!"
    assert s.render("${{ github.event.labels }} ${{ github.event.empty }}") == "Array Object"
    assert s.render({"k": ["${{ env.greeting }}", 1]}) == {"k": ["hello", 1]}
    assert s.render("${{ format('}}{0}', 'x') }}") == "}x"
    assert split_template("no expression") == [("text", "no expression")]
    with pytest.raises(ExpressionError, match="unterminated"):
        s.render("${{ 1 ")


def test_numbers_as_text():
    assert [ev("format('{0}', %s)" % n) for n in ("1", "1.5", "-0", "1e3", "0.1")] == ["1", "1.5", "0", "1000", "0.1"]
    assert ev("format('{0}', NaN)") == "NaN" and math.isinf(ev("Infinity"))


# --- on: ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("patterns, value, matched", [
    (["main"], "main", True), (["main"], "main2", False), (["releases/*"], "releases/v1", True),
    (["releases/*"], "releases/v1/x", False), (["releases/**"], "releases/v1/x", True),
    (["feature/*", "!feature/wip"], "feature/wip", False), (["feature/*", "!feature/wip"], "feature/a", True),
    (["*", "!main", "main"], "main", True), (["v[12].*"], "v2.0", True), (["v[12].*"], "v3.0", False),
    (["ab?c"], "ac", True), (["ab?c"], "abbc", False), (["ab+c"], "abbbc", True),
    (["docs/**/*.md"], "docs/a/b/c.md", True), (["**.js"], "src/app.js", True), (["*.js"], "src/app.js", False),
])
def test_filter_patterns(patterns, value, matched):
    assert workflow.matches(patterns, value) is matched


PUSH = {"branches": ["main"], "paths": ["book/**", ".github/workflows/deploy.yml"]}


@pytest.mark.parametrize("event, settings, ref, base, changed, action, reason", [
    ("push", PUSH, "refs/heads/main", "", ["book/index.md"], None, None),
    ("push", PUSH, "refs/heads/dev", "", ["book/index.md"], None, "branch 'dev' is not in branches ['main']"),
    ("push", PUSH, "refs/heads/main", "", ["README.md"], None, "no changed file matches paths"),
    ("push", {"paths-ignore": ["docs/**"]}, "refs/heads/x", "", ["docs/a.md"], None, "every changed file matches"),
    ("push", {"paths-ignore": ["docs/**"]}, "refs/heads/x", "", ["docs/a.md", "b"], None, None),
    ("push", {"branches": ["main"]}, "refs/tags/v1", "", [], None, "filters branches only"),
    ("push", {"tags": ["v*"]}, "refs/tags/v1", "", [], None, None),
    ("push", {"branches-ignore": ["wip/**"]}, "refs/heads/wip/a/b", "", [], None, "is in branches-ignore"),
    ("pull_request", {}, "refs/pull/1/merge", "main", ["a"], "opened", None),
    ("pull_request", {}, "refs/pull/1/merge", "main", ["a"], "closed", "closed is not in its types"),
    ("pull_request", {"types": ["closed"]}, "refs/pull/1/merge", "main", ["a"], "closed", None),
    ("pull_request", {"branches": ["release"]}, "refs/pull/1/merge", "main", ["a"], "opened", "branch 'main'"),
    ("workflow_dispatch", {}, "refs/heads/x", "", [], None, None),
])
def test_on_filters(event, settings, ref, base, changed, action, reason):
    found = workflow.mismatch(event, settings, ref, base, changed, action)
    assert (found is None) if reason is None else (reason in found), found


def test_events_the_workflow_does_not_listen_to_are_refused(tmp_path):
    path = tmp_path / "ci.yml"
    path.write_text("on:\n  push:\n  pull_request:\njobs:\n  a:\n    runs-on: x\n    steps: [{run: 'true'}]\n")
    loaded = workflow.load(path)
    assert workflow.check_event(loaded, "push", "ci.yml") == {}
    with pytest.raises(BadInput, match="ci.yml does not run on workflow_dispatch: it listens to pull_request, push"):
        workflow.check_event(loaded, "workflow_dispatch", "ci.yml")
    with pytest.raises(BadInput, match="unknown event 'schedule'"):
        workflow.check_event(loaded, "schedule", "ci.yml")
    assert workflow.triggers({"on": "push"}) == {"push": {}}
    assert workflow.triggers({"on": ["push", "pull_request"]}) == {"push": {}, "pull_request": {}}


def test_a_file_that_does_not_parse_is_named_with_its_line(tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text("on: push\njobs:\n  a:\n    steps: [\n      run: x\n")
    with pytest.raises(BadInput, match=r"bad\.yml:\d+:\d+: the workflow is not valid YAML"):
        workflow.load(path)


DISPATCH = {"inputs": {"environment": {"type": "choice", "options": ["staging", "production"],
                                       "default": "staging"},
                       "dry_run": {"type": "boolean", "default": False},
                       "count": {"type": "number", "default": 2}, "note": {"required": True}}}


def test_dispatch_inputs_are_typed_and_defaulted():
    assert workflow.dispatch_inputs(DISPATCH, {"note": "n"}) == {"environment": "staging", "dry_run": False,
                                                                 "count": 2, "note": "n"}
    assert workflow.dispatch_inputs(DISPATCH, {"note": "", "dry_run": "true", "count": "2.5",
                                               "environment": "production"})["dry_run"] is True


@pytest.mark.parametrize("given, message", [
    ({"note": "n", "colour": "red"}, "unknown --input colour: the workflow declares count, dry_run, environment"),
    ({"note": "n", "environment": "local"}, "input environment must be one of staging, production, not 'local'"),
    ({"note": "n", "dry_run": "maybe"}, "input dry_run is a boolean"),
    ({"note": "n", "count": "many"}, "input count is a number"),
    ({}, "input note is required"),
])
def test_bad_dispatch_inputs(given, message):
    with pytest.raises(BadInput, match=message):
        workflow.dispatch_inputs(DISPATCH, given)
