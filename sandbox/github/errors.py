"""GitHub's error bodies, as the REST handlers return them: (status, body, headers)."""

DOCS = "https://docs.github.com/rest"


def error(status, message, docs=DOCS, **extra):
    return status, dict({"message": message, "documentation_url": docs, "status": str(status)}, **extra), []


def not_found(docs=DOCS):
    return error(404, "Not Found", docs)
