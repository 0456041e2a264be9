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
  - With O(state=absent) the index goes instead (a pull request's preview, when the pull request closes), that is
    the alias and every collection named C(<alias>-<hash>) as this module names them (C(<alias>-) and exactly 12
    lowercase hexadecimal digits), and nothing else. A collection that another alias points at is kept and reported in
    RV(kept_collections); a collection the alias points at that this module did not make for it is left as it is.
author:
  - textbook.deploy maintainers (!UNKNOWN)
extends_documentation_fragment:
  - textbook.deploy.api
options:
  state:
    description:
      - V(present) indexes the pages of O(docs_dir) under O(alias).
      - V(absent) deletes O(alias) and the collections this module made for it, in that order (so the chat service
        never searches a deleted collection); first one C(GET /aliases) and one C(GET /collections), then one
        C(POST /collections/aliases) with a C(delete_alias) action and one C(DELETE /collections/{name}) each.
    type: str
    choices: [present, absent]
    default: present
  docs_dir:
    description:
      - The textbook's docs directory on the controller (searched recursively for C(*.md) and C(*.mdx)).
      - Required with O(state=present); not used with O(state=absent).
    type: path
  service_src:
    description:
      - The chat service's source directory holding the C(chat_api) package (for example C(examples/chat_api/src)),
        so the index is built by the same code that answers the questions.
      - Required with O(state=present); not used with O(state=absent).
    type: path
  python:
    description:
      - The Python that runs the indexer; it needs the service's dependencies (C(httpx), C(PyYAML)).
      - Defaults to the Python running this module.
    type: path
  alias:
    description:
      - The alias the chat service searches (its C(CHAT_QDRANT_COLLECTION)), for example C(production_passages), or
        a pull request's preview C(preview_42_passages) (the filter C(textbook.deploy.index_alias) of the
        environment C(preview-42)).
      - With O(state=absent) it must have the shape the content role indexes into (checked before any request), that
        is letters, digits, C(_) and C(-), at most 242 characters (so C(<alias>-<hash>) is a name Qdrant accepts),
        and not itself a collection name of the form C(<name>-<hash>).
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
      - With O(state=present) it is passed to the indexer in its environment only (never on its command line); with
        O(state=absent) it is sent in the C(api-key) header. Never logged or returned.
    type: str
    aliases: [api_key]
  retries:
    description:
      - With O(state=absent), how many times each request is retried after a server error (HTTP 5xx) or a rate
        limit (HTTP 429), and the reads and deletes also after a connection error or timeout. V(0) disables retries.
      - Not used with O(state=present) (the indexer sends each request once).
    type: int
    default: 5
  timeout:
    description:
      - With O(state=present), seconds the whole indexing may take before the task fails.
      - With O(state=absent), seconds to wait for each HTTP response.
    type: int
    default: 600
notes:
  - O(validate_certs) applies to the requests of O(state=absent); the indexer (O(state=present)) always verifies
    TLS certificates.
  - The module takes the Qdrant connection options of the C(textbook.deploy.qdrant) modules but is not in their
    action group, because its O(timeout) bounds a whole indexing, which a group's per-request timeout would cut short.
attributes:
  check_mode:
    support: full
    description: Runs the indexer with C(--dry-run), which reads Qdrant and reports what would be indexed and
      switched, writing nothing. With O(state=absent), sends only the two C(GET) requests and reports what would be
      deleted.
  diff_mode:
    support: full
    description: Shows the collection the alias points at before and after; with O(state=absent), the alias and
      the collections of the index before, and what is left after.
  idempotent:
    support: full
    description: Unchanged pages report no change and send no write request to Qdrant. With O(state=absent), a
      second run finds nothing to delete, reports no change and sends only the two C(GET) requests.
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

- name: Remove pull request 42's preview index when the pull request closes (its alias and collections)
  textbook.deploy.content_index:
    alias: "{{ 'preview-42' | textbook.deploy.index_alias }}"
    state: absent
    api_url: https://qdrant.textbook.example.org:6333
    token: "{{ vault_qdrant_api_key }}"
  register: removed
"""

RETURN = r"""
alias:
  description: The alias.
  returned: success
  type: str
  sample: staging_passages
collection:
  description: The collection the alias points at after the task (in check mode, would point at).
  returned: success, with O(state=present)
  type: str
  sample: staging_passages-3f2a9c1b7d4e
indexed:
  description: Whether the alias points at RV(collection) after the task (false in check mode when it would move).
  returned: success, with O(state=present)
  type: bool
  sample: true
previous_collection:
  description: The collection the alias pointed at before the task; null when it did not exist.
  returned: success
  type: str
  sample: staging_passages-0b1c2d3e4f5a
removed:
  description: Older collections of the alias that were deleted (in check mode, would be).
  returned: success, with O(state=present)
  type: list
  elements: str
  sample: []
pages:
  description: How many pages were read.
  returned: success, with O(state=present)
  type: int
  sample: 5
passages:
  description: How many passages the index holds.
  returned: success, with O(state=present)
  type: int
  sample: 23
sources:
  description: The pages indexed, as paths relative to O(docs_dir).
  returned: success, with O(state=present)
  type: list
  elements: str
  sample: [intro.md, locomotion-and-control.md]
questions:
  description: Known questions from the textbook's headings, each with the page URL its answer must come from.
  returned: success, with O(state=present)
  type: list
  elements: dict
  sample: [{"question": "The zero-moment point", "source": "locomotion-and-control.md",
            "url": "https://o.github.io/t/docs/locomotion-and-control/", "page_title": "3. Locomotion and control"}]
removed_alias:
  description: The alias deleted (in check mode, that would be); null when there was no such alias.
  returned: success, with O(state=absent)
  type: str
  sample: preview_42_passages
removed_collections:
  description: The collections of the index deleted (in check mode, that would be), C(<alias>-<hash>) each.
  returned: success, with O(state=absent)
  type: list
  elements: str
  sample: [preview_42_passages-0b1c2d3e4f5a, preview_42_passages-3f2a9c1b7d4e]
kept_collections:
  description: Collections named C(<alias>-<hash>) left because another alias points at them (a warning names it).
  returned: success, with O(state=absent)
  type: list
  elements: str
  sample: []
"""

import json
import os
import re
import subprocess
import sys

from ansible_collections.textbook.deploy.plugins.module_utils.qdrant import Qdrant, qdrant_module

# the indexer's exit status for bad input (a page, the directory or an option), found before any request
BAD_INPUT = 2
# what follows the alias in the name of a collection the indexer builds for it: <alias>-<12 hex digits of the
# content hash> (chat_api.index's TARGET_SUFFIX; tests/unit/test_content_index.py keeps the two the same)
INDEX_SUFFIX = re.compile(r"-[0-9a-f]{12}")
SUFFIX_LENGTH = 13
# the aliases state=absent removes: what the content role indexes into (its preflight's letters, digits, _ and -),
# short enough that <alias>-<hash> stays within Qdrant's 255 characters
MAX_ALIAS = 255 - SUFFIX_LENGTH
ALIAS_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,%d}" % MAX_ALIAS)
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
    """The options of state=present (api_url and timeout are checked by the module's constructor)."""
    params = module.params
    if not os.path.isdir(os.path.join(params["service_src"], "chat_api")):
        module.fail_json(msg="service_src must be the chat service's source directory holding the chat_api "
                             "package, got %s." % params["service_src"])
    if params["site_url"] and not (params["site_url"].startswith(("http://", "https://"))
                                   and params["site_url"].endswith("/")):
        module.fail_json(msg="site_url must be an http(s) URL ending in '/' (the docs' base URL), got %r."
                             % params["site_url"])
    for option in ("embedding_size", "max_page_bytes"):
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


def index_collections(alias, names):
    """The collections the indexer built for alias, among names: <alias>-<hash> exactly, nothing else."""
    return sorted(name for name in names if name.startswith(alias) and INDEX_SUFFIX.fullmatch(name[len(alias):]))


def alias_error(alias):
    """None when state=absent may remove alias's index, else the message to fail with."""
    if ALIAS_SHAPE.fullmatch(alias) and not INDEX_SUFFIX.fullmatch(alias[-SUFFIX_LENGTH:]):
        return None
    return ("alias must be the alias an index was built under (letters, digits, _ and -, at most %d characters, "
            "for example preview_42_passages), not a collection's name <alias>-<hash>; got %r. Nothing was deleted."
            % (MAX_ALIAS, alias))


def remove_index(module):
    """state=absent: the alias, then every collection the indexer built for it that no other alias points at."""
    alias = module.params["alias"]
    error = alias_error(alias)
    if error:
        module.fail_json(msg=error)
    qdrant = Qdrant(module)
    aliases = qdrant.aliases()
    target = aliases.get(alias)
    own = index_collections(alias, qdrant.collection_names())
    users = dict((name, sorted(other for other, collection in aliases.items()
                               if collection == name and other != alias)) for name in own)
    kept = [name for name in own if users[name]]
    removing = [name for name in own if not users[name]]
    for name in kept:
        module.warn("Collection %s is kept: the alias %s points at it. Move that alias first to delete it."
                    % (name, ", ".join(users[name])))
    if target is not None and target not in own:
        module.warn("The alias %s points at %s, which content_index did not build for it: the alias is deleted, "
                    "the collection is left as it is." % (alias, target))
    changed = target is not None or bool(removing)
    if changed and not module.check_mode:
        if target is not None:
            qdrant.change_aliases([{"delete_alias": {"alias_name": alias}}], "delete the alias %s" % alias)
        for name in removing:
            qdrant.delete_collection(name)
    before = dict(aliases={alias: target} if target is not None else {}, collections=own)
    module.exit_resource(changed, before, dict(aliases={}, collections=kept), alias=alias,
                         previous_collection=target, removed_alias=alias if target is not None else None,
                         removed_collections=removing, kept_collections=kept)


def main():
    module = qdrant_module(
        dict(
            state=dict(type="str", choices=["present", "absent"], default="present"),
            docs_dir=dict(type="path"),
            service_src=dict(type="path"),
            python=dict(type="path"),
            alias=dict(type="str", required=True),
            site_url=dict(type="str"),
            embedding_size=dict(type="int", default=384),
            max_page_bytes=dict(type="int", default=1048576),
            questions=dict(type="int", default=5),
            timeout=dict(type="int", default=600),
        ),
        required_if=[("state", "present", ("docs_dir", "service_src"))],
    )
    if module.params["state"] == "absent":
        remove_index(module)
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
