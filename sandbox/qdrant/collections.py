"""Collection configuration as Qdrant keeps and reports it: defaults, creation, in-place updates, 422 checks."""
import copy

HNSW_DEFAULTS = {"m": 16, "ef_construct": 100, "full_scan_threshold": 10000, "max_indexing_threads": 0,
                 "on_disk": False}
OPTIMIZER_DEFAULTS = {"deleted_threshold": 0.2, "vacuum_min_vector_number": 1000, "default_segment_number": 0,
                      "max_segment_size": None, "memmap_threshold": None, "indexing_threshold": 10000,
                      "flush_interval_sec": 5, "max_optimization_threads": None}
WAL_DEFAULTS = {"wal_capacity_mb": 32, "wal_segments_ahead": 0, "wal_retain_closed": 1}
MAX_VECTOR_SIZE = 65536
# CreateCollection fields the stand-in does not model (answered 501, see the package docstring)
NOT_MODELLED_CREATE = ("sparse_vectors", "sharding_method", "init_from", "payload", "id_tracker")
NOT_MODELLED_UPDATE = ("sparse_vectors",)


class QdrantError(Exception):
    """An error answer: HTTP status and the text Qdrant puts into status.error."""

    def __init__(self, status, message, headers=()):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = list(headers)


def not_found(name):
    return QdrantError(404, "Not found: Collection `%s` doesn't exist!" % name)


def already_exists(name):
    return QdrantError(409, "Wrong input: Collection `%s` already exists!" % name)


def wrong_input(text):
    return QdrantError(400, "Wrong input: %s" % text)


def validation_error(where, problems):
    return QdrantError(422, "Validation error in %s: [%s]" % (where, ", ".join(problems)))


def _range(problems, where, value, low, high=None):
    if value is None:
        return
    if value < low:
        problems.append("%s: value %s invalid, must be %s or larger" % (where, value, low))
    elif high is not None and value > high:
        problems.append("%s: value %s invalid, must be %s or smaller" % (where, value, high))


def _check_hnsw(problems, where, hnsw):
    if hnsw:
        _range(problems, where + ".ef_construct", hnsw.get("ef_construct"), 4)


def _named(vectors):
    """{name: params} for either shape; the unnamed vector is called "" (as in PATCH bodies)."""
    if vectors is None:
        return {}
    return {"": vectors} if "size" in vectors else vectors


def check_create(body):
    """The validator checks Qdrant runs on a CreateCollection after parsing it (its 422s)."""
    problems = []
    vectors = body.get("vectors")
    single = vectors is not None and "size" in vectors
    for name, params in _named(vectors).items():
        where = "vectors" if single else "vectors.%s" % name
        _range(problems, where + ".size", params["size"], 1, MAX_VECTOR_SIZE)
        _check_hnsw(problems, where + ".hnsw_config", params.get("hnsw_config"))
    for key in ("shard_number", "replication_factor", "write_consistency_factor"):
        _range(problems, key, body.get(key), 1)
    _check_hnsw(problems, "hnsw_config", body.get("hnsw_config"))
    optimizers = body.get("optimizers_config") or {}
    _range(problems, "optimizers_config.deleted_threshold", optimizers.get("deleted_threshold"), 0, 1)
    if problems:
        raise validation_error("JSON body", problems)


def check_update(body):
    problems = []
    for name, diff in (body.get("vectors") or {}).items():
        _check_hnsw(problems, "vectors.%s.hnsw_config" % name, (diff or {}).get("hnsw_config"))
    params = body.get("params") or {}
    for key in ("replication_factor", "write_consistency_factor"):
        _range(problems, "params." + key, params.get(key), 1)
    _check_hnsw(problems, "hnsw_config", body.get("hnsw_config"))
    optimizers = body.get("optimizers_config") or {}
    _range(problems, "optimizers_config.deleted_threshold", optimizers.get("deleted_threshold"), 0, 1)
    if problems:
        raise validation_error("JSON body", problems)


def without_nulls(data):
    """A copy of JSON data without null members (Qdrant leaves unset options out of what it reports)."""
    if isinstance(data, dict):
        return {key: without_nulls(value) for key, value in data.items() if value is not None}
    if isinstance(data, list):
        return [without_nulls(value) for value in data]
    return data


def _merged(defaults, diff):
    result = dict(defaults)
    result.update(without_nulls(diff or {}))
    return result


def new_config(body):
    """CollectionConfig JSON for a checked CreateCollection body (a dict with the unset fields left out)."""
    on_disk_payload = body.get("on_disk_payload")
    params = {"vectors": without_nulls(body.get("vectors") or {}),
              "shard_number": body.get("shard_number") or 1,
              "replication_factor": body.get("replication_factor") or 1,
              "write_consistency_factor": body.get("write_consistency_factor") or 1,
              "on_disk_payload": True if on_disk_payload is None else on_disk_payload}
    config = {"params": params,
              "hnsw_config": _merged(HNSW_DEFAULTS, body.get("hnsw_config")),
              "optimizer_config": _merged(OPTIMIZER_DEFAULTS, body.get("optimizers_config")),
              "wal_config": _merged(WAL_DEFAULTS, body.get("wal_config")),
              "quantization_config": without_nulls(body.get("quantization_config")),
              "strict_mode_config": _merged({"enabled": False}, body.get("strict_mode_config"))}
    if body.get("metadata") is not None:
        config["metadata"] = copy.deepcopy(body["metadata"])
    return config


def _quantization(value):
    """A QuantizationConfigDiff: "Disabled" removes quantization."""
    return None if value == "Disabled" else without_nulls(value)


def _update_vectors(params, diffs):
    vectors = params["vectors"]
    single = "size" in vectors
    for name, diff in diffs.items():
        if single and name != "" or not single and name not in vectors:
            raise wrong_input("Not existing vector name error: %s" % (name or '""'))
        target = vectors if single else vectors[name]
        if diff.get("on_disk") is not None:
            target["on_disk"] = diff["on_disk"]
        if diff.get("memory") is not None:
            target["memory"] = diff["memory"]
        if diff.get("hnsw_config") is not None:
            target["hnsw_config"] = _merged(target.get("hnsw_config") or {}, without_nulls(diff["hnsw_config"]))
        if "quantization_config" in diff and diff["quantization_config"] is not None:
            quantization = _quantization(diff["quantization_config"])
            if quantization is None:
                target.pop("quantization_config", None)
            else:
                target["quantization_config"] = quantization


def updated_config(config, body):
    """A new CollectionConfig with an UpdateCollection body applied (the old one is left alone: all or nothing)."""
    config = copy.deepcopy(config)
    if body.get("vectors") is not None:
        _update_vectors(config["params"], body["vectors"])
    for key, value in (body.get("params") or {}).items():
        if value is not None:
            config["params"][key] = value
    if body.get("hnsw_config") is not None:
        config["hnsw_config"].update(without_nulls(body["hnsw_config"]))
    if body.get("optimizers_config") is not None:
        config["optimizer_config"].update(without_nulls(body["optimizers_config"]))
    if body.get("quantization_config") is not None:
        config["quantization_config"] = _quantization(body["quantization_config"])
    if body.get("strict_mode_config") is not None:
        config["strict_mode_config"].update(without_nulls(body["strict_mode_config"]))
    if body.get("metadata") is not None:
        config["metadata"] = dict(config.get("metadata") or {}, **body["metadata"])
    return config
