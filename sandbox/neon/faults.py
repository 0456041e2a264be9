"""Faults injected on demand: the next matching request(s) fail the way Neon fails.

Kinds:
- http_423, http_429, http_500, http_503: the request is answered with that status in Neon's error shape before
  anything is done (429 carries Retry-After; 423 carries Neon's "running operations" message).
- operation_failed: the operations of the next matching mutating request end "failed" with an error.
- slow_operation: the operations of the next matching mutating request stay "running" for `seconds`.
`method` (e.g. "POST") and `path` (a regex searched in the path below /api/v2) narrow what a fault matches;
`times` is how many requests it affects.
"""
import re
import threading
from dataclasses import dataclass
from typing import Optional

HTTP_KINDS = ("http_423", "http_429", "http_500", "http_503")
OPERATION_KINDS = ("operation_failed", "slow_operation")
KINDS = HTTP_KINDS + OPERATION_KINDS


@dataclass
class Fault:
    kind: str
    method: Optional[str] = None
    path: Optional[str] = None
    times: int = 1
    retry_after: Optional[int] = None
    seconds: Optional[float] = None

    def matches(self, method, path):
        return ((self.method is None or self.method.upper() == method)
                and (self.path is None or re.search(self.path, path) is not None))

    def as_dict(self):
        return dict(self.__dict__)


class Faults:
    def __init__(self):
        self._faults = []
        self._lock = threading.Lock()

    def add(self, kind, method=None, path=None, times=1, retry_after=None, seconds=None):
        if kind not in KINDS:
            raise ValueError("unknown fault kind %r (known: %s)" % (kind, ", ".join(KINDS)))
        if path is not None:
            re.compile(path)  # a bad pattern fails here, not on some later request
        if int(times) < 1:
            raise ValueError("times must be at least 1")
        if kind == "slow_operation" and (seconds is None or float(seconds) <= 0):
            raise ValueError("slow_operation needs seconds > 0")
        if kind == "http_429" and retry_after is None:
            retry_after = 1
        fault = Fault(kind, method.upper() if method else None, path, int(times),
                      None if retry_after is None else int(retry_after),
                      None if seconds is None else float(seconds))
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
