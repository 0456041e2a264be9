#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: content_index
short_description: Index the textbook's pages into Qdrant with the chat service's own indexer
version_added: 1.1.0
description:
  - Runs the chat service's indexer (C(python -m chat_api.index), from O(service_src)) on the textbook's Markdown
    and MDX pages, so the passages are split and embedded exactly as the service embeds its questions.
  - The index is identified by a hash of its content (the passages, their page URLs, the embedding scheme and
    size). Unchanged pages mean no write to Qdrant at all.
  - Changed pages build a new collection C(<alias>-<hash>) completely, then switch O(alias) to it in one atomic
    alias update. The collection the alias pointed at before is kept (to roll back to); older ones are deleted.
  - Every passage carries its page's URL under O(site_url), so answers link back to the textbook.
  - Bad input fails before anything is written or switched, naming the file or option (a page whose front matter
    does not parse, a docs directory without pages, a page over O(max_page_bytes)).
  - Returns known questions taken from the textbook's own headings, which the reader's journey check asks.
author:
  - textbook.deploy maintainers (!UNKNOWN)
options:
  docs_dir:
    description:
      - The textbook's docs directory on the controller (searched recursively for C(*.md) and C(*.mdx)).
    type: path
    required: true
  service_src:
    description:
      - The chat service's source directory holding the C(chat_api) package (for example C(examples/chat_api/src)),
        so the index is built by the same code that answers the questions.
    type: path
    required: true
  python:
    description:
      - The Python that runs the indexer; it needs the service's dependencies (C(httpx), C(PyYAML)).
      - Defaults to the Python running this module.
    type: path
  alias:
    description:
      - The alias the chat service searches (its C(CHAT_QDRANT_COLLECTION)), for example C(production_passages).
    type: str
    required: true
  site_url:
    description:
      - The URL the docs are published under, ending in C(/), for example C(https://o.github.io/textbook/docs/).
      - Each passage's page URL is this plus the page's Docusaurus route. Without it, passages have no URL.
    type: str
  embedding_size:
    description:
      - Embedding dimensions; must be the service's C(CHAT_EMBEDDING_SIZE).
    type: int
    default: 384
  max_page_bytes:
    description:
      - The largest page accepted, in bytes. A larger page fails the task before anything changes.
    type: int
    default: 1048576
  questions:
    description:
      - How many known questions to return in RV(questions) (one per page, from its first second-level heading).
    type: int
    default: 5
  api_url:
    description:
      - Base URL of the Qdrant REST API.
    type: str
    default: http://localhost:6333
  token:
    description:
      - Qdrant API key with write access. When not set, the environment variable E(QDRANT_API_KEY) is used.
      - Passed to the indexer in its environment only; never logged or returned.
    type: str
    aliases: [api_key]
  timeout:
    description:
      - Seconds the whole indexing may take before the task fails.
    type: int
    default: 600
attributes:
  check_mode:
    support: full
    description: Runs the indexer with C(--dry-run), which reads Qdrant and reports what would be indexed and
      switched, writing nothing.
  diff_mode:
    support: full
    description: Shows the collection the alias points at before and after.
  idempotent:
    support: full
    description: Unchanged pages report no change and send no write request to Qdrant.
seealso:
  - module: textbook.deploy.qdrant_alias
  - module: textbook.deploy.journey_check
"""

EXAMPLES = r"""
- name: Index the textbook for the chat assistant
  textbook.deploy.content_index:
    docs_dir: "{{ playbook_dir }}/../examples/textbook/docs"
    service_src: "{{ playbook_dir }}/../examples/chat_api/src"
    alias: staging_passages
    site_url: https://textbook-org.github.io/textbook-staging/docs/
    api_url: https://qdrant.textbook.example.org:6333
    token: "{{ vault_qdrant_api_key }}"
  register: content_index

- name: Point the alias back to the index of the previous site (a rollback)
  textbook.deploy.qdrant_alias:
    name: staging_passages
    collection: "{{ content_index.previous_collection }}"
    api_url: https://qdrant.textbook.example.org:6333
    api_key: "{{ vault_qdrant_api_key }}"
"""

RETURN = r"""
alias:
  description: The alias.
  returned: success
  type: str
  sample: staging_passages
collection:
  description: The collection the alias points at after the task (in check mode, would point at).
  returned: success
  type: str
  sample: staging_passages-3f2a9c1b7d4e
indexed:
  description: Whether the alias points at RV(collection) after the task (false in check mode when it would move).
  returned: success
  type: bool
  sample: true
previous_collection:
  description: The collection the alias pointed at before the task; null when it did not exist.
  returned: success
  type: str
  sample: staging_passages-0b1c2d3e4f5a
removed:
  description: Older collections of the alias that were deleted (in check mode, would be).
  returned: success
  type: list
  elements: str
  sample: []
pages:
  description: How many pages were read.
  returned: success
  type: int
  sample: 5
passages:
  description: How many passages the index holds.
  returned: success
  type: int
  sample: 23
sources:
  description: The pages indexed, as paths relative to O(docs_dir).
  returned: success
  type: list
  elements: str
  sample: [intro.md, locomotion-and-control.md]
questions:
  description: Known questions from the textbook's headings, each with the page URL its answer must come from.
  returned: success
  type: list
  elements: dict
  sample: [{"question": "The zero-moment point", "source": "locomotion-and-control.md",
            "url": "https://o.github.io/t/docs/locomotion-and-control/", "page_title": "3. Locomotion and control"}]
"""

import json
import os
import subprocess
import sys

from ansible.module_utils.basic import AnsibleModule, env_fallback

# the indexer's exit status for bad input (a page, the directory or an option), found before any request
BAD_INPUT = 2
# the indexer's messages name its command-line options; the task's user knows them by the module's names
CLI_OPTIONS = {"--max-page-bytes": "max_page_bytes", "--site-url": "site_url", "--embedding-size": "embedding_size",
               "--questions": "questions", "DOCS_DIR": "docs_dir"}


def indexer_command(params, dry_run):
    command = [params["python"] or sys.executable, "-m", "chat_api.index", params["docs_dir"],
               "--collection", params["alias"], "--json", "--embedding-size", str(params["embedding_size"]),
               "--max-page-bytes", str(params["max_page_bytes"]), "--questions", str(params["questions"])]
    if params["site_url"]:
        command += ["--site-url", params["site_url"]]
    if dry_run:
        command.append("--dry-run")
    return command


def indexer_env(params):
    """The indexer's environment: the service's package first on the path, Qdrant's URL and key (never argv,
    which other users of the controller can read)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [params["service_src"], env.get("PYTHONPATH")]))
    env["CHAT_QDRANT_URL"] = params["api_url"]
    env.pop("CHAT_QDRANT_API_KEY", None)
    if params["token"]:
        env["CHAT_QDRANT_API_KEY"] = params["token"]
    return env


def check_options(module):
    params = module.params
    if not os.path.isdir(os.path.join(params["service_src"], "chat_api")):
        module.fail_json(msg="service_src must be the chat service's source directory holding the chat_api "
                             "package, got %s." % params["service_src"])
    if not params["api_url"].startswith(("http://", "https://")):
        module.fail_json(msg="api_url must be an http:// or https:// URL, got %r." % params["api_url"])
    if params["site_url"] and not (params["site_url"].startswith(("http://", "https://"))
                                   and params["site_url"].endswith("/")):
        module.fail_json(msg="site_url must be an http(s) URL ending in '/' (the docs' base URL), got %r."
                             % params["site_url"])
    for option in ("embedding_size", "max_page_bytes", "timeout"):
        if params[option] <= 0:
            module.fail_json(msg="%s must be above 0, got %s." % (option, params[option]))


def run_indexer(module):
    params = module.params
    try:
        proc = subprocess.run(indexer_command(params, module.check_mode), env=indexer_env(params),
                              capture_output=True, text=True, timeout=params["timeout"], check=False)
    except subprocess.TimeoutExpired:
        module.fail_json(msg="Indexing %s took longer than timeout=%d s; raise timeout for a larger textbook."
                             % (params["docs_dir"], params["timeout"]))
    # fail_json masks the token wherever it would appear (it is a no_log option)
    error = proc.stderr.strip().splitlines()[-1].replace("chat_api.index: ", "", 1) if proc.stderr.strip() else ""
    if proc.returncode == BAD_INPUT:
        for flag, option in CLI_OPTIONS.items():
            error = error.replace(flag, option)
        module.fail_json(msg="%s (docs_dir %s). Nothing was indexed or switched."
                             % (error or "The indexer refused its input", params["docs_dir"]))
    if proc.returncode != 0:
        module.fail_json(msg="Indexing into Qdrant at %s failed: %s. The alias %s was not switched."
                             % (params["api_url"], error or "exit status %d" % proc.returncode, params["alias"]))
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        module.fail_json(msg="The indexer printed no JSON summary (is %s the chat service's source?)."
                             % params["service_src"])


def main():
    module = AnsibleModule(
        argument_spec=dict(
            docs_dir=dict(type="path", required=True),
            service_src=dict(type="path", required=True),
            python=dict(type="path"),
            alias=dict(type="str", required=True),
            site_url=dict(type="str"),
            embedding_size=dict(type="int", default=384),
            max_page_bytes=dict(type="int", default=1048576),
            questions=dict(type="int", default=5),
            api_url=dict(type="str", default="http://localhost:6333"),
            token=dict(type="str", no_log=True, aliases=["api_key"], fallback=(env_fallback, ["QDRANT_API_KEY"])),
            timeout=dict(type="int", default=600),
        ),
        supports_check_mode=True,
    )
    check_options(module)
    summary = run_indexer(module)
    alias = module.params["alias"]
    changed = bool(summary["changed"])
    result = dict(changed=changed, indexed=not (changed and module.check_mode), alias=alias,
                  collection=summary["collection"],
                  previous_collection=summary.get("previous"), removed=summary.get("removed") or [],
                  pages=summary["pages"], passages=summary["passages"], sources=summary.get("sources") or [],
                  questions=summary.get("questions") or [])
    if module._diff:
        result["diff"] = dict(before={alias: summary.get("previous")}, after={alias: summary["collection"]},
                              before_header="alias %s" % alias, after_header="alias %s" % alias)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
