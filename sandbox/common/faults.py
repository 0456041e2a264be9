"""The fault registry every stand-in uses: faults wait until a request matches them, then answer in its place.

Each service subclasses `Fault` with what its faults carry (retry_after, delay ...) and `Faults` with its kinds
and an `add` that builds its Fault; matching, using up and listing are shared.
"""
import re
import threading
from dataclasses import asdict, dataclass
from typing import Optional


@dataclass
class Fault:
    kind: str
    method: Optional[str] = None
    path: Optional[str] = None  # regex searched in the request path
    times: int = 1

    def matches(self, method, path):
        return ((self.method is None or self.method.upper() == method)
                and (self.path is None or re.search(self.path, path) is not None))

    def as_dict(self):
        return asdict(self)


class Faults:
    kinds = ()  # the fault kinds the service knows

    def __init__(self):
        self._faults = []
        self._lock = threading.Lock()

    def validate(self, kind, path, times):
        """Refuse a fault now rather than let it misbehave on some later request."""
        if kind not in self.kinds:
            raise ValueError("unknown fault kind %r (known: %s)" % (kind, ", ".join(self.kinds)))
        if path is not None:
            re.compile(path)  # a bad pattern fails here, not on some later request
        if int(times) < 1:
            raise ValueError("times must be at least 1")

    def append(self, fault):
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self):
        with self._lock:
            self._faults.clear()

    def take(self, method, path, kinds=None):
        """The first pending fault (of one of `kinds`, if given) matching the request, used up once; None if none."""
        with self._lock:
            for fault in self._faults:
                if (kinds is None or fault.kind in kinds) and fault.matches(method, path):
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def pending(self):
        with self._lock:
            return [fault.as_dict() for fault in self._faults]
