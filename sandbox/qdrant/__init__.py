"""A stateful local stand-in for Qdrant's REST API (no Qdrant server can be installed here).

    from sandbox.qdrant import QdrantStandIn
    with QdrantStandIn(state_dir) as qdrant:          # qdrant.url, qdrant.api_key
        ...

Modelled:
- Endpoints: GET / (version info), GET /healthz|/readyz|/livez, GET /collections, GET/PUT/PATCH/DELETE
  /collections/{name}, GET /collections/{name}/exists, PUT /collections/{name}/index, DELETE
  /collections/{name}/index/{field_name}, POST /collections/aliases, GET /aliases, GET /collections/{name}/aliases,
  PUT /collections/{name}/points (list and batch form), POST /collections/{name}/points/query and /points/count.
  (qdrant-client 1.20's models no longer describe the old /points/search, so neither does the stand-in.)
  Other paths answer 404 with an empty body (as actix does) and count as violations.
- Auth as Qdrant does it: the key in the `api-key` header or `Authorization: Bearer`; none -> 401 "Must provide an
  API key or an Authorization bearer token", a wrong one -> 401 "Invalid API key or JWT" (plain text bodies, as
  Qdrant's middleware sends them); an optional read-only key gets 403 on writes. `/`, `/healthz`, `/readyz` and
  `/livez` need no key. `api_key=""` turns auth off.
- Every request body is checked with qdrant-client's generated pydantic models (`qdrant_client.http.models`) in
  strict JSON mode, unknown fields forbidden: a body Qdrant's serde would refuse gets 400 "Format error in JSON
  body: ..."; a missing or wrong Content-Type gets 400 "Content type error". Both are recorded in `violations()`.
  Then Qdrant's own validator checks give 422 "Validation error in JSON body: [...]" (vector size 1..65536,
  ef_construct >= 4, replication/write consistency/shard number >= 1, deleted_threshold 0..1, limit >= 1).
- Every answer is Qdrant's envelope `{"result", "status": "ok", "time"}` or `{"status": {"error"}, "time"}`, with
  Qdrant's statuses: 404 missing collection, 409 creating one that exists (or an alias named like a collection),
  400 "Wrong input" (e.g. a vector of the wrong dimension, PATCHing a vector name that does not exist). Each
  `result` is checked against qdrant-client's model, unknown keys included; a mismatch is a stand-in bug: it is
  recorded as a violation and answered 500.
- Collections keep Qdrant's configuration shape and defaults (params, hnsw_config, optimizer_config, wal_config,
  quantization_config, strict_mode_config); PATCH applies what Qdrant updates in place (per-vector on_disk,
  hnsw_config and quantization_config; hnsw_config; optimizers_config; params such as replication_factor,
  write_consistency_factor, on_disk_payload; quantization_config, "Disabled" removing it; metadata), all or nothing.
  Vector size and distance are not fields of a PATCH body, so changing them is refused as Qdrant refuses it: 400
  "unknown field `size`". DELETE of a missing collection answers 200 with result false, as Qdrant does.
- Aliases: create/delete/rename actions of one POST are applied all or nothing; create needs the collection (404)
  and overwrites an existing alias; delete of a missing alias is a no-op; rename of a missing alias is 404.
  Collection operations accept an alias in place of the collection name; deleting a collection drops its aliases.
- Points live in qdrant-edge (Qdrant's embedded engine), one EdgeShard per collection under state_dir: upsert,
  nearest-vector query (single or named vectors), filters (must/should/must_not/min_should, match
  value/any/except/text, numeric range, values_count, is_empty/is_null, has_id, has_vector, nested), exact count,
  and payload indexes (reported in `payload_schema` with the engine's point counts) are real.
- Faults on demand: http_429 (with Retry-After when retry_after is given), http_500, http_503.

Not modelled (do not rely on these being checked):
- Clustering: shards, replicas, shard keys, resharding, consensus; shard_number/replication_factor/
  write_consistency_factor are stored and reported only. Snapshots, the gRPC API, telemetry, metrics, JWT RBAC.
- Sparse vectors, multivectors, `init_from`, payload/id_tracker storage options, strict-mode enforcement: the
  settings are refused with 501 (and a violation) rather than silently accepted. hnsw/optimizer/wal/quantization
  settings are stored and reported, but the engine is not rebuilt with them.
- Query kinds other than a dense vector (recommend, discover, fusion, prefetch, order_by, by point id, MMR),
  geo and datetime filters, payload selectors: 501. Other point operations (delete, set payload, scroll,
  retrieve, batch endpoints) are 404 violations.
- Asynchronous behaviour: everything is applied before the answer; `wait=false` only changes the reported status
  to "acknowledged". Collections are always green and optimizers ok.
- Persistence: state lives in memory and in shard directories that `start()` wipes; a restart is an empty Qdrant.
- Rate limiting and 5xx happen only as injected faults.
"""
from .server import QdrantStandIn

__all__ = ["QdrantStandIn"]
