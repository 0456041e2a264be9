"""A tiny npm project standing in for the textbook where the frontend's playbook logic is under test: its build
script copies src/ into --out-dir (real npm and node, no Docusaurus), so a deploy takes seconds."""
import json

BUILD_JS = """
const fs = require('fs'), path = require('path');
const out = process.argv[process.argv.indexOf('--out-dir') + 1];
fs.cpSync(path.join(__dirname, 'src'), out, {recursive: true});
"""


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def npm_textbook(root, index_html="<h1>Chapter 1</h1>", version="1.0.0"):
    """package.json, its lockfile, the build script and src/index.html under `root`; returns root."""
    write(root / "package.json", json.dumps({"name": "book", "version": version, "private": True,
                                             "scripts": {"build": "node build.js"}}))
    write(root / "package-lock.json", json.dumps({"name": "book", "version": version, "lockfileVersion": 3,
                                                  "requires": True, "packages": {"": {"name": "book"}}}))
    write(root / "build.js", BUILD_JS)
    write(root / "src" / "index.html", index_html)
    return root
