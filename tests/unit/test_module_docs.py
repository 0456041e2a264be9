"""The module reference docs/modules/ is what the plugins' own documentation says (scripts/module_docs.py, `make
docs`), and every module documents itself fully: DOCUMENTATION, EXAMPLES, RETURN and the attributes check_mode,
diff_mode and idempotent."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "module_docs.py"
REFERENCE = ROOT / "docs" / "modules"


def _load_script():
    spec = importlib.util.spec_from_file_location("module_docs", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


module_docs = _load_script()


def run_script(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, cwd=str(ROOT),
                          timeout=300, check=False)


def reference_files(folder):
    return {p.name: p.read_text(encoding="utf-8") for p in Path(folder).glob("*.md") if module_docs.ours(p)}


@pytest.fixture(scope="module")
def docs():
    return module_docs.load(ROOT)


def test_every_module_and_callback_documents_itself(docs):
    modules = {p.stem for p in (ROOT / "plugins" / "modules").glob("*.py") if p.stem != "__init__"}
    callbacks = {p.stem for p in (ROOT / "plugins" / "callback").glob("*.py") if p.stem != "__init__"}
    assert set(docs["module"]) == modules and modules
    assert set(docs["callback"]) == callbacks and callbacks
    found = [p for kind, plugins in docs.items() for name, data in plugins.items()
             for p in module_docs.problems(kind, name, data)]
    assert found == [], "\n".join(found)
    for name, data in docs["module"].items():
        attributes = data["doc"]["attributes"]
        assert all(attributes[a]["description"] for a in module_docs.REQUIRED_ATTRIBUTES), name


def test_committed_reference_is_up_to_date(tmp_path):
    """Regenerated into a scratch directory, the pages equal the committed ones, one per plugin plus the index."""
    proc = run_script("--dest", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    fresh, committed = reference_files(tmp_path), reference_files(REFERENCE)
    assert sorted(fresh) == sorted(committed), "docs/modules/ lists other plugins than plugins/: run `make docs`"
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert stale == [], f"docs/modules/ is out of date ({', '.join(stale)}): run `make docs` and commit it"
    names = {f"{p.stem}_module.md" for p in (ROOT / "plugins" / "modules").glob("*.py")}
    assert names <= set(fresh) and "README.md" in fresh and "deploy_metrics_callback.md" in fresh
    for name in names:
        assert f"]({name})" in fresh["README.md"], f"the index does not link {name}"


def test_pages_carry_what_the_module_documents(docs):
    pages = module_docs.render_all(docs)
    page = pages["github_secret_module.md"]
    doc = docs["module"]["github_secret"]
    assert page.startswith("# textbook.deploy.github_secret\n")
    for heading in ("## Synopsis", "## Parameters", "## Attributes", "## Examples", "## Return values"):
        assert heading in page
    for option in doc["doc"]["options"]:  # doc fragments' options included
        assert f'<a id="parameter-{option}"></a>`{option}`' in page
    for key in doc["return"]:
        assert f'<a id="return-{key}"></a>`{key}`' in page
    assert doc["examples"].strip() in page
    # Ansible markup becomes Markdown: O() links the option, M() the other module's page, C() is code
    assert "[`fingerprint_file`](#parameter-fingerprint_file)" in page
    assert "[`textbook.deploy.github_environment`](github_environment_module.md)" in page
    assert "O(" not in page and "M(" not in page and " C(" not in page
    assert '<a id="parameter-secrets/name"></a>`secrets[].name`<br>*required*' in page


def test_check_names_pages_out_of_date(docs, tmp_path):
    pages = module_docs.render_all(docs)
    module_docs.write(pages, tmp_path)
    assert module_docs.differences(pages, tmp_path) == []
    (tmp_path / "nginx_site_module.md").write_text("edited by hand\n")
    (tmp_path / "deploy_lock_module.md").unlink()
    (tmp_path / "gone_module.md").write_text("a module that was removed\n")
    (tmp_path / "notes.md").write_text("not generated, left alone\n")
    found = "\n".join(module_docs.differences(pages, tmp_path))
    assert "nginx_site_module.md is out of date" in found
    assert "deploy_lock_module.md is missing" in found
    assert "gone_module.md is not generated from any plugin" in found
    assert "notes.md" not in found
    module_docs.write(pages, tmp_path)
    assert module_docs.differences(pages, tmp_path) == []
    assert not (tmp_path / "gone_module.md").exists() and (tmp_path / "notes.md").exists()


MODULE = '''#!/usr/bin/python
DOCUMENTATION = r"""
module: @NAME@
short_description: A module of a test collection
version_added: 0.1.0
description:
  - Does nothing with O(path).
author:
  - nobody (!UNKNOWN)
options:
  path:
    description: A path.
    type: path
    required: true
@ATTRIBUTES@"""

EXAMPLES = r"""@EXAMPLE@"""

RETURN = r"""
path:
  description: The path.
  returned: always
  type: str
"""
'''
NO_IDEMPOTENT = '''attributes:
  check_mode:
    support: full
    description: Nothing to check.
  diff_mode:
    support: none
    description: No diff.
'''
ATTRIBUTES = NO_IDEMPOTENT + '''  idempotent:
    support: full
    description: A second run changes nothing.
'''
EXAMPLE = '''
- name: Do nothing
  textbook.deploy.@NAME@:
    path: /tmp
'''


def module(attributes=ATTRIBUTES, example=EXAMPLE):
    return MODULE.replace("@ATTRIBUTES@", attributes).replace("@EXAMPLE@", example)


def write_module(folder, name, text):
    (folder / f"{name}.py").write_text(text.replace("@NAME@", name))


def test_incomplete_documentation_is_refused(tmp_path):
    """A collection whose modules lack DOCUMENTATION, EXAMPLES, RETURN or an attribute gets no pages, and each
    problem is named; the same collection with complete modules gets its pages."""
    collection = tmp_path / "ansible_collections" / "textbook" / "deploy"
    modules = collection / "plugins" / "modules"
    modules.mkdir(parents=True)
    write_module(modules, "complete", module())
    proc = run_script("--root", str(collection), "--dest", str(tmp_path / "ok"))
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "ok").iterdir()) == ["README.md", "complete_module.md"]

    write_module(modules, "no_documentation", "#!/usr/bin/python\nEXAMPLES = ''\nRETURN = ''\n")
    write_module(modules, "no_examples", module(example=""))
    write_module(modules, "no_return", module().split("RETURN =")[0])
    write_module(modules, "no_idempotent", module(attributes=NO_IDEMPOTENT))
    write_module(modules, "no_attributes", module(attributes=""))
    proc = run_script("--root", str(collection), "--dest", str(tmp_path / "refused"))
    assert proc.returncode == 1
    assert not (tmp_path / "refused").exists(), "nothing is written when a module is incomplete"
    errors = proc.stderr
    assert "plugins/modules/no_documentation.py: no usable DOCUMENTATION" in errors
    assert "plugins/modules/no_examples.py: no EXAMPLES" in errors
    assert "plugins/modules/no_return.py: no RETURN" in errors
    assert "plugins/modules/no_idempotent.py: DOCUMENTATION's attributes do not declare idempotent" in errors
    for attribute in ("check_mode", "diff_mode", "idempotent"):
        assert f"plugins/modules/no_attributes.py: DOCUMENTATION's attributes do not declare {attribute}" in errors
    assert "complete.py" not in errors
