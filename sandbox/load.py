"""An open-loop load generator for the sandbox's load balancer: the traffic API clients send while a deploy runs, so
a benchmark or a test can count the requests a deploy cost. Standard library only. Used by
benchmarks/backend_bench.py and the backend integration tests.

    load = Load(world.lb["address"], rate=200, threads=10).start()   # or: with Load(...) as load:
    ...                                                               # run a playbook
    load.stop()
    load.summary(start, end)   # {"requests": ..., "failed": ..., "failed_percent": ..., "versions": {...}, ...}
    load.failed(start, end)    # the failed requests' records

Open loop: request n is due at `start + n / rate` whatever the answers before it took, so a slow or refusing
service does not slow the load down (a thread that falls behind sends its overdue requests at once; the records'
send lag, sent minus due, shows it). Thread i sends requests i, i + threads, i + 2 x threads, ..., each thread over
its own keep-alive http.client connection to `http://host:port/` (reopened after a connection error, a timeout or
a `Connection: close`).

The mix: one request in `chat_every` is a POST /api/chat with a question (the service's main endpoint: a Qdrant
search and an insert into Postgres; a load balancer never retries a POST once sent, so a request lost in a switch
shows), one in `readyz_every` a GET /readyz (the service's readiness: a Postgres query and a Qdrant request), the
others GET /version (which release answered). With the defaults, 5 and 10: 20 % POST /api/chat, 10 % GET /readyz,
70 % GET /version. A POST takes precedence where both would fall on one request (chat_every 1: no /readyz). The
kinds rotate over the threads, so every connection carries each kind.

A request fails on a non-2xx status, a connection error or a timeout (`timeout` s). Each request is recorded as a
Record (a tuple): (due, sent, latency, path, ok, status, version, error); due and sent are time.monotonic()
seconds, latency in seconds from the send to the end of the body, version the /version answer's (None for the
other paths and for failures), error "HTTP <status>" or "<exception>: <message>" for a failure, else None. Windows
(window, summary, failed) select records by their send time.

Bounded by design: it only ever sends to the host it is given (the sandbox's own load balancer), at most
MAX_RATE requests per second over at most MAX_THREADS connections, and only between start() and stop().
"""
import collections
import http.client
import json
import threading
import time

MAX_RATE = 1000.0
MAX_THREADS = 64

Record = collections.namedtuple("Record", "due sent latency path ok status version error")


def percentile(values, fraction):
    """The value at `fraction` (0..1) of the sorted values (nearest rank); NaN when there are none."""
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(fraction * (len(values) - 1))))]


class Load:
    """Open-loop load on one host: `rate` requests/s over `threads` keep-alive connections (see the module)."""

    QUESTION = json.dumps({"question": "What does a health gate check before the switch?"})

    def __init__(self, host, rate=200.0, threads=10, chat_every=5, readyz_every=10, port=80, timeout=10.0,
                 question=None):
        if not 0 < rate <= MAX_RATE:
            raise ValueError("rate must be above 0 and at most %g requests/s" % MAX_RATE)
        if not 1 <= threads <= MAX_THREADS:
            raise ValueError("threads must be 1 to %d" % MAX_THREADS)
        if chat_every < 1 or readyz_every < 1:
            raise ValueError("chat_every and readyz_every must be 1 or more")
        self.host, self.port, self.rate, self.threads = host, port, float(rate), threads
        self.chat_every, self.readyz_every, self.timeout = chat_every, readyz_every, timeout
        self.question = json.dumps({"question": question}) if question else self.QUESTION
        self.records = []  # Record tuples, appended as the answers come
        self.started = self.stopped = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._workers = []

    # --- running ------------------------------------------------------------------------------------------------

    def start(self):
        """Start the threads; the first request is due 0.2 s from now (load.started)."""
        if self._workers:
            raise RuntimeError("this load already started")
        self.started = time.monotonic() + 0.2
        for index in range(self.threads):
            worker = threading.Thread(target=self._run, args=(index,), name="load-%d" % index, daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def stop(self):
        """Stop sending; waits for the requests in flight (at most `timeout` s)."""
        self._stop.set()
        for worker in self._workers:
            worker.join(self.timeout + 5)
        if self.stopped is None:
            self.stopped = time.monotonic()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def path(self, number):
        """The path of request `number`: the mix rotates over the threads (see the module docstring)."""
        turn = number // self.threads + number % self.threads
        if turn % self.chat_every == self.chat_every - 1:
            return "/api/chat"
        if turn % self.readyz_every == 0:
            return "/readyz"
        return "/version"

    def _run(self, index):
        conn, number = None, index
        while not self._stop.is_set():
            due = self.started + number / self.rate
            delay = due - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                break
            path = self.path(number)
            sent = time.monotonic()
            status = version = error = None
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                if path == "/api/chat":
                    conn.request("POST", path, self.question, {"Content-Type": "application/json"})
                else:
                    conn.request("GET", path)
                response = conn.getresponse()
                body = response.read()
                status = response.status
                if 200 <= status < 300 and path == "/version":
                    version = json.loads(body).get("version")
                if response.will_close:
                    conn.close()
                    conn = None
            except Exception as err:  # any connection error or timeout (or a bad /version body) fails the request
                error = "%s: %s" % (type(err).__name__, err)
                if conn is not None:
                    conn.close()
                conn = None
            ok = error is None and 200 <= status < 300
            if error is None and not ok:
                error = "HTTP %d" % status
            record = Record(due, sent, time.monotonic() - sent, path, ok, status, version, error)
            with self._lock:
                self.records.append(record)
            number += self.threads
        if conn is not None:
            conn.close()

    # --- reading the records ------------------------------------------------------------------------------------

    def window(self, start=None, end=None, path=None):
        """The records sent in [start, end) (either open when None), of one path when given, in send order."""
        with self._lock:
            records = list(self.records)
        return sorted((r for r in records if (start is None or r.sent >= start) and (end is None or r.sent < end)
                       and (path is None or r.path == path)), key=lambda r: r.sent)

    def failed(self, start=None, end=None, path=None):
        """The failed records of the window."""
        return [r for r in self.window(start, end, path) if not r.ok]

    def summary(self, start=None, end=None, path=None):
        """Figures of the window: see summarize()."""
        return summarize(self.window(start, end, path))

    def achieved_rate(self):
        """Requests per second actually sent, from the first due time to the last send."""
        records = self.window()
        if not records:
            return 0.0
        return len(records) / max(records[-1].sent - self.started, 1e-9)


def summarize(records):
    """requests, failed, failed_percent (of requests), p50_ms / p99_ms / max_ms (latency), lag_p99_ms (send lag),
    versions ({version: answers} of /version), errors ({error: count}) and paths ({path: requests}) of records."""
    latencies = [r[2] for r in records]
    lags = [r[1] - r[0] for r in records]
    failed = sum(1 for r in records if not r[4])
    return {"requests": len(records), "failed": failed,
            "failed_percent": 100.0 * failed / len(records) if records else 0.0,
            "p50_ms": percentile(latencies, 0.5) * 1000, "p99_ms": percentile(latencies, 0.99) * 1000,
            "max_ms": max(latencies, default=float("nan")) * 1000,
            "lag_p99_ms": percentile(lags, 0.99) * 1000,
            "versions": dict(collections.Counter(r[6] for r in records if r[6])),
            "errors": dict(collections.Counter(r[7] for r in records if r[7])),
            "paths": dict(collections.Counter(r[3] for r in records))}
