"""Faults injected on demand: the next matching request(s) fail the way GitHub fails."""
import re
import threading
from dataclasses import dataclass
from typing import Optional

REST_KINDS = ("http_500", "rate_limit_429", "secondary_rate_limit", "slow")
GIT_KINDS = ("push_race",)
KINDS = REST_KINDS + GIT_KINDS


@dataclass
class Fault:
    kind: str
    method: Optional[str] = None
    path: Optional[str] = None  # regex searched in the request path
    times: int = 1
    retry_after: int = 1
    delay: float = 0.5

    def matches(self, method, path):
        return ((self.method is None or self.method.upper() == method)
                and (self.path is None or re.search(self.path, path) is not None))

    def as_dict(self):
        return dict(self.__dict__)


class Faults:
    def __init__(self):
        self._faults = []
        self._lock = threading.Lock()

    def add(self, kind, method=None, path=None, times=1, retry_after=1, delay=0.5):
        if kind not in KINDS:
            raise ValueError("unknown fault kind %r (known: %s)" % (kind, ", ".join(KINDS)))
        if path is not None:
            re.compile(path)  # a bad pattern fails here, not on some later request
        if int(times) < 1:
            raise ValueError("times must be at least 1")
        fault = Fault(kind, method, path, int(times), int(retry_after), float(delay))
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self):
        with self._lock:
            self._faults.clear()

    def take(self, method, path, kinds):
        """The first pending fault of one of `kinds` matching the request, used up once; None if there is none."""
        with self._lock:
            for fault in self._faults:
                if fault.kind in kinds and fault.matches(method, path):
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def pending(self):
        with self._lock:
            return [fault.as_dict() for fault in self._faults]
