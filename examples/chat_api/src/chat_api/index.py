"""Index a Docusaurus docs directory into Qdrant for the chat service (the deploy's content stage runs this).

    CHAT_QDRANT_URL=... CHAT_QDRANT_API_KEY=... python -m chat_api.index DOCS_DIR --collection ALIAS
        [--site-url URL] [--json] [--dry-run] [--max-page-bytes N] [--questions N] [--embedding-size N]
        [--max-chars N] [--qdrant-url URL]

Pages (*.md, *.mdx, except under names starting with `_` or `.`, which Docusaurus does not publish) are split at
headings and blank lines into passages of at most --max-chars characters. Each passage's payload: passage_id,
source (path relative to DOCS_DIR), title (heading trail), page_title (front matter `title`, else the first H1,
else the file stem), url (the page's Docusaurus URL under --site-url, else null) and text.

The target collection is `<alias>-<12 hex digits>`, a digest of the passages, the embedding scheme and size:
- unchanged docs: nothing is written (no create, upsert, alias change or delete);
- changed docs: the target is built completely (batches of BATCH points, wait=true), then the alias is switched
  to it in one atomic aliases request. The collection the alias pointed at before is kept, so rolling site and
  index back together is a re-run on the old docs that only switches the alias back. Other `<alias>-<12 hex>`
  collections that no alias points at are deleted, only after a switch. A half-built target is rebuilt.
--dry-run reads Qdrant (aliases, collections) and writes nothing; the report says what would happen.

Exit status: 0 done; 2 bad input (front matter that does not parse, no pages, a page over --max-page-bytes, a bad
option; all found before any Qdrant call, except --collection naming a plain collection, found before any write);
1 a Qdrant call failed. Errors go to stderr as "chat_api.index: ...".
"""
import argparse
import hashlib
import json
import os
import posixpath
import re
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

import yaml

from .embedding import embed, has_content
from .qdrant import Qdrant, QdrantError

EMBEDDING_SCHEME = "hashed-bow-v1"  # bump when chat_api.embedding changes, so content hashes change with it
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")
FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)^---[ \t]*$\n?", re.DOTALL | re.MULTILINE)
MDX_LINE = re.compile(r"^(import|export)\s.*$", re.MULTILINE)
HEADING_ID = re.compile(r"\s*\{#[^}]*\}\s*$")  # Docusaurus's explicit anchor: ## Title {#anchor}
LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
EMPHASIS = re.compile(r"[*`]+|(?<!\w)_+|_+(?!\w)")
# Docusaurus's number prefixes (01-intro.md -> intro); it leaves date-like names (2024-01-31-notes) alone
NUMBER_PREFIX = re.compile(r"^\d+\s*[-_.]+\s*(?=[^-_.\s])")
DATE_LIKE = re.compile(r"^\d{2,4}[-_.]\d{2}[-_.]\d{2}")
TARGET_SUFFIX = re.compile(r"-[0-9a-f]{12}$")
BATCH = 256
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's safe loader when present: ~10x faster
MIB = 1024 * 1024
PAGE_SUFFIXES = (".md", ".mdx")


class InputError(ValueError):
    """Bad input (exit status 2); the message names the file or option."""


@dataclass
class Page:
    source: str
    title: str
    url: str | None
    question: str | None  # the first H2, a question the page answers
    passages: list = field(default_factory=list)


# -- Markdown --------------------------------------------------------------------------------------------------

def split_front_matter(text, source):
    """(front matter mapping, body) of a page; InputError naming `source` when the front matter is bad."""
    match = FRONT_MATTER.match(text)
    if not match:
        return {}, text
    try:
        data = yaml.load(match.group(1), Loader=YAML_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = " at line %d" % (mark.line + 2) if mark else ""  # +1: 0-based, +1: the opening ---
        problem = getattr(err, "problem", None) or str(err)
        raise InputError("%s: front matter is not valid YAML%s: %s" % (source, where, problem)) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError("%s: front matter must be a mapping (key: value lines), got a %s"
                         % (source, type(data).__name__))
    return data, text[match.end():]


def plain(heading):
    """Heading text without Markdown markup or an explicit {#anchor}."""
    return EMPHASIS.sub("", LINK.sub(r"\1", HEADING_ID.sub("", heading))).strip()


def blocks(body):
    """(heading level, heading) or paragraph strings, in order; fenced code stays one block."""
    body = MDX_LINE.sub("", body)
    block, in_fence = [], False
    for line in body.split("\n"):
        if FENCE.match(line):
            in_fence = not in_fence
            block.append(line)
            continue
        if in_fence:
            block.append(line)
            continue
        heading = HEADING.match(line)
        if heading or not line.strip():
            if block:
                yield "\n".join(block).strip()
                block = []
            if heading:
                yield (len(heading.group(1)), plain(heading.group(2)))
            continue
        block.append(line)
    if block:
        yield "\n".join(block).strip()


def _split_long(paragraph, max_chars):
    if len(paragraph) <= max_chars:
        return [paragraph]
    pieces, current = [], ""
    for sentence in re.split(r"(?<=[.!?])\s+", paragraph):
        while len(sentence) > max_chars:
            if current:
                pieces.append(current)
                current = ""
            pieces.append(sentence[:max_chars])
            sentence = sentence[max_chars:]
        if current and len(current) + 1 + len(sentence) > max_chars:
            pieces.append(current)
            current = sentence
        else:
            current = (current + " " + sentence).strip()
    if current:
        pieces.append(current)
    return pieces


def chunk_blocks(page_blocks, source, max_chars=1200):
    """Passages (passage_id, source, title, text) of one page's blocks; passages without content words dropped."""
    passages, trail, current = [], [], []

    def flush():
        if current:
            title, body = " > ".join(text for _, text in trail), "\n\n".join(current)
            if has_content("%s\n%s" % (title, body)):
                passages.append({"passage_id": "%s#%d" % (source, len(passages) + 1), "source": source,
                                 "title": title, "text": body})
            current.clear()

    for block in page_blocks:
        if isinstance(block, tuple):
            flush()
            trail[:] = [item for item in trail if item[0] < block[0]] + [block]
            continue
        for piece in _split_long(block, max_chars):
            if current and sum(len(p) + 2 for p in current) + len(piece) > max_chars:
                flush()
            current.append(piece)
    flush()
    return passages


def chunk_markdown(text, source, max_chars=1200):
    """Passages of one Markdown document (front matter skipped)."""
    _, body = split_front_matter(text.replace("\r\n", "\n"), source)
    return chunk_blocks(blocks(body), source, max_chars)


# -- Docusaurus pages ------------------------------------------------------------------------------------------

def strip_number_prefix(name):
    return name if DATE_LIKE.match(name) else NUMBER_PREFIX.sub("", name, count=1)


def _is_category_index(stem, directory):
    """Docusaurus serves index.md, README.md and <dir>/<dir>.md at the directory's own URL."""
    names = {"index", "readme", posixpath.basename(directory).lower()}
    return stem.lower() in names


def page_path(source, front):
    """The page's route below the docs' base URL, without slashes at either end ("" for the base itself)."""
    directory, name = posixpath.split(source)
    stem = name.rsplit(".", 1)[0]
    dir_route = "/" + "/".join(strip_number_prefix(part) for part in directory.split("/") if part)
    slug = front.get("slug")
    if slug is not None:  # absolute, or relative to the file's directory
        route = str(slug) if str(slug).startswith("/") else posixpath.join(dir_route, str(slug))
    elif _is_category_index(stem, directory):
        route = dir_route
    else:
        route = posixpath.join(dir_route, str(front.get("id") or strip_number_prefix(stem)))
    return posixpath.normpath(route).strip("/")


def page_url(site_url, source, front):
    """The page's URL (the site has trailingSlash: true), or None without a site URL."""
    if site_url is None:
        return None
    path = page_path(source, front)
    return site_url + (quote(path) + "/" if path else "")


def _first_heading(page_blocks, level):
    return next((text for block in page_blocks if isinstance(block, tuple) and block[0] == level
                 for text in [block[1]] if text), None)


def read_page(path, source, site_url=None, max_chars=1200, max_page_bytes=MIB):
    size = path.stat().st_size
    if size > max_page_bytes:
        raise InputError("%s: %d bytes, over the limit of %d (--max-page-bytes)" % (source, size, max_page_bytes))
    try:
        text = path.read_text(encoding="utf-8").replace("\r\n", "\n")
    except UnicodeDecodeError as err:
        raise InputError("%s: not UTF-8 text (%s)" % (source, err.reason)) from None
    front, body = split_front_matter(text, source)
    page_blocks = list(blocks(body))
    title = front.get("title")
    title = str(title) if title is not None else (_first_heading(page_blocks, 1) or path.stem)
    page = Page(source, title, page_url(site_url, source, front), _first_heading(page_blocks, 2))
    for passage in chunk_blocks(page_blocks, source, max_chars):
        page.passages.append({"passage_id": passage["passage_id"], "source": source, "title": passage["title"],
                              "page_title": title, "url": page.url, "text": passage["text"]})
    return page


def page_files(root):
    """The pages Docusaurus publishes, as (path, source relative to root), sorted by source."""
    found = []
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if path.suffix in PAGE_SUFFIXES and path.is_file() and \
                not any(part.startswith(("_", ".")) for part in relative.parts):
            found.append((path, relative.as_posix()))
    return sorted(found, key=lambda item: item[1])


def load_pages(directory, site_url=None, max_chars=1200, max_page_bytes=MIB):
    """Every page of the docs directory; InputError for a missing or empty directory or a bad page."""
    root = Path(directory)
    if not root.is_dir():
        raise InputError("DOCS_DIR %s is not a directory" % directory)
    files = page_files(root)
    if not files:
        raise InputError("DOCS_DIR %s has no Markdown pages (*.md, *.mdx)" % directory)
    pages = []
    for path, source in files:
        try:
            pages.append(read_page(path, source, site_url, max_chars, max_page_bytes))
        except OSError as err:
            raise InputError("%s: cannot be read (%s)" % (source, err.strerror or err)) from None
    if not any(page.passages for page in pages):
        raise InputError("DOCS_DIR %s has no passages with indexable text" % directory)
    return pages


def passages_of(pages):
    return [passage for page in pages for passage in page.passages]


def questions_of(pages, limit):
    """Up to `limit` questions the docs answer: each page's first H2, with the page it should be answered from."""
    found = [{"question": page.question, "source": page.source, "url": page.url, "page_title": page.title}
             for page in pages if page.question]
    return found[:limit]


# -- Qdrant ----------------------------------------------------------------------------------------------------

def point_id(passage_id):
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "textbook-chat-api:" + passage_id))


def content_digest(passages, size):
    """12 hex digits of the passages (payloads included), the embedding scheme and size; hashed one at a time."""
    digest = hashlib.sha256(json.dumps([EMBEDDING_SCHEME, size]).encode("utf-8"))
    for passage in passages:
        digest.update(json.dumps(passage, sort_keys=True, ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()[:12]


def plan_index(qdrant, passages, alias, size):
    """What indexing `passages` under `alias` takes, from reads only: a dict for apply_plan and the report."""
    target = "%s-%s" % (alias, content_digest(passages, size))
    aliases = qdrant.aliases()
    previous = aliases.get(alias)
    if previous is None and qdrant.collection_or_none(alias) is not None:
        raise InputError("--collection %s is a collection, not an alias; the service needs an alias to switch "
                         "atomically (pick another name, or delete that collection)" % alias)
    info = qdrant.collection_or_none(target)
    complete = info is not None and info["points_count"] == len(passages)
    plan = {"alias": alias, "target": target, "previous": previous, "size": size, "build": not complete,
            "half_built": info is not None and not complete, "switch": previous != target or not complete,
            "removed": []}
    if plan["switch"]:
        keep = {target, previous} | set(aliases.values())
        plan["removed"] = sorted(name for name in qdrant.collection_names()
                                 if name not in keep and name.startswith(alias)
                                 and TARGET_SUFFIX.fullmatch(name[len(alias):]))
    return plan


def _point(passage, size):
    vector = embed("%s\n%s" % (passage["title"], passage["text"]), size)
    return {"id": point_id(passage["passage_id"]), "vector": vector, "payload": passage}


def build_collection(qdrant, name, passages, size):
    """Create `name` and upsert the passages BATCH at a time, so only one batch of vectors is in memory."""
    qdrant.create_collection(name, size)
    for start in range(0, len(passages), BATCH):
        qdrant.upsert(name, [_point(passage, size) for passage in passages[start:start + BATCH]])


def apply_plan(qdrant, plan, passages):
    if plan["build"]:
        if plan["half_built"]:  # an earlier run stopped half way
            qdrant.delete_collection(plan["target"])
        build_collection(qdrant, plan["target"], passages, plan["size"])
    if plan["switch"]:
        qdrant.point_alias(plan["alias"], plan["target"])
        for name in plan["removed"]:
            qdrant.delete_collection(name)


def index_pages(qdrant, pages, alias="passages", size=384, dry_run=False, questions=5):
    """Index `pages` under `alias` (see the module docstring); returns the report (the --json object)."""
    passages = passages_of(pages)
    plan = plan_index(qdrant, passages, alias, size)
    if not dry_run:
        apply_plan(qdrant, plan, passages)
    return {"changed": plan["switch"], "dry_run": dry_run, "alias": alias, "collection": plan["target"],
            "previous": plan["previous"], "pages": len(pages), "passages": len(passages),
            "removed": plan["removed"], "sources": [page.source for page in pages],
            "questions": questions_of(pages, questions)}


# -- command line ----------------------------------------------------------------------------------------------

class Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, "chat_api.index: %s (see --help)\n" % message)


def _parser():
    parser = Parser(prog="python -m chat_api.index", description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", metavar="DOCS_DIR", help="the docs directory (searched recursively)")
    parser.add_argument("--collection", default=os.environ.get("CHAT_QDRANT_COLLECTION") or "passages",
                        help="alias the service reads (default: $CHAT_QDRANT_COLLECTION or passages)")
    parser.add_argument("--site-url", help="the docs' base URL, ending in / (e.g. https://host/textbook/docs/); "
                                           "passages then carry their page's URL")
    parser.add_argument("--qdrant-url", default=os.environ.get("CHAT_QDRANT_URL"),
                        help="default: $CHAT_QDRANT_URL (the API key is read from $CHAT_QDRANT_API_KEY only)")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    parser.add_argument("--dry-run", action="store_true", help="read Qdrant, write nothing, report the plan")
    parser.add_argument("--max-page-bytes", type=int, default=MIB, help="largest page accepted (default 1 MiB)")
    parser.add_argument("--questions", type=int, default=5, help="known questions to report (default 5)")
    parser.add_argument("--embedding-size", type=int, default=int(os.environ.get("CHAT_EMBEDDING_SIZE") or 384))
    parser.add_argument("--max-chars", type=int, default=1200, help="longest passage (default 1200)")
    return parser


def _check_options(args):
    """InputError naming the first bad option."""
    limits = {"--max-page-bytes": (args.max_page_bytes, 1), "--questions": (args.questions, 0),
              "--embedding-size": (args.embedding_size, 16), "--max-chars": (args.max_chars, 100)}
    for option, (value, low) in limits.items():
        if value < low:
            raise InputError("%s must be at least %d, got %d" % (option, low, value))
    if args.embedding_size > 65536:
        raise InputError("--embedding-size must be at most 65536, got %d" % args.embedding_size)
    if not args.qdrant_url:
        raise InputError("set CHAT_QDRANT_URL or pass --qdrant-url")
    if urlsplit(args.qdrant_url).scheme not in ("http", "https"):
        raise InputError("--qdrant-url (or CHAT_QDRANT_URL) must be an http:// or https:// URL")
    if not args.collection or "/" in args.collection:
        raise InputError("--collection must be an alias name, got %r" % args.collection)
    if args.site_url is not None:
        parts = urlsplit(args.site_url)
        if parts.scheme not in ("http", "https") or not parts.netloc or not parts.path.endswith("/") \
                or parts.query or parts.fragment or "?" in args.site_url or "#" in args.site_url:
            raise InputError("--site-url must be an http(s) URL ending in / (the docs' base URL, e.g. "
                             "https://host/textbook/docs/), got %r" % args.site_url)


def describe(report):
    """The one-line human report."""
    pages = "%d pages, %d passages" % (report["pages"], report["passages"])
    if not report["changed"]:
        return "unchanged: alias %s -> %s (%s); nothing written" % (report["alias"], report["collection"], pages)
    verb = "would index" if report["dry_run"] else "indexed"
    line = "%s %s into %s; alias %s: %s -> %s" % (verb, pages, report["collection"], report["alias"],
                                                report["previous"] or "(new)", report["collection"])
    if report["removed"]:
        line += "; %s %s" % ("would remove" if report["dry_run"] else "removed", ", ".join(report["removed"]))
    return line


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        _check_options(args)
        pages = load_pages(args.directory, args.site_url, args.max_chars, args.max_page_bytes)
    except InputError as err:
        print("chat_api.index: %s" % err, file=sys.stderr)
        return 2
    qdrant = Qdrant(args.qdrant_url, os.environ.get("CHAT_QDRANT_API_KEY") or None, timeout=60.0)
    try:
        report = index_pages(qdrant, pages, args.collection, args.embedding_size, args.dry_run, args.questions)
    except InputError as err:
        print("chat_api.index: %s" % err, file=sys.stderr)
        return 2
    except QdrantError as err:
        print("chat_api.index: %s" % err, file=sys.stderr)
        return 1
    finally:
        qdrant.close()
    print(json.dumps(report) if args.json else describe(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
