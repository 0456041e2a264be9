"""Generate a Docusaurus-shaped build directory for the publish benchmarks.

The shape follows a real Docusaurus build: one folder per doc with an index.html, hashed JS/CSS bundles under
assets/, images under assets/images, and a search index. Content is deterministic (seeded), so two runs produce
byte-identical trees. `--touch-one` rewrites one page, the "one file changed" case.
"""
import argparse
import os
import random

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<link rel="stylesheet" href="/assets/css/styles.{h}.css"><script src="/assets/js/main.{h}.js" defer></script></head>
<body><main><h1>{title}</h1>{body}</main></body></html>
"""


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(data)


def page(rng, title, revision=0):
    paragraphs = "".join("<p>%s</p>" % " ".join("w%x" % rng.getrandbits(24) for _ in range(60)) for _ in range(12))
    return PAGE.format(title=title, h="%08x" % revision, body=paragraphs).encode()


def generate(out, files, megabytes):
    rng = random.Random(20261127)
    pages = int(files * 0.6)
    images = int(files * 0.3)
    scripts = files - pages - images - 1
    for index in range(pages):
        write(os.path.join(out, "docs", "chapter-%03d" % (index // 50), "page-%05d" % index, "index.html"),
              page(rng, "Page %d" % index))
    for index in range(scripts):
        write(os.path.join(out, "assets", "js", "%05d.%08x.js" % (index, rng.getrandbits(32))),
              ("function f%d(){return %d}\n" % (index, index) * 40).encode())
    budget = megabytes * 1024 * 1024 - sum(
        os.path.getsize(os.path.join(root, name)) for root, _, names in os.walk(out) for name in names)
    image_size = max(1024, budget // max(images, 1))
    for index in range(images):
        write(os.path.join(out, "assets", "images", "figure-%05d.png" % index), rng.randbytes(image_size))
    write(os.path.join(out, "search-index.json"), b'{"documents": []}\n')


def touch_one(out):
    target = os.path.join(out, "docs", "chapter-000", "page-00000", "index.html")
    with open(target, "rb") as handle:
        revision = handle.read().count(b"<!-- revision") + 1
    with open(target, "ab") as handle:
        handle.write(b"<!-- revision %d -->\n" % revision)
    return target


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out")
    parser.add_argument("--files", type=int, default=10000)
    parser.add_argument("--megabytes", type=int, default=150)
    parser.add_argument("--touch-one", action="store_true", help="change one page of an existing tree")
    args = parser.parse_args()
    if args.touch_one:
        print(touch_one(args.out))
    else:
        generate(args.out, args.files, args.megabytes)


if __name__ == "__main__":
    main()
