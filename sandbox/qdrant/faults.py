"""Faults on demand: the next matching request(s) fail the way Qdrant (or a proxy in front of it) fails."""
import re
import threading
from dataclasses import asdict, dataclass
from typing import Optional

KINDS = {
    "http_429": (429, "Rate limiting exceeded: Write rate limit exceeded, retry later"),
    "http_500": (500, "Service internal error: injected fault"),
    "http_503": (503, "Service unavailable: injected fault"),
}


@dataclass
class Fault:
    kind: str
    method: Optional[str] = None
    path: Optional[str] = None  # regex searched in the request path
    times: int = 1
    retry_after: Optional[float] = None

    def matches(self, method, path):
        return ((self.method is None or self.method.upper() == method)
                and (self.path is None or re.search(self.path, path) is not None))

    def answer(self):
        """(status, message, headers) of the failure."""
        status, message = KINDS[self.kind]
        headers = []
        if self.retry_after is not None:
            headers.append(("Retry-After", "%g" % self.retry_after))
        return status, message, headers


class Faults:
    def __init__(self):
        self._faults = []
        self._lock = threading.Lock()

    def add(self, kind, method=None, path=None, times=1, retry_after=None):
        if kind not in KINDS:
            raise ValueError("unknown fault kind %r (known: %s)" % (kind, ", ".join(sorted(KINDS))))
        if path is not None:
            re.compile(path)  # a bad pattern fails here, not on some later request
        if int(times) < 1:
            raise ValueError("times must be at least 1")
        fault = Fault(kind, method, path, int(times), retry_after)
        with self._lock:
            self._faults.append(fault)
        return asdict(fault)

    def clear(self):
        with self._lock:
            self._faults.clear()

    def take(self, method, path):
        """The first pending fault matching the request, used up once; None if there is none."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def pending(self):
        with self._lock:
            return [asdict(fault) for fault in self._faults]
