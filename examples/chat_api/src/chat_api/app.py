"""The chat service: `uvicorn chat_api.app:app --host 0.0.0.0 --port 8000` (configuration: chat_api.config)."""
import logging
import time
from contextlib import asynccontextmanager

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field, field_validator

from . import db
from .config import Settings, scrub
from .cors import SettingsCORS
from .embedding import embed, is_zero
from .metrics import Metrics, MetricsMiddleware
from .qdrant import Qdrant, QdrantError

log = logging.getLogger("chat_api")
NO_ANSWER = "I could not find anything in the textbook about that."


class ChatRequest(BaseModel):
    model_config = {"extra": "forbid"}
    question: str = Field(min_length=1)

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value):
        if not value.strip():
            raise ValueError("question must not be blank")
        return value.strip()


class Passage(BaseModel):
    id: str
    score: float
    source: str | None = None
    title: str | None = None
    page_title: str | None = None
    url: str | None = None
    text: str


class ChatResponse(BaseModel):
    question_id: int | None
    answer: str
    passages: list[Passage]
    latency_ms: int


def _passage(hit):
    payload = hit.get("payload") or {}
    return Passage(id=str(payload.get("passage_id") or hit["id"]), score=hit["score"], source=payload.get("source"),
                   title=payload.get("title"), page_title=payload.get("page_title"), url=payload.get("url"),
                   text=payload.get("text") or "")


def relevant(hits, min_relative_score):
    """The hits worth showing as sources: a positive score of at least `min_relative_score` times the best one, so
    a clear answer is not shown beside passages that merely share a word with the question."""
    best = max((hit.get("score", 0) for hit in hits), default=0)
    return [hit for hit in hits if hit.get("score", 0) > 0 and hit.get("score", 0) >= best * min_relative_score]


def _configure_logging(level):
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False


def create_app(settings=None):
    """The FastAPI app; settings default to Settings.from_env() (read when the app starts)."""
    metrics = Metrics()
    state = {}

    @asynccontextmanager
    async def lifespan(app):
        current = settings or Settings.from_env()
        _configure_logging(current.log_level)
        state["settings"] = current
        state["qdrant"] = Qdrant(current.qdrant_url, current.qdrant_api_key, current.timeout)
        log.info("starting textbook-chat-api %s: %s", current.version, current.describe())
        try:
            yield
        finally:
            state["qdrant"].close()

    app = FastAPI(title="textbook-chat-api", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    # added last, so outermost: 422 and 503 answers carry the CORS headers too, and the browser can read them
    app.add_middleware(SettingsCORS, state=state)
    app.state.metrics = metrics

    def fail(dependency, operation, err):
        current = state["settings"]
        metrics.dependency_errors.labels(dependency, operation).inc()
        log.warning("%s %s failed: %s", dependency, operation, scrub(err, current.secrets()))

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz():
        current, checks = state["settings"], {}
        try:
            db.ping(current.database_url, current.timeout)
            checks["postgres"] = "ok"
        except Exception as err:  # noqa: BLE001 - any failure means not ready
            fail("postgres", "ping", err)
            checks["postgres"] = "failed (%s)" % type(err).__name__
        try:
            state["qdrant"].collection(current.collection)
            checks["qdrant"] = "ok"
        except QdrantError as err:
            fail("qdrant", "get_collection", err)
            checks["qdrant"] = ("failed (HTTP %d for collection %s)" % (err.status, current.collection)
                                if err.status else "failed (unreachable)")
        failed = sorted(name for name, result in checks.items() if result != "ok")
        body = {"status": "ready" if not failed else "unavailable", "failed": failed, "checks": checks}
        return JSONResponse(body, status_code=503 if failed else 200)

    @app.get("/version")
    def version():
        current = state["settings"]
        return {"version": current.version, "commit": current.commit}

    @app.get("/metrics")
    def prometheus_metrics():
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post("/api/chat", response_model=ChatResponse)
    def chat(request: ChatRequest):
        current = state["settings"]
        if len(request.question) > current.max_question_chars:
            return JSONResponse(status_code=422, content={"detail": [{
                "type": "string_too_long", "loc": ["body", "question"],
                "msg": "question must have at most %d characters" % current.max_question_chars}]})
        started = time.perf_counter()
        vector = embed(request.question, current.embedding_size)
        hits = []
        if not is_zero(vector):
            try:
                hits = state["qdrant"].query(current.collection, vector, current.top_k)
            except QdrantError as err:
                fail("qdrant", "query", err)
                return JSONResponse(status_code=503, content={"detail": "passage search is unavailable"})
        passages = [_passage(hit) for hit in relevant(hits, current.min_relative_score)]
        answer = passages[0].text[:current.answer_max_chars] if passages else NO_ANSWER
        latency_ms = int((time.perf_counter() - started) * 1000)
        question_id = None
        try:
            question_id = db.record_question(current.database_url, current.timeout, request.question, answer,
                                             [p.id for p in passages], latency_ms)
        except Exception as err:  # noqa: BLE001 - the answer is still worth returning
            fail("postgres", "record_question", err)
        metrics.passages.observe(len(passages))
        return ChatResponse(question_id=question_id, answer=answer, passages=passages, latency_ms=latency_ms)

    return app


app = create_app()
