"""Index a directory of Markdown into Qdrant for the chat service.

    CHAT_QDRANT_URL=... CHAT_QDRANT_API_KEY=... python -m chat_api.index docs/ [--collection passages]

Markdown (*.md, *.mdx) is split at headings and blank lines into passages of at most --max-chars characters,
embedded with chat_api.embedding, and upserted into a new collection named `<alias>-<content hash>`; the alias
(CHAT_QDRANT_COLLECTION, default `passages`) is then switched to it in one atomic alias update and the collection
it pointed at before is deleted (unless --keep-old). The service reads through the alias, so readers never see a
half-built index. Re-running with unchanged content and settings changes nothing.
"""
import argparse
import hashlib
import json
import os
import re
import sys
import uuid
from pathlib import Path

from .embedding import embed, is_zero
from .qdrant import Qdrant, QdrantError

EMBEDDING_SCHEME = "hashed-bow-v1"  # bump when chat_api.embedding changes, so content hashes change with it
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")
FRONT_MATTER = re.compile(r"\A---\s*\n.*?\n---\s*\n", re.DOTALL)
MDX_LINE = re.compile(r"^(import|export)\s.*$", re.MULTILINE)
BATCH = 64


def _blocks(text):
    """(heading level, heading) or paragraph strings, in order; fenced code stays one block."""
    text = FRONT_MATTER.sub("", text.replace("\r\n", "\n"), count=1)
    text = MDX_LINE.sub("", text)
    block, in_fence = [], False
    for line in text.split("\n"):
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
                yield (len(heading.group(1)), heading.group(2).strip())
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


def chunk_markdown(text, source, max_chars=1200):
    """Passages of one Markdown document: dicts with passage_id, source, title and text."""
    passages, trail, current = [], [], []

    def flush():
        if current:
            body = "\n\n".join(current)
            passages.append({"passage_id": "%s#%d" % (source, len(passages) + 1), "source": source,
                             "title": " > ".join(title for _, title in trail), "text": body})
            current.clear()

    for block in _blocks(text):
        if isinstance(block, tuple):
            flush()
            level = block[0]
            trail[:] = [item for item in trail if item[0] < level] + [block]
            continue
        for piece in _split_long(block, max_chars):
            if current and sum(len(p) + 2 for p in current) + len(piece) > max_chars:
                flush()
            current.append(piece)
    flush()
    return passages


def load_passages(directory, max_chars=1200):
    root = Path(directory)
    if not root.is_dir():
        raise FileNotFoundError("%s is not a directory" % directory)
    passages = []
    for path in sorted(p for p in root.rglob("*") if p.suffix in (".md", ".mdx") and p.is_file()):
        source = path.relative_to(root).as_posix()
        passages += chunk_markdown(path.read_text(encoding="utf-8"), source, max_chars)
    return passages


def point_id(passage_id):
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "textbook-chat-api:" + passage_id))


def content_digest(passages, size):
    data = json.dumps([EMBEDDING_SCHEME, size, passages], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()[:12]


def index_passages(qdrant, passages, alias="passages", size=384, keep_old=False):
    """Build `<alias>-<digest>` from `passages` and point `alias` at it. Returns a summary dict."""
    points = []
    for passage in passages:
        vector = embed("%s\n%s" % (passage["title"], passage["text"]), size)
        if not is_zero(vector):
            points.append({"id": point_id(passage["passage_id"]), "vector": vector, "payload": passage})
    if not points:
        raise ValueError("no passages with indexable text")
    target = "%s-%s" % (alias, content_digest(passages, size))
    aliases = qdrant.aliases()
    current = aliases.get(alias)
    if current is None and qdrant.collection_or_none(alias) is not None:
        raise ValueError("%r is a collection, not an alias; the service needs an alias to switch atomically" % alias)
    info = qdrant.collection_or_none(target)
    if current == target and info and info["points_count"] == len(points):
        return {"changed": False, "alias": alias, "collection": target, "passages": len(points), "removed": None}
    if info is None or info["points_count"] != len(points):
        if info is not None:  # an earlier run stopped half way
            qdrant.delete_collection(target)
        qdrant.create_collection(target, size)
        for start in range(0, len(points), BATCH):
            qdrant.upsert(target, points[start:start + BATCH])
    qdrant.point_alias(alias, target)
    removed = None
    if current and current != target and not keep_old:
        qdrant.delete_collection(current)
        removed = current
    return {"changed": True, "alias": alias, "collection": target, "passages": len(points), "removed": removed}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m chat_api.index", description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", help="directory of Markdown files (searched recursively)")
    parser.add_argument("--collection", default=os.environ.get("CHAT_QDRANT_COLLECTION") or "passages",
                        help="alias the service reads (default: $CHAT_QDRANT_COLLECTION or passages)")
    parser.add_argument("--qdrant-url", default=os.environ.get("CHAT_QDRANT_URL"),
                        help="default: $CHAT_QDRANT_URL (the API key is read from $CHAT_QDRANT_API_KEY only)")
    parser.add_argument("--embedding-size", type=int, default=int(os.environ.get("CHAT_EMBEDDING_SIZE") or 384))
    parser.add_argument("--max-chars", type=int, default=1200, help="longest passage (default 1200)")
    parser.add_argument("--keep-old", action="store_true", help="keep the collection the alias pointed at before")
    args = parser.parse_args(argv)
    if not args.qdrant_url:
        parser.error("set CHAT_QDRANT_URL or pass --qdrant-url")
    qdrant = Qdrant(args.qdrant_url, os.environ.get("CHAT_QDRANT_API_KEY") or None, timeout=30.0)
    try:
        passages = load_passages(args.directory, args.max_chars)
        summary = index_passages(qdrant, passages, args.collection, args.embedding_size, args.keep_old)
    except (QdrantError, ValueError, OSError) as err:
        print("chat_api.index: %s" % err, file=sys.stderr)
        return 1
    finally:
        qdrant.close()
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
