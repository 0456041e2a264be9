"""Settings, read only from the environment (CHAT_*), and the helpers that keep secrets out of logs."""
import os
import re
from dataclasses import dataclass, field
from importlib import metadata
from urllib.parse import unquote, urlsplit

from . import __version__


class ConfigError(ValueError):
    """A CHAT_* variable is missing or malformed; the message names the variable, never its secret value."""


def _package_version():
    try:
        return metadata.version("textbook-chat-api")
    except metadata.PackageNotFoundError:  # running from a source checkout
        return __version__


def _int(env, name, default, low, high):
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError("%s must be an integer, got %r" % (name, raw)) from None
    if not low <= value <= high:
        raise ConfigError("%s must be between %d and %d, got %d" % (name, low, high, value))
    return value


def _float(env, name, default, low, high):
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError("%s must be a number, got %r" % (name, raw)) from None
    if not low <= value <= high:
        raise ConfigError("%s must be between %s and %s, got %s" % (name, low, high, value))
    return value


ORIGIN_FORM = "scheme://host[:port] with scheme http or https, e.g. https://textbook.example.org"


def _origin(entry):
    """`entry` normalised the way a browser sends Origin (lower-case, no default port), or None if not an origin."""
    if entry == "*" or any(char in entry for char in "?#@"):
        return None
    try:
        parts = urlsplit(entry)
        port = parts.port
    except ValueError:  # a malformed port or IPv6 literal
        return None
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in ("http", "https") or not host or parts.path not in ("", "/"):
        return None
    host = "[%s]" % host if ":" in host else host
    if port is None or port == {"http": 80, "https": 443}[scheme]:
        return "%s://%s" % (scheme, host)
    return "%s://%s:%d" % (scheme, host, port)


def _origins(env, name):
    """The browser origins allowed to call the API (CORS): a comma and/or whitespace separated list."""
    origins = []
    for entry in re.split(r"[\s,]+", env.get(name) or ""):
        if not entry:
            continue
        origin = _origin(entry)
        if origin is None:
            raise ConfigError("%s: %r is not an origin; an origin is %s (no path, query, fragment or user info; "
                              "'*' is not accepted)" % (name, entry, ORIGIN_FORM))
        if origin not in origins:
            origins.append(origin)
    return tuple(origins)


@dataclass(frozen=True)
class Settings:
    database_url: str = field(repr=False)
    qdrant_url: str
    qdrant_api_key: str | None = field(default=None, repr=False)
    collection: str = "passages"
    version: str = __version__
    commit: str | None = None
    embedding_size: int = 384
    top_k: int = 3
    min_relative_score: float = 0.5
    max_question_chars: int = 2000
    answer_max_chars: int = 1500
    timeout: float = 5.0
    log_level: str = "INFO"
    allowed_origins: tuple[str, ...] = ()
    cors_max_age: int = 600

    @classmethod
    def from_env(cls, env=None):
        env = os.environ if env is None else env
        database_url = env.get("CHAT_DATABASE_URL", "").strip()
        if not database_url:
            raise ConfigError("CHAT_DATABASE_URL is required (a postgresql:// URI)")
        if urlsplit(database_url).scheme not in ("postgresql", "postgres"):
            raise ConfigError("CHAT_DATABASE_URL must be a postgresql:// URI")
        qdrant_url = env.get("CHAT_QDRANT_URL", "").strip().rstrip("/")
        if not qdrant_url:
            raise ConfigError("CHAT_QDRANT_URL is required (e.g. http://qdrant:6333)")
        if urlsplit(qdrant_url).scheme not in ("http", "https"):
            raise ConfigError("CHAT_QDRANT_URL must be an http:// or https:// URL")
        collection = env.get("CHAT_QDRANT_COLLECTION", "").strip() or "passages"
        if "/" in collection:
            raise ConfigError("CHAT_QDRANT_COLLECTION must be a collection or alias name, got %r" % collection)
        return cls(
            database_url=database_url,
            qdrant_url=qdrant_url,
            qdrant_api_key=env.get("CHAT_QDRANT_API_KEY") or None,
            collection=collection,
            version=env.get("CHAT_VERSION") or _package_version(),
            commit=env.get("CHAT_COMMIT") or None,
            embedding_size=_int(env, "CHAT_EMBEDDING_SIZE", 384, 16, 65536),
            top_k=_int(env, "CHAT_TOP_K", 3, 1, 50),
            min_relative_score=_float(env, "CHAT_MIN_RELATIVE_SCORE", 0.5, 0.0, 1.0),
            # questions.question has CHECK (length BETWEEN 1 AND 4000)
            max_question_chars=_int(env, "CHAT_MAX_QUESTION_CHARS", 2000, 1, 4000),
            answer_max_chars=_int(env, "CHAT_ANSWER_MAX_CHARS", 1500, 100, 100000),
            timeout=_float(env, "CHAT_TIMEOUT_SECONDS", 5.0, 0.1, 300.0),
            log_level=(env.get("CHAT_LOG_LEVEL") or "INFO").upper(),
            allowed_origins=_origins(env, "CHAT_ALLOWED_ORIGINS"),
            cors_max_age=_int(env, "CHAT_CORS_MAX_AGE", 600, 0, 86400),
        )

    def secrets(self):
        """The values that must never appear in a log line or a response."""
        values = [self.qdrant_api_key, urlsplit(self.database_url).password]
        found = [value for value in values if value]
        return found + [unquote(value) for value in found if unquote(value) != value]

    def describe(self):
        """A loggable summary: hosts and names, no credentials."""
        db = urlsplit(self.database_url)
        return ("postgres=%s:%s/%s qdrant=%s collection=%s api_key=%s embedding_size=%d top_k=%d cors_origins=%s"
                % (db.hostname, db.port or 5432, db.path.lstrip("/"), redact_url(self.qdrant_url),
                   self.collection, "set" if self.qdrant_api_key else "unset", self.embedding_size, self.top_k,
                   ",".join(self.allowed_origins) or "none"))


def redact_url(url):
    """The URL without user info or query (which may carry passwords or tokens)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = "%s:%d" % (host, parts.port)
    return "%s://%s%s" % (parts.scheme, host, parts.path)


def scrub(text, secrets):
    """`text` with every secret replaced by ***."""
    text = str(text)
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
