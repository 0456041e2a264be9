"""The few Qdrant REST calls the service and the indexer make, over plain httpx."""
import httpx


class QdrantError(Exception):
    """A Qdrant call failed; `status` is the HTTP status (None when Qdrant could not be reached)."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


class Qdrant:
    def __init__(self, url, api_key=None, timeout=5.0):
        headers = {"api-key": api_key} if api_key else {}
        self._client = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout)

    def close(self):
        self._client.close()

    def _call(self, method, path, body=None, params=None, ok=(200,)):
        try:
            response = self._client.request(method, path, json=body, params=params)
        except httpx.HTTPError as err:
            raise QdrantError("Qdrant unreachable (%s)" % type(err).__name__) from None
        if response.status_code not in ok:
            try:
                detail = response.json()["status"]["error"]
            except (ValueError, KeyError, TypeError):
                detail = response.text[:200]
            raise QdrantError("Qdrant %s %s answered %d: %s" % (method, path, response.status_code, detail),
                              status=response.status_code)
        return response

    def result(self, method, path, body=None, params=None):
        return self._call(method, path, body, params).json()["result"]

    # -- reads -------------------------------------------------------------------------------------------------
    def collection(self, name):
        """The collection (or alias) info; QdrantError with status 404 when it does not exist."""
        return self.result("GET", "/collections/%s" % name)

    def collection_or_none(self, name):
        try:
            return self.collection(name)
        except QdrantError as err:
            if err.status == 404:
                return None
            raise

    def collection_names(self):
        return [item["name"] for item in self.result("GET", "/collections")["collections"]]

    def aliases(self):
        return {item["alias_name"]: item["collection_name"] for item in self.result("GET", "/aliases")["aliases"]}

    def query(self, collection, vector, limit):
        body = {"query": vector, "limit": limit, "with_payload": True}
        return self.result("POST", "/collections/%s/points/query" % collection, body)["points"]

    # -- writes ------------------------------------------------------------------------------------------------
    def create_collection(self, name, size):
        return self.result("PUT", "/collections/%s" % name, {"vectors": {"size": size, "distance": "Cosine"}})

    def delete_collection(self, name):
        return self.result("DELETE", "/collections/%s" % name)

    def upsert(self, collection, points):
        return self.result("PUT", "/collections/%s/points" % collection, {"points": points}, params={"wait": "true"})

    def point_alias(self, alias, collection):
        """Point `alias` at `collection` in one atomic alias update."""
        actions = [{"delete_alias": {"alias_name": alias}},
                   {"create_alias": {"collection_name": collection, "alias_name": alias}}]
        return self.result("POST", "/collections/aliases", {"actions": actions})
