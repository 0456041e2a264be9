"""A deterministic text embedding without any model: feature hashing of words and word pairs.

Each token (lower-cased word, plus each pair of neighbouring words) is hashed with BLAKE2b into one of `size`
dimensions with a sign taken from the hash, weighted 1 + log(count), and the vector is L2-normalised, so cosine
similarity measures shared vocabulary. The same function embeds passages at index time and questions at query
time; changing it (or CHAT_EMBEDDING_SIZE) needs a re-index.
"""
import hashlib
import math
import re
from collections import Counter
from functools import lru_cache

WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)
STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below between both but
by can could did do does doing down during each few for from further had has have having he her here hers herself
him himself his how i if in into is it its itself just me more most my myself no nor not now of off on once only or
other our ours ourselves out over own same she should so some such than that the their theirs them themselves then
there these they this those through to too under until up very was we were what when where which while who whom why
will with would you your yours yourself yourselves
""".split())


def tokens(text):
    words = [w for w in (m.group(0).lower().replace("’", "'") for m in WORD.finditer(text)) if w not in STOPWORDS]
    features = list(words)
    features += ["%s %s" % pair for pair in zip(words, words[1:])]
    return features


@lru_cache(maxsize=1 << 17)  # a text's vocabulary repeats: hashing each feature once saves most of the time
def _slot(feature, size):
    digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
    value = int.from_bytes(digest, "big")
    return value % size, (1.0 if (value >> 63) & 1 else -1.0)


def embed(text, size=384):
    """The unit vector (list of `size` floats) of `text`; all zeros when it has no content words."""
    vector = [0.0] * size
    for feature, count in Counter(tokens(text)).items():
        index, sign = _slot(feature, size)
        # bigrams weigh half: they sharpen ranking without drowning single-word matches
        weight = (1.0 + math.log(count)) * (0.5 if " " in feature else 1.0)
        vector[index] += sign * weight
    norm = math.sqrt(sum(x * x for x in vector))
    if norm == 0.0:
        return vector
    return [x / norm for x in vector]


def has_content(text):
    """Whether `text` has a content word, i.e. embeds to a non-zero vector (barring hash collisions)."""
    return any(m.group(0).lower().replace("’", "'") not in STOPWORDS for m in WORD.finditer(text))


def is_zero(vector):
    return not any(vector)
