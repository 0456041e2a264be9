"""Faults injected on demand: the next matching request(s) fail the way GitHub fails."""
from dataclasses import dataclass

from sandbox.common import faults

REST_KINDS = ("http_500", "rate_limit_429", "secondary_rate_limit", "slow")
GIT_KINDS = ("push_race",)
KINDS = REST_KINDS + GIT_KINDS


@dataclass
class Fault(faults.Fault):
    retry_after: int = 1
    delay: float = 0.5


class Faults(faults.Faults):
    kinds = KINDS

    def add(self, kind, method=None, path=None, times=1, retry_after=1, delay=0.5):
        self.validate(kind, path, times)
        return self.append(Fault(kind, method, path, int(times), int(retry_after), float(delay)))
