"""Faults injected on demand: the next matching request(s) fail the way Neon fails.

Kinds:
- http_423, http_429, http_500, http_503: the request is answered with that status in Neon's error shape before
  anything is done (429 carries Retry-After; 423 carries Neon's "running operations" message).
- operation_failed: the operations of the next matching mutating request end "failed" with an error.
- slow_operation: the operations of the next matching mutating request stay "running" for `seconds`.
`method` (e.g. "POST") and `path` (a regex searched in the path below /api/v2) narrow what a fault matches;
`times` is how many requests it affects.
"""
from dataclasses import dataclass
from typing import Optional

from sandbox.common import faults

HTTP_KINDS = ("http_423", "http_429", "http_500", "http_503")
OPERATION_KINDS = ("operation_failed", "slow_operation")
KINDS = HTTP_KINDS + OPERATION_KINDS


@dataclass
class Fault(faults.Fault):
    retry_after: Optional[int] = None
    seconds: Optional[float] = None


class Faults(faults.Faults):
    kinds = KINDS

    def add(self, kind, method=None, path=None, times=1, retry_after=None, seconds=None):
        self.validate(kind, path, times)
        if kind == "slow_operation" and (seconds is None or float(seconds) <= 0):
            raise ValueError("slow_operation needs seconds > 0")
        if kind == "http_429" and retry_after is None:
            retry_after = 1
        return self.append(Fault(kind, method.upper() if method else None, path, int(times),
                                 None if retry_after is None else int(retry_after),
                                 None if seconds is None else float(seconds)))
