"""Points and payload indexes in qdrant-edge (Qdrant's embedded engine): one EdgeShard per collection.

The REST layer hands over plain JSON (already checked against qdrant-client's models); this module turns it into
qdrant_edge objects and back. Anything it cannot translate raises NotModelled rather than guessing.
"""
import uuid

import qdrant_edge as edge

DISTANCES = {"Cosine": edge.Distance.Cosine, "Euclid": edge.Distance.Euclid, "Dot": edge.Distance.Dot,
             "Manhattan": edge.Distance.Manhattan}
SCHEMA_TYPES = {"keyword": edge.PayloadSchemaType.Keyword, "integer": edge.PayloadSchemaType.Integer,
                "float": edge.PayloadSchemaType.Float, "geo": edge.PayloadSchemaType.Geo,
                "text": edge.PayloadSchemaType.Text, "bool": edge.PayloadSchemaType.Bool,
                "datetime": edge.PayloadSchemaType.Datetime, "uuid": edge.PayloadSchemaType.Uuid}
SCHEMA_NAMES = {value: key for key, value in SCHEMA_TYPES.items()}


class NotModelled(Exception):
    """A valid request that the stand-in does not implement (answered 501 and recorded as a violation)."""


class EngineError(Exception):
    """qdrant-edge refused an operation (e.g. a vector of the wrong dimension): Qdrant's 400 "Wrong input"."""


def _vector_params(params):
    return edge.EdgeVectorParams(size=params["size"], distance=DISTANCES[params["distance"]])


def edge_config(vectors):
    """EdgeConfig for a collection's `params.vectors` (one unnamed vector, or a dict of named ones)."""
    if "size" in vectors:
        return edge.EdgeConfig(vectors=_vector_params(vectors))
    return edge.EdgeConfig(vectors={name: _vector_params(params) for name, params in vectors.items()})


def point_id(value):
    """A REST point id (unsigned int or UUID string) for qdrant-edge; ValueError for anything else."""
    if isinstance(value, int):
        if value < 0:
            raise ValueError("point id must be an unsigned integer or a UUID, got %d" % value)
        return value
    return str(uuid.UUID(str(value)))


def rest_id(value):
    return str(value) if isinstance(value, uuid.UUID) else value


# -- filters ----------------------------------------------------------------------------------------------------

def _conditions(value):
    if value is None:
        return None
    return [condition(item) for item in (value if isinstance(value, list) else [value])]


def to_filter(data):
    """Filter JSON -> edge.Filter (None passes through)."""
    if data is None:
        return None
    min_should = data.get("min_should")
    return edge.Filter(
        must=_conditions(data.get("must")),
        should=_conditions(data.get("should")),
        must_not=_conditions(data.get("must_not")),
        min_should=(edge.MinShould(_conditions(min_should["conditions"]), min_should["min_count"])
                    if min_should else None),
    )


def _match(data):
    if data is None:
        return None
    if "value" in data:
        return edge.MatchValue(data["value"])
    if "any" in data:
        return edge.MatchAny(data["any"])
    if "except" in data:
        return edge.MatchExcept(data["except"])
    if "text" in data:
        return edge.MatchText(data["text"])
    raise NotModelled("match %s" % sorted(data))


def _range(data):
    if data is None:
        return None
    if any(isinstance(value, str) for value in data.values()):
        raise NotModelled("datetime ranges")
    return edge.RangeFloat(**{key: data.get(key) for key in ("gt", "gte", "lt", "lte")})


def _field_condition(data):
    unsupported = [key for key in ("geo_bounding_box", "geo_radius", "geo_polygon") if data.get(key) is not None]
    if unsupported:
        raise NotModelled("filter conditions %s" % ", ".join(unsupported))
    count = data.get("values_count")
    return edge.FieldCondition(
        key=data["key"], match=_match(data.get("match")), range=_range(data.get("range")),
        values_count=edge.ValuesCount(**count) if count else None,
        is_empty=data.get("is_empty"), is_null=data.get("is_null"))


def condition(data):
    if "key" in data:
        return _field_condition(data)
    if "is_empty" in data:
        return edge.IsEmptyCondition(data["is_empty"]["key"])
    if "is_null" in data:
        return edge.IsNullCondition(data["is_null"]["key"])
    if "has_id" in data:
        return edge.HasIdCondition([point_id(value) for value in data["has_id"]])
    if "has_vector" in data:
        return edge.HasVectorCondition(data["has_vector"])
    if "nested" in data:
        return edge.NestedCondition(data["nested"]["key"], to_filter(data["nested"]["filter"]))
    if any(key in data for key in ("must", "should", "must_not", "min_should")):
        return to_filter(data)
    raise NotModelled("filter condition %s" % sorted(data))


# -- the shard ---------------------------------------------------------------------------------------------------

def _with_payload(value):
    if value is None or isinstance(value, (bool, list)):
        return value
    raise NotModelled("with_payload as a selector object")


def scored(point, with_payload, with_vector):
    """edge.ScoredPoint -> ScoredPoint JSON (payload/vector only when asked for, as Qdrant does)."""
    data = {"id": rest_id(point.id), "version": point.version, "score": float(point.score)}
    if with_payload:
        data["payload"] = point.payload or {}
    if with_vector:
        data["vector"] = point.vector
    return data


class Shard:
    """One collection's points: upsert, query, count, payload indexes, info."""

    def __init__(self, path, vectors):
        self.path = path
        self.shard = edge.EdgeShard.create(path, edge_config(vectors))

    def close(self):
        self.shard.close()

    def _update(self, operation):
        try:
            self.shard.update(operation)
        except NotModelled:
            raise
        except Exception as err:  # qdrant-edge raises a bare Exception with Qdrant's own text
            raise EngineError(str(err)) from err

    def upsert(self, points):
        """points: [{"id", "vector", "payload"}] in REST shape."""
        converted = [edge.Point(point_id(p["id"]), p["vector"], p.get("payload")) for p in points]
        self._update(edge.UpdateOperation.upsert_points(converted))

    def create_index(self, field, schema_type):
        self._update(edge.UpdateOperation.create_field_index(field, SCHEMA_TYPES[schema_type]))

    def delete_index(self, field):
        self._update(edge.UpdateOperation.delete_field_index(field))

    def info(self):
        info = self.shard.info()
        schema = {name: {"data_type": SCHEMA_NAMES[index.data_type], "points": index.points}
                  for name, index in info.payload_schema.items()}
        return dict(points_count=info.points_count, segments_count=info.segments_count,
                    indexed_vectors_count=info.indexed_vectors_count, payload_schema=schema)

    def count(self, filter_json):
        try:
            return self.shard.count(edge.CountRequest(exact=True, filter=to_filter(filter_json)))
        except NotModelled:
            raise
        except Exception as err:
            raise EngineError(str(err)) from err

    def query(self, vector, using, filter_json, limit, offset, score_threshold, with_payload, with_vector):
        """Nearest neighbours of vector (or, without one, points in id order), as ScoredPoint JSON."""
        query = edge.Query.Nearest(vector, using=using) if vector is not None else None
        request = edge.QueryRequest(limit=limit, offset=offset, query=query, filter=to_filter(filter_json),
                                    score_threshold=score_threshold, with_payload=_with_payload(with_payload),
                                    with_vector=with_vector)
        try:
            found = self.shard.query(request)
        except NotModelled:
            raise
        except Exception as err:
            raise EngineError(str(err)) from err
        return [scored(point, with_payload, with_vector) for point in found]
