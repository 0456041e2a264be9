"""Answer quality of the chat service's retrieval over the example textbook: a reader's question must find the
page that answers it first. The index is built in memory with the indexer's own chunking and chat_api.embedding,
and searched by brute-force cosine similarity, which is what Qdrant's Cosine distance computes."""
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "examples" / "chat_api" / "src"
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

from chat_api.embedding import embed  # noqa: E402
from chat_api.index import load_pages, passages_of, questions_of  # noqa: E402

EVAL = json.loads((Path(__file__).with_name("answer_quality.json")).read_text())
SIZE = 384  # the service's default CHAT_EMBEDDING_SIZE
TARGET = 0.9


@pytest.fixture(scope="module")
def pages():
    return load_pages(ROOT / EVAL["docs"])


@pytest.fixture(scope="module")
def search(pages):
    index = [(embed("%s\n%s" % (p["title"], p["text"]), SIZE), p) for p in passages_of(pages)]

    def top(question):
        vector = embed(question, SIZE)
        return max(index, key=lambda item: sum(a * b for a, b in zip(vector, item[0])))[1]

    return top


def test_the_evaluation_set_names_real_pages(pages):
    sources = {page.source for page in pages}
    assert len(EVAL["questions"]) >= 25
    assert not [q for q in EVAL["questions"] if q["source"] not in sources]


def test_the_right_page_comes_first_for_a_readers_questions(search):
    misses = [(q["question"], q["source"], search(q["question"])["passage_id"]) for q in EVAL["questions"]
              if search(q["question"])["source"] != q["source"]]
    accuracy = 1 - len(misses) / len(EVAL["questions"])
    assert accuracy >= TARGET, "top-1 page accuracy %.3f (%d of %d) < %.2f; misses (question, expected, got): %s" % (
        accuracy, len(EVAL["questions"]) - len(misses), len(EVAL["questions"]), TARGET, misses)


def test_the_indexers_known_questions_find_their_own_page(pages, search):
    # the deploy's journey check asks these and expects the page among the answer's passages
    questions = questions_of(pages, limit=len(pages))
    assert len(questions) == 4  # every chapter has an H2; the introduction has none
    assert [(q["question"], search(q["question"])["source"]) for q in questions] == \
        [(q["question"], q["source"]) for q in questions]
