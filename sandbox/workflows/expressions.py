"""GitHub Actions' `${{ }}` expression language: literals, operators, property access, functions and templates.

Written here rather than taken from PyPI: the packages found there for these expressions either only parse them
(tree-sitter grammars, no evaluator) or wrap `act` (a Go binary downloaded at run time) or are one-release projects
with no users to speak of; none is a well-kept evaluator. The rules below follow GitHub's documentation,
"Evaluate expressions in workflows and actions" (docs.github.com):

- literals: null, true, false, numbers in any JSON form (plus hex 0x..), 'strings' ('' escapes a quote);
- operators, loosest first: `||`, `&&`, `== !=`, `< <= > >=`, `!`, then `.name`, `[index]`, `.*` and `( )`;
  `&&` and `||` return one of their operands, not a boolean;
- loose equality: strings compare case-insensitively; values of different types are both coerced to numbers
  (null 0, true 1, false 0, a string parsed as a JSON number, '' 0, else NaN; arrays and objects NaN); NaN equals
  nothing; arrays and objects are equal only to themselves;
- falsy: false, 0, -0, '', null, NaN; everything else (arrays and objects too) is truthy;
- property names and function names are case-insensitive; a missing property is null; `a.*` is an array of the
  values (or items), and a property of such an array maps over it (`labels.*.name`);
- functions: contains, startsWith, endsWith, format, join, toJSON, fromJSON, hashFiles and the status functions
  success, always, failure, cancelled (the caller answers those and hashFiles, see `Scope`).

A context may refuse a missing key (secrets and variables of the runner, see `Strict`): the error names the key.
"""
import json
import math
import re

NAN = float("nan")
STATUS_FUNCTIONS = ("success", "always", "failure", "cancelled")
TOKEN = re.compile(r"""\s*(?:
    (?P<number>0x[0-9a-fA-F]+|-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<string>'(?:[^']|'')*')
  | (?P<op>&&|\|\||==|!=|<=|>=|[!<>()\[\].,*])
  | (?P<name>[A-Za-z_][A-Za-z0-9_-]*)
)""", re.VERBOSE)
KEYWORDS = {"true": True, "false": False, "null": None, "nan": NAN, "infinity": math.inf}


class ExpressionError(ValueError):
    """An expression that does not parse, or fails to evaluate (the message says which and where)."""


class MissingValue(ExpressionError):
    """A secret or variable that is referenced but set at no level searched (raised by `Strict`)."""


class Strict(dict):
    """A context whose missing keys are an error, not null: `describe(name)` words it (which levels were searched)."""

    def __init__(self, values, describe):
        super().__init__(values)
        self.describe = describe

    def missing(self, name):
        raise MissingValue(self.describe(name))


class Filtered(list):
    """The array `a.*` makes: a property of it is taken from each item."""


# --- parsing ---------------------------------------------------------------------------------------------------

def tokenize(text):
    tokens, pos = [], 0
    while pos < len(text):
        if not text[pos:].strip():
            break
        found = TOKEN.match(text, pos)
        if not found:
            raise ExpressionError("unexpected character %r at position %d in %r" % (text[pos:].lstrip()[:1],
                                                                                       pos + 1, text))
        kind = found.lastgroup
        tokens.append((kind, found.group(kind)))
        pos = found.end()
    return tokens


class Parser:
    """Recursive descent over the tokens; the tree is nested tuples: (kind, ...)."""

    def __init__(self, text):
        self.text, self.tokens, self.pos = text, tokenize(text), 0

    def parse(self):
        if not self.tokens:
            raise ExpressionError("empty expression")
        tree = self.binary(0)
        if self.pos < len(self.tokens):
            self.fail("unexpected %r" % self.tokens[self.pos][1])
        return tree

    def fail(self, message):
        raise ExpressionError("%s in expression %r" % (message, self.text))

    def peek(self, value=None):
        if self.pos >= len(self.tokens):
            return None
        token = self.tokens[self.pos]
        return token if value is None or (token[0] == "op" and token[1] == value) else None

    def take(self, value):
        if not self.peek(value):
            self.fail("expected %r" % value)
        self.pos += 1

    LEVELS = (("||",), ("&&",), ("==", "!="), ("<", "<=", ">", ">="))

    def binary(self, level):
        if level == len(self.LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while self.peek() and self.peek()[0] == "op" and self.peek()[1] in self.LEVELS[level]:
            operator = self.tokens[self.pos][1]
            self.pos += 1
            left = ("op", operator, left, self.binary(level + 1))
        return left

    def unary(self):
        if self.peek("!"):
            self.pos += 1
            return ("not", self.unary())
        return self.postfix(self.primary())

    def postfix(self, node):
        while True:
            if self.peek("."):
                self.pos += 1
                token = self.peek()
                if token and token[1] == "*":
                    self.pos += 1
                    node = ("star", node)
                elif token and token[0] == "name":
                    self.pos += 1
                    node = ("index", node, ("literal", token[1]))
                else:
                    self.fail("expected a property name after '.'")
            elif self.peek("["):
                self.pos += 1
                index = ("star",) if self.peek("*") else None
                if index:
                    self.pos += 1
                    node = ("star", node)
                else:
                    node = ("index", node, self.binary(0))
                self.take("]")
            else:
                return node

    def primary(self):
        token = self.peek()
        if token is None:
            self.fail("unexpected end")
        self.pos += 1
        kind, value = token
        if kind == "number":
            return ("literal", parse_number(value))
        if kind == "string":
            return ("literal", value[1:-1].replace("''", "'"))
        if kind == "op" and value == "(":
            node = self.binary(0)
            self.take(")")
            return node
        if kind == "name":
            if self.peek("("):
                return self.call(value)
            if value.lower() in KEYWORDS:
                return ("literal", KEYWORDS[value.lower()])
            return ("context", value)
        self.fail("unexpected %r" % value)

    def call(self, name):
        self.take("(")
        args = []
        while not self.peek(")"):
            if args:
                self.take(",")
            args.append(self.binary(0))
        self.take(")")
        return ("call", name.lower(), args)


def parse_number(text):
    if text.lower().startswith("0x"):
        return int(text, 16)
    value = float(text)
    return int(value) if value.is_integer() and abs(value) < 2 ** 53 and "." not in text and "e" not in text.lower() \
        else value


def uses_status_function(node):
    if isinstance(node, list):
        return any(uses_status_function(item) for item in node)
    if not isinstance(node, tuple):
        return False
    if node[0] == "call" and node[1] in STATUS_FUNCTIONS:
        return True
    return any(uses_status_function(part) for part in node[1:])


# --- values ----------------------------------------------------------------------------------------------------

def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def to_number(value):
    if value is None:
        return 0
    if isinstance(value, bool):
        return int(value)
    if is_number(value):
        return value
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return 0
        try:
            return int(text, 16) if text.lower().startswith("0x") else float(json.loads(text)) \
                if re.fullmatch(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?", text) else NAN
        except ValueError:
            return NAN
    return NAN


def truthy(value):
    if value is None or value is False:
        return False
    if is_number(value):
        return value != 0 and not math.isnan(value)
    if isinstance(value, str):
        return value != ""
    return True


def to_string(value):
    """A value as text, the way GitHub writes it into a string (a template, format, join, contains)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_number(value):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(float(value))
    if isinstance(value, str):
        return value
    return "Array" if isinstance(value, list) else "Object"


def same_kind(left, right):
    kinds = [("null" if v is None else "bool" if isinstance(v, bool) else "number" if is_number(v) else
              "string" if isinstance(v, str) else "other") for v in (left, right)]
    return kinds[0] == kinds[1] and kinds[0] != "other", kinds[0]


def loose_equal(left, right):
    alike, kind = same_kind(left, right)
    if alike:
        return left.casefold() == right.casefold() if kind == "string" else left == right
    if isinstance(left, (list, dict)) or isinstance(right, (list, dict)):
        return left is right
    a, b = to_number(left), to_number(right)
    return not (math.isnan(a) or math.isnan(b)) and a == b


def compare(operator, left, right):
    alike, kind = same_kind(left, right)
    if alike and kind == "string":
        a, b = left.casefold(), right.casefold()
    else:
        a, b = to_number(left), to_number(right)
        if math.isnan(a) or math.isnan(b):
            return False
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[operator]


def lookup(container, key):
    """container[key] as GitHub reads it: object keys case-insensitively, array items by number, else null."""
    if isinstance(container, Filtered):
        found = [lookup(item, key) for item in container]
        return Filtered(item for item in found if item is not None)
    if isinstance(container, dict):
        if isinstance(key, str):
            if key in container:
                return container[key]
            folded = key.casefold()
            for name, value in container.items():
                if isinstance(name, str) and name.casefold() == folded:
                    return value
        if isinstance(container, Strict):
            return container.missing(to_string(key))
        return None
    if isinstance(container, list) and not isinstance(key, (str, bool)) and key is not None:
        number = to_number(key)
        if not math.isnan(number) and float(number).is_integer() and 0 <= number < len(container):
            return container[int(number)]
    return None


def star(value):
    if isinstance(value, dict):
        return Filtered(value.values())
    if isinstance(value, list):
        return Filtered(value)
    return Filtered()


# --- functions -------------------------------------------------------------------------------------------------

def fn_contains(search, item):
    if isinstance(search, list):
        return any(loose_equal(candidate, item) for candidate in search)
    return to_string(item).casefold() in to_string(search).casefold()


def fn_format(template, *args):
    text, out, pos = to_string(template), [], 0
    for found in re.finditer(r"\{\{|\}\}|\{(\d+)\}|[{}]", text):
        out.append(text[pos:found.start()])
        token = found.group(0)
        if token in ("{{", "}}"):
            out.append(token[0])
        elif found.group(1) is None:
            raise ExpressionError("format(%r): a lone %r (write {{ or }} for a brace)" % (text, token))
        elif int(found.group(1)) >= len(args):
            raise ExpressionError("format(%r): no argument {%s}" % (text, found.group(1)))
        else:
            out.append(to_string(args[int(found.group(1))]))
        pos = found.end()
    return "".join(out) + text[pos:]


def fn_join(value, separator=","):
    if isinstance(value, list):
        return to_string(separator).join(to_string(item) for item in value)
    return to_string(value)


def fn_from_json(text):
    try:
        return json.loads(to_string(text))
    except ValueError as err:
        raise ExpressionError("fromJSON: %r is not JSON (%s)" % (to_string(text)[:80], err))


def fn_to_json(value):
    return json.dumps(value, indent=2, default=to_string)


FUNCTIONS = {
    # name: (implementation, fewest arguments, most arguments)
    "contains": (fn_contains, 2, 2),
    "startswith": (lambda s, v: to_string(s).casefold().startswith(to_string(v).casefold()), 2, 2),
    "endswith": (lambda s, v: to_string(s).casefold().endswith(to_string(v).casefold()), 2, 2),
    "format": (fn_format, 1, 99),
    "join": (fn_join, 1, 2),
    "tojson": (fn_to_json, 1, 1),
    "fromjson": (fn_from_json, 1, 1),
}


# --- evaluation ------------------------------------------------------------------------------------------------

class Scope:
    """What an expression can see: the contexts by name, and the answers of the functions that need the run.

    `status(name)` answers success/always/failure/cancelled; `hash_files(patterns)` answers hashFiles.
    """

    def __init__(self, contexts, status=None, hash_files=None):
        self.contexts = {name.lower(): value for name, value in contexts.items()}
        self.status = status
        self.hash_files = hash_files

    def evaluate(self, text):
        return self.run(Parser(text).parse(), text)

    def run(self, node, text):
        kind = node[0]
        if kind == "literal":
            return node[1]
        if kind == "context":
            if node[1].lower() not in self.contexts:
                raise ExpressionError("Unrecognized named-value: %r in expression %r (known: %s)"
                                      % (node[1], text, ", ".join(sorted(self.contexts))))
            return self.contexts[node[1].lower()]
        if kind == "index":
            return lookup(self.run(node[1], text), self.run(node[2], text))
        if kind == "star":
            return star(self.run(node[1], text))
        if kind == "not":
            return not truthy(self.run(node[1], text))
        if kind == "op":
            return self.operator(node, text)
        return self.call(node[1], node[2], text)

    def operator(self, node, text):
        _, operator, left_node, right_node = node
        left = self.run(left_node, text)
        if operator == "&&":
            return self.run(right_node, text) if truthy(left) else left
        if operator == "||":
            return left if truthy(left) else self.run(right_node, text)
        right = self.run(right_node, text)
        if operator == "==":
            return loose_equal(left, right)
        if operator == "!=":
            return not loose_equal(left, right)
        return compare(operator, left, right)

    def call(self, name, arg_nodes, text):
        if name in STATUS_FUNCTIONS:
            if arg_nodes:
                raise ExpressionError("%s() takes no arguments, in expression %r" % (name, text))
            if self.status is None:
                raise ExpressionError("%s() is not available here, in expression %r" % (name, text))
            return self.status(name)
        args = [self.run(arg, text) for arg in arg_nodes]
        if name == "hashfiles":
            if not args or self.hash_files is None:
                raise ExpressionError("hashFiles needs a pattern and a workspace, in expression %r" % text)
            return self.hash_files([to_string(arg) for arg in args])
        if name not in FUNCTIONS:
            raise ExpressionError("Unrecognized function: %r in expression %r" % (name, text))
        function, fewest, most = FUNCTIONS[name]
        if not fewest <= len(args) <= most:
            raise ExpressionError("%s() takes %s arguments, got %d, in expression %r"
                                  % (name, fewest if fewest == most else "%d to %d" % (fewest, most), len(args), text))
        return function(*args)

    # --- templates and conditions ------------------------------------------------------------------------------

    def render(self, value):
        """A workflow value with its `${{ }}` replaced: a string that is one whole expression keeps the
        expression's type (true, 3, an object); other strings get text; lists and mappings are rendered inside."""
        if isinstance(value, str):
            return self.render_string(value)
        if isinstance(value, list):
            return [self.render(item) for item in value]
        if isinstance(value, dict):
            return {key: self.render(item) for key, item in value.items()}
        return value

    def render_string(self, text):
        whole = split_template(text.strip())
        if len(whole) == 1 and whole[0][0] == "expr":
            return self.evaluate(whole[0][1])
        pieces = split_template(text)
        return "".join(piece if kind == "text" else to_string(self.evaluate(piece)) for kind, piece in pieces)

    def condition(self, value):
        """An `if:` as GitHub reads it: with or without `${{ }}`, and `success() && (...)` unless it calls a
        status function itself. A missing `if:` is success()."""
        if value is None:
            value = "success()"
        if isinstance(value, bool):
            value = "success() && %s" % ("true" if value else "false")
        text = str(value).strip()
        if text.startswith("${{") and text.endswith("}}") and len(split_template(text)) == 1:
            text = text[3:-2].strip()
        elif "${{" in text:
            text = to_string(self.render_string(text))
            return truthy(text) and self.status("success")
        tree = Parser(text).parse()
        if not uses_status_function(tree):
            tree = ("op", "&&", ("call", "success", []), tree)
        return truthy(self.run(tree, text))


def split_template(text):
    """[("text", s) | ("expr", source)] for a string with `${{ ... }}` in it; `}}` inside a '...' literal does not
    end an expression."""
    pieces, pos = [], 0
    while True:
        start = text.find("${{", pos)
        if start < 0:
            if pos < len(text) or not pieces:
                pieces.append(("text", text[pos:]))
            return pieces
        if start > pos:
            pieces.append(("text", text[pos:start]))
        end = expression_end(text, start + 3)
        pieces.append(("expr", text[start + 3:end].strip()))
        pos = end + 2


def expression_end(text, pos):
    in_string = False
    while pos < len(text):
        char = text[pos]
        if char == "'":
            in_string = not in_string
        elif not in_string and text.startswith("}}", pos):
            return pos
        pos += 1
    raise ExpressionError("unterminated ${{ in %r" % text)
