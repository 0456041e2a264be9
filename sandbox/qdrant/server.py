"""`QdrantStandIn`: collections, aliases, auth, faults and logs, and the HTTP server around them."""
import json
import os
import secrets
import shutil
import time
import uuid
from urllib.parse import parse_qsl, urlsplit

from sandbox.common.standin import StandIn
from sandbox.github.web import Handler, Server

from . import api, contract
from .collections import QdrantError, not_found
from .engine import EngineError, NotModelled, Shard
from .faults import Faults

OPEN_PATHS = ("/", "/healthz", "/readyz", "/livez")  # Qdrant answers these without a key
HEALTH_TEXT = {"/healthz": "healthz check passed", "/readyz": "all shards are ready", "/livez": "healthz check passed"}


class Collection:
    """One collection: its configuration (what GET /collections/{name} reports) and its qdrant-edge shard."""

    def __init__(self, name, config, path):
        self.name = name
        self.config = config
        self.path = path
        self.shard = Shard(path, config["params"]["vectors"])
        self.index_params = {}  # field -> the field_schema given (type name or params object)

    def create_index(self, field, schema):
        schema_type = schema if isinstance(schema, str) else schema["type"]
        self.shard.create_index(field, schema_type)
        self.index_params[field] = schema

    def delete_index(self, field):
        self.shard.delete_index(field)
        self.index_params.pop(field, None)

    def info(self):
        shard = self.shard.info()
        schema = shard["payload_schema"]
        for field, index in schema.items():
            given = self.index_params.get(field)
            if isinstance(given, dict):
                index["params"] = given
        return {"status": "green", "optimizer_status": "ok", "warnings": [],
                "indexed_vectors_count": shard["indexed_vectors_count"], "points_count": shard["points_count"],
                "segments_count": shard["segments_count"], "config": self.config, "payload_schema": schema,
                "update_queue": {"length": 0}}

    def close(self):
        self.shard.close()


class QdrantStandIn(StandIn):
    """A Qdrant REST API on 127.0.0.1 (see the package docstring for what it models and what not).

    :arg api_key: the read-write key; generated when None; "" turns authentication off.
    :arg read_only_api_key: optional second key that may only read (Qdrant's read_only_api_key).
    """

    def __init__(self, state_dir, host="127.0.0.1", port=0, api_key=None, read_only_api_key=None):
        super().__init__(state_dir, host, port)
        self._api_key = ("qdr_" + secrets.token_hex(20)) if api_key is None else api_key
        self.read_only_api_key = read_only_api_key
        self.collections = {}
        self.aliases = {}
        self.faults = Faults()
        self._operation_id = 0

    # --- lifecycle -----------------------------------------------------------------------------------------

    def start(self):
        shards = os.path.join(self.state_dir, "collections")
        shutil.rmtree(shards, ignore_errors=True)  # every start is a fresh, empty Qdrant
        os.makedirs(shards)
        self.port = self.serve(Server((self.bind_host, self.port), QdrantHandler, self))
        return self

    def stop(self):
        self.stop_serving()
        with self.lock:
            for collection in self.collections.values():
                collection.close()
            self.collections.clear()
            self.aliases.clear()

    @property
    def url(self):
        return "http://%s:%d" % (self.bind_host, self.port)

    @property
    def api_key(self):
        return self._api_key

    # --- test helpers --------------------------------------------------------------------------------------

    def inject_fault(self, kind, method=None, path=None, times=1, retry_after=None):
        """Make the next `times` matching requests fail with `kind` (http_429, http_500, http_503); `path` is a
        regex searched in the request path; `retry_after` (seconds) adds a Retry-After header."""
        return self.faults.add(kind, method, path, times, retry_after)

    # --- state, used by api.py -----------------------------------------------------------------------------

    def resolve(self, name):
        """A collection name, or the collection an alias points at."""
        return self.aliases.get(name, name)

    def collection(self, name):
        found = self.collections.get(self.resolve(name))
        if found is None:
            raise not_found(name)
        return found

    def add_collection(self, name, config):
        path = os.path.join(self.state_dir, "collections", uuid.uuid4().hex)
        try:
            self.collections[name] = Collection(name, config, path)
        except EngineError as err:
            shutil.rmtree(path, ignore_errors=True)
            raise QdrantError(400, "Wrong input: %s" % err) from err

    def remove_collection(self, name):
        collection = self.collections.pop(name, None)
        if collection is None:
            return False
        self.aliases = {alias: target for alias, target in self.aliases.items() if target != name}
        collection.close()
        shutil.rmtree(collection.path, ignore_errors=True)
        return True

    def next_operation_id(self):
        self._operation_id += 1
        return self._operation_id

    # --- one request -----------------------------------------------------------------------------------------

    def authenticate(self, headers, route):
        """None when allowed, else (status, body, content type) as Qdrant answers."""
        if not self._api_key:
            return None
        key = headers.get("api-key")
        if key is None:
            bearer = headers.get("Authorization") or ""
            key = bearer[len("Bearer "):] if bearer.startswith("Bearer ") else None
        if key is None:
            return 401, "Must provide an API key or an Authorization bearer token", "text/plain; charset=utf-8"
        if secrets.compare_digest(key, self._api_key):
            return None
        if self.read_only_api_key and secrets.compare_digest(key, self.read_only_api_key):
            if route is not None and api.is_write(route):
                return 403, envelope_error("Forbidden: Write access is required for this operation"), None
            return None
        return 401, "Invalid API key or JWT", "text/plain; charset=utf-8"

    def handle(self, method, raw_path, headers, body):
        """(status, body, content type, extra headers) for one request, logged before it is answered."""
        parts = urlsplit(raw_path)
        path = parts.path.rstrip("/") or "/"
        started = time.monotonic()
        status, payload, content_type, extra = self._respond(method, path, dict(parse_qsl(parts.query)),
                                                             headers, body, started)
        self.log_request(method, path, status)
        return status, payload, content_type, extra

    def _respond(self, method, path, query, headers, body, started):
        if method == "GET" and path in HEALTH_TEXT:
            return 200, HEALTH_TEXT[path], "text/plain; charset=utf-8", []
        route, params = api.match(method, path)
        if path not in OPEN_PATHS:
            refused = self.authenticate(headers, route)
            if refused:
                return refused[0], refused[1], refused[2], []
        fault = self.faults.take(method, path)
        if fault:
            status, message, extra = fault.answer()
            return status, envelope_error(message, started), None, extra
        if route is None:
            self.record_violation("request", method, path, "no such operation in the stand-in", 404)
            return 404, "", None, []
        try:
            data = self._parse(route, method, path, headers, body)
            with self.lock:
                result = api.HANDLERS[route.operation](self, params, data, query)
        except QdrantError as err:
            if err.status == 422:  # Qdrant's validator refused the body: the client sent what Qdrant rejects
                self.record_violation("request", method, path, err.message, 422)
            return err.status, envelope_error(err.message, started), None, err.headers
        except NotModelled as err:
            self.record_violation("not_modelled", method, path, str(err), 501)
            return 501, envelope_error("The Qdrant stand-in does not model %s" % err, started), None, []
        except EngineError as err:
            return 400, envelope_error("Wrong input: %s" % err, started), None, []
        return self._answer(route, method, path, result, started)

    def _parse(self, route, method, path, headers, body):
        """The JSON body of a route that takes one, checked against qdrant-client's model (QdrantError if bad)."""
        if not route.body:
            return None
        content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        problem, status = None, 400
        if content_type != "application/json":
            problem = "Content type error"
        else:
            try:
                data = json.loads(body or b"")
            except ValueError as err:
                problem = "Format error in JSON body: %s" % err
            else:
                _, message = contract.check_request(route.operation, body)
                if message is None:
                    return data
                problem = "Format error in JSON body: %s" % message
        self.record_violation("request", method, path, problem, status)
        raise QdrantError(status, problem)

    def _answer(self, route, method, path, result, started):
        problems = contract.response_problems(route.operation, result)
        if problems:
            message = "; ".join(problems)
            self.record_violation("response", method, path, message, 500)
            return 500, envelope_error("Service internal error: the stand-in built a response that breaks "
                                       "qdrant-client's model: " + message, started), None, []
        if route.operation == "root":
            return 200, result, None, []  # GET / answers the version info without the envelope
        return 200, {"result": result, "status": "ok", "time": api.elapsed(started)}, None, []


def envelope_error(message, started=None):
    return {"status": {"error": message}, "time": api.elapsed(started) if started else 0.0}


class QdrantHandler(Handler):
    server_version = "qdrant"

    def dispatch(self):
        body = self.read_body()
        status, payload, content_type, extra = self.app.handle(self.command, self.path, self.headers, body)
        if content_type:
            self.send(status, payload.encode(), content_type, extra)
        elif payload == "":
            self.send(status, b"", None, extra)
        else:
            self.send_json(status, payload, extra)
