#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: textbook.deploy maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: qdrant_collection
short_description: Create, update in place or delete a Qdrant collection and its payload indexes
version_added: 1.0.0
description:
  - Manages one collection through Qdrant's REST API. It reads the collection, compares it with the options, then
    creates it (C(PUT /collections/{name})), updates only the settings that differ (one
    C(PATCH /collections/{name})), creates or deletes payload indexes, or deletes the collection.
  - Settings left unset are not compared and not changed.
  - "Changes Qdrant can only make by building a new collection are refused, never ignored: a different vector
    C(size) or C(distance) of O(vectors), a single unnamed vector turned into named vectors or back, a named
    vector added or removed. The module fails before changing anything and names each difference. Build a new
    collection (for example C(docs_v2)), fill it, and move an alias to it with M(textbook.deploy.qdrant_alias)
    (no downtime), or delete the collection with O(state=absent) first and create it again (its points are lost)."
author:
  - textbook.deploy maintainers (!UNKNOWN)
extends_documentation_fragment:
  - textbook.deploy.api
  - textbook.deploy.qdrant
options:
  name:
    description:
      - Name of the collection (not an alias).
    type: str
    required: true
  state:
    description:
      - V(present) creates the collection when it does not exist and brings the given settings to the wanted values.
      - V(absent) deletes the collection with its points (and Qdrant drops the aliases pointing at it).
    type: str
    choices: [present, absent]
    default: present
  vectors:
    description:
      - The dense vectors of each point. Required to create the collection.
      - "Either one unnamed vector: a dict with C(size) (a positive integer, the dimension of the embeddings),
        C(distance) (V(Cosine), V(Euclid), V(Dot) or V(Manhattan), any case) and optionally C(on_disk),
        C(hnsw_config) (the keys of O(hnsw_config)) and C(quantization_config) (as O(quantization_config))."
      - "Or named vectors, a dict of vector name to such a dict, for example C({text: {size: 768, distance: Cosine},
        image: {size: 512, distance: Dot}})."
      - C(on_disk), C(hnsw_config) and C(quantization_config) of a vector are updated in place; see the description
        for C(size), C(distance) and the set of vectors.
    type: dict
  hnsw_config:
    description:
      - HNSW index settings of the collection; only the keys given are compared and changed.
    type: dict
    suboptions:
      m:
        description: Edges per node in the index graph.
        type: int
      ef_construct:
        description: Neighbours considered while building the index (at least 4).
        type: int
      full_scan_threshold:
        description: Below this many kilobytes of vectors, a search scans instead of using the index.
        type: int
      max_indexing_threads:
        description: Threads that build the index (V(0) lets Qdrant choose).
        type: int
      on_disk:
        description: Keep the index on disk instead of in RAM.
        type: bool
      payload_m:
        description: Edges per node of the extra graph built for payload-indexed fields.
        type: int
  optimizers_config:
    description:
      - Optimizer settings of the collection; only the keys given are compared and changed.
    type: dict
    suboptions:
      deleted_threshold:
        description: Share of deleted vectors in a segment (0 to 1) that makes the optimizer rebuild it.
        type: float
      vacuum_min_vector_number:
        description: Minimum vectors in a segment before it is vacuumed.
        type: int
      default_segment_number:
        description: Target number of segments (V(0) lets Qdrant choose).
        type: int
      max_segment_size:
        description: Maximum segment size in kilobytes.
        type: int
      memmap_threshold:
        description: Segments larger than this many kilobytes are memory-mapped.
        type: int
      indexing_threshold:
        description: Segments larger than this many kilobytes get an HNSW index.
        type: int
      flush_interval_sec:
        description: Seconds between flushes to disk.
        type: int
      max_optimization_threads:
        description: Threads the optimizer may use.
        type: int
  on_disk_payload:
    description:
      - Keep the payload on disk instead of in RAM. When not set, it is left as it is (Qdrant's default is V(true)).
    type: bool
  quantization_config:
    description:
      - "Quantization of the collection's vectors, in Qdrant's own shape, for example
        C({scalar: {type: int8, quantile: 0.99, always_ram: true}}), C({binary: {always_ram: true}}) or
        C({product: {compression: x16}}). When not set, it is left as it is."
    type: dict
  payload_indexes:
    description:
      - Payload fields to index. A missing index is created; an index of another type is replaced.
      - Indexes not listed are kept unless O(purge_payload_indexes=true).
    type: list
    elements: dict
    suboptions:
      field:
        description: The payload field (a key, or a path such as C(meta.lang)).
        type: str
        required: true
      schema:
        description: Type of the index.
        type: str
        required: true
        choices: [keyword, integer, float, bool, geo, datetime, text, uuid]
  purge_payload_indexes:
    description:
      - Delete the payload indexes of the collection that O(payload_indexes) does not list.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Reports what would change and sends only C(GET) requests.
  diff_mode:
    support: full
    description: Returns the collection's vectors, HNSW, optimizer and quantization settings, on_disk_payload and
      payload indexes before and after.
  idempotent:
    support: full
    description: A second run with the same options reports no change and sends only C(GET) requests.
notes:
  - Requests that change something are retried after HTTP 429 and 5xx answers too (also C(PATCH)), because each
    sets a state and repeating it is safe.
seealso:
  - module: textbook.deploy.qdrant_alias
  - name: Qdrant collections
    description: Collection settings and what can be updated in place.
    link: https://qdrant.tech/documentation/concepts/collections/
"""

EXAMPLES = r"""
- name: Collection of the textbook's chunks, with payload indexes for filtering
  textbook.deploy.qdrant_collection:
    api_url: https://qdrant.example.com:6333
    api_key: "{{ vault_qdrant_api_key }}"
    name: textbook_v1
    vectors:
      size: 384
      distance: cosine
    hnsw_config:
      m: 16
      ef_construct: 128
    on_disk_payload: true
    payload_indexes:
      - field: chapter
        schema: keyword
      - field: updated_at
        schema: datetime
  register: docs

- name: Named vectors, set the API options once for the group
  module_defaults:
    group/textbook.deploy.qdrant:
      api_url: https://qdrant.example.com:6333
      api_key: "{{ vault_qdrant_api_key }}"
  block:
    - name: Text and image vectors, the image vectors kept on disk
      textbook.deploy.qdrant_collection:
        name: figures
        vectors:
          text:
            size: 768
            distance: Cosine
          image:
            size: 512
            distance: Dot
            on_disk: true
        quantization_config:
          scalar:
            type: int8
            always_ram: true

    - name: Remove every payload index but chapter
      textbook.deploy.qdrant_collection:
        name: textbook_v1
        payload_indexes:
          - field: chapter
            schema: keyword
        purge_payload_indexes: true

    - name: Delete the collection of the previous embedding model
      textbook.deploy.qdrant_collection:
        name: textbook_v0
        state: absent
"""

RETURN = r"""
config:
  description:
    - The settings this module manages, after the task (in check mode, as they would be; a collection that would
      be created shows the options given, without Qdrant's defaults). Empty when the collection is absent.
  returned: always
  type: dict
  sample:
    vectors:
      size: 384
      distance: Cosine
    on_disk_payload: true
    hnsw_config:
      m: 16
      ef_construct: 128
      full_scan_threshold: 10000
      max_indexing_threads: 0
      on_disk: false
    optimizers_config:
      deleted_threshold: 0.2
      vacuum_min_vector_number: 1000
      default_segment_number: 0
      indexing_threshold: 10000
      flush_interval_sec: 5
    quantization_config: null
    payload_indexes:
      chapter: keyword
collection:
  description:
    - The collection as Qdrant reports it (C(GET /collections/{name})) after the task; in check mode, as it is now.
    - Null when the collection is absent (or would only be created in check mode).
  returned: always
  type: dict
  sample:
    status: green
    optimizer_status: ok
    points_count: 1200
    indexed_vectors_count: 0
    segments_count: 2
    config:
      params:
        vectors:
          size: 384
          distance: Cosine
        shard_number: 1
        replication_factor: 1
        write_consistency_factor: 1
        on_disk_payload: true
      hnsw_config:
        m: 16
        ef_construct: 128
        full_scan_threshold: 10000
        max_indexing_threads: 0
        on_disk: false
      optimizer_config:
        deleted_threshold: 0.2
        vacuum_min_vector_number: 1000
        default_segment_number: 0
        indexing_threshold: 10000
        flush_interval_sec: 5
      wal_config:
        wal_capacity_mb: 32
        wal_segments_ahead: 0
      quantization_config: null
    payload_schema:
      chapter:
        data_type: keyword
        points: 1200
"""

import copy

from ansible_collections.textbook.deploy.plugins.module_utils.qdrant import Qdrant, name_error, qdrant_module

DISTANCES = {"cosine": "Cosine", "euclid": "Euclid", "dot": "Dot", "manhattan": "Manhattan"}
HNSW_OPTIONS = dict(m="int", ef_construct="int", full_scan_threshold="int", max_indexing_threads="int",
                    on_disk="bool", payload_m="int")
OPTIMIZER_OPTIONS = dict(deleted_threshold="float", vacuum_min_vector_number="int", default_segment_number="int",
                         max_segment_size="int", memmap_threshold="int", indexing_threshold="int",
                         flush_interval_sec="int", max_optimization_threads="int")
VECTOR_KEYS = ("size", "distance", "on_disk", "hnsw_config", "quantization_config")
SCHEMAS = ["keyword", "integer", "float", "bool", "geo", "datetime", "text", "uuid"]
REBUILD_HINT = ("Qdrant cannot change a vector's size or distance, nor add or remove vectors, on an existing "
                "collection. Create a new collection (for example %s_v2), fill it, and point an alias at it with "
                "textbook.deploy.qdrant_alias (no downtime), or delete this one with state=absent first (its points "
                "are lost).")


class OptionError(Exception):
    """Bad input, found before any request; the text names the option and the fix."""


# -- input --------------------------------------------------------------------------------------------------------

def without_none(data):
    if isinstance(data, dict):
        return dict((key, without_none(value)) for key, value in data.items() if value is not None)
    return data


def positive_int(where, value):
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise OptionError("%s must be a positive integer (the dimension of the embedding vectors, for example 384), "
                          "got %r." % (where, value))
    return value


def distance(where, value):
    name = DISTANCES.get(str(value).strip().lower()) if value is not None else None
    if name is None:
        raise OptionError("%s must be one of Cosine, Euclid, Dot, Manhattan (any case), got %r."
                          % (where, value))
    return name


def vector_hnsw(where, value):
    if not isinstance(value, dict):
        raise OptionError("%s must be a dict with keys among %s." % (where, ", ".join(HNSW_OPTIONS)))
    unknown = sorted(set(value) - set(HNSW_OPTIONS))
    if unknown:
        raise OptionError("%s has unknown keys %s: use %s." % (where, ", ".join(unknown), ", ".join(HNSW_OPTIONS)))
    for key, value_type in HNSW_OPTIONS.items():
        item = value.get(key)
        ok = isinstance(item, bool) if value_type == "bool" else isinstance(item, int) and not isinstance(item, bool)
        if item is not None and not ok:
            raise OptionError("%s.%s must be %s, got %r." % (where, key, "true or false" if value_type == "bool"
                                                             else "an integer", item))
    return without_none(value)


def vector_params(where, value):
    """One vector's options, checked and normalised (distance spelled as Qdrant does)."""
    if not isinstance(value, dict):
        raise OptionError("%s must be a dict with size and distance, got %r." % (where, value))
    unknown = sorted(set(value) - set(VECTOR_KEYS))
    if unknown:
        raise OptionError("%s has unknown keys %s: a vector takes %s." % (where, ", ".join(unknown),
                                                                          ", ".join(VECTOR_KEYS)))
    params = dict(size=positive_int(where + ".size", value.get("size")),
                  distance=distance(where + ".distance", value.get("distance")))
    if value.get("on_disk") is not None:
        if not isinstance(value["on_disk"], bool):
            raise OptionError("%s.on_disk must be true or false, got %r." % (where, value["on_disk"]))
        params["on_disk"] = value["on_disk"]
    if value.get("hnsw_config") is not None:
        params["hnsw_config"] = vector_hnsw(where + ".hnsw_config", value["hnsw_config"])
    if value.get("quantization_config") is not None:
        params["quantization_config"] = without_none(value["quantization_config"])
    return params


def parse_vectors(value):
    """The vectors option as Qdrant's VectorsConfig: one vector's params, or {name: params}."""
    if value is None:
        return None
    if "size" in value or "distance" in value:
        return vector_params("vectors", value)
    if not value:
        raise OptionError("vectors must be {size, distance} for one vector, or a dict of vector name to "
                          "{size, distance}.")
    return dict((name, vector_params("vectors.%s" % name, params)) for name, params in value.items())


def parse_indexes(value):
    wanted = {}
    for index in value or []:
        field = (index["field"] or "").strip()
        if not field:
            raise OptionError("payload_indexes[].field must name a payload field, got %r." % (index["field"],))
        if wanted.get(field, index["schema"]) != index["schema"]:
            raise OptionError("payload_indexes lists field %s twice, as %s and %s: keep one."
                              % (field, wanted[field], index["schema"]))
        wanted[field] = index["schema"]
    return wanted


def wanted_state(params):
    """Everything the options ask for, checked; raises OptionError."""
    error = name_error("name", params["name"])
    if error:
        raise OptionError(error)
    return dict(vectors=parse_vectors(params["vectors"]),
                hnsw_config=without_none(params["hnsw_config"] or {}),
                optimizers_config=without_none(params["optimizers_config"] or {}),
                on_disk_payload=params["on_disk_payload"],
                quantization_config=without_none(params["quantization_config"]),
                payload_indexes=parse_indexes(params["payload_indexes"]))


# -- comparison ---------------------------------------------------------------------------------------------------

def view(info):
    """The settings this module manages, from a collection info ({} when absent)."""
    if not info:
        return {}
    config = info["config"]
    params = config["params"]
    return dict(vectors=params.get("vectors"), on_disk_payload=params.get("on_disk_payload"),
                hnsw_config=config.get("hnsw_config"), optimizers_config=config.get("optimizer_config"),
                quantization_config=config.get("quantization_config"),
                payload_indexes=dict((field, schema.get("data_type"))
                                     for field, schema in (info.get("payload_schema") or {}).items()))


def by_name(vectors):
    """{name: params}; the unnamed vector is called "" (as Qdrant's PATCH calls it)."""
    return {"": vectors} if "size" in vectors else vectors


def rebuild_reasons(current, wanted):
    """What differs that only a new collection can change (empty: nothing)."""
    if ("size" in current) != ("size" in wanted):
        shape = dict(((True, "one unnamed vector"), (False, "named vectors")))
        return ["vectors: the collection has %s, the task asks for %s" % (shape["size" in current],
                                                                          shape["size" in wanted])]
    current, wanted = by_name(current), by_name(wanted)
    reasons = ["vectors.%s: would be added" % name for name in sorted(set(wanted) - set(current))]
    reasons += ["vectors.%s: exists in the collection but not in the task" % name
                for name in sorted(set(current) - set(wanted))]
    for name in sorted(set(current) & set(wanted)):
        where = "vectors" if name == "" else "vectors.%s" % name
        for key in ("size", "distance"):
            if current[name].get(key) != wanted[name][key]:
                reasons.append("%s.%s: %s in the collection, %s requested"
                               % (where, key, current[name].get(key), wanted[name][key]))
    return reasons


def changed_keys(current, wanted):
    """The keys of wanted whose value differs from current."""
    current = current or {}
    return dict((key, value) for key, value in (wanted or {}).items() if current.get(key) != value)


def vector_patch(current, wanted):
    patch = {}
    if "on_disk" in wanted and bool(current.get("on_disk", False)) != wanted["on_disk"]:
        patch["on_disk"] = wanted["on_disk"]
    hnsw = changed_keys(current.get("hnsw_config"), wanted.get("hnsw_config"))
    if hnsw:
        patch["hnsw_config"] = hnsw
    if "quantization_config" in wanted and current.get("quantization_config") != wanted["quantization_config"]:
        patch["quantization_config"] = wanted["quantization_config"]
    return patch


def collection_patch(before, wanted):
    """The body of one PATCH /collections/{name} with only what differs ({} when nothing does)."""
    patch = {}
    if wanted["vectors"] is not None:
        current = by_name(before["vectors"])
        vectors = dict((name, vector_patch(current[name], params))
                       for name, params in by_name(wanted["vectors"]).items())
        vectors = dict((name, diff) for name, diff in vectors.items() if diff)
        if vectors:
            patch["vectors"] = vectors
    for option in ("hnsw_config", "optimizers_config"):
        diff = changed_keys(before[option], wanted[option])
        if diff:
            patch[option] = diff
    if wanted["on_disk_payload"] is not None and before["on_disk_payload"] != wanted["on_disk_payload"]:
        patch["params"] = {"on_disk_payload": wanted["on_disk_payload"]}
    if wanted["quantization_config"] is not None and before["quantization_config"] != wanted["quantization_config"]:
        patch["quantization_config"] = wanted["quantization_config"]
    return patch


def index_changes(before, wanted, purge):
    """(indexes to create as {field: schema}, fields whose index to delete)."""
    current = before.get("payload_indexes") or {}
    create = dict((field, schema) for field, schema in wanted.items() if current.get(field) != schema)
    delete = sorted(field for field in current if field not in wanted) if purge else []
    return create, delete


def predicted(before, patch, create, delete):
    """The view after a PATCH and index changes, for check mode."""
    after = copy.deepcopy(before)
    vectors = by_name(after["vectors"])
    for name, diff in (patch.get("vectors") or {}).items():
        vectors[name].update(dict((key, value) for key, value in diff.items() if key != "hnsw_config"))
        if "hnsw_config" in diff:
            vectors[name]["hnsw_config"] = dict(vectors[name].get("hnsw_config") or {}, **diff["hnsw_config"])
    for option in ("hnsw_config", "optimizers_config"):
        after[option] = dict(after[option] or {}, **patch.get(option, {}))
    after["on_disk_payload"] = patch.get("params", {}).get("on_disk_payload", after["on_disk_payload"])
    after["quantization_config"] = patch.get("quantization_config", after["quantization_config"])
    after["payload_indexes"] = dict(after["payload_indexes"], **create)
    for field in delete:
        after["payload_indexes"].pop(field, None)
    return after


def create_body(wanted):
    body = {"vectors": wanted["vectors"]}
    for option in ("hnsw_config", "optimizers_config"):
        if wanted[option]:
            body[option] = wanted[option]
    for option in ("on_disk_payload", "quantization_config"):
        if wanted[option] is not None:
            body[option] = wanted[option]
    return body


# -- changes ------------------------------------------------------------------------------------------------------

def apply_indexes(qdrant, name, create, delete):
    for field, schema in sorted(create.items()):
        qdrant.call("PUT", qdrant.path("collections", name, "index") + "?wait=true",
                    "create the %s index on field %s of collection %s" % (schema, field, name),
                    body={"field_name": field, "field_schema": schema}, change=True)
    for field in delete:
        qdrant.call("DELETE", qdrant.path("collections", name, "index", field) + "?wait=true",
                    "delete the index on field %s of collection %s" % (field, name), change=True)


def ensure_absent(module, qdrant, name, info):
    before = view(info)
    if info is not None and not module.check_mode:
        qdrant.delete_collection(name)
    module.exit_resource(info is not None, before, {}, config={}, collection=None)


def create(module, qdrant, name, wanted):
    if wanted["vectors"] is None:
        module.fail_json(msg="Collection %s does not exist: set vectors (size and distance) to create it." % name)
    body = create_body(wanted)
    if module.check_mode:
        after = dict(without_none(body), payload_indexes=wanted["payload_indexes"])
        module.exit_resource(True, {}, after, config=after, collection=None)
    qdrant.call("PUT", qdrant.path("collections", name), "create collection %s" % name, body=body, change=True)
    apply_indexes(qdrant, name, wanted["payload_indexes"], [])
    info = qdrant.collection(name)
    module.exit_resource(True, {}, view(info), config=view(info), collection=info)


def update(module, qdrant, name, info, wanted):
    before = view(info)
    if wanted["vectors"] is not None:
        reasons = rebuild_reasons(before["vectors"], wanted["vectors"])
        if reasons:
            module.fail_json(msg="Collection %s cannot be changed in place: %s. %s"
                                 % (name, "; ".join(reasons), REBUILD_HINT % name),
                             rebuild_reasons=reasons, config=before)
    patch = collection_patch(before, wanted)
    create_indexes, delete_indexes = index_changes(before, wanted["payload_indexes"],
                                                   module.params["purge_payload_indexes"])
    changed = bool(patch or create_indexes or delete_indexes)
    if module.check_mode or not changed:
        after = predicted(before, patch, create_indexes, delete_indexes)
        module.exit_resource(changed, before, after, config=after, collection=info)
    if patch:
        qdrant.call("PATCH", qdrant.path("collections", name), "update collection %s" % name, body=patch,
                    change=True)
    apply_indexes(qdrant, name, create_indexes, delete_indexes)
    info = qdrant.collection(name)
    module.exit_resource(True, before, view(info), config=view(info), collection=info)


def main():
    module = qdrant_module(dict(
        name=dict(type="str", required=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        vectors=dict(type="dict"),
        hnsw_config=dict(type="dict", options=dict((key, dict(type=kind)) for key, kind in HNSW_OPTIONS.items())),
        optimizers_config=dict(type="dict", options=dict((key, dict(type=kind))
                                                         for key, kind in OPTIMIZER_OPTIONS.items())),
        on_disk_payload=dict(type="bool"),
        quantization_config=dict(type="dict"),
        payload_indexes=dict(type="list", elements="dict", options=dict(
            field=dict(type="str", required=True),
            schema=dict(type="str", required=True, choices=SCHEMAS),
        )),
        purge_payload_indexes=dict(type="bool", default=False),
    ))
    try:
        wanted = wanted_state(module.params)
    except OptionError as err:
        module.fail_json(msg=str(err))
    name = module.params["name"]
    qdrant = Qdrant(module)
    info = qdrant.collection(name)
    if module.params["state"] == "absent":
        ensure_absent(module, qdrant, name, info)
    if info is None:
        create(module, qdrant, name, wanted)
    update(module, qdrant, name, info, wanted)


if __name__ == "__main__":
    main()
