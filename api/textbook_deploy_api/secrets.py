"""Which values of a run are secret, and scrubbing them out of text and out of the artifacts a run keeps."""
import base64
import json
import os
import re

MASK = "********"
# names whose values are secrets: extra vars, nested keys and environment variables
SECRET_NAME = re.compile(r"(token|passw|secret|private_key|api_key|apikey|credential|database_url|vault)", re.I)
# environment variables the collection's modules read tokens from
TOKEN_ENV = ("GITHUB_TOKEN", "GH_TOKEN", "NEON_API_KEY", "QDRANT_API_KEY")
URL_PASSWORD = re.compile(r"://[^/:@\s]+:([^@/\s]+)@")
MIN_LENGTH = 6  # shorter "secrets" (placeholders, booleans) would scrub ordinary words


class Scrubber:
    """Collects secret values and removes them from text: the value itself, each line of a multi-line value (an
    SSH key), its JSON-escaped form and the base64 forms git's HTTP basic auth puts on the wire."""

    def __init__(self):
        self._values = set()

    def __bool__(self):
        return bool(self._values)

    def add(self, value):
        if not isinstance(value, str):
            return
        value = value.strip()
        if len(value) < MIN_LENGTH:
            return
        forms = {value, json.dumps(value)[1:-1]}
        forms.update(line.strip() for line in value.splitlines())
        for prefix in ("", "x-access-token:"):
            forms.add(base64.b64encode((prefix + value).encode()).decode())
        for match in URL_PASSWORD.finditer(value):
            forms.add(match.group(1))
        self._values.update(form for form in forms if len(form) >= MIN_LENGTH)

    def add_tree(self, data, secret=False):
        """Every string under a secret-looking key (at any depth) of a dict/list tree, and passwords in URLs."""
        if isinstance(data, dict):
            for key, value in data.items():
                self.add_tree(value, secret or bool(SECRET_NAME.search(str(key))))
        elif isinstance(data, (list, tuple)):
            for value in data:
                self.add_tree(value, secret)
        elif isinstance(data, str):
            if secret:
                self.add(data)
            for match in URL_PASSWORD.finditer(data):
                self.add(match.group(1))

    def add_environment(self, env):
        for name, value in (env or {}).items():
            if name in TOKEN_ENV or SECRET_NAME.search(name):
                self.add(value)

    def scrub(self, text):
        if not isinstance(text, str) or not self._values:
            return text
        for value in sorted(self._values, key=len, reverse=True):
            text = text.replace(value, MASK)
        return text

    def scrub_tree(self, data):
        if isinstance(data, dict):
            return {key: self.scrub_tree(value) for key, value in data.items()}
        if isinstance(data, list):
            return [self.scrub_tree(value) for value in data]
        return self.scrub(data)

    def scrub_directory(self, path):
        """Rewrite every file under ``path`` with the secrets masked; ansible-runner's ``command`` file (which
        records the job's whole environment) loses every variable whose name looks secret. Returns the files
        changed."""
        changed = []
        for folder, _dirs, files in os.walk(path):
            for name in files:
                full = os.path.join(folder, name)
                if not os.path.isfile(full) or os.path.islink(full):
                    continue  # the ssh key fifo, links
                try:
                    with open(full, encoding="utf-8") as handle:
                        text = handle.read()
                except (UnicodeDecodeError, OSError):
                    continue
                new = self.scrub(text)
                if name == "command":
                    new = _drop_secret_environment(new)
                if new != text:
                    with open(full, "w", encoding="utf-8") as handle:
                        handle.write(new)
                    changed.append(full)
        return changed


def _drop_secret_environment(text):
    try:
        data = json.loads(text)
    except ValueError:
        return text
    if not isinstance(data, dict) or not isinstance(data.get("env"), dict):
        return text
    data["env"] = {name: (MASK if name in TOKEN_ENV or SECRET_NAME.search(name) else value)
                   for name, value in data["env"].items()}
    return json.dumps(data, ensure_ascii=False)
