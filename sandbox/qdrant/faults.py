"""Faults on demand: the next matching request(s) fail the way Qdrant (or a proxy in front of it) fails."""
from dataclasses import dataclass
from typing import Optional

from sandbox.common import faults

KINDS = {
    "http_429": (429, "Rate limiting exceeded: Write rate limit exceeded, retry later"),
    "http_500": (500, "Service internal error: injected fault"),
    "http_503": (503, "Service unavailable: injected fault"),
}


@dataclass
class Fault(faults.Fault):
    retry_after: Optional[float] = None

    def answer(self):
        """(status, message, headers) of the failure."""
        status, message = KINDS[self.kind]
        headers = []
        if self.retry_after is not None:
            headers.append(("Retry-After", "%g" % self.retry_after))
        return status, message, headers


class Faults(faults.Faults):
    kinds = tuple(sorted(KINDS))

    def add(self, kind, method=None, path=None, times=1, retry_after=None):
        self.validate(kind, path, times)
        return self.append(Fault(kind, method, path, int(times), retry_after)).as_dict()
